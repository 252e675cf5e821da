"""Measuring a model: ``skindx evaluate``, ``photo-quality``, ``same-spot-check`` and
``model-card``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skindx.cli.common import (
    MODEL_HELP,
    CommandError,
    _card_check,
    _check_output_file,
    _existing_dir,
    _existing_file,
    _label,
    _load,
    _readable,
)
from skindx.files import write_atomic
from skindx.reports.numbers import counted


def cmd_evaluate(args: argparse.Namespace) -> int:
    from skindx.evaluation.evaluate import evaluate_model

    _check_output_file("--json", args.json)
    _check_output_file("--predictions-csv", args.predictions_csv)
    skin_model = _load(args.model)
    report = evaluate_model(
        skin_model,
        args.images,
        args.labels,
        tta=args.tta,
        predictions_csv=args.predictions_csv,
        name=args.name,
        with_context=args.with_context,
    )
    if args.json:
        write_atomic(args.json, json.dumps(report, indent=2) + "\n")
    official = report["official"].get("balanced_accuracy")
    official = (
        f"official scorer {official:.3f}"
        if official is not None
        else f"official scorer skipped: {report['official_skipped']}"
    )
    interval = report["balanced_accuracy_interval"]
    print(
        f"{report['n']:,} images: accuracy {report['accuracy']:.3f}, balanced accuracy "
        f"{report['balanced_accuracy']:.3f} ({official}; {interval['level']:.0%} interval "
        f"{interval['low']:.3f}–{interval['high']:.3f}, {interval['resampled']} resampled), "
        f"{_melanoma_sensitivity(report)}, ECE {report['ece']:.3f}"
    )
    if left_out := report.get("left_out"):
        counts = ", ".join(f"{code} {count:,}" for code, count in left_out.items())
        print(f"left out {sum(left_out.values()):,} rows outside the seven classes ({counts})")
    for key, what in (("not_found", "not found in --images"), ("unreadable", "unreadable")):
        if names := report.get(key):
            print(f"{counted(len(names), 'listed image')} {what}, left out: {_listed(names)}")
    if args.update_card:
        split = args.split or ("test_with_context" if args.with_context else "test")
        skin_model.card.metrics[split] = report
        skin_model.card.save(skin_model.directory)
        print(f"card updated: {skin_model.directory}/card.json [{split}]")
    return 0


def _listed(names: list[str], shown: int = 5) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _melanoma_sensitivity(report: dict) -> str:
    """Both melanoma sensitivities, the top class's and the triage's (the card's target),
    in words where there was no melanoma to find."""
    if report["melanoma_sensitivity"] is None:
        return "melanoma sensitivity not measured (no melanoma among the images)"
    text = f"melanoma sensitivity {report['melanoma_sensitivity']:.3f} as the top class"
    triage = report.get("triage", {}).get("melanoma_sensitivity")
    return text if triage is None else f"{text}, {triage:.3f} at the triage threshold"


def cmd_photo_quality(args: argparse.Namespace) -> int:
    from skindx.datasets.labelled import card_split, labelled_paths
    from skindx.diagnosis.predict import Predictor
    from skindx.evaluation.photo_effects import effects
    from skindx.images import quality

    skin_model = _load(args.model)
    train, validation = card_split(skin_model.card.training, args.metadata)
    train_paths, _ = labelled_paths(train, args.images)
    val_paths, val_labels = labelled_paths(validation, args.images)
    training = _readable(train_paths, "training")
    kept = _readable(val_paths, "validation")
    if not training or not kept:
        raise CommandError(f"No training or validation image of {args.metadata} in {args.images}.")
    limits = quality.reference([quality.measure(pixels) for _, pixels in training])
    images = [quality.working_scale(pixels) for _, pixels in kept]
    labels = val_labels[[i for i, _ in kept]]
    limits["validation"] = effects(Predictor(skin_model), images, labels)
    print(json.dumps(limits, indent=2))
    if args.update_card:
        skin_model.card.photo_quality = limits
        skin_model.card.save(skin_model.directory)
        print(f"card updated: {skin_model.directory}/card.json [photo_quality]")
    return 0


def cmd_same_spot_check(args: argparse.Namespace) -> int:
    import numpy as np

    from skindx.datasets.labelled import card_validation_table, labelled_paths
    from skindx.diagnosis.predict import Predictor
    from skindx.evaluation.evaluate import same_spot_figures
    from skindx.taxonomy import CODES

    skin_model = _load(args.model)
    predictor = Predictor(skin_model)
    validation = card_validation_table(skin_model.card.training, args.metadata)
    paths, labels = labelled_paths(validation, args.images)
    lesion_of = dict(zip(validation["image_id"], validation["lesion_id"], strict=True))
    kept = _readable(paths, "validation", predictor.decode_side)
    predictions = predictor.predict_batch([pixels for _, pixels in kept])
    probabilities = np.array([[p.probabilities[c] for c in CODES] for p in predictions])
    rows = [i for i, _ in kept]
    figures = same_spot_figures(
        labels[rows], probabilities, [lesion_of[paths[i].stem] for i in rows]
    )
    if not figures["n_lesions"]:
        raise CommandError(f"No validation lesion has several images in {args.images}.")
    print(
        f"{figures['n_lesions']} validation lesions with several images: balanced accuracy "
        f"{figures['one_image_balanced_accuracy']:.3f} from one image, "
        f"{figures['combined_balanced_accuracy']:.3f} from all of them; their images disagree "
        f"on the top diagnosis for {figures['images_disagree']:.1%}"
    )
    if args.update_card:
        skin_model.card.metrics.setdefault("validation", {})["same_spot"] = figures
        skin_model.card.save(skin_model.directory)
        print(f"card updated: {skin_model.directory}/card.json [metrics.validation.same_spot]")
    return 0


def cmd_model_card(args: argparse.Namespace) -> int:
    from skindx.reports.model_card import render_markdown

    _check_output_file("--out", args.out)
    skin_model = _load(args.model)
    write_atomic(args.out, render_markdown(skin_model.card))
    print(f"model card written to {args.out}")
    return 0


def add_evaluate(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="score a model on labelled images")
    evaluate.add_argument("--model", type=_existing_dir, help=MODEL_HELP)
    evaluate.add_argument(
        "--images", type=_existing_dir, required=True, help="the labelled images (one folder)"
    )
    evaluate.add_argument(
        "--labels",
        type=_existing_file,
        required=True,
        help="ISIC 2018 one-hot ground truth (image, MEL, NV, …) or an ISIC metadata CSV",
    )
    evaluate.add_argument("--json", type=Path, help="write the full report here")
    evaluate.add_argument(
        "--predictions-csv",
        type=Path,
        help="write each image's probabilities here (ISIC 2018 submission CSV)",
    )
    evaluate.add_argument("--update-card", action="store_true", help="record in card.json")
    evaluate.add_argument(
        "--split", help="card key for --update-card (default: test or test_with_context)"
    )
    evaluate.add_argument(
        "--name", type=_label, default="ISIC 2018 Task 3 test", help="dataset name"
    )
    evaluate.add_argument(
        "--tta", action="store_true", default=None, help="average over flips (default: the card's)"
    )
    evaluate.add_argument(
        "--with-context",
        action="store_true",
        help="give the model each image's age, sex and site from the labels CSV",
    )
    evaluate.set_defaults(handler=cmd_evaluate)


def add_photo_quality(commands) -> None:
    _card_check(
        commands,
        "photo-quality",
        "brightness and sharpness limits of the training images, and what crossing them costs "
        "on validation",
        cmd_photo_quality,
    )


def add_same_spot_check(commands) -> None:
    _card_check(
        commands,
        "same-spot-check",
        "what combining several photos of one lesion is worth, on validation lesions",
        cmd_same_spot_check,
    )


def add_model_card(commands) -> None:
    card = commands.add_parser("model-card", help="render card.json as Markdown")
    card.add_argument("--model", type=_existing_dir, help=MODEL_HELP)
    card.add_argument("--out", type=Path, required=True, help="Markdown file to write")
    card.set_defaults(handler=cmd_model_card)
