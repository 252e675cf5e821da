"""The lesson collection: loading every lesson, checking the content as a whole, and finding
a lesson by slug, diagnosis or page link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skindx.config import CONTENT_DIR
from skindx.taxonomy import BY_CODE, CODES, normalize_diagnosis
from skindx.teaching.glossary import load_glossary
from skindx.teaching.lesson import Lesson, LessonError, LessonNotFound
from skindx.teaching.parsing import parse_lesson
from skindx.teaching.quiz import load_quiz
from skindx.teaching.render import LESSON_LINK, linked_lessons

LESSONS_DIR = CONTENT_DIR / "lessons"
QUIZZES_DIR = CONTENT_DIR / "quizzes"


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
        if "(lesson:" in LESSON_LINK.sub("", lesson.body)
    ]
    return problems


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


def slide_from_query(params: Mapping[str, Any], count: int) -> int:
    """The 0-based slide a link's ``?slide=<n>`` (1-based) opens on, within ``count`` slides;
    the first for a missing or unreadable number."""
    try:
        number = int(_first(params.get("slide")))
    except ValueError:
        return 0
    return min(max(number, 1), count) - 1


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value).strip() if value is not None else ""
