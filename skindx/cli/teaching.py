"""``skindx handout``: lessons as printable, self-contained HTML handouts."""

from __future__ import annotations

import argparse
from pathlib import Path

from skindx.cli.common import CommandError, _check_output_folder
from skindx.files import write_atomic


def cmd_handout(args: argparse.Namespace) -> int:
    from skindx.teaching.figures import load_model_card, load_stats_summary
    from skindx.teaching.handout import lesson_html
    from skindx.teaching.lessons import load_lessons

    lessons = load_lessons()
    known = {lesson.slug: lesson for lesson in lessons}
    unknown = [slug for slug in args.slugs if slug not in known]
    if unknown:
        raise CommandError(f"no lesson {', '.join(unknown)}; choose from {', '.join(known)}")
    _check_output_folder("--out", args.out)
    stats, card = load_stats_summary(), load_model_card()
    args.out.mkdir(parents=True, exist_ok=True)
    for slug in args.slugs or known:
        path = args.out / f"skindx-{slug}.html"
        write_atomic(path, lesson_html(known[slug], stats, card))
        print(path)
    return 0


def add_handout(commands) -> None:
    handout = commands.add_parser(
        "handout", help="lessons as printable, self-contained HTML handouts"
    )
    handout.add_argument("slugs", nargs="*", metavar="LESSON", help="lesson slugs (default: all)")
    handout.add_argument("--out", type=Path, required=True, help="folder for the HTML files")
    handout.set_defaults(handler=cmd_handout)
