"""``skindx data restructure`` and ``skindx data preprocess``: prepare an ISIC download."""

from __future__ import annotations

import argparse
from pathlib import Path

from skindx.cli.common import (
    CommandError,
    UsageError,
    _check_output_folder,
    _existing_dir,
    _existing_file,
    _image_side,
    _positive_int,
)
from skindx.reports.numbers import counted


def cmd_restructure(args: argparse.Namespace) -> int:
    from skindx.datasets.labelled import restructure

    _check_output_folder("--out", args.out)
    report = restructure(args.metadata, args.images, args.out, link=args.link)
    for code, count in sorted(report.placed.items()):
        print(f"{code:8s} {count:6,d}")
    placed = counted(sum(report.placed.values()), "image")
    print(f"{placed} in {args.out} ({report.existing:,} already there)")
    for label, ids in (
        ("missing", report.missing),
        ("unreadable", report.unreadable),
        ("skipped (not readable images)", report.not_images),  # as preprocess says it
    ):
        if ids:
            print(f"{len(ids):,} {label}: {', '.join(ids[:10])}{' …' if len(ids) > 10 else ''}")
    return 0 if report.placed else 1


def cmd_preprocess(args: argparse.Namespace) -> int:
    from skindx.datasets.labelled import preprocess_folder

    _check_output_folder("--out", args.out)
    if args.out.resolve().is_relative_to(args.in_dir.resolve()):
        # its PNGs would land among the originals, and a second run would read them as input
        raise UsageError(f"--out {args.out} is inside --in {args.in_dir}; choose another folder")
    written, rejected = preprocess_folder(
        args.in_dir, args.out, args.size, args.color_constancy, args.hair_removal, args.workers
    )
    if not written and not rejected:
        raise CommandError(f"no images (JPEG, PNG …) under --in {args.in_dir}")
    print(f"{counted(written, 'image')} written to {args.out}")
    if rejected:
        print(f"{len(rejected):,} skipped (not readable images): {', '.join(rejected[:10])}")
    return 0 if written else 1


def add_data(commands) -> None:
    data = commands.add_parser("data", help="prepare an ISIC download")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    restructure = actions.add_parser("restructure", help="one folder per diagnosis")
    restructure.add_argument(
        "--metadata",
        type=_existing_file,
        required=True,
        help="ISIC metadata or ground-truth CSV (HAM10000, ISIC 2019, ISIC 2020, Archive)",
    )
    restructure.add_argument(
        "--images", type=_existing_dir, required=True, help="the downloaded images"
    )
    restructure.add_argument(
        "--out", type=Path, required=True, help="folder for one sub-folder per diagnosis"
    )
    restructure.add_argument("--link", action="store_true", help="hard links instead of copies")
    restructure.set_defaults(handler=cmd_restructure)
    preprocess = actions.add_parser("preprocess", help="resize / colour-correct / de-hair")
    preprocess.add_argument(
        "--in",
        dest="in_dir",
        type=_existing_dir,
        required=True,
        help="folder of images (sub-folders kept)",
    )
    preprocess.add_argument(
        "--out", type=Path, required=True, help="folder for the PNGs (not inside --in)"
    )
    preprocess.add_argument(
        "--size", type=_image_side, required=True, help="side of the square output, in pixels"
    )
    preprocess.add_argument(
        "--color-constancy", action="store_true", help="Shades of Gray colour correction"
    )
    preprocess.add_argument(
        "--hair-removal", action="store_true", help="remove hairs (DullRazor-style inpainting)"
    )
    preprocess.add_argument(
        "--workers", type=_positive_int, help="threads (default: the CPU count, at most 8)"
    )
    preprocess.set_defaults(handler=cmd_preprocess)
