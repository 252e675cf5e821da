"""A lesson body ready to show: placeholders filled in, cross-references linked, block
placeholders split out as segments for the page (or the handout) to draw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skindx.teaching.figures import MODEL_SENTENCES, model_sentence, stats_sentence
from skindx.teaching.lesson import Lesson
from skindx.teaching.parsing import BLOCK_LINE, PLACEHOLDER

# A cross-reference in a lesson: [the lesson on sun safety](lesson:sun-safety).
LESSON_LINK = re.compile(r"\[([^\]\n]+)\]\(lesson:([a-z0-9-]+)\)")
LESSON_LINK_PREFIX = "?lesson="  # the Lessons page opens ?lesson=<slug>


@dataclass(frozen=True)
class Segment:
    """A piece of a lesson body: markdown to render, or a block placeholder to draw."""

    kind: str  # "markdown", "figure", "examples" or "chart"
    value: str


def linked_lessons(markdown: str) -> list[str]:
    """The slugs a body links to with ``[text](lesson:<slug>)``, in order."""
    return [match.group(2) for match in LESSON_LINK.finditer(markdown)]


def link_lessons(markdown: str, prefix: str | None = LESSON_LINK_PREFIX) -> str:
    """Cross-references ``[text](lesson:<slug>)`` as links to ``prefix + slug`` (the Lessons
    page's ``?lesson=<slug>``); with ``prefix=None``, their text alone (a printed handout)."""
    if prefix is None:
        return LESSON_LINK.sub(r"\1", markdown)
    return LESSON_LINK.sub(lambda m: f"[{m.group(1)}]({prefix}{m.group(2)})", markdown)


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
        match = BLOCK_LINE.match(line)
        if match:
            flush()
            result.append(Segment(match.group(1), match.group(2)))
        else:
            run.append(line)
    flush()
    return result


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

    return link_lessons(PLACEHOLDER.sub(replace, lesson.body), link_prefix)
