"""``skindx stats summarize``: aggregate ISIC metadata CSVs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skindx.cli.common import _check_output_file, _existing_file, _label


def cmd_stats_summarize(args: argparse.Namespace) -> int:
    from skindx.datasets.summary import write_summary
    from skindx.datasets.uploads import summarize_files_checked, unknown_value_notes
    from skindx.reports.numbers import counted

    _check_output_file("--out", args.out, creates_folder=True)  # write_summary makes it
    summary, unrecognised = summarize_files_checked([str(p) for p in args.csv], args.name)
    # The page's warnings, on stderr: the values are counted, but as unknown.
    for path, unknown in unrecognised.items():
        for note in unknown_value_notes(unknown):
            print(f"warning: {path.name}: {note}", file=sys.stderr)
    for name, note in _absent_notes(summary, unrecognised, args.csv):
        print(f"warning: {name}: {note}", file=sys.stderr)
    write_summary(summary, args.out)
    for name, part in summary["datasets"].items():
        print(f"{name}: {counted(part['n_images'], 'image')}")
    print(f"summary written to {args.out}")
    return 0


def _absent_notes(summary: dict, unrecognised: dict, paths: list[Path]) -> list[tuple[str, str]]:
    """The page's note on a file that gives no diagnosis, age, sex or site (its charts all
    "unknown"), per dataset of the summary, named by the file where one was given. A column
    some file holds values of that skindx does not know is warned of above, not here."""
    from skindx.datasets.uploads import absent_note

    unknown = {column for columns in unrecognised.values() for column in columns}
    notes = []
    for dataset, part in summary["datasets"].items():
        if note := absent_note(part, unknown):
            notes.append((paths[0].name if len(paths) == 1 else dataset, note))
    return notes


def add_stats(commands) -> None:
    stats = commands.add_parser("stats", help="ISIC dataset statistics")
    stats_commands = stats.add_subparsers(dest="stats_command", required=True, metavar="ACTION")
    summarize = stats_commands.add_parser("summarize", help="aggregate metadata CSVs")
    summarize.add_argument(
        "csv",
        nargs="+",
        type=_existing_file,
        metavar="CSV",
        help="ISIC metadata or ground-truth CSVs (HAM10000, ISIC 2018–2020, Archive)",
    )
    summarize.add_argument("--out", type=Path, required=True, help="JSON summary to write")
    summarize.add_argument(
        "--name",
        type=_label,
        help="the dataset name for every CSV's images (default: the one its format names, "
        "e.g. HAM10000: name your own file in HAM10000's format, or it counts as HAM10000)",
    )
    summarize.set_defaults(handler=cmd_stats_summarize)
