"""``skindx explain`` (a saliency overlay PNG) and ``skindx saliency-check`` (saliency energy
inside lesion masks)."""

from __future__ import annotations

import argparse
from pathlib import Path

from skindx.cli.common import (
    MODEL_HELP,
    CommandError,
    UsageError,
    _card_check,
    _check_output_file,
    _existing_dir,
    _existing_file,
    _fraction,
    _load,
    _load_image,
    _positive_int,
)


def cmd_explain(args: argparse.Namespace) -> int:
    from PIL import Image

    from skindx.explain.explainer import Explainer
    from skindx.explain.overlay import overlay
    from skindx.files import atomic_path
    from skindx.model.precision import serve_in_bfloat16

    out = args.out or Path(args.image).with_name(Path(args.image).stem + f"_{args.method}.png")
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out} must end in .png (the overlay is a PNG image)")
    _check_output_file("--out", out)  # before the model loads and the map is computed
    skin_model = _load(args.model)
    serve_in_bfloat16()
    explainer = Explainer(skin_model)
    # decoded as prediction decodes it: a 12 MP photo's overlay would cost seconds to draw and
    # save at full size, for no detail the model's input has
    pixels = _load_image(args.image, explainer.predictor.decode_side)
    saliency = explainer.explain(pixels, args.method, args.target, args.layer)
    with atomic_path(out) as partial:  # a Ctrl-C mid-save leaves the old PNG, not half of one
        Image.fromarray(overlay(pixels, saliency, args.alpha, args.colormap)).save(partial, "PNG")
    faith = explainer.faithfulness(pixels, saliency)
    print(
        f"{out}: {saliency.method} for {saliency.target} at {saliency.layer or 'input'}; "
        f"blurring the top {faith.fraction:.0%} salient pixels changes p({saliency.target}) by "
        f"{-faith.salient_drop:+.3f} ({-faith.random_drop:+.3f} for random pixels)"
    )
    return 0


def cmd_saliency_check(args: argparse.Namespace) -> int:
    from skindx.datasets.labelled import card_validation_table, find_image
    from skindx.evaluation.evaluate import saliency_on_lesions
    from skindx.explain.explainer import Explainer

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


def add_explain(commands) -> None:
    from skindx.explain.explainer import METHODS
    from skindx.explain.overlay import COLORMAPS
    from skindx.taxonomy import CODES

    explain = commands.add_parser("explain", help="write a saliency overlay PNG")
    explain.add_argument("image", type=_existing_file, help="the photo to explain")
    explain.add_argument(
        "--method", choices=list(METHODS), default="gradcam", help="saliency method"
    )
    explain.add_argument(
        "--target", choices=CODES, help="diagnosis to explain (default: the predicted one)"
    )
    explain.add_argument("--layer", help="conv layer name (default: the last)")
    explain.add_argument(
        "--out", type=Path, help="PNG path (default: IMAGE_METHOD.png beside the image)"
    )
    explain.add_argument(
        "--alpha", type=_fraction, default=0.45, help="opacity of the heat map, 0 to 1"
    )
    explain.add_argument(
        "--colormap", choices=list(COLORMAPS), default="viridis", help="heat-map colours"
    )
    explain.add_argument("--model", type=_existing_dir, help=MODEL_HELP)
    explain.set_defaults(handler=cmd_explain)


def add_saliency_check(commands) -> None:
    from skindx.explain.explainer import METHODS

    check = _card_check(
        commands, "saliency-check", "Grad-CAM energy inside lesion masks", cmd_saliency_check
    )
    check.add_argument(
        "--masks",
        type=_existing_dir,
        required=True,
        help="HAM10000 lesion masks (ISIC_…_segmentation.png)",
    )
    check.add_argument(
        "--n", type=_positive_int, default=100, help="validation images measured at most"
    )
    check.add_argument("--method", choices=list(METHODS), default="gradcam", help="saliency method")
