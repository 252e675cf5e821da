"""``skindx predict`` (classify images, with reports and same-spot combining) and
``skindx similar`` (the labelled lesions nearest an image)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from skindx.cli.common import (
    MODEL_HELP,
    CommandError,
    _context_field,
    _existing_dir,
    _existing_file,
    _load,
    _load_image,
    _positive_int,
    _progress,
    _signs,
)
from skindx.files import write_atomic


def cmd_predict(args: argparse.Namespace) -> int:
    from skindx.diagnosis.context import Context
    from skindx.diagnosis.predict import SAME_SPOT, Predictor
    from skindx.diagnosis.signs import with_signs
    from skindx.images.loading import ImageRejected, load_image
    from skindx.model.precision import serve_in_bfloat16

    context = Context(args.age, args.sex, args.site)
    skin_model = _load(args.model)  # its plain errors come before TensorFlow's start-up lines
    serve_in_bfloat16()  # where the CPU has it natively (SKINDX_BFLOAT16 decides otherwise)
    if context.given and not skin_model.card.context:
        print("skindx: note: this model has no age/sex/site context; ignored", file=sys.stderr)
    predictor = Predictor(skin_model, tta=args.tta)
    reports = _Reports(args.report, predictor) if args.report else None
    failures, predictions, photos = 0, [], []  # photos: only for a combined report
    images = _progress(args.images, "predict", enabled=len(args.images) > 5 and not args.json)
    for path in map(Path, images):
        try:
            pixels = load_image(path, min_side=predictor.decode_side)
            prediction = with_signs(predictor.predict(pixels, context), args.signs)
        except ImageRejected as error:
            failures += 1
            if args.json:
                print(json.dumps({"image": str(path), "error": str(error)}))
            else:
                print(f"{path}: {error}", file=sys.stderr)
            continue
        predictions.append(prediction)
        if reports and args.same_spot:
            photos.append((path.name, pixels))
        _report_prediction(str(path), prediction, args)
        if reports:
            reports.single(path, pixels, prediction)
    if args.same_spot and len(predictions) > 1:
        combined = predictor.combine(predictions)
        if combined is None:
            print("skindx: no photo could be assessed, so none were combined", file=sys.stderr)
        else:
            combined = with_signs(combined, args.signs)
            _report_prediction(SAME_SPOT, combined, args)
            if reports:
                used = [photo for photo, p in zip(photos, predictions, strict=True) if p.in_domain]
                reports.combined(used, combined)
    return 1 if failures == len(args.images) else 0


class _Reports:
    """``skindx predict --report DIR``: the app's PNG report of each image (with the Grad-CAM
    of its top diagnosis when it is in domain) and of the combined result, named after the
    images; a name already written this run gets a number."""

    def __init__(self, directory: Path, predictor) -> None:
        if directory.exists() and not directory.is_dir():
            raise CommandError(f"--report {directory}: not a folder")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.model_name = directory, predictor.skin_model.card.display_name
        self.predictor, self.explainer = predictor, None
        self.taken: set[str] = set()

    def single(self, path: Path, pixels, prediction) -> None:
        from skindx.explain.explainer import Explainer
        from skindx.explain.overlay import overlay
        from skindx.reports.png import report_png

        heat_map = None
        if prediction.in_domain:
            if self.explainer is None:
                self.explainer = Explainer(self.predictor.skin_model, self.predictor)
            saliency = self.explainer.explain(pixels, "gradcam", prediction.label)
            heat_map = overlay(pixels, saliency)
        data = report_png(
            pixels, prediction, heat_map, file_name=path.name, model_name=self.model_name
        )
        self._write(path.stem, data)

    def combined(self, photos, prediction) -> None:
        from skindx.reports.png import combined_report_png

        self._write("combined", combined_report_png(photos, prediction, model_name=self.model_name))

    def _write(self, stem: str, data: bytes) -> None:
        name, number = f"{stem}-report.png", 1
        while name in self.taken:
            number += 1
            name = f"{stem}-report-{number}.png"
        self.taken.add(name)
        write_atomic(self.directory / name, data)
        print(f"report written to {self.directory / name}", file=sys.stderr)


def _report_prediction(name: str, prediction, args: argparse.Namespace) -> None:
    if args.json:
        record = {"image": name, **prediction.to_dict()}
        record["top_k"] = [
            {"label": c, "score": round(p, 4)} for c, p in prediction.top_k(args.top_k)
        ]
        print(json.dumps(record))
    else:
        _print_prediction(name, prediction, args.top_k)


def _print_prediction(path, prediction, k: int) -> None:
    from skindx.taxonomy import BY_CODE

    print(f"{path}")
    if not prediction.in_domain and prediction.refusal is None:
        print("  ! does not look like a dermoscopic skin-lesion image; figures are unreliable")
    for note in prediction.notes:
        print(f"  ! {note}")
    if prediction.refusal:  # its figures would mislead, as the app's result says
        return
    for code, p in prediction.top_k(k):
        print(f"  {code:6s} {p:6.1%}  {BY_CODE[code].name}")
    print(f"  malignant (mel+bcc+akiec): {prediction.malignant_probability:.1%}")
    if prediction.context_used:
        print("  (age, sex and body site taken into account)")
    if prediction.signs:
        print("  (your warning signs taken into account)")
    print(f"  {prediction.concern_message}")


def cmd_similar(args: argparse.Namespace) -> int:
    from skindx.diagnosis.predict import Predictor
    from skindx.diagnosis.similar import gallery_from_folder, vote

    skin_model = _load(args.model)
    predictor = Predictor(skin_model)
    pixels = _load_image(args.image, predictor.decode_side)  # before the gallery's minutes
    try:
        gallery = gallery_from_folder(predictor, args.examples, skin_model.card.training)
    except ValueError as error:
        raise CommandError(f"--examples {args.examples}: {error} with a known diagnosis") from None
    features = predictor.forward(predictor.preprocess(pixels))[1][0]
    neighbours = gallery.nearest(features, args.neighbours, skip=args.image.resolve())
    result = {
        "image": str(args.image),
        "votes": dict(vote([n.example for n in neighbours])),
        "neighbours": [_neighbour(n) for n in neighbours],
        "gallery": gallery.figures,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    votes = ", ".join(f"{n} {code}" for code, n in result["votes"].items())
    print(f"{args.image}: the {len(neighbours)} most similar of {len(gallery)} lesions: {votes}")
    for n in neighbours:
        print(f"  {n.similarity:.3f}  {n.example.code:6s} {n.example.path}")
    figures = gallery.figures
    print(
        f"gallery, leave-one-out vote of {figures['k']}: accuracy {figures['accuracy']:.3f}, "
        f"balanced accuracy {figures['balanced_accuracy']:.3f}"
    )
    return 0


def _neighbour(neighbour) -> dict:
    example = neighbour.example
    return {
        "image": str(example.path),
        "diagnosis": example.code,
        "similarity": round(neighbour.similarity, 4),
        "held_out": example.held_out,
    }


def add_predict(commands) -> None:
    predict = commands.add_parser("predict", help="classify images")
    predict.add_argument(
        "images", nargs="+", metavar="IMAGE", help="photos to classify (JPEG, PNG, WebP, HEIC)"
    )
    predict.add_argument("--model", type=_existing_dir, help=MODEL_HELP)
    predict.add_argument(
        "--top-k", type=_positive_int, default=3, metavar="K", help="diagnoses listed per image"
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument(
        "--tta", action="store_true", default=None, help="average over flips (default: the card's)"
    )
    context = predict.add_argument_group(
        "clinical context (optional, for every IMAGE; used where the model card has a context)"
    )
    context.add_argument("--age", type=_context_field("age"), help="age in years")
    context.add_argument("--sex", type=_context_field("sex"), help="female or male")
    context.add_argument(
        "--site", type=_context_field("site"), help="body site, e.g. back, face, lower extremity"
    )
    predict.add_argument(
        "--signs",
        type=_signs,
        default=(),
        metavar="LIST",
        help="warning signs noticed on the spot, comma-separated, from: size, shape, colour, "
        "diameter, inflammation, oozing, sensation (the weighted 7-point checklist), sore (not "
        "healed in four weeks), lump (firm, raised, growing); they can only make the advice more "
        "cautious",
    )
    predict.add_argument(
        "--same-spot",
        action="store_true",
        help="the images all show one spot: also print their combined result (the mean of the "
        "probabilities of those that can be assessed)",
    )
    predict.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="also write a one-page PNG report per image into DIR (<name>-report.png), and "
        "combined-report.png with --same-spot",
    )
    predict.set_defaults(handler=cmd_predict)


def add_similar(commands) -> None:
    similar = commands.add_parser(
        "similar", help="the labelled lesions most similar to an image, as the model sees them"
    )
    similar.add_argument("image", type=_existing_file, help="the photo to compare")
    similar.add_argument(
        "--examples", type=_existing_dir, required=True,
        help="labelled ISIC images: a folder with its metadata CSV, or one folder per diagnosis",
    )  # fmt: skip
    similar.add_argument(
        "--neighbours", type=_positive_int, default=10, metavar="K", help="lesions listed"
    )
    similar.add_argument("--json", action="store_true", help="one JSON object")
    similar.add_argument("--model", type=_existing_dir, help=MODEL_HELP)
    similar.set_defaults(handler=cmd_similar)
