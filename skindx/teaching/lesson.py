"""The lesson record (``Lesson`` with its sources and quiz questions), the content errors, and
the one-line description of a lesson.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from skindx.taxonomy import BY_CODE

AUDIENCES: tuple[str, ...] = ("public", "educator", "clinician")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WORD = re.compile(r"[a-z0-9]+")

# Short words match only at a word's start, and the shortest only as whole words: "AK" found
# "make" and "weak" in every lesson, "SK" every "skin", and "nv" ranked the lesson on
# convolutional networks second.
WORD_START, WHOLE_WORD = 3, 2


def occurrences(text: str, word: str, from_start: bool = False) -> int:
    """How often ``word`` occurs in ``text`` (lower case): anywhere in a word ("keratos" finds
    "keratoses") unless ``from_start``; a short word at a word's start ("mel" finds
    "melanoma"); the shortest as a whole word ("UV" and "SK" themselves)."""
    if len(word) > WORD_START and not from_start:
        return text.count(word)
    end = r"(?![a-z0-9])" if len(word) <= WHOLE_WORD else ""
    return len(re.findall(rf"(?<![a-z0-9]){re.escape(word)}{end}", text))


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


def text_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be non-empty text"
    return None


def meta_line(lesson: Lesson, reviewed: bool = False) -> str:
    """Audiences, reading time and diagnoses (and the review date) on one line."""
    parts = [f"For {', '.join(lesson.audiences)}", f"{lesson.reading_minutes} min read"]
    if lesson.diagnoses:
        parts.append(", ".join(BY_CODE[c].name for c in lesson.diagnoses))
    if reviewed:
        parts.append(f"last reviewed {lesson.last_reviewed:%d %B %Y}")
    return " · ".join(parts)


def sources_markdown(lesson: Lesson) -> str:
    """The lesson's sources as a numbered markdown list of links."""
    return "\n".join(f"{i}. [{s.title}]({s.url})" for i, s in enumerate(lesson.sources, 1))
