"""Parsing one lesson: YAML front matter and body placeholders, validated.

A lesson is ``content/lessons/<slug>.md``: YAML front matter between ``---`` lines, then a
markdown body. Its quiz is ``content/quizzes/<slug>.yaml``. The body may hold placeholders that
the lesson fills in from data (:mod:`skindx.teaching.figures`) rather than from typed-in numbers:

- ``{{ stats:mel }}`` - how often the diagnosis appears in the ISIC datasets, from
  ``content/stats_summary.json`` (inline, inside a sentence or paragraph);
- ``{{ model:mel }}`` / ``{{ model:summary }}`` - how the shipped model does on it, from the model
  card's test metrics (inline); ``{{ model:photo_quality }}`` - what darker, brighter or blurred
  photos cost it, from the card's ``photo_quality`` (inline);
- ``{{ figure:abcde }}`` - an SVG from ``content/figures/`` (block: alone on its line);
- ``{{ examples:mel }}`` - real images from ``SKINDX_EXAMPLES_DIR`` when configured (block);
- ``{{ chart:diagnosis_counts }}`` / ``{{ chart:model_per_class }}`` - a chart drawn from the
  statistics summary or the model card (block).

When the data is missing, an inline placeholder becomes an honest "(Figure not available: …)"
sentence; it never becomes a made-up number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from skindx.taxonomy import BY_CODE, CODES
from skindx.teaching.figures import CHARTS, FIGURES_DIR, MODEL_SENTENCES
from skindx.teaching.lesson import (
    AUDIENCES,
    SLUG,
    Lesson,
    LessonError,
    QuizQuestion,
    Source,
    text_problem,
)

REQUIRED_FIELDS: tuple[str, ...] = (
    "title",
    "summary",
    "audience",
    "reading_minutes",
    "diagnoses",
    "sources",
    "last_reviewed",
)

OPTIONAL_FIELDS: tuple[str, ...] = ("order",)
INLINE_KINDS: tuple[str, ...] = ("stats", "model")
BLOCK_KINDS: tuple[str, ...] = ("figure", "examples", "chart")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*:\s*([A-Za-z0-9_-]+)\s*\}\}")
BLOCK_LINE = re.compile(r"^\s*\{\{\s*(figure|examples|chart)\s*:\s*([A-Za-z0-9_-]+)\s*\}\}\s*$")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return ``(front_matter, body)``; raise :class:`LessonError` when it is not there."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        raise LessonError("no YAML front matter: the file must start with a '---' line")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise LessonError(f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise LessonError("front matter must be a mapping of field: value")
    return meta, match.group(2)


def parse_lesson(
    text: str,
    slug: str,
    quiz: Sequence[QuizQuestion] = (),
    figures_dir: Path | None = None,
) -> Lesson:
    """Parse and validate one lesson's text; every problem is reported in one error."""
    meta, body = split_front_matter(text)
    problems = _front_matter_problems(meta, slug) + body_problems(body, figures_dir)
    if problems:
        raise LessonError(f"lesson {slug!r}: " + "; ".join(problems))
    return Lesson(
        slug=slug,
        title=meta["title"].strip(),
        summary=" ".join(meta["summary"].split()),
        audiences=_audiences(meta["audience"]),
        reading_minutes=int(meta["reading_minutes"]),
        diagnoses=tuple(meta["diagnoses"] or ()),
        sources=tuple(Source(s["title"].strip(), s["url"].strip()) for s in meta["sources"]),
        last_reviewed=_as_date(meta["last_reviewed"]),
        body=body.strip() + "\n",
        quiz=tuple(quiz),
        order=int(meta.get("order", 1000)),
    )


