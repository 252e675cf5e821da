"""Cheap levers for test balanced accuracy and photo robustness, on the validation split only.

    python docs/training_logs/validation_checks.py --model models/default \\
        --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv

prior: post-hoc logit adjustment (Menon et al., ICLR 2021). Logits minus tau * log(training
class frequency), temperature fitted again; tau = 1 ranks as if every class were equally common,
which is what balanced accuracy rewards. The shipped members already train with class weights
(power 0.75), so this asks whether more balancing is left to gain.

resampling: the ISIC 2018 test images were downscaled with nearest-neighbour sampling (sharper,
aliased) and the training images smoothly (../shared/data/README.md). The validation images are
degraded the test's way (and other ways) to see whether that gap costs the model accuracy.

exposure: each photo's brightness scaled toward the training images' median grey level before
the model sees it, on the validation images as they are and after `skindx photo-quality`'s
perturbations (30% darker, 40% brighter, blurred): does normalising exposure at prediction time
recover dim or bright photos without costing clean ones?

Validation only: never point it at the test set.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from skindx.datasets.labelled import card_split, labelled_paths
from skindx.evaluation.evaluate import balanced_accuracy, expected_calibration_error
from skindx.images import quality
from skindx.images.loading import load_image
from skindx.images.preprocess import preprocess_pixels
from skindx.model.bundle import load_model
from skindx.model.calibration import calibrated_probabilities, fit_temperature
from skindx.training.finishing import logits_and_features

TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)


def jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def test_like(pixels: np.ndarray) -> np.ndarray:
    """The test set's path as its README describes it: 600×450 squashed to 224×224 by
    nearest-neighbour sampling, JPEG q95 (from a smooth upscale, as no originals are here)."""
    big = cv2.resize(pixels, (600, 450), interpolation=cv2.INTER_CUBIC)
    return jpeg(cv2.resize(big, (224, 224), interpolation=cv2.INTER_NEAREST), 95)


def sharpened(pixels: np.ndarray) -> np.ndarray:
    """Unsharp mask (sigma 1, amount 0.6): more high-frequency energy, like a sharper camera."""
    return cv2.addWeighted(pixels, 1.6, cv2.GaussianBlur(pixels, (0, 0), 1.0), -0.6, 0)


def check_prior(logits: np.ndarray, labels: np.ndarray, train_counts: np.ndarray) -> None:
    log_prior = np.log(train_counts / train_counts.sum())
    for tau in TAUS:
        adjusted = logits - tau * log_prior
        probabilities = calibrated_probabilities(adjusted, fit_temperature(adjusted, labels))
        predicted = probabilities.argmax(axis=1)
        ece, _ = expected_calibration_error(labels, probabilities)
        print(
            f"prior tau {tau:.2f}: balanced accuracy {balanced_accuracy(labels, predicted):.4f}, "
            f"accuracy {(predicted == labels).mean():.4f}, ECE {ece:.4f}"
        )


def check_resampling(model, raw: list[np.ndarray], labels: np.ndarray, size: int) -> None:
    variants = {
        "as trained (area resize)": lambda p: preprocess_pixels(p, size),
        "nearest-neighbour resize": lambda p: cv2.resize(
            p, (size, size), interpolation=cv2.INTER_NEAREST
        ),
        "test-like (NN to 224, q95)": lambda p: preprocess_pixels(test_like(p), size),
        "sharpened": lambda p: preprocess_pixels(sharpened(p), size),
    }
    for name, transform in variants.items():
        logits, _ = logits_and_features(model, np.stack([transform(p) for p in raw]))
        score = balanced_accuracy(labels, logits.argmax(axis=1))
        print(f"resampling {name}: balanced accuracy {score:.4f}")


def scaled_exposure(
    pixels: np.ndarray,
    target: float | None,
    alpha: float = 1.0,
    band: tuple[float, float] | None = None,
) -> np.ndarray:
    """``pixels`` scaled by (target / mean grey) ** alpha; with ``band`` (low, high) only when
    the mean grey lies outside it, and then to the band's nearer edge if ``target`` is None."""
    grey = quality.measure(pixels).brightness
    goal = target
    if band is not None:
        low, high = band
        if low <= grey <= high:
            return pixels
        goal = target if target is not None else (low if grey < low else high)
    return quality.scale_brightness(pixels, (goal / max(grey, 1.0)) ** alpha)


def check_exposure(model, raw, labels, size: int, reference: list[float]) -> None:
    median = float(np.median(reference))
    p1, p5, p95, p99 = np.percentile(reference, [1, 5, 95, 99])
    print(f"exposure: training median grey {median:.1f}, 1st-99th {p1:.1f}-{p99:.1f}")
    variants = {
        "none": lambda p: p,
        "all to the median": lambda p: scaled_exposure(p, median),
        "all half-way to the median": lambda p: scaled_exposure(p, median, 0.5),
        "outside 1st-99th, to the edge": lambda p: scaled_exposure(p, None, band=(p1, p99)),
        "outside 5th-95th, to the edge": lambda p: scaled_exposure(p, None, band=(p5, p95)),
        "outside 1st-99th, to the median": lambda p: scaled_exposure(p, median, band=(p1, p99)),
    }
    changed = dict(quality.variants(raw))  # as `skindx photo-quality` sees them
    for name, transform in variants.items():
        scores = {}
        for kind, images in changed.items():
            x = np.stack([preprocess_pixels(transform(p), size) for p in images])
            logits, _ = logits_and_features(model, x)
            scores[kind] = balanced_accuracy(labels, logits.argmax(axis=1))
        perturbed = np.mean([scores[k] for k in quality.PERTURBATIONS])
        listed = ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
        print(f"exposure {name}: balanced accuracy {listed}; perturbed mean {perturbed:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    parser.add_argument("--checks", default="prior,resampling,exposure")
    args = parser.parse_args()
    skin_model = load_model(args.model)
    card = skin_model.card
    if card.preprocessing.get("color_constancy") or card.preprocessing.get("hair_removal"):
        parser.error("this check assumes a model without colour constancy or hair removal")
    training, validation = card_split(card.training, args.metadata)
    paths, labels = labelled_paths(validation, args.images)
    raw = [load_image(path) for path in paths]
    print(f"{len(labels)} validation images")
    checks = set(args.checks.split(","))
    if "prior" in checks:
        x = np.stack([preprocess_pixels(p, card.input_size) for p in raw])
        logits, _ = logits_and_features(skin_model.model, x)
        counts = card.training["train_images_per_class"]
        check_prior(logits, labels, np.array([counts[c] for c in card.classes], float))
    if "resampling" in checks:
        check_resampling(skin_model.model, raw, labels, card.input_size)
    if "exposure" in checks:
        train_paths, _ = labelled_paths(training, args.images)
        reference = [quality.measure(load_image(path)).brightness for path in train_paths]
        check_exposure(skin_model.model, raw, labels, card.input_size, reference)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
