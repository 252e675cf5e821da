"""Searching lessons by words and audience, best matches first."""

from __future__ import annotations

from collections.abc import Sequence

from skindx.taxonomy import BY_CODE
from skindx.teaching.lesson import WORD, Lesson


def search_lessons(
    lessons: Sequence[Lesson], query: str = "", audience: str | None = None
) -> list[Lesson]:
    """Lessons for ``audience`` that contain every word of ``query``, best matches first."""
    words = WORD.findall(query.lower())
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
