"""``skindx ensemble`` (average trained models into one) and ``skindx split-ensemble`` (an
ensemble's members as models of their own)."""

from __future__ import annotations

import argparse
from pathlib import Path

from skindx.cli.common import (
    UsageError,
    _check_new_model,
    _check_output_folder,
    _existing_dir,
    _existing_file,
    _load,
    _on_training_data,
)

OVERWRITE_HELP = "replace models already in --out"


def cmd_ensemble(args: argparse.Namespace) -> int:
    from skindx.training.ensemble import build_ensemble

    if args.weights is not None and len(args.weights) != len(args.members):
        raise UsageError(
            f"--weights needs one number per member ({len(args.members)}). "
            f"Received: {len(args.weights)}"
        )
    _check_new_model("--out", args.out, args.overwrite)
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
    from skindx.training.ensemble import split

    _check_output_folder("--out", args.out)
    members = split(_load(args.model))
    for k in range(1, len(members) + 1):
        _check_new_model("--out", args.out / f"member{k}", args.overwrite)
    for k, member in enumerate(members, start=1):
        member.save(args.out / f"member{k}")
    print(f"{len(members)} members written to {args.out}/member1 … member{len(members)}")
    return 0


def add_ensemble(commands) -> None:
    ensemble = commands.add_parser("ensemble", help="average trained models into one")
    ensemble.add_argument(
        "members", nargs="+", type=_existing_dir, metavar="MODEL_DIR", help="trained models"
    )
    ensemble.add_argument(
        "--images",
        type=_existing_dir,
        required=True,
        help="the HAM10000 images, to calibrate and measure the ensemble on validation",
    )
    ensemble.add_argument(
        "--metadata",
        type=_existing_file,
        required=True,
        help="the HAM10000 metadata CSV the members were trained from",
    )
    ensemble.add_argument("--out", type=Path, required=True, help="folder for the ensemble")
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
    ensemble.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    ensemble.set_defaults(handler=_on_training_data(cmd_ensemble))


def add_split_ensemble(commands) -> None:
    split_ensemble = commands.add_parser(
        "split-ensemble", help="write an ensemble's members as models of their own"
    )
    split_ensemble.add_argument(
        "model", type=_existing_dir, metavar="ENSEMBLE_DIR", help="an ensemble's model folder"
    )
    split_ensemble.add_argument(
        "--out", type=Path, required=True, help="folder for member1, member2 …"
    )
    split_ensemble.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    split_ensemble.set_defaults(handler=cmd_split_ensemble)