def _audiences(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or ())
    return tuple(a for a in AUDIENCES if a in items)


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _front_matter_problems(meta: Mapping[str, Any], slug: str) -> list[str]:
    problems = [f"missing field {name!r}" for name in REQUIRED_FIELDS if name not in meta]
    unknown = sorted(set(meta) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    problems += [f"unknown field {name!r}" for name in unknown]
    if not SLUG.match(slug):
        problems.append(f"slug {slug!r} must be lower-case words joined by '-'")
    checks = {
        "title": text_problem,
        "summary": _summary_problem,
        "audience": _audience_problem,
        "reading_minutes": _minutes_problem,
        "diagnoses": _diagnoses_problem,
        "sources": _sources_problem,
        "last_reviewed": _date_problem,
        "order": _order_problem,
    }
    for name, check in checks.items():
        if name in meta:
            problem = check(meta[name])
            if problem:
                problems.append(f"{name}: {problem}")
    return problems


def _summary_problem(value: Any) -> str | None:
    if text_problem(value):
        return text_problem(value)
    return "must be at most 300 characters" if len(value.strip()) > 300 else None


def _audience_problem(value: Any) -> str | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        return f"must be one or more of {', '.join(AUDIENCES)}"
    bad = [a for a in items if a not in AUDIENCES]
    return f"unknown audience {bad[0]!r} (use {', '.join(AUDIENCES)})" if bad else None


def _minutes_problem(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 60
    return None if ok else "must be a whole number of minutes from 1 to 60"


def _diagnoses_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list):
        return "must be a list of diagnosis codes"
    bad = [c for c in value if c not in BY_CODE]
    return f"unknown code {bad[0]!r} (use {', '.join(CODES)})" if bad else None


def _sources_problem(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "must list at least one source"
    for i, source in enumerate(value, 1):
        if not isinstance(source, dict) or set(source) != {"title", "url"}:
            return f"source {i} must have exactly 'title' and 'url'"
        if text_problem(source["title"]):
            return f"source {i} has no title"
        if not is_valid_url(source["url"]):
            return f"source {i} has an invalid link {source['url']!r} (https://… expected)"
    return None


def _date_problem(value: Any) -> str | None:
    try:
        reviewed = _as_date(value)
    except (TypeError, ValueError):
        return "must be a date (YYYY-MM-DD)"
    return "is in the future" if reviewed > date.today() else None


def _order_problem(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    return None if ok else "must be a whole number"


def is_valid_url(value: Any) -> bool:
    """An absolute https link with a host and no whitespace."""
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        return False
    parsed = urlparse(value)
    return parsed.scheme == "https" and "." in parsed.netloc


def body_problems(body: str, figures_dir: Path | None = None) -> list[str]:
    """Placeholders that are unknown, misspelt, misplaced or point at nothing."""
    figures_dir = figures_dir or FIGURES_DIR
    problems: list[str] = []
    if not body.strip():
        problems.append("the lesson body is empty")
    for line in body.splitlines():
        for match in PLACEHOLDER.finditer(line):
            problem = _placeholder_problem(match, line, figures_dir)
            if problem:
                problems.append(problem)
        if "{{" in PLACEHOLDER.sub("", line) or "}}" in PLACEHOLDER.sub("", line):
            problems.append(f"malformed placeholder in line {line.strip()!r}")
    return problems


def _placeholder_problem(match: re.Match[str], line: str, figures_dir: Path) -> str | None:
    kind, value = match.group(1), match.group(2)
    text = match.group(0)
    if kind not in INLINE_KINDS + BLOCK_KINDS:
        return f"unknown placeholder kind in {text!r}"
    if kind in BLOCK_KINDS and not BLOCK_LINE.match(line):
        return f"{text!r} must stand alone on its line"
    if kind in ("stats", "examples") and value not in BY_CODE:
        return f"{text!r} names an unknown diagnosis code"
    if kind == "model" and value not in BY_CODE and value not in MODEL_SENTENCES:
        return f"{text!r} names an unknown diagnosis code (or use {', '.join(MODEL_SENTENCES)})"
    if kind == "chart" and value not in CHARTS:
        return f"{text!r} names an unknown chart (use {', '.join(CHARTS)})"
    if kind == "figure" and not (figures_dir / f"{value}.svg").is_file():
        return f"{text!r} has no file {value}.svg in {figures_dir}"
    return None
