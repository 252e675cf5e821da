"""An educator's walk through the Lessons and Statistics pages: what a teacher preparing and
presenting a class ran into, each pinned by the behaviour it fixed."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_browser import (  # the browser fixture, shared with the app's browser tests
    UI_TIMEOUT_MS,
    browser,  # noqa: F401
    open_page,
    streamlit_server,
)

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


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_arrow_keys_turn_slides_straight_after_present(
    browser,  # noqa: F811 (the fixture imported above)
    tiny_model_dir,
    tmp_path,
) -> None:
    """A teacher clicked Present, then pressed → as the page says: nothing happened, however
    often, because the View control kept the focus and with it the arrow keys."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=melanoma", errors)
        mode = page.locator(".st-key-lessons_mode_melanoma button", has_text="Present")
        mode.click(timeout=UI_TIMEOUT_MS)
        page.get_by_text("Slide 1 /").first.wait_for(timeout=UI_TIMEOUT_MS)
        for number in (2, 3):
            page.keyboard.press("ArrowRight")
            page.get_by_text(f"Slide {number} /").first.wait_for(timeout=UI_TIMEOUT_MS)
        page.keyboard.press("ArrowLeft")
        page.get_by_text("Slide 2 /").first.wait_for(timeout=UI_TIMEOUT_MS)
        assert not errors, errors
