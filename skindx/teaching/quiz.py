"""Lesson quizzes: reading and validating ``content/quizzes/<slug>.yaml``, and grading answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skindx.teaching.lesson import LessonError, QuizQuestion, text_problem

QUIZ_LENGTH = (3, 5)
OPTIONS_PER_QUESTION = (2, 6)


def option_letter(index: int) -> str:
    """An option's letter as printed and projected: A, B, C… (0 is A)."""
    return chr(ord("A") + index)


@dataclass(frozen=True)
class QuizResult:
    score: int
    total: int
    correct: tuple[bool, ...]
    answered: tuple[bool, ...]


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
    if text_problem(item["question"]) or text_problem(item["explanation"]):
        return "question and explanation must be non-empty text"
    options = item["options"]
    low, high = OPTIONS_PER_QUESTION
    if not isinstance(options, list) or not low <= len(options) <= high:
        return f"needs {low}–{high} options"
    not_text = [o for o in options if text_problem(o)]
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


def load_quiz(path: Path) -> tuple[QuizQuestion, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise LessonError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_quiz(data, path.name)


def grade_quiz(questions: Sequence[QuizQuestion], answers: Sequence[int | None]) -> QuizResult:
    """Score a set of chosen option indexes (``None`` for unanswered)."""
    chosen = list(answers) + [None] * (len(questions) - len(answers))
    correct = tuple(q.is_correct(a) for q, a in zip(questions, chosen, strict=False))
    answered = tuple(a is not None for a in chosen[: len(questions)])
    return QuizResult(sum(correct), len(questions), correct, answered)
