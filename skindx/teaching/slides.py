"""Presentation mode: a lesson as slides, split at ``---`` lines and headings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skindx.teaching.lesson import Lesson, QuizQuestion, sources_markdown
from skindx.teaching.quiz import option_letter
from skindx.teaching.render import render_lesson_body

_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$")
_SUBHEADING = re.compile(r"^###\s+(.+?)\s*#*\s*$")
_SLIDE_BREAK = re.compile(r"^\s*---+\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Slide:
    """One slide of presentation mode: its heading (may be empty) and its markdown."""

    title: str
    body: str


def split_slides(markdown: str) -> list[Slide]:
    """Split markdown into slides at ``---`` lines and at ``#``/``##`` headings.

    A heading starts a new slide and stays in it; a ``---`` line only separates. A ``###``
    heading after some of its section's text starts a slide too, under its section's heading
    again ("How it looks" / "Under the dermoscope"): a section of two subsections made one
    slide half as tall again as a projector's screen. Code fences are never split. Empty
    slides are dropped.
    """
    slides: list[Slide] = []
    title, lines, section = "", [], None  # section: the ## heading line the slide is under
    in_fence = False

    def close() -> None:
        body = "\n".join(lines).strip()
        if body:
            slides.append(Slide(title, body))

    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        sub = None if in_fence or section is None else _SUBHEADING.match(line)
        if not in_fence and _SLIDE_BREAK.match(line):
            close()
            title, lines, section = "", [], None
        elif heading:
            close()
            title, lines, section = heading.group(2), [line], line
        elif sub and any(text.strip() for text in lines if text != section):
            close()
            lines = [section, "", line]
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
    """Presentation of a lesson: a title slide, the body's slides, the quiz, then the
    sources."""
    who = ", ".join(lesson.audiences)
    opening = f"# {lesson.title}\n\n{lesson.summary}\n\n*For: {who} · {lesson.reading_minutes} min*"
    slides = split_slides(
        render_lesson_body(lesson, stats_summary, model_card, link_prefix=link_prefix)
    )
    if slides and not slides[0].title:
        opening += "\n\n" + slides.pop(0).body
    sources = sources_markdown(lesson)
    return [
        Slide(lesson.title, opening),
        *slides,
        *quiz_slides(lesson.quiz),
        Slide("Sources", f"## Sources\n\n{sources}"),
    ]


def quiz_slides(quiz: Sequence[QuizQuestion]) -> list[Slide]:
    """A lesson's quiz for a class: a slide per question with its options lettered, as the
    handout letters them, then the answers on a slide of their own, so that none shows early."""
    if not quiz:
        return []
    total = len(quiz)
    asked = [
        Slide(
            f"Quiz {number} / {total}",
            f"## Quiz: question {number} of {total}\n\n{question.question}\n\n"
            + "\n".join(
                f"- **{option_letter(i)}.** {option}" for i, option in enumerate(question.options)
            ),
        )
        for number, question in enumerate(quiz, 1)
    ]
    answers = "\n".join(
        f"{number}. **{option_letter(q.answer)}: {q.correct_option}.** {q.explanation}"
        for number, q in enumerate(quiz, 1)
    )
    return [*asked, Slide("Quiz answers", f"## Quiz answers\n\n{answers}")]
