"""What a black-and-white or small photo costs the shipped model, on the validation split only:
the figures behind ``quality.MIN_COLOUR_SPREAD`` and ``quality.MIN_PHOTO_SIDE``.

    python docs/training_logs/photo_refusal_check.py --model models/default \\
        --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv

Each validation image of the split the card records is decoded as the app decodes an upload
(``load_image`` at the predictor's ``decode_side``) and given to the predictor as pixels, as it
is, in black and white (Pillow's ``convert("L")`` and back to RGB) and shrunk so that its shorter
side is 160, 64, 48, 32 or 24 pixels. ``quality.refusal`` is not applied: this measures what the
model would answer. Per variant: balanced accuracy (all images; and those the out-of-domain
check passes) with its change from the images as they are (95% interval, lesions resampled,
paired), how many images the out-of-domain check passes, and the share of the malignant images
it passes (melanoma, basal cell carcinoma, actinic keratosis) given the mildest advice.

Then the colour spread (``quality.colour_spread``) of every HAM10000 image, training and
validation: the least colourful ones, against the limit a photo needs to count as in colour.

Validation only: never point it at the test set.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from skindx.datasets.labelled import card_split, labelled_paths
from skindx.datasets.metadata import is_isic2018_test
from skindx.diagnosis.predict import Predictor
from skindx.evaluation.evaluate import lesion_ids
from skindx.evaluation.metrics import (
    balanced_accuracy,
    balanced_accuracy_resamples,
    percentile_interval,
)
from skindx.images import quality
from skindx.images.loading import load_image
from skindx.model.bundle import load_model
from skindx.taxonomy import CODES, MALIGNANT_CODES

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "ham10000"
SIDES = (160, 64, 48, 32, 24)
MILDEST = "low"  # the least urgent triage advice (predict.CONCERN_RANK 0)


def black_and_white(pixels: np.ndarray) -> np.ndarray:
    """A phone's black-and-white filter: grey levels, stored as RGB."""
    return np.asarray(Image.fromarray(pixels).convert("L").convert("RGB"))


