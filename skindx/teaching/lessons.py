"""Lessons: markdown with YAML front matter, quizzes, glossary, slides, search and live figures.

A lesson is ``content/lessons/<slug>.md``: YAML front matter between ``---`` lines, then a
markdown body. Its quiz is ``content/quizzes/<slug>.yaml``. The body may hold placeholders that
this module fills in from data rather than from typed-in numbers:

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

import csv
import json
import math
import os
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from skindx.config import CONTENT_DIR, DEFAULT_MODEL_DIR, STATS_SUMMARY_PATH, settings
from skindx.model.card import CARD_FILE
from skindx.taxonomy import BY_CODE, CODES, ISIC2019_COLUMNS, normalize_diagnosis

LESSONS_DIR = CONTENT_DIR / "lessons"
QUIZZES_DIR = CONTENT_DIR / "quizzes"
FIGURES_DIR = CONTENT_DIR / "figures"
GLOSSARY_PATH = CONTENT_DIR / "glossary.yaml"

AUDIENCES: tuple[str, ...] = ("public", "educator", "clinician")
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
QUIZ_LENGTH = (3, 5)
OPTIONS_PER_QUESTION = (2, 6)
CHARTS: tuple[str, ...] = ("diagnosis_counts", "model_per_class")
INLINE_KINDS: tuple[str, ...] = ("stats", "model")
BLOCK_KINDS: tuple[str, ...] = ("figure", "examples", "chart")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*:\s*([A-Za-z0-9_-]+)\s*\}\}")
_BLOCK_LINE = re.compile(r"^\s*\{\{\s*(figure|examples|chart)\s*:\s*([A-Za-z0-9_-]+)\s*\}\}\s*$")
# A cross-reference in a lesson: [the lesson on sun safety](lesson:sun-safety).
_LESSON_LINK = re.compile(r"\[([^\]\n]+)\]\(lesson:([a-z0-9-]+)\)")
LESSON_LINK_PREFIX = "?lesson="  # the Lessons page opens ?lesson=<slug>
_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$")
_SLIDE_BREAK = re.compile(r"^\s*---+\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_WORD = re.compile(r"[a-z0-9]+")

# How the lessons name each class in running text (plural, for "found 62% of melanomas").
PLURAL_NAMES: dict[str, str] = {
    "akiec": "actinic keratoses and intraepithelial carcinomas",
    "bcc": "basal cell carcinomas",
    "bkl": "benign keratosis-like lesions",
    "df": "dermatofibromas",
    "mel": "melanomas",
    "nv": "moles (melanocytic nevi)",
    "vasc": "vascular lesions",
}

# Short class names for chart axes, where the full names would be cut off.
SHORT_NAMES: dict[str, str] = {
    "akiec": "AK / Bowen's",
    "bcc": "Basal cell (BCC)",
    "bkl": "Benign keratosis",
    "df": "Dermatofibroma",
    "mel": "Melanoma",
    "nv": "Mole (nevus)",
    "vasc": "Vascular lesion",
}

DATASET_LABELS: dict[str, str] = {
    "ham10000": "HAM10000",
    "isic2018": "the ISIC 2018 challenge data",
    "isic2018test": "the ISIC 2018 test set",
    "isic2018task3test": "the ISIC 2018 test set",
    "isic2019": "ISIC 2019",
    "isic2019train": "ISIC 2019",
    "isic2019training": "ISIC 2019",
    "isic2020": "ISIC 2020",
    "isic2020train": "ISIC 2020",
    "isic2020training": "ISIC 2020",
}
_DATASET_ORDER = ("ham10000", "isic2018", "isic2019", "isic2020")

_COUNT_KEYS = ("diagnosis_counts", "dx_counts", "class_counts", "counts_by_diagnosis")
_TOTAL_KEYS = ("total", "all", "n", "count", "images")

_CONFIRMATION = {
    "histo": "confirmed by histopathology",
    "follow_up": "confirmed by follow-up",
    "consensus": "expert consensus",
    "confocal": "confirmed by confocal microscopy",
}


class LessonError(ValueError):
    """Lesson, quiz or glossary content that does not follow the schema."""


class LessonNotFound(LookupError):
    """No lesson has that slug, or no lesson covers that diagnosis."""


@dataclass(frozen=True)
class Source:
    """A reference that backs the lesson's medical claims."""

    title: str
    url: str


@dataclass(frozen=True)
class QuizQuestion:
    """One multiple-choice question with exactly one correct option."""

    question: str
    options: tuple[str, ...]
    answer: int
    explanation: str

    @property
    def correct_option(self) -> str:
        return self.options[self.answer]

    def is_correct(self, choice: int | None) -> bool:
        return choice == self.answer


@dataclass(frozen=True)
class Lesson:
    """A validated lesson. ``body`` is raw markdown with placeholders still in it."""

    slug: str
    title: str
    summary: str
    audiences: tuple[str, ...]
    reading_minutes: int
    diagnoses: tuple[str, ...]
    sources: tuple[Source, ...]
    last_reviewed: date
    body: str
    quiz: tuple[QuizQuestion, ...] = ()
    order: int = 1000

    def for_audience(self, audience: str | None) -> bool:
        return audience is None or audience in self.audiences


