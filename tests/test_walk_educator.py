"""An educator's walk through the Lessons and Statistics pages: what a teacher preparing and
presenting a class ran into, each pinned by the behaviour it fixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_browser import (  # the browser fixture, shared with the app's browser tests
    UI_TIMEOUT_MS,
    browser,  # noqa: F401
    open_page,
    streamlit_server,
)

from skindx.teaching.figures import load_model_card, load_stats_summary
from skindx.teaching.lessons import get_lesson, slide_from_query
from skindx.teaching.render import segments
from skindx.teaching.slides import lesson_slides, quiz_slides

PAGES = Path(__file__).resolve().parents[1] / "pages"
TIMEOUT = 120


def _page(name: str, **params: str) -> AppTest:
    # The lessons page keeps the card it read for 10 minutes: another test's model (the tiny
    # one, without test figures and so without charts) must not stand in for the shipped one.
    st.cache_data.clear()
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
    lessons,
    tiny_model_dir,
    tmp_path,
) -> None:
    """A teacher clicked Present, then pressed → as the page says: nothing happened, however
    often, because the View control kept the focus and with it the arrow keys. And a screen
    reader said nothing of the new slide (the focus stays where it was): one status region,
    the same node from slide to slide, now names each slide as it opens. Its reader heard
    "Previous, Next" above the slide and again below it, and could not tell the pairs apart:
    each button now says which pair it is in, on every slide, whichever button turned it."""
    slides = lesson_slides(get_lesson("melanoma", lessons), None, None)
    said_js = "([status, said]) => document.querySelector(status)?.textContent === said"
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=melanoma", errors)
        mode = page.locator(".st-key-lessons_mode_melanoma button", has_text="Present")
        mode.click(timeout=UI_TIMEOUT_MS)
        page.get_by_text("Slide 1 /").first.wait_for(timeout=UI_TIMEOUT_MS)
        for key, number in (("ArrowRight", 2), ("ArrowRight", 3), ("ArrowLeft", 2)):
            page.keyboard.press(key)
            page.get_by_text(f"Slide {number} /").first.wait_for(timeout=UI_TIMEOUT_MS)
            said = f"Slide {number} of {len(slides)}: {slides[number - 1].title}"
            page.wait_for_function(said_js, arg=[STATUS, said], timeout=UI_TIMEOUT_MS)
            # marked once: a region drawn anew would lose the mark, and not be announced
            page.evaluate(f"document.querySelector('{STATUS}').dataset.seen ??= '{number}'")
        live = page.locator(STATUS)
        assert live.get_attribute("aria-live") == "polite"
        assert live.get_attribute("data-seen") == "2"
        for name, number in (("Next slide (top)", 3), ("Next slide (bottom)", 4)):
            page.get_by_role("button", name=name, exact=True).click(timeout=UI_TIMEOUT_MS)
            said = f"Slide {number} of {len(slides)}: {slides[number - 1].title}"
            page.wait_for_function(said_js, arg=[STATUS, said], timeout=UI_TIMEOUT_MS)
            assert _slide_buttons(page) == EXPECTED_SLIDE_BUTTONS
        assert not errors, errors


# The slide buttons' accessible names, top pair then bottom pair, and the lower pair's keys.
EXPECTED_SLIDE_BUTTONS = [
    ("Previous slide (top)", None),
    ("Next slide (top)", None),
    ("Previous slide (bottom)", "ArrowLeft"),
    ("Next slide (bottom)", "ArrowRight"),
]


def _slide_buttons(page) -> list[tuple[str, str | None]]:
    """The slide buttons' names (``aria-label``) and keys, in the page's order, once named."""
    buttons = page.locator(".st-key-lessons_slide_top button, .st-key-lessons_slide_bottom button")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[class*=st-key-lessons_slide_] button')]"
        ".every(b => b.hasAttribute('aria-label'))",
        timeout=UI_TIMEOUT_MS,
    )
    named = buttons.evaluate_all(
        "bs => bs.map(b => [b.getAttribute('aria-label'), b.getAttribute('aria-keyshortcuts')])"
    )
    return [tuple(button) for button in named]


STATUS = "#skindx-status"  # ui.scroll_to's status region


UPLOAD = "\n".join(
    [
        "lesion_id,image_id,dx,dx_type,age,sex,localization",
        *(
            f"L{i},I{i},{dx},histo,{age},{sex},back"
            for i, (dx, age, sex) in enumerate(
                [("nv", 45, "female")] * 6 + [("mel", 60, "male")] * 6 + [("bkl", 70, "female")] * 6
            )
        ),
    ]
).encode()


def _statistics_or_another_page(statistics: str) -> None:
    """The Statistics page, or, while ``away`` is set, another page in its place: its widgets
    are then not drawn, and Streamlit forgets them, as it does when st.navigation shows
    another page."""
    import runpy

    import streamlit as st

    if st.session_state.get("away"):
        st.write("Another page")
    else:
        runpy.run_path(statistics)


def test_statistics_keeps_the_upload_and_filters_across_pages() -> None:
    """A teacher uploaded their class's CSV, filtered to women aged 40–60 in percent, opened a
    lesson and came back: the file, the filters and the toggle were gone, the page as new."""
    at = AppTest.from_function(
        _statistics_or_another_page,
        args=(str(PAGES / "statistics.py"),),
        default_timeout=TIMEOUT,
    )
    at.run()
    at.file_uploader(key="stats_upload").set_value(("class.csv", UPLOAD, "text/csv"))
    at.run()
    at.multiselect(key="stats_sex").set_value(["female"])
    at.slider(key="stats_age").set_value((40, 60))
    at.toggle(key="stats_percent").set_value(True)
    at.run()
    shown = at.metric[0].value
    at.session_state["away"] = True
    at.run()
    assert "stats_sex" not in at.session_state  # forgotten, as on another page
    at.session_state["away"] = False
    at.run()
    assert not at.exception, at.exception
    assert at.metric[0].value == shown
    assert at.multiselect(key="stats_sex").value == ["female"]
    assert tuple(at.slider(key="stats_age").value) == (40, 60)
    assert at.toggle(key="stats_percent").value is True
    # the filters' box is closed again: a line under the count says what they keep
    assert "Filtered to ages 40–64 · female" in [c.value for c in at.caption]
    assert "Your data" in at.multiselect(key="stats_datasets").value
    assert "class\\.csv" in at.info[0].value  # the name, escaped for markdown
    at.multiselect(key="stats_site").set_value(["back"]).run()  # later interactions keep it
    assert "Your data" in at.multiselect(key="stats_datasets").value and at.info

    at.button(key="stats_upload_remove").click().run()
    assert not at.exception, at.exception
    assert "Your data" not in at.multiselect(key="stats_datasets").value
    assert not at.info and "stats_upload_result" not in at.session_state


def _chart_fonts(at: AppTest) -> tuple[int, int]:
    """The tick and bar-value text sizes of the page's one chart (0: plotly's default)."""
    (chart,) = at.get("plotly_chart")
    layout = json.loads(chart.proto.spec)["layout"]
    return layout.get("yaxis", {}).get("tickfont", {}).get("size", 0), layout["font"].get("size", 0)


def test_a_slides_chart_is_drawn_for_the_room(lessons) -> None:
    """On a projector the per-diagnosis chart's labels were plotly's 12 px beside slide text of
    about 30 px: unreadable from the back of a classroom. Read mode keeps them as they were."""
    lesson = get_lesson("how-the-model-works", lessons)
    slides = lesson_slides(lesson, load_stats_summary(), load_model_card())
    number = next(
        i
        for i, slide in enumerate(slides)
        if any(part.kind == "chart" for part in segments(slide.body))
    )
    at = _page("lessons", lesson=lesson.slug)
    assert _chart_fonts(at) == (0, 0)
    at.segmented_control(key=f"lessons_mode_{lesson.slug}").set_value("Present").run()
    for _ in range(number):
        at.button(key="lessons_next").click().run()
    assert not at.exception, at.exception
    tick, text = _chart_fonts(at)
    assert tick >= 18 and text >= 18


def _counter(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "Slide " in m.value)


def test_a_reload_comes_back_to_the_slide_shown(lessons) -> None:
    """A teacher reloaded the page mid-talk (or the projector's laptop slept) and was thrown
    back to slide 1 of 11: the link now names the slide, and a shared link opens on it."""
    at = _page("lessons", lesson="melanoma", mode="present")
    for _ in range(4):
        at.button(key="lessons_next").click().run()
    assert "Slide 5 / " in _counter(at)
    assert at.query_params["slide"] in ("5", ["5"])
    reloaded = _page("lessons", lesson="melanoma", mode="present", slide="5")
    assert "Slide 5 / " in _counter(reloaded)
    reloaded.segmented_control(key="lessons_mode_melanoma").set_value("Read").run()
    assert "slide" not in reloaded.query_params  # Read mode has no slides to name


def test_slide_from_query() -> None:
    assert slide_from_query({"slide": "3"}, 10) == 2
    assert slide_from_query({"slide": ["3"]}, 10) == 2
    for unusable in ({}, {"slide": "abc"}, {"slide": ""}, {"slide": "-4"}, {"slide": "0"}):
        assert slide_from_query(unusable, 10) == 0
    assert slide_from_query({"slide": "999"}, 10) == 9


def test_the_slides_end_with_the_quiz_then_its_answers(lessons) -> None:
    """A teacher presenting to a class had no way to put the quiz on the screen: the slides
    ended at the sources. Each question gets a slide, its options lettered as on the handout,
    and the answers come only after the last question."""
    lesson = get_lesson("melanoma", lessons)
    slides = lesson_slides(lesson)
    total = len(lesson.quiz)
    asked, answers = slides[-2 - total : -2], slides[-2]
    assert [s.title for s in asked] == [f"Quiz {n} / {total}" for n in range(1, total + 1)]
    first = lesson.quiz[0]
    assert first.question in asked[0].body and f"- **A.** {first.options[0]}" in asked[0].body
    assert not any(q.explanation in s.body for s in asked for q in lesson.quiz)
    assert answers.title == "Quiz answers"
    assert f"1. **A: {first.correct_option}.** {first.explanation}" in answers.body
    assert slides[-1].title == "Sources"
    assert quiz_slides(()) == []


def test_back_to_all_lessons_keeps_the_search(lessons) -> None:
    """A teacher searched "dermoscope" among the clinicians' lessons, opened one, pressed
    "← All lessons", and found an empty search over all fifteen lessons."""
    at = _page("lessons")
    at.text_input(key="lessons_search").input("dermoscope").run()
    at.segmented_control(key="lessons_audience").set_value("clinician").run()
    shown = [b.key for b in at.button if (b.key or "").startswith("lessons_open_")]
    assert 0 < len(shown) < len(lessons)
    at.button(key=shown[0]).click().run()
    at.button(key="lessons_back").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="lessons_search").value == "dermoscope"
    assert at.segmented_control(key="lessons_audience").value == "clinician"
    assert [b.key for b in at.button if (b.key or "").startswith("lessons_open_")] == shown