def shorter_side(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` shrunk (area interpolation, aspect kept) so that the shorter side is ``side``."""
    height, width = pixels.shape[:2]
    scale = side / min(height, width)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def variants(images: list[np.ndarray]):
    """``(name, changed images)`` for each kind of photo this check measures."""
    yield "as they are", images
    yield "black and white", [black_and_white(p) for p in images]
    for side in SIDES:
        yield f"shorter side {side} px", [shorter_side(p, side) for p in images]


def capped(table, per_class: int, seed: int):
    """At most ``per_class`` rows of each diagnosis (seeded), or the whole table for 0."""
    if not per_class:
        return table
    shuffled = table.sample(frac=1, random_state=seed)
    return shuffled.groupby("diagnosis").head(per_class).reset_index(drop=True)


def measure(predictor: Predictor, images: list[np.ndarray], labels: np.ndarray) -> dict:
    """What the model answers for these images, with no photo refused."""
    predictions = predictor.predict_batch(images)
    predicted = np.array([CODES.index(p.label) for p in predictions])
    passed = np.array([p.in_domain for p in predictions])
    mildest = np.array([p.concern == MILDEST for p in predictions])
    malignant = np.isin(labels, [CODES.index(c) for c in MALIGNANT_CODES])
    return {
        "predicted": predicted,
        "balanced_accuracy": balanced_accuracy(labels, predicted),
        "passed_balanced_accuracy": balanced_accuracy(labels[passed], predicted[passed]),
        "passed": int(passed.sum()),
        "malignant_passed": int((malignant & passed).sum()),
        "malignant_mildest": int((malignant & passed & mildest).sum()),
    }


def report(name: str, result: dict, n: int, change: tuple[float, float, float] | None) -> None:
    mild, of = result["malignant_mildest"], result["malignant_passed"]
    share = f"{mild / of:.1%}" if of else "n/a"
    versus = ""
    if change is not None:
        mean, low, high = change
        versus = f" (change {mean:+.4f}, 95% {low:+.4f} to {high:+.4f})"
    print(
        f"{name}: balanced accuracy {result['balanced_accuracy']:.4f}{versus}; "
        f"out-of-domain check passes {result['passed']}/{n} "
        f"(balanced accuracy among them {result['passed_balanced_accuracy']:.4f}); "
        f"malignant passed {of}, mildest advice {mild} = {share}"
    )


def check_variants(predictor, images, labels, groups) -> None:
    results = {}
    for name, changed in variants(images):
        started = time.perf_counter()
        results[name] = measure(predictor, changed, labels)
        print(f"  [{name}: {time.perf_counter() - started:.0f} s]", file=sys.stderr, flush=True)
    names = list(results)
    resamples = balanced_accuracy_resamples(
        labels, [results[n]["predicted"] for n in names], groups
    )
    for i, name in enumerate(names):
        change = None
        if i:
            diff = resamples[:, i] - resamples[:, 0]
            low, high = percentile_interval(diff)
            change = (
                results[name]["balanced_accuracy"] - results[names[0]]["balanced_accuracy"],
                low,
                high,
            )
        report(name, results[name], len(labels), change)


def check_colour(decode_side: int | None, splits: dict[str, list[Path]]) -> None:
    """The least colourful HAM10000 images, split by split and all together, against
    :data:`quality.MIN_COLOUR_SPREAD`."""
    spreads = {
        split: [quality.colour_spread(load_image(path, min_side=decode_side)) for path in paths]
        for split, paths in splits.items()
    }
    splits = {**splits, "all HAM10000": [p for paths in splits.values() for p in paths]}
    spreads["all HAM10000"] = [v for values in spreads.values() for v in values]
    for split, paths in splits.items():
        values = np.array(spreads[split])
        named = ", ".join(f"{paths[i].stem} {values[i]:.1f}" for i in np.argsort(values)[:3])
        low, p01, p1 = np.percentile(values, [0, 0.1, 1])
        under = int((values < quality.MIN_COLOUR_SPREAD).sum())
        print(
            f"colour spread, {split} ({len(values)} images): min {low:.2f}, 0.1st percentile "
            f"{p01:.2f}, 1st {p1:.2f}, median {np.median(values):.1f}; least colourful "
            f"{named}; under {quality.MIN_COLOUR_SPREAD:g}: {under}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--images", type=Path, default=DATA / "images")
    parser.add_argument("--metadata", type=Path, default=DATA / "HAM10000_metadata.csv")
    parser.add_argument(
        "--per-class", type=int, default=0, help="at most this many images a class (0: all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="which images --per-class keeps")
    args = parser.parse_args()
    print("$ python " + shlex.join(sys.argv), flush=True)
    if is_isic2018_test(args.metadata):
        parser.error("this is the ISIC 2018 test set: validation images only")

    skin_model = load_model(args.model)
    predictor = Predictor(skin_model)
    training, validation = card_split(skin_model.card.training, args.metadata)
    full_validation, validation = validation, capped(validation, args.per_class, args.seed)
    val_paths, labels = labelled_paths(validation, args.images)
    train_paths, _ = labelled_paths(training, args.images)
    images = [load_image(p, min_side=predictor.decode_side) for p in val_paths]
    groups = lesion_ids(validation, [p.stem for p in val_paths])
    counts = {c: int((labels == i).sum()) for i, c in enumerate(CODES)}
    cap = f"at most {args.per_class} a class, seed {args.seed}" if args.per_class else "all"
    print(
        f"{skin_model.card.name}: {len(labels)} validation images ({cap}): {counts}; "
        f"TTA {predictor.tta}; card validation balanced accuracy "
        f"{skin_model.card.metrics['validation']['balanced_accuracy']}"
    )
    print(f"malignant: {', '.join(MALIGNANT_CODES)}; mildest advice: '{MILDEST}'")
    check_variants(predictor, images, labels, groups)
    grey = max(quality.colour_spread(black_and_white(p)) for p in images)
    print(f"colour spread of these images in black and white: at most {grey:.2f}")
    all_validation, _ = labelled_paths(full_validation, args.images)
    check_colour(predictor.decode_side, {"validation": all_validation, "training": train_paths})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
