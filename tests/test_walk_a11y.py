"""The app walked without a mouse and without sight of the screen: what axe-core
(tests/test_browser.py's ``test_every_page_meets_wcag_aa``) cannot see. Focus that stays
visible on every control the keyboard reaches, focus that lands on the result after a
keyboard upload, and the results chart's text equivalent for a screen reader."""

from __future__ import annotations

import re
from types import MappingProxyType

import pytest
from test_browser import (  # noqa: F401  (browser: a fixture)
    UI_TIMEOUT_MS,
    browser,
    lesion_photo,
    open_page,
    settled,
    streamlit_server,
)

from skindx.datasets.themes import HIGHLIGHT, MUTED
from skindx.diagnosis.predict import Prediction
from skindx.taxonomy import CODES
from streamlit_app.diagnosis_results import probability_bars_html

MAX_TABS = 40

# What the keyboard focus is on, and the ring drawn round it (or round the label of an
# invisible checkbox input).
FOCUSED_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const ringed = el.matches('input[type=checkbox], input[type=radio]') ? el.closest('label') : el;
  const style = getComputedStyle(ringed);
  return {testid: (el.closest('[data-testid]') || el).getAttribute('data-testid'),
          tag: el.tagName, text: (el.getAttribute('aria-label') || ringed.innerText || '').trim(),
          outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
}"""


def _tab_to(page, wanted) -> dict:
    """Press Tab until ``wanted(focused)`` holds; the focused element's description."""
    visited = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_JS)
        if focused and wanted(focused):
            return focused
        visited.append(focused and f"{focused['testid']} {focused['text'][:30]!r}")
    raise AssertionError(f"Tab never reached it in {MAX_TABS} presses: {visited}")


def _focus_lands_on(page, selector: str) -> None:
    """The keyboard focus moves to ``selector`` and stays there once the page has finished
    drawing: the controls after it are then there for Tab (pressed at once, Tab found the end
    of a page still being drawn, and went round to the top)."""
    script = f"document.activeElement === document.querySelector({selector!r})"
    page.wait_for_function(script, timeout=UI_TIMEOUT_MS)
    settled(page)
    assert page.evaluate(script), page.evaluate(FOCUSED_JS)


def _press_enter_and_upload(page, choosers: list, file: dict | None = None) -> None:
    """Enter on the focused uploader's button, and ``file`` (a lesion photo unless given) in
    the dialog it opens (``choosers``: filled by a "filechooser" listener set up before the
    page loaded)."""
    page.keyboard.press("Enter")
    for _ in range(50):  # the chooser opens on the keypress, reported a moment later
        if choosers:
            break
        page.wait_for_timeout(100)
    photo = {"name": "spot.png", "mimeType": "image/png", "buffer": lesion_photo()}
    choosers[0].set_files(file or photo)


def _ringed(focused: dict) -> bool:
    return focused["outline"] == "solid" and focused["width"] >= 2


def melanoma_first() -> Prediction:
    """A prediction of melanoma at 50%, a mole at 25% and five smaller figures."""
    probabilities = dict(zip(CODES, (0.05, 0.1, 0.05, 0.02, 0.5, 0.25, 0.03), strict=True))
    return Prediction(
        probabilities=MappingProxyType(probabilities),
        malignant_probability=0.65,
        concern="see_doctor",
        in_domain=True,
        domain_score=1.0,
    )