@dataclass(frozen=True)
class Slide:
    """One slide of presentation mode: its heading (may be empty) and its markdown."""

    title: str
    body: str


@dataclass(frozen=True)
class Segment:
    """A piece of a lesson body: markdown to render, or a block placeholder to draw."""

    kind: str  # "markdown", "figure", "examples" or "chart"
    value: str


@dataclass(frozen=True)
class GlossaryTerm:
    term: str
    definition: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)


@dataclass(frozen=True)
class Figure:
    name: str
    svg: str
    title: str


@dataclass(frozen=True)
class QuizResult:
    score: int
    total: int
    correct: tuple[bool, ...]
    answered: tuple[bool, ...]


@dataclass(frozen=True)
class Chart:
    """Table-shaped data for a chart: ``data[series][row] = value``; empty with a ``note``."""

    name: str
    title: str
    y_label: str
    data: dict[str, dict[str, float]]
    note: str = ""


@dataclass(frozen=True)
class ExampleImage:
    code: str
    path: Path
    caption: str
    held_out: bool = False  # known to be outside the model's training images


# --------------------------------------------------------------------------- parsing


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
    if not _SLUG.match(slug):
        problems.append(f"slug {slug!r} must be lower-case words joined by '-'")
    checks = {
        "title": _text_problem,
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


def _text_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be non-empty text"
    return None


def _summary_problem(value: Any) -> str | None:
    if _text_problem(value):
        return _text_problem(value)
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
        if _text_problem(source["title"]):
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
        for match in _PLACEHOLDER.finditer(line):
            problem = _placeholder_problem(match, line, figures_dir)
            if problem:
                problems.append(problem)
        if "{{" in _PLACEHOLDER.sub("", line) or "}}" in _PLACEHOLDER.sub("", line):
            problems.append(f"malformed placeholder in line {line.strip()!r}")
    return problems


def _placeholder_problem(match: re.Match[str], line: str, figures_dir: Path) -> str | None:
    kind, value = match.group(1), match.group(2)
    text = match.group(0)
    if kind not in INLINE_KINDS + BLOCK_KINDS:
        return f"unknown placeholder kind in {text!r}"
    if kind in BLOCK_KINDS and not _BLOCK_LINE.match(line):
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


def parse_quiz(data: Any, name: str = "quiz") -> tuple[QuizQuestion, ...]:
    """Validate a quiz: ``{"questions": [{question, options, answer, explanation}, …]}``."""
    items = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise LessonError(f"{name}: expected a 'questions' list")
    low, high = QUIZ_LENGTH
    problems = [] if low <= len(items) <= high else [f"has {len(items)} questions ({low}–{high})"]
    questions: list[QuizQuestion] = []
    for i, item in enumerate(items, 1):
        problem = _question_problem(item)
        if problem:
            problems.append(f"question {i}: {problem}")
        else:
            questions.append(_question(item))
    if problems:
        raise LessonError(f"{name}: " + "; ".join(problems))
    return tuple(questions)


def _question_problem(item: Any) -> str | None:
    keys = {"question", "options", "answer", "explanation"}
    if not isinstance(item, dict) or set(item) != keys:
        return "needs exactly question, options, answer and explanation"
    if _text_problem(item["question"]) or _text_problem(item["explanation"]):
        return "question and explanation must be non-empty text"
    options = item["options"]
    low, high = OPTIONS_PER_QUESTION
    if not isinstance(options, list) or not low <= len(options) <= high:
        return f"needs {low}–{high} options"
    not_text = [o for o in options if _text_problem(o)]
    if not_text:
        return f"option {not_text[0]!r} is not text (quote it in the YAML file)"
    if len({str(o).strip().lower() for o in options}) != len(options):
        return "options must be different from each other"
    answer = item["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int):
        return "answer must be the index (0, 1, …) of the one correct option"
    if not 0 <= answer < len(options):
        return f"answer {answer} is not an option index (0–{len(options) - 1})"
    return None


def _question(item: Mapping[str, Any]) -> QuizQuestion:
    return QuizQuestion(
        question=str(item["question"]).strip(),
        options=tuple(str(o).strip() for o in item["options"]),
        answer=int(item["answer"]),
        explanation=" ".join(str(item["explanation"]).split()),
    )


# --------------------------------------------------------------------------- loading


def load_quiz(path: Path) -> tuple[QuizQuestion, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise LessonError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_quiz(data, path.name)


def load_lesson(
    path: Path, quizzes_dir: Path | None = None, figures_dir: Path | None = None
) -> Lesson:
    """Load one lesson file and its quiz (``<quizzes_dir>/<slug>.yaml``, when present)."""
    path = Path(path)
    quizzes_dir = QUIZZES_DIR if quizzes_dir is None else Path(quizzes_dir)
    quiz_path = quizzes_dir / f"{path.stem}.yaml"
    quiz = load_quiz(quiz_path) if quiz_path.is_file() else ()
    return parse_lesson(path.read_text(encoding="utf-8"), path.stem, quiz, figures_dir)


def load_lessons(
    lessons_dir: Path | None = None,
    quizzes_dir: Path | None = None,
    *,
    strict: bool = True,
) -> tuple[Lesson, ...]:
    """All lessons, in teaching order. ``strict=False`` skips invalid files instead of raising."""
    lessons_dir = LESSONS_DIR if lessons_dir is None else Path(lessons_dir)
    loaded: list[Lesson] = []
    for path in sorted(lessons_dir.glob("*.md")):
        try:
            loaded.append(load_lesson(path, quizzes_dir))
        except LessonError:
            if strict:
                raise
    return tuple(sorted(loaded, key=lambda lesson: (lesson.order, lesson.slug)))


def find_problems(
    lessons_dir: Path | None = None,
    quizzes_dir: Path | None = None,
    glossary_path: Path | None = None,
) -> list[str]:
    """Every problem in the content, per file and across files; ``[]`` when all is well."""
    lessons_dir = LESSONS_DIR if lessons_dir is None else Path(lessons_dir)
    quizzes_dir = QUIZZES_DIR if quizzes_dir is None else Path(quizzes_dir)
    problems: list[str] = []
    lessons: list[Lesson] = []
    paths = sorted(lessons_dir.glob("*.md"))
    for path in paths:
        try:
            lessons.append(load_lesson(path, quizzes_dir))
        except LessonError as exc:
            problems.append(str(exc))
    problems += collection_problems(lessons)
    slugs = {p.stem for p in paths}
    problems += [
        f"{p.name}: quiz without a lesson"
        for p in sorted(quizzes_dir.glob("*.yaml"))
        if p.stem not in slugs
    ]
    try:
        load_glossary(glossary_path)
    except LessonError as exc:
        problems.append(str(exc))
    return problems


def collection_problems(lessons: Sequence[Lesson]) -> list[str]:
    """Checks across lessons: coverage of every diagnosis, quizzes, unique order numbers."""
    problems = [f"{lesson.slug}: has no quiz" for lesson in lessons if not lesson.quiz]
    covered = {code for lesson in lessons for code in lesson.diagnoses}
    problems += [f"no lesson covers diagnosis {code!r}" for code in CODES if code not in covered]
    orders = [lesson.order for lesson in lessons]
    problems += [
        f"order {n} is used by more than one lesson"
        for n in sorted(set(orders))
        if orders.count(n) > 1
    ]
    slugs = {lesson.slug for lesson in lessons}
    problems += [
        f"{lesson.slug}: links to a lesson {slug!r} that does not exist"
        for lesson in lessons
        for slug in linked_lessons(lesson.body)
        if slug not in slugs
    ]
    problems += [
        f"{lesson.slug}: a lesson link is not written [text](lesson:<slug>) on one line"
        for lesson in lessons
        if "(lesson:" in _LESSON_LINK.sub("", lesson.body)
    ]
    return problems


def linked_lessons(markdown: str) -> list[str]:
    """The slugs a body links to with ``[text](lesson:<slug>)``, in order."""
    return [match.group(2) for match in _LESSON_LINK.finditer(markdown)]


def link_lessons(markdown: str, prefix: str | None = LESSON_LINK_PREFIX) -> str:
    """Cross-references ``[text](lesson:<slug>)`` as links to ``prefix + slug`` (the Lessons
    page's ``?lesson=<slug>``); with ``prefix=None``, their text alone (a printed handout)."""
    if prefix is None:
        return _LESSON_LINK.sub(r"\1", markdown)
    return _LESSON_LINK.sub(lambda m: f"[{m.group(1)}]({prefix}{m.group(2)})", markdown)


# --------------------------------------------------------------------------- lookup and search


def get_lesson(slug: str, lessons: Sequence[Lesson]) -> Lesson:
    for lesson in lessons:
        if lesson.slug == slug:
            return lesson
    raise LessonNotFound(f"there is no lesson called {slug!r}")


def lesson_for_diagnosis(code: str, lessons: Sequence[Lesson]) -> Lesson:
    """The lesson dedicated to one diagnosis (the one that lists only that code).

    Accepts any ISIC spelling of the diagnosis (``"mel"``, ``"MEL"``, ``"melanoma"``).
    """
    normalized = normalize_diagnosis(code)
    if normalized not in BY_CODE:
        raise LessonNotFound(f"{code!r} is not one of the diagnoses: {', '.join(CODES)}")
    candidates = [lesson for lesson in lessons if normalized in lesson.diagnoses]
    if not candidates:
        raise LessonNotFound(f"no lesson covers {BY_CODE[normalized].name}")
    return min(candidates, key=lambda lesson: (len(lesson.diagnoses), lesson.order))


def lesson_from_query(
    params: Mapping[str, Any], lessons: Sequence[Lesson]
) -> tuple[Lesson | None, str | None]:
    """Resolve ``?lesson=<slug>`` or ``?dx=<code>`` to a lesson, plus a notice for a bad link."""
    slug, code = _first(params.get("lesson")), _first(params.get("dx"))
    if slug:
        try:
            return get_lesson(slug, lessons), None
        except LessonNotFound:
            if not code:
                return None, f"No lesson called “{slug}”. Here are all the lessons."
    if code:
        try:
            return lesson_for_diagnosis(code, lessons), None
        except LessonNotFound:
            return None, f"No lesson for the diagnosis “{code}”. Here are all the lessons."
    return None, None


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value).strip() if value is not None else ""


def meta_line(lesson: Lesson, reviewed: bool = False) -> str:
    """Audiences, reading time and diagnoses (and the review date) on one line."""
    parts = [f"For {', '.join(lesson.audiences)}", f"{lesson.reading_minutes} min read"]
    if lesson.diagnoses:
        parts.append(", ".join(BY_CODE[c].name for c in lesson.diagnoses))
    if reviewed:
        parts.append(f"last reviewed {lesson.last_reviewed:%d %B %Y}")
    return " · ".join(parts)


def search_lessons(
    lessons: Sequence[Lesson], query: str = "", audience: str | None = None
) -> list[Lesson]:
    """Lessons for ``audience`` that contain every word of ``query``, best matches first."""
    words = _WORD.findall(query.lower())
    matches = [lesson for lesson in lessons if lesson.for_audience(audience)]
    if not words:
        return matches
    scored = [(_score(lesson, words), lesson) for lesson in matches]
    scored = [(score, lesson) for score, lesson in scored if score > 0]
    return [lesson for _, lesson in sorted(scored, key=lambda pair: (-pair[0], pair[1].order))]


def _score(lesson: Lesson, words: Sequence[str]) -> float:
    title, summary, body = lesson.title.lower(), lesson.summary.lower(), lesson.body.lower()
    names = " ".join(f"{c} {BY_CODE[c].name}" for c in lesson.diagnoses).lower()
    score = 0.0
    for word in words:
        hits = body.count(word)
        if not (hits or word in title or word in summary or word in names):
            return 0.0
        score += 4 * (word in title) + 2 * (word in names) + 2 * (word in summary)
        score += min(hits, 10) / 10
    return score


# --------------------------------------------------------------------------- body and slides


def segments(markdown: str) -> list[Segment]:
    """Split a (rendered) body into markdown runs and block placeholders, in order."""
    result: list[Segment] = []
    run: list[str] = []

    def flush() -> None:
        text = "\n".join(run).strip()
        if text:
            result.append(Segment("markdown", text))
        run.clear()

    for line in markdown.splitlines():
        match = _BLOCK_LINE.match(line)
        if match:
            flush()
            result.append(Segment(match.group(1), match.group(2)))
        else:
            run.append(line)
    flush()
    return result


def split_slides(markdown: str) -> list[Slide]:
    """Split markdown into slides at ``---`` lines and at ``#``/``##`` headings.

    A heading starts a new slide and stays in it; a ``---`` line only separates. Code fences are
    never split. Empty slides are dropped.
    """
    slides: list[Slide] = []
    title, lines = "", []
    in_fence = False

    def close() -> None:
        body = "\n".join(lines).strip()
        if body:
            slides.append(Slide(title, body))

    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if not in_fence and _SLIDE_BREAK.match(line):
            close()
            title, lines = "", []
        elif heading:
            close()
            title, lines = heading.group(2), [line]
        else:
            lines.append(line)
    close()
    return slides


def lesson_slides(
    lesson: Lesson,
    stats_summary: Mapping[str, Any] | None = None,
    model_card: Mapping[str, Any] | None = None,
    *,
    link_prefix: str | None = None,
) -> list[Slide]:
    """Presentation of a lesson: a title slide, the body's slides, then the sources."""
    who = ", ".join(lesson.audiences)
    opening = f"# {lesson.title}\n\n{lesson.summary}\n\n*For: {who} · {lesson.reading_minutes} min*"
    slides = split_slides(
        render_lesson_body(lesson, stats_summary, model_card, link_prefix=link_prefix)
    )
    if slides and not slides[0].title:
        opening += "\n\n" + slides.pop(0).body
    sources = "\n".join(f"{i}. [{s.title}]({s.url})" for i, s in enumerate(lesson.sources, 1))
    return [
        Slide(lesson.title, opening),
        *slides,
        Slide("Sources", f"## Sources\n\n{sources}"),
    ]


def render_lesson_body(
    lesson: Lesson,
    stats_summary: Mapping[str, Any] | None,
    model_card: Mapping[str, Any] | None,
    *,
    link_prefix: str | None = None,
) -> str:
    """The body with ``stats:`` and ``model:`` placeholders filled in; block ones stay.
    Cross-references to other lessons become links to ``link_prefix + slug`` (the app passes
    :data:`LESSON_LINK_PREFIX`), or plain text without a prefix (a handout, a test)."""

    def replace(match: re.Match[str]) -> str:
        kind, value = match.group(1), match.group(2)
        if kind == "stats":
            return stats_sentence(value, stats_summary)
        if kind == "model":
            if value in MODEL_SENTENCES:
                return MODEL_SENTENCES[value](model_card)
            return model_sentence(value, model_card)
        return match.group(0)

    return link_lessons(_PLACEHOLDER.sub(replace, lesson.body), link_prefix)


# --------------------------------------------------------------------------- data sentences


def load_stats_summary(path: Path | None = None) -> dict[str, Any] | None:
    """The bundled statistics summary, or ``None`` when it is missing or unreadable."""
    return _read_json(STATS_SUMMARY_PATH if path is None else Path(path))


def load_model_card(path: Path | None = None) -> dict[str, Any] | None:
    """The model card as a dict (``SKINDX_MODEL`` or the shipped default), or ``None``."""
    if path is None:
        path = settings().model_dir or DEFAULT_MODEL_DIR
    path = Path(path)
    return _read_json(path / CARD_FILE if path.is_dir() else path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def diagnosis_counts(summary: Mapping[str, Any] | None) -> dict[str, dict[str, int]]:
    """Per-dataset image counts by diagnosis code, read tolerantly from a statistics summary.

    Looks for ``{dataset: {"diagnosis_counts": {label: n}}}`` at the top level or one level
    down (e.g. under ``"datasets"``), or a list of ``{"name": …, "diagnosis_counts": …}``.
    Labels in any ISIC spelling are folded into the seven codes; other labels keep their own
    name so that totals stay right. Anything unreadable is skipped.
    """
    found: dict[str, dict[str, int]] = {}
    for name, table in _count_tables(summary, "", 0):
        counts = _fold_counts(table)
        if counts and name not in found:
            found[name] = counts
    return dict(sorted(found.items(), key=lambda item: _dataset_rank(item[0])))


def _count_tables(node: Any, name: str, depth: int) -> Iterator[tuple[str, Any]]:
    if depth > 3:
        return
    if isinstance(node, Mapping):
        key = next((k for k in _COUNT_KEYS if k in node), None)
        if key is None:
            for child_key, child in node.items():
                yield from _count_tables(child, str(child_key), depth + 1)
        elif isinstance(node[key], Mapping) and all(
            isinstance(v, Mapping) for v in node[key].values()
        ):
            yield from ((str(k), v) for k, v in node[key].items())
        else:
            yield _dataset_name(node, name), node[key]
    elif isinstance(node, list):
        for child in node:
            if isinstance(child, Mapping):
                yield from _count_tables(child, name, depth + 1)


def _dataset_name(node: Mapping[str, Any], fallback: str) -> str:
    for key in ("dataset", "name"):
        if isinstance(node.get(key), str) and node[key].strip():
            return node[key].strip()
    return fallback or "ISIC data"


def _fold_counts(table: Any) -> dict[str, int]:
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(table, Mapping):
        pairs = table.items()
    elif isinstance(table, list):
        pairs = [
            (row.get("dx", row.get("diagnosis", row.get("code"))), row.get("n", row.get("count")))
            for row in table
            if isinstance(row, Mapping)
        ]
    else:
        return {}
    counts: dict[str, int] = {}
    for label, n in pairs:
        if str(label).strip().lower() in _TOTAL_KEYS:
            continue
        if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n) or n < 0:
            continue
        code = normalize_diagnosis(label)
        counts[code] = counts.get(code, 0) + int(n)
    return counts if sum(counts.values()) > 0 else {}


def _dataset_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _dataset_rank(name: str) -> tuple[int, str]:
    key = _dataset_key(name)
    for i, prefix in enumerate(_DATASET_ORDER):
        if key.startswith(prefix):
            return i, key
    return len(_DATASET_ORDER), key


def dataset_label(name: str) -> str:
    """A readable name for a dataset key (``"isic2018_test"`` → ``"the ISIC 2018 test set"``)."""
    return DATASET_LABELS.get(_dataset_key(name), name)


def _display(code: str) -> str:
    return BY_CODE[code].name.lower()


def stats_sentence(code: str, summary: Mapping[str, Any] | None) -> str:
    """How often ``code`` appears in each ISIC dataset, or an honest 'not available'."""
    name = _display(code)
    if summary is None:
        return (
            "(Figure not available: this copy of the app has no dataset statistics summary, "
            f"so the share of {name} images in ISIC data cannot be shown.)"
        )
    tables = diagnosis_counts(summary)
    if not tables:
        return "(Figure not available: the dataset statistics summary has no diagnosis counts.)"
    return " ".join(_count_sentence(code, dataset, counts) for dataset, counts in tables.items())


def _count_sentence(code: str, dataset: str, counts: Mapping[str, int]) -> str:
    label = dataset_label(dataset)
    total = sum(counts.values())
    if code not in counts:
        return f"{_capital(label)} has no separate label for {_display(code)}."
    n = counts[code]
    if n == 0:
        return f"In {label}, none of the {total:,} images are labelled {_display(code)}."
    sentence = (
        f"In {label}, {n:,} of {total:,} images ({100 * n / total:.1f}%) "
        f"are labelled {_display(code)}"
    )
    unknown = counts.get("unknown", 0)
    return sentence + (f"; {unknown:,} have no specific diagnosis." if unknown else ".")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fraction(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if 0 <= value <= 1:
        return float(value)
    return float(value) / 100 if 1 < value <= 100 else None


def _test_metrics(card: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    metrics = card.get("metrics") if isinstance(card, Mapping) else None
    test = metrics.get("test") if isinstance(metrics, Mapping) else None
    return test if isinstance(test, Mapping) else None


def _test_set_label(test: Mapping[str, Any]) -> str:
    dataset = test.get("dataset")
    if isinstance(dataset, str) and dataset.strip():
        label = dataset_label(dataset.strip())
        return label if label != dataset.strip() else f"the test set ({dataset.strip()})"
    return "its test set"


def model_sentence(code: str, card: Mapping[str, Any] | None) -> str:
    """The model's test sensitivity, specificity and AUC for ``code``, from the model card."""
    test = _test_metrics(card)
    name = _display(code)
    if test is None:
        return (
            "(Figure not available: no model card with test results was found, so the "
            f"model's performance on {name} cannot be shown.)"
        )
    per_class = test.get("per_class")
    figures = per_class.get(code) if isinstance(per_class, Mapping) else None
    if not isinstance(figures, Mapping):
        return f"(Figure not available: the model card has no test figures for {name}.)"
    sensitivity = _fraction(figures.get("sensitivity"))
    specificity = _fraction(figures.get("specificity"))
    auc = _fraction(figures.get("auc"))
    if sensitivity is None and specificity is None and auc is None:
        return f"(Figure not available: the model card has no test figures for {name}.)"
    where = _test_set_label(test)
    parts = []
    if sensitivity is not None:
        parts.append(f"the model found {sensitivity:.0%} of the {PLURAL_NAMES[code]} (sensitivity)")
    if specificity is not None:
        parts.append(
            f"it correctly said “not {name}” for {specificity:.0%} of the other lesions "
            "(specificity)"
        )
    sentences = []
    if parts:
        n = figures.get("n", figures.get("support"))
        count = f" ({n:,} test images of this class)" if _is_count(n) else ""
        sentences.append(f"On {where}, " + "; ".join(parts) + count + ".")
    if auc is not None:
        lead = "Its" if parts else f"On {where}, the model's"
        sentences.append(f"{lead} AUC for {name} is {auc:.2f} (1.00 is perfect, 0.50 is guessing).")
    return " ".join(sentences)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def model_summary_sentence(card: Mapping[str, Any] | None) -> str:
    """Balanced accuracy (and melanoma sensitivity) on the test set, from the model card."""
    test = _test_metrics(card)
    balanced = _fraction(test.get("balanced_accuracy")) if test is not None else None
    if test is None or balanced is None:
        return (
            "(Figure not available: no model card with test results was found, so the "
            "model's overall accuracy cannot be shown.)"
        )
    sentence = (
        f"On {_test_set_label(test)}, the model's balanced accuracy (the average of its "
        f"sensitivities over the seven diagnoses) is {balanced:.0%}."
    )
    per_class = test.get("per_class")
    mel = per_class.get("mel") if isinstance(per_class, Mapping) else None
    mel_sens = _fraction(mel.get("sensitivity")) if isinstance(mel, Mapping) else None
    if mel_sens is not None:
        sentence += f" It found {mel_sens:.0%} of the melanomas."
    return sentence


def photo_quality_sentence(card: Mapping[str, Any] | None) -> str:
    """What darker, brighter or blurred photos cost the model on validation, from the card."""
    from skindx.images import quality

    measured = (card or {}).get("photo_quality", {}).get("validation")
    if not isinstance(measured, Mapping) or "clean" not in measured:
        return (
            "(Figure not available: the model card holds no measurement of darker, brighter or "
            "blurred photos.)"
        )
    accuracy = {
        kind: value["balanced_accuracy"]
        for kind, value in measured.items()
        if isinstance(value, Mapping)
    }
    changed = ", ".join(
        f"{quality.EFFECT_LABELS[kind]}: {accuracy[kind]:.0%}"
        for kind in quality.PERTURBATIONS
        if kind in accuracy
    )
    sentence = (
        f"On its validation images the model's balanced accuracy is {accuracy['clean']:.0%} as "
        f"they are; {changed}."
    )
    darker = measured.get("darker")
    if isinstance(darker, Mapping) and "out_of_domain" in darker:
        sentence += (
            f" Its check for unusual images flagged only {darker['out_of_domain']:.0%} of the "
            "darker ones."
        )
    return sentence


MODEL_SENTENCES = {"summary": model_summary_sentence, "photo_quality": photo_quality_sentence}


# --------------------------------------------------------------------------- charts


def build_chart(
    name: str,
    stats_summary: Mapping[str, Any] | None,
    model_card: Mapping[str, Any] | None,
) -> Chart:
    """Data for a ``{{ chart:… }}`` placeholder; ``data`` is empty (with a note) when missing."""
    if name == "diagnosis_counts":
        return _counts_chart(stats_summary)
    if name == "model_per_class":
        return _model_chart(model_card)
    raise LessonNotFound(f"there is no chart called {name!r} (use {', '.join(CHARTS)})")


def _counts_chart(summary: Mapping[str, Any] | None) -> Chart:
    data: dict[str, dict[str, float]] = {}
    for dataset, counts in diagnosis_counts(summary).items():
        total = sum(counts.values())
        data[_capital(dataset_label(dataset).removeprefix("the "))] = {
            SHORT_NAMES[c]: round(100 * counts[c] / total, 1) for c in CODES if c in counts
        }
    note = "" if data else "Chart not available: no dataset statistics summary with counts."
    return Chart("diagnosis_counts", "Share of images per diagnosis", "% of images", data, note)


def _model_chart(card: Mapping[str, Any] | None) -> Chart:
    test = _test_metrics(card)
    per_class = test.get("per_class") if test is not None else None
    data: dict[str, dict[str, float]] = {}
    if isinstance(per_class, Mapping):
        for metric in ("sensitivity", "specificity"):
            column = {}
            for code in CODES:
                figures = per_class.get(code)
                value = _fraction(figures.get(metric)) if isinstance(figures, Mapping) else None
                if value is not None:
                    column[SHORT_NAMES[code]] = round(100 * value, 1)
            if column:
                data[metric.capitalize()] = column
    title = f"Model on {_test_set_label(test)}" if test is not None else "Model test results"
    note = "" if data else "Chart not available: the model card has no per-class test figures."
    return Chart("model_per_class", title, "%", data, note)


# --------------------------------------------------------------------------- figures, glossary


def list_figures(figures_dir: Path | None = None) -> list[str]:
    figures_dir = FIGURES_DIR if figures_dir is None else Path(figures_dir)
    return sorted(p.stem for p in figures_dir.glob("*.svg"))


def load_figure(name: str, figures_dir: Path | None = None) -> Figure:
    """An SVG drawn for the lessons, with its ``<title>`` as caption."""
    figures_dir = FIGURES_DIR if figures_dir is None else Path(figures_dir)
    if not _SLUG.match(name):
        raise LessonNotFound(f"there is no figure called {name!r}")
    path = figures_dir / f"{name}.svg"
    if not path.is_file():
        raise LessonNotFound(f"there is no figure called {name!r}")
    svg = path.read_text(encoding="utf-8")
    title = re.search(r"<title[^>]*>(.*?)</title>", svg, re.S)
    return Figure(name, svg, " ".join(title.group(1).split()) if title else name)


def load_glossary(path: Path | None = None) -> tuple[GlossaryTerm, ...]:
    """The glossary (``content/glossary.yaml``), validated and sorted by term."""
    path = GLOSSARY_PATH if path is None else Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LessonError(f"{path.name}: cannot be read: {exc}") from exc
    items = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise LessonError(f"{path.name}: expected a non-empty 'terms' list")
    terms: list[GlossaryTerm] = []
    seen: set[str] = set()
    for i, item in enumerate(items, 1):
        term = _glossary_term(item, f"{path.name}: term {i}")
        for name in term.names:
            if name.lower() in seen:
                raise LessonError(f"{path.name}: {name!r} is defined twice")
            seen.add(name.lower())
        terms.append(term)
    return tuple(sorted(terms, key=lambda t: t.term.lower()))


def _glossary_term(item: Any, where: str) -> GlossaryTerm:
    if not isinstance(item, dict) or not {"term", "definition"} <= set(item) <= {
        "term",
        "definition",
        "aliases",
    }:
        raise LessonError(f"{where}: needs 'term' and 'definition' (and optional 'aliases')")
    aliases = item.get("aliases") or []
    if _text_problem(item["term"]) or _text_problem(item["definition"]):
        raise LessonError(f"{where}: term and definition must be non-empty text")
    if not isinstance(aliases, list) or any(_text_problem(a) for a in aliases):
        raise LessonError(f"{where}: aliases must be a list of text")
    return GlossaryTerm(
        item["term"].strip(),
        " ".join(item["definition"].split()),
        tuple(a.strip() for a in aliases),
    )


def search_glossary(terms: Sequence[GlossaryTerm], query: str = "") -> list[GlossaryTerm]:
    words = _WORD.findall(query.lower())
    if not words:
        return list(terms)
    return [
        t for t in terms if all(w in f"{' '.join(t.names)} {t.definition}".lower() for w in words)
    ]


def glossary_terms_in(text: str, terms: Sequence[GlossaryTerm]) -> list[GlossaryTerm]:
    """Glossary terms that a text uses (whole words, any case)."""
    lowered = text.lower()
    return [
        t
        for t in terms
        if any(re.search(rf"(?<![a-z]){re.escape(n.lower())}(?![a-z])", lowered) for n in t.names)
    ]


# --------------------------------------------------------------------------- quizzes


def grade_quiz(questions: Sequence[QuizQuestion], answers: Sequence[int | None]) -> QuizResult:
    """Score a set of chosen option indexes (``None`` for unanswered)."""
    chosen = list(answers) + [None] * (len(questions) - len(answers))
    correct = tuple(q.is_correct(a) for q, a in zip(questions, chosen, strict=False))
    answered = tuple(a is not None for a in chosen[: len(questions)])
    return QuizResult(sum(correct), len(questions), correct, answered)


# --------------------------------------------------------------------------- real examples


def find_examples(
    directory: Path | None, per_class: int = 3, training: Mapping[str, Any] | None = None
) -> dict[str, list[ExampleImage]]:
    """Up to ``per_class`` real images per diagnosis from a local folder of ISIC images.

    Understands a HAM10000-style metadata CSV (``image_id``, ``dx``, optional ``lesion_id`` and
    ``dx_type``) in the folder (or beside an ``images/`` folder), an ISIC 2019 one-hot ground
    truth CSV, or one sub-folder per diagnosis (``mel/``, ``MEL/`` …). One image per lesion;
    the choice is deterministic. A missing or unreadable folder gives ``{}``.

    With ``training`` (a model card's ``training`` section), the images the model trained on
    are left out wherever the folder's metadata reproduces the card's lesion split, and those
    left are marked ``held_out``: the model's answer on them is a fair test. Paths are
    absolute.
    """
    if directory is None or not Path(directory).is_dir():
        return {}
    directory = Path(directory).resolve()  # absolute paths: an image can be matched to its own
    found = _metadata(directory)
    if found is None:
        return _pick_from_folders(directory, per_class)
    path, rows = found
    trained = _card_training_ids(training, path) if training else frozenset()
    rows = [row for row in rows if row["image_id"] not in trained]
    images = _image_index([directory, directory / "images"])
    return _pick_from_rows(rows, images, per_class, held_out=bool(trained))


def _metadata(directory: Path) -> tuple[Path, list[dict[str, str]]] | None:
    """The first CSV with image ids and diagnoses in the folder (or beside ``images/``), and
    its rows."""
    folders = [directory]
    if directory.name == "images":
        folders.append(directory.parent)
    for folder in folders:
        for path in sorted(folder.glob("*.csv")):
            rows = _read_labels(path)
            if rows:
                return path, rows
    return None


def _card_training_ids(training: Mapping[str, Any], metadata_csv: Path) -> frozenset[str]:
    """The ids on the training side of the card's lesion split, if this metadata is the table
    the split was drawn from (its training side matches the card's counts per class); else
    empty, as the split of any other table would be a different one."""
    from skindx.datasets.metadata import MetadataError
    from skindx.training.data import card_split

    expected = training.get("train_images_per_class")
    try:
        train, _ = card_split(dict(training), metadata_csv)
    except (MetadataError, ValueError, OSError):
        return frozenset()
    if not expected or train["diagnosis"].value_counts().to_dict() != expected:
        return frozenset()
    return frozenset(train["image_id"])


def _read_labels(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            image_col = next((c for c in ("image_id", "image", "isic_id") if c in fields), None)
            label_col = next((c for c in ("dx", "diagnosis", "label") if c in fields), None)
            onehot = [c for c in fields if c in ISIC2019_COLUMNS]
            if image_col is None or (label_col is None and len(onehot) < 2):
                return []
            return [
                _label_row(row, image_col, label_col, onehot) for row in reader if row[image_col]
            ]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _label_row(
    row: Mapping[str, str], image_col: str, label_col: str | None, onehot: Sequence[str]
) -> dict[str, str]:
    if label_col is not None:
        label = row.get(label_col, "")
    else:
        label = next((c for c in onehot if _is_one(row.get(c))), "")
    return {
        "image_id": row[image_col].strip(),
        "code": normalize_diagnosis(label),
        "lesion_id": (row.get("lesion_id") or row[image_col]).strip(),
        "dx_type": (row.get("dx_type") or "").strip(),
    }


def _is_one(value: str | None) -> bool:
    try:
        return float(value or 0) >= 0.5
    except ValueError:
        return False


def _image_index(folders: Iterable[Path]) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                path = Path(entry.path)
                if entry.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    index.setdefault(path.stem, path)
    return index


def _pick_from_rows(
    rows: Sequence[Mapping[str, str]],
    images: Mapping[str, Path],
    per_class: int,
    held_out: bool = False,
) -> dict[str, list[ExampleImage]]:
    picked: dict[str, list[ExampleImage]] = {}
    lesions: set[str] = set()
    for row in sorted(rows, key=lambda r: r["image_id"]):
        code, path = row["code"], images.get(row["image_id"])
        if code not in BY_CODE or path is None or row["lesion_id"] in lesions:
            continue
        chosen = picked.setdefault(code, [])
        if len(chosen) < per_class:
            how = _CONFIRMATION.get(row["dx_type"], "")
            caption = f"{row['image_id']} · {BY_CODE[code].name}" + (f" · {how}" if how else "")
            chosen.append(ExampleImage(code, path, caption, held_out))
            lesions.add(row["lesion_id"])
    return picked


def _pick_from_folders(directory: Path, per_class: int) -> dict[str, list[ExampleImage]]:
    picked: dict[str, list[ExampleImage]] = {}
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        code = normalize_diagnosis(folder.name)
        if code not in BY_CODE or code in picked:
            continue
        paths = sorted(_image_index([folder]).values())[:per_class]
        if paths:
            picked[code] = [
                ExampleImage(code, p, f"{p.stem} · {BY_CODE[code].name}") for p in paths
            ]
    return picked


def in_class_order(examples: Mapping[str, Sequence[ExampleImage]]) -> list[ExampleImage]:
    """:func:`find_examples`' images in one list, grouped by diagnosis in the model's order."""
    return [example for code in CODES for example in examples.get(code, ())]


def image_quiz_round(
    examples: Mapping[str, Sequence[ExampleImage]], size: int = 10, seed: int | None = None
) -> list[ExampleImage]:
    """``size`` distinct examples for an image quiz (fewer if the folder holds fewer).

    The diagnoses take turns, so rare ones come up as often as nevi (unlike in a clinic, where
    most spots are moles); the order is shuffled, and ``seed`` makes a round repeatable.
    """
    rng = random.Random(seed)
    pools = {code: rng.sample(list(found), len(found)) for code, found in examples.items()}
    picked: list[ExampleImage] = []
    while len(picked) < size and any(pools.values()):
        for code in rng.sample(sorted(pools), len(pools)):
            if pools[code] and len(picked) < size:
                picked.append(pools[code].pop())
    rng.shuffle(picked)
    return picked


def examples_dir() -> Path | None:
    """The configured folder of real ISIC images (``SKINDX_EXAMPLES_DIR``), if any."""
    return settings().examples_dir
