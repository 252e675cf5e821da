"""An educator's walk through the Lessons and Statistics pages: what a teacher preparing and
presenting a class ran into, each pinned by the behaviour it fixed."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from skindx.teaching.lessons import get_lesson

PAGES = Path(__file__).resolve().parents[1] / "pages"
TIMEOUT = 120


def _page(name: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_quiz_questions_are_labelled_in_plain_words(lessons) -> None:
    """A screen reader announced each question's options as "star star 1. Which cells …": the
    label carried its markdown. The bold question is shown above, the label is plain."""
    lesson = get_lesson("melanoma", lessons)
    at = _page("lessons", lesson="melanoma")
    shown = [m.value for m in at.markdown]
    for number, question in enumerate(lesson.quiz, 1):
        radio = at.radio(key=f"lessons_quiz_melanoma_{number - 1}")
        assert radio.label == f"{number}. {question.question}"
        assert f"**{number}. {question.question}**" in shown