def test_the_probabilities_are_one_list_for_everyone() -> None:
    """Every diagnosis with its probability as the page writes it, likeliest first, each name
    beside its figure in one list item (plotly's picture read out the seven figures, then the
    seven names, so a hidden copy of the list stood beside it); the bars are decoration."""
    listed = probability_bars_html(melanoma_first())
    items = re.findall(r"<li[^>]*>(.*?)</li>", listed)
    spoken = [re.sub(r"<span aria-hidden='true'.*?</span></span>", "", item) for item in items]
    texts = [re.sub(r"<[^>]+>", " ", item).split() for item in spoken]
    assert len(items) == 7
    assert " ".join(texts[0]) == "Melanoma 50%" and " ".join(texts[1]) == "Melanocytic nevus 25%"
    assert "position:absolute" not in listed  # shown to everyone, nothing hidden
    assert listed.count("width:50.0%") == 1  # the bar is as long as the figure says
    assert listed.count(f"background:{HIGHLIGHT}") == 3  # the top three in colour
    assert listed.count(f"background:{MUTED}") == 4


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_keyboard_upload_focuses_the_result_and_focus_is_always_ringed(
    browser,  # noqa: F811
    tiny_model_dir,
    tmp_path,
) -> None:
    """A keyboard-only visitor sees where the focus is on the menu, the camera toggle and a
    warning-sign checkbox; uploads a photo with Enter on the uploader's button; and, that
    button gone, finds the focus on the result's heading, the chart's list read after it."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, url, errors)
        choosers = []  # listening from the start: playwright then intercepts the dialog
        page.on("filechooser", lambda chooser: choosers.append(chooser))
        settled(page)
        menu_link = _tab_to(page, lambda f: f["testid"] == "stSidebarNavLink")
        assert _ringed(menu_link), menu_link  # Streamlit's own: a faint grey background
        toggle = _tab_to(page, lambda f: f["text"] == "Take a photo with my camera")
        assert _ringed(toggle), toggle
        page.keyboard.press("Shift+Tab")
        upload = page.evaluate(FOCUSED_JS)
        assert upload["testid"] == "stBaseButton-secondary" and "Upload" in upload["text"]
        assert _ringed(upload), upload
        _press_enter_and_upload(page, choosers)
        heading = page.locator(".st-key-dx_result_0 h2")
        heading.wait_for(timeout=UI_TIMEOUT_MS)
        _focus_lands_on(page, ".st-key-dx_result_0 h2")
        assert heading.inner_text().startswith("Most likely:")
        heading_name = heading.inner_text().removeprefix("Most likely: ").split(",")[0]
        listed = page.get_by_role("list", name="All seven diagnoses, likeliest first")
        assert listed.get_by_role("listitem").first.inner_text().startswith(heading_name)
        _tab_to(page, lambda f: f["text"].endswith("Warning signs you have noticed (optional)"))
        page.keyboard.press("Enter")
        sign = _tab_to(page, lambda f: f["testid"] == "stCheckbox" and "bleeds" in f["text"])
        assert _ringed(sign), sign
    assert not errors, errors


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_keyboard_upload_on_the_explorer_focuses_the_top_class(
    browser,  # noqa: F811
    tiny_model_dir,
    tmp_path,
) -> None:
    """On the Saliency explorer, an upload with Enter left the focus on the page's body (the
    uploader's button gone), Tab starting again at the top: it lands on the sentence naming
    the model's top class, and Tab goes on to the map's controls."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/saliency", errors)
        choosers = []
        page.on("filechooser", lambda chooser: choosers.append(chooser))
        settled(page)
        _tab_to(page, lambda f: f["testid"] == "stBaseButton-secondary" and "Upload" in f["text"])
        _press_enter_and_upload(page, choosers)
        _focus_lands_on(page, ".st-key-sal_result p")
        assert "the model's top class is" in page.evaluate(FOCUSED_JS)["text"]
        method = _tab_to(page, lambda f: f["testid"] == "stSelectbox")
        assert method["text"] == "Method"
    assert not errors, errors


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_quiz_try_again_focuses_the_quiz(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    """A lesson's quiz with the keyboard: Space picks an answer, Enter on "Check my answers"
    keeps the focus there with the score and each question's feedback next, announced as
    alerts; Enter on "Try again" (then gone) put the focus back at the page's top, a whole
    lesson of Tabs away: it lands on the quiz's heading, the first question next, its old
    answer no longer ticked (the browser kept it while the quiz counted it unanswered)."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=abcde-ugly-duckling", errors)
        settled(page)
        page.locator("[data-testid=stRadioOption] input").first.focus()
        page.keyboard.press("Space")
        _tab_to(page, lambda f: f["text"] == "Check my answers")
        page.keyboard.press("Enter")
        page.get_by_role("alert").filter(has_text="4. ").wait_for(timeout=UI_TIMEOUT_MS)
        assert page.get_by_role("heading", name="Your score: ").count() == 1
        assert page.evaluate(FOCUSED_JS)["text"] == "Check my answers"
        _tab_to(page, lambda f: f["text"] == "Try again")
        page.keyboard.press("Enter")
        _focus_lands_on(page, ".st-key-lessons_quiz_top_abcde-ugly-duckling h2")
        question = _tab_to(page, lambda f: f["testid"] == "stRadioOption")
        assert _ringed(question), question
        assert page.locator("[data-testid=stRadioOption] input:checked").count() == 0
    assert not errors, errors


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_statistics_upload_and_removal_keep_the_focus(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    """Statistics with the keyboard: a metadata CSV uploaded with Enter left the focus on the
    page's body (the uploader's button gone): it lands on the note saying what was read. Back
    from another page, Enter on "Remove my file" (then gone) lost it too: it lands on the
    "Use your own metadata" section, where another file can be chosen."""
    csv = b"lesion_id,image_id,dx,dx_type,age,sex,localization\nL1,I1,nv,histo,40,male,back\n"
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/statistics", errors)
        choosers = []
        page.on("filechooser", lambda chooser: choosers.append(chooser))
        settled(page)
        _tab_to(page, lambda f: f["testid"] == "stExpander" and "own metadata" in f["text"])
        page.keyboard.press("Enter")
        _tab_to(page, lambda f: f["testid"] == "stBaseButton-secondary" and "Upload" in f["text"])
        _press_enter_and_upload(page, choosers, {"name": "mine.csv", "mimeType": "text/csv",
                                                 "buffer": csv})  # fmt: skip
        _focus_lands_on(page, ".st-key-stats_upload_message p")
        assert "1 image" in page.evaluate(FOCUSED_JS)["text"]
        page.get_by_role("link", name="Model card").click()
        settled(page)
        page.get_by_role("link", name="Dataset statistics").click()
        remove = page.get_by_role("button", name="Remove my file")
        remove.wait_for(timeout=UI_TIMEOUT_MS)
        remove.focus()
        page.keyboard.press("Enter")
        _focus_lands_on(page, ".st-key-stats_own_data summary")
        assert _ringed(page.evaluate(FOCUSED_JS))
    assert not errors, errors
