"""End to end in a real browser: `streamlit run` on localhost, driven by Debian's Chromium.

Playwright's own browser download does not work here, so the test uses /usr/bin/chromium
(`apt-get install chromium`) and skips cleanly without it. The server runs the tiny test model.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import add_test_context
from local_app import CHROMIUM, CHROMIUM_ARGS, served_log, start_streamlit, stop, wait_healthy
from PIL import Image

from skindx.images.formats import heif_available
from streamlit_app import navigation

STARTUP_TIMEOUT_S = 60
UI_TIMEOUT_MS = 45_000

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@contextlib.contextmanager
def streamlit_server(model_dir: Path, log_path: Path) -> Iterator[str]:
    """`streamlit run streamlit_app/app.py` on a free port; yields the base URL. Afterwards the
    server's log must hold no traceback or stack-dumping warning (Streamlit logs misused
    arguments that way)."""
    with open(log_path, "wb") as log:
        process, url = start_streamlit(model_dir, log)
        try:
            try:
                wait_healthy(process, url, STARTUP_TIMEOUT_S)
            except (RuntimeError, TimeoutError) as error:
                pytest.fail(f"{error}: {log_path.read_text()[-2000:]}")
            yield url
        finally:
            stop(process)
    text = served_log(log_path)
    for marker in ("Traceback", "Stack (most recent call last)"):
        assert marker not in text, text[max(0, text.index(marker) - 300) :][:3000]


def lesion_photo(image_format: str = "PNG") -> bytes:
    rng = np.random.default_rng(0)
    pixels = np.kron(
        rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), np.ones((10, 10, 1), np.uint8)
    )
    assert heif_available()  # registers pillow-heif's encoder for "HEIF"
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, errors: list[str], scheme: str = "light"):
    """A desktop-sized page on ``url`` whose script errors are collected in ``errors``, on a
    device set to the ``scheme`` ("light" or "dark") colour scheme."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="domcontentloaded")
    return page


def open_and_upload(
    browser, url: str, errors: list[str], photo: dict | None = None, scheme: str = "light"
):
    """A page on ``url`` with a lesion photo (a PNG unless given) uploaded and its diagnosis
    shown."""
    page = open_page(browser, url, errors, scheme)
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
    uploader.set_input_files(
        photo or {"name": "spot.png", "mimeType": "image/png", "buffer": lesion_photo()}
    )
    page.get_by_text("Most likely:").wait_for(timeout=UI_TIMEOUT_MS)
    return page


def test_upload_shows_diagnosis_and_overlay(browser, tiny_model_dir, tmp_path) -> None:
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_and_upload(browser, url, errors)
        overlay = page.locator('img[alt^="Grad-CAM heat map"]')
        overlay.wait_for(timeout=UI_TIMEOUT_MS)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0",
            arg=overlay.element_handle(),
            timeout=UI_TIMEOUT_MS,
        )
        # The probabilities are an HTML bar list: no chart library for the page to fetch.
        bars = page.locator("ul.skindx-probabilities li")
        bars.first.wait_for(timeout=UI_TIMEOUT_MS)
        assert bars.count() == 7
        assert page.get_by_text("not a medical device").first.is_visible()
        assert page.locator(".js-plotly-plot").count() == 0
        fetched = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert not [name for name in fetched if "PlotlyChart" in name], fetched
        page.screenshot(path=str(tmp_path / "diagnose.png"), full_page=True)
        assert (tmp_path / "diagnose.png").stat().st_size > 10_000
        assert not errors, errors


def test_reports_download_for_one_photo_and_for_photos_combined(
    browser, tiny_model_dir, tmp_path
) -> None:
    """Two photos of one spot: each result's PNG report and the combined one download."""
    from PIL import Image

    errors: list[str] = []
    photos = [
        {"name": f"view{i}.png", "mimeType": "image/png", "buffer": lesion_photo()} for i in (1, 2)
    ]
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, url, errors)
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
        uploader.set_input_files(photos)
        page.get_by_text("Most likely:").first.wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_text("These photos all show the same spot: combine them").click()
        saved = []
        for name in ("Report of view1.png (PNG)", "Report of the combined result (PNG)"):
            button = page.get_by_role("button", name=name, exact=True).first
            button.wait_for(timeout=UI_TIMEOUT_MS)
            with page.expect_download() as download:
                button.click()
            saved.append(tmp_path / download.value.suggested_filename)
            download.value.save_as(saved[-1])
    assert [path.name for path in saved] == ["skindx-report-1.png", "skindx-report-combined.png"]
    for path in saved:
        with Image.open(path) as report:
            assert report.format == "PNG" and report.width == 1200
    assert not errors, errors


def test_an_iphone_heic_photo_is_diagnosed(browser, tiny_model_dir, tmp_path) -> None:
    # Photos copied off an iPhone keep Apple's HEIC format and an upper-case extension.
    photo = {"name": "IMG_0042.HEIC", "mimeType": "image/heic", "buffer": lesion_photo("HEIF")}
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_and_upload(browser, url, errors, photo)
        page.locator('img[alt^="Grad-CAM heat map"]').wait_for(timeout=UI_TIMEOUT_MS)
        assert page.get_by_text("IMG_0042.HEIC").count() >= 1
        assert not errors, errors


def test_every_shared_path_opens_its_page(browser, tiny_model_dir, tmp_path) -> None:
    """Each menu path and each alias (/diagnose, /check, /model_card …) opens its page, and
    runs to its end without a traceback or warning in the server's log."""
    paths = [
        path
        for specs in navigation.SECTIONS.values()
        for spec in specs
        for path in ((() if spec.default else (spec.url_path,)) + spec.aliases)
    ]
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for path in paths:
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            page.locator("h1").first.wait_for(timeout=UI_TIMEOUT_MS)
            page.wait_for_timeout(500)  # a missing page's dialog and redirect follow the h1
            assert not page.get_by_text("Page not found").count(), path
            # The whole script ran, so anything it logs is in the log streamlit_server checks.
            page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
                timeout=UI_TIMEOUT_MS
            )
            assert page.url.rstrip("/").endswith(f"/{path}"), (path, page.url)


def test_age_sex_and_site_reach_the_diagnosis(browser, tiny_model_dir, tmp_path) -> None:
    """The optional context fields, filled in as a person would, change the result."""
    model_dir = add_test_context(tmp_path / "model", tiny_model_dir)
    errors: list[str] = []
    with streamlit_server(model_dir, tmp_path / "streamlit.log") as url:
        page = open_and_upload(browser, url, errors)
        assert not page.get_by_text("were taken into account").count()
        page.get_by_text("Add age, sex and body site (optional)").click()
        age = page.get_by_label("Age (years)")
        age.fill("80")
        age.press("Enter")
        page.get_by_text("Age, sex and body site were taken into account.").wait_for(
            timeout=UI_TIMEOUT_MS
        )
        assert not errors, errors


def test_photos_results_and_signs_survive_another_page(browser, tiny_model_dir, tmp_path) -> None:
    """The walk-through: upload, tick a sign, explore the map, come back by the menu (and by
    the browser's Back): the photo's result and the ticked sign are still there, until the
    person clears the photos."""
    errors: list[str] = []
    sign = "It has grown or changed in size"
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_and_upload(browser, url, errors)
        page.get_by_text("Warning signs you have noticed (optional)").click()
        page.get_by_text(sign).click()
        page.get_by_text("The warning signs you ticked were taken into account.").wait_for(
            timeout=UI_TIMEOUT_MS
        )
        page.get_by_text("Explore this map").click()
        page.locator('img[alt*="saliency overlay"]').wait_for(timeout=UI_TIMEOUT_MS)
        menu = page.locator('[data-testid="stSidebarNav"]')
        menu.get_by_text("Check a skin spot").click()
        page.get_by_text("Still here from earlier in this session").wait_for(timeout=UI_TIMEOUT_MS)
        # the result follows the note as the page draws on: waited for, not checked at once
        page.get_by_text("Most likely:").wait_for(timeout=UI_TIMEOUT_MS)
        assert page.get_by_text("The warning signs you ticked were taken into account.").count()
        page.get_by_text("Warning signs you have noticed (optional)").click()
        assert page.get_by_role("checkbox", name=sign).is_checked()

        menu.get_by_text("About and privacy").click()
        page.get_by_text("Data and methods").first.wait_for(timeout=UI_TIMEOUT_MS)
        page.go_back()
        page.get_by_text("Most likely:").wait_for(timeout=UI_TIMEOUT_MS)

        page.get_by_role("button", name="Clear these photos").click()
        page.get_by_text("Most likely:").wait_for(state="detached", timeout=UI_TIMEOUT_MS)
        assert not page.get_by_text("Still here from earlier").count()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            {"name": "again.png", "mimeType": "image/png", "buffer": lesion_photo()}
        )
        page.get_by_text("Most likely:").wait_for(timeout=UI_TIMEOUT_MS)  # uploads work as ever
        assert not errors, errors


# WCAG 2.x A and AA rules, and the best-practice heading rules (headings go down one level at a
# time and say something, so a screen reader's outline of the page reads right). Streamlit draws
# the sidebar menu as <div>s inside a <ul>, which its own markup must fix, so the menu is left
# out; every other element is checked.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_RULES = {rule: {"enabled": True} for rule in ("heading-order", "empty-heading")}
AXE_EXCLUDE = [['[data-testid="stSidebarNavItems"]']]


@functools.cache
def _axe():
    """One axe-core runner (it reads the bundled axe.min.js when made)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def wcag_violations(page) -> list[str]:
    """axe-core's WCAG A/AA and heading findings on the page as it stands, one line per rule."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')")
    results = (
        _axe()
        .run(
            page,
            context={"exclude": AXE_EXCLUDE},
            options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "rules": AXE_RULES},
        )
        .response
    )
    return [
        f"{rule['id']} ({rule['impact']}): {rule['nodes'][0]['html'][:120]}"
        for rule in results["violations"]
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_meets_wcag_aa(browser, tiny_model_dir, tmp_path, scheme: str) -> None:
    """axe-core finds no WCAG 2 A/AA or heading violation on any page, a result and the
    explorer included, in the light theme and in the dark one a device set to dark mode
    gets."""
    pytest.importorskip("axe_playwright_python")
    model_dir = add_test_context(tmp_path / "model", tiny_model_dir)
    errors: list[str] = []
    found: dict[str, list[str]] = {}
    with streamlit_server(model_dir, tmp_path / "streamlit.log") as url:
        page = open_and_upload(browser, url, errors, scheme=scheme)
        background = page.evaluate(
            "getComputedStyle(document.querySelector('.stApp')).backgroundColor"
        )
        assert background == ("rgb(255, 255, 255)" if scheme == "light" else DARK_APP)
        page.locator('img[alt^="Grad-CAM heat map"]').wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_text("Add age, sex and body site (optional)").click()
        page.get_by_text("Warning signs you have noticed (optional)").click()
        page.get_by_text("It oozes, crusts or bleeds").wait_for(timeout=UI_TIMEOUT_MS)
        found["diagnose"] = wcag_violations(page)
        page.get_by_text("Explore this map").click()
        page.locator('img[alt*="saliency overlay"]').wait_for(timeout=UI_TIMEOUT_MS)
        found["saliency"] = wcag_violations(page)
        for path, last in [
            ("lessons", "Open: Melanoma"),
            ("lessons?lesson=abcde-ugly-duckling", "Sources"),
            ("lessons?lesson=melanoma&mode=present", "Slide 1 /"),
            ("statistics", "Counts only: the page holds no per-image rows"),  # its last words
            ("model-card", "Limitations"),
            ("about", "Light or dark: the app follows your device's setting"),
        ]:
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            page.get_by_text(last).first.wait_for(timeout=UI_TIMEOUT_MS)
            found[path] = wcag_violations(page)
            if "mode=present" in path:  # a later slide has its own headings
                page.get_by_role("button", name="Next").first.click()  # above the slide
                page.get_by_text("Slide 2 /").first.wait_for(timeout=UI_TIMEOUT_MS)
                found[f"{path}, slide 2"] = wcag_violations(page)
                # axe's page-has-heading-one let a slide without any h1 pass: check directly
                assert page.locator("h1").all_inner_texts() == ["Melanoma"]
                assert not page.locator("h1 a").first.is_visible()  # no invisible tab stop
        # A lesson's chart was Streamlit's own bar chart, its labels grey at 3.7:1.
        page.goto(f"{url}/lessons?lesson=limits-and-bias", wait_until="domcontentloaded")
        assert set(chart_text_fills(page)) <= CHART_FILLS[scheme]
    assert not any(found.values()), found
    assert not errors, errors


def test_labelled_examples_in_explorer_and_image_quiz(
    browser, tiny_model_dir, tmp_path, monkeypatch
):
    """With a labelled folder on the server, a person picks an example in the explorer and
    sees its known diagnosis and the most similar lesions, pictures included, and answers an
    image in the lessons' image quiz; axe-core finds no WCAG A/AA violation on either."""
    pytest.importorskip("axe_playwright_python")
    for i, code in enumerate(["MEL", "NV", "NV", "BKL"]):
        (tmp_path / "examples" / code).mkdir(parents=True, exist_ok=True)
        (tmp_path / "examples" / code / f"ISIC_{i}.png").write_bytes(lesion_photo())
    monkeypatch.setenv("SKINDX_EXAMPLES_DIR", str(tmp_path / "examples"))
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/saliency", errors)
        page.get_by_label("Or pick an ISIC image with a known diagnosis").click()
        page.get_by_role("option", name="ISIC_0 · Melanoma").click()
        page.get_by_text("Known diagnosis: Melanoma").wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_text("Show the most similar lesions with known diagnoses").click()
        page.get_by_text("Similar as this model sees them").wait_for(timeout=UI_TIMEOUT_MS)
        pictures = page.locator('img[alt^="Similar lesion ISIC_"]')
        pictures.first.wait_for(timeout=UI_TIMEOUT_MS)
        assert pictures.count() == 3  # the picked image is not its own neighbour
        assert wcag_violations(page) == []
        page.goto(f"{url}/lessons", wait_until="domcontentloaded")
        page.get_by_role("tab", name="Image quiz").click()
        page.get_by_role("button", name="Start").click()
        page.get_by_text("Image 1 of 4").wait_for(timeout=UI_TIMEOUT_MS)
        page.locator("label").filter(has_text="Melanoma").filter(visible=True).first.click()
        page.get_by_role("button", name="Check").click()
        page.get_by_text("The model's answer:").wait_for(timeout=UI_TIMEOUT_MS)
        assert wcag_violations(page) == []
    assert not errors, errors


def test_lesson_handout_downloads_as_a_printable_page(browser, tiny_model_dir, tmp_path) -> None:
    """The handout button gives an HTML file that opens on its own, offline, with the lesson."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=melanoma", errors)
        button = page.get_by_role("button", name="Download a printable handout (HTML)").first
        button.wait_for(timeout=UI_TIMEOUT_MS)
        with page.expect_download() as download:
            button.click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
    assert saved.name == "skindx-melanoma.html"
    handout = browser.new_page()
    handout.route("**/*", lambda route: route.abort() if route.request.url.startswith("http")
                  else route.continue_())  # fmt: skip
    handout.goto(saved.as_uri())
    assert handout.locator("h1").inner_text() == "Melanoma"
    assert handout.get_by_text("Quiz answers").is_visible()
    assert not errors, errors


def test_presentation_mode_moves_the_menu_aside(browser, tiny_model_dir, tmp_path) -> None:
    """A shared ?mode=present link opens the slides with the menu collapsed; Read brings it back."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=melanoma&mode=present", errors)
        page.get_by_text("Slide 1 /").first.wait_for(timeout=UI_TIMEOUT_MS)
        sidebar = page.locator('[data-testid="stSidebar"]')
        page.wait_for_function(
            "el => el.getBoundingClientRect().right <= 0", arg=sidebar.element_handle()
        )
        page.get_by_text("Read", exact=True).click()
        page.get_by_text("Sources").wait_for(timeout=UI_TIMEOUT_MS)
        page.wait_for_function(
            "el => el.getBoundingClientRect().width > 100", arg=sidebar.element_handle()
        )
        assert not errors, errors


# ----------------------------------------------------------------------------- phone width

PHONE = {"width": 390, "height": 844}
# What runs off a phone's screen: the page itself, a visible table wider than its box, or a
# visible data grid whose columns need a sideways scroll.
OVERFLOW_JS = """() => {
  const bad = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) bad.push(`page ${root.scrollWidth}px`);
  const main = document.querySelector('[data-testid="stMain"]');
  if (main && main.scrollWidth > main.clientWidth + 1) bad.push(`main ${main.scrollWidth}px`);
  for (const table of document.querySelectorAll("table")) {
    if (!table.offsetParent) continue;  // hidden: the other layout's copy
    const box = table.closest('[data-testid="stTable"], [data-testid="stMarkdownContainer"]');
    const limit = (box || table.parentElement).getBoundingClientRect().width;
    const width = table.getBoundingClientRect().width;
    if (width > limit + 1) bad.push(`table ${Math.round(width)} > ${Math.round(limit)}px`);
  }
  for (const cell of document.querySelectorAll("td, th")) {
    if (cell.offsetParent && cell.scrollWidth > cell.clientWidth + 1) {
      bad.push(`cell "${cell.textContent.slice(0, 20)}" cut`);
      break;
    }
  }
  for (const grid of document.querySelectorAll('[data-testid="stDataFrame"]')) {
    if (!grid.offsetParent) continue;
    const scroller = grid.querySelector(".dvn-scroller");
    if (scroller && scroller.scrollWidth > scroller.clientWidth + 1) bad.push("data grid");
  }
  return bad;
}"""


def test_tablet_model_card_shows_whole_tables_and_figures(browser, tmp_path) -> None:
    """At a tablet's width beside the menu, the shipped card's metrics were cut ("Melanoma
    sensi…", "not measu…") and its five-column grids scrolled sideways; now the metrics wrap
    and the tables are the static ones that wrap their cells."""
    from skindx.config import DEFAULT_MODEL_DIR

    errors: list[str] = []
    with streamlit_server(DEFAULT_MODEL_DIR, tmp_path / "streamlit.log") as url:
        page = browser.new_page(viewport={"width": 820, "height": 1180})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}/model_card", wait_until="domcontentloaded")
        settled(page)
        page.locator(".st-key-card_per_class_narrow table").wait_for(timeout=UI_TIMEOUT_MS)
        assert_fits(page, "the model card on a tablet")
        assert page.evaluate(_CUT_TEXT_JS) == []
        assert not errors, errors


def test_desktop_model_card_tables_need_no_sideways_scroll(browser, tmp_path) -> None:
    """Beside the menu, the subgroup grid's last columns ("benign cleared", "in domain") sat
    past its right edge at 1366 px, and at 1280 px the members grid cut its scores too; both
    are now static tables that wrap their cells, from the narrowest desktop layout up."""
    from skindx.config import DEFAULT_MODEL_DIR

    with streamlit_server(DEFAULT_MODEL_DIR, tmp_path / "streamlit.log") as url:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{url}/model_card", wait_until="domcontentloaded")
        settled(page)
        for key in ("card_members", "card_subgroups"):
            page.locator(f".st-key-{key}_wide table").wait_for(timeout=UI_TIMEOUT_MS)
        for width in (1366, 1280, 1104):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(500)  # the layout at the new width
            assert_fits(page, f"the model card at {width} px", settle_ms=5_000)


def open_phone(browser, url: str, errors: list[str]):
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="domcontentloaded")
    return page


def settled(page) -> None:
    page.locator("h1").first.wait_for(timeout=UI_TIMEOUT_MS)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=UI_TIMEOUT_MS
    )
    page.wait_for_timeout(800)  # layout after the last element


def assert_fits(page, where: str, settle_ms: int = 0) -> None:
    """No element past the screen's or the main column's edge; ``settle_ms``: first allow
    that long for the layout to settle (plotly redraws its charts a moment after a resize,
    later on a loaded machine)."""
    if settle_ms:
        with contextlib.suppress(Exception):  # the assertion below says what is past the edge
            page.wait_for_function(f"() => ({OVERFLOW_JS})().length === 0", timeout=settle_ms)
    assert page.evaluate(OVERFLOW_JS) == [], where


def test_phone_every_page_fits_the_screen(browser, tiny_model_dir, tmp_path) -> None:
    errors: list[str] = []
    paths = ["", *(spec.url_path for specs in navigation.SECTIONS.values() for spec in specs)]
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_phone(browser, url, errors)
        for path in dict.fromkeys(paths):
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            settled(page)
            assert_fits(page, path or "/")
        page.goto(f"{url}/lessons?lesson=melanoma", wait_until="domcontentloaded")
        settled(page)
        assert_fits(page, "a lesson")
        page.goto(f"{url}/statistics", wait_until="domcontentloaded")
        settled(page)
        tables = page.locator('[data-testid="stExpander"] summary', has_text="Table")
        opened = page.locator('[data-testid="stExpander"] [data-testid="stTable"]')
        for i in range(tables.count()):  # every chart's table, opened (sent once open)
            tables.nth(i).click()
            opened.nth(i).wait_for(timeout=UI_TIMEOUT_MS)
        page.wait_for_timeout(800)
        assert_fits(page, "statistics tables")
        assert not errors, errors


def test_phone_upload_brings_the_result_into_view(browser, tiny_model_dir, tmp_path) -> None:
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_phone(browser, url, errors)
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
        uploader.set_input_files(
            {"name": "spot.png", "mimeType": "image/png", "buffer": lesion_photo()}
        )
        heading = page.locator(".st-key-dx_result_0 h2").first
        heading.wait_for(timeout=UI_TIMEOUT_MS)
        page.wait_for_function(
            "el => { const r = el.getBoundingClientRect();"
            " return r.top >= 0 && r.bottom <= window.innerHeight; }",
            arg=heading.element_handle(),
            timeout=UI_TIMEOUT_MS,
        )
        settled(page)
        assert_fits(page, "after an upload")
        assert not errors, errors


def test_phone_slides_open_at_their_top(browser, tiny_model_dir, tmp_path) -> None:
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_phone(browser, f"{url}/lessons?lesson=melanoma&mode=present", errors)
        page.get_by_text("Slide 1 /").first.wait_for(timeout=UI_TIMEOUT_MS)
        settled(page)
        assert_fits(page, "slide 1")
        for number in (2, 3):
            bottom = page.locator(".st-key-lessons_slide_bottom button", has_text="Next")
            bottom.scroll_into_view_if_needed()
            bottom.click()
            page.get_by_text(f"Slide {number} /").first.wait_for(timeout=UI_TIMEOUT_MS)
            top = page.locator(".st-key-lessons_slide_top")
            page.wait_for_function(
                "el => { const r = el.getBoundingClientRect();"
                " return r.top >= 0 && r.top < window.innerHeight / 3; }",
                arg=top.element_handle(),
                timeout=UI_TIMEOUT_MS,
            )
            assert_fits(page, f"slide {number}")
        assert not errors, errors


def test_phone_statistics_upload_stays_selected(browser, tiny_model_dir, tmp_path) -> None:
    csv = (
        b"lesion_id,image_id,dx,dx_type,age,sex,localization\n"
        b"L1,I1,nv,follow_up,40,female,back\nL2,I2,mel,histo,62,male,face\n"
    )
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_phone(browser, f"{url}/statistics", errors)
        settled(page)
        page.get_by_text("Use your own metadata").click()
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
        uploader.set_input_files({"name": "mine.csv", "mimeType": "text/csv", "buffer": csv})
        page.get_by_text("2 images read").wait_for(timeout=UI_TIMEOUT_MS)
        chosen = page.locator('.st-key-stats_datasets [data-tag][aria-label="Your data"]')
        chosen.wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_text("Log scale").click()  # the next interaction keeps the upload
        settled(page)
        assert chosen.count() == 1
        assert_fits(page, "statistics with an upload")
        # axe-core skips SVG text: the charts' axis and tick labels were Streamlit's grey, 3.7:1.
        fills = chart_text_fills(page)
        assert fills and set(fills) <= CHART_FILLS["light"], set(fills)
        assert not errors, errors


# The charts' SVG text, which axe-core skips, and the colours the app draws it in
# (skindx.datasets.figures.readable): #4d4d4d (8.5:1) and #141414 (18:1) on white.
_CHART_TEXTS = (
    ".js-plotly-plot :is(.xtick text, .ytick text, .g-xtitle text, .legendtext, "
    ".annotation-text, .bartext)"
)
# In the dark theme (skindx.datasets.themes.DARK_COLOURS): #c8c8c8 and #fafafa on #0e1117.
CHART_FILLS = {
    "light": {"rgb(77, 77, 77)", "rgb(20, 20, 20)"},
    "dark": {"rgb(200, 200, 200)", "rgb(250, 250, 250)"},
}
DARK_APP = "rgb(14, 17, 23)"  # .streamlit/config.toml [theme.dark] backgroundColor


def chart_text_fills(page) -> list[str]:
    page.locator(_CHART_TEXTS).first.wait_for(timeout=UI_TIMEOUT_MS)
    return page.eval_on_selector_all(
        _CHART_TEXTS, "texts => texts.map(text => getComputedStyle(text).fill)"
    )


def test_phone_batch_table_shows_why_a_photo_failed(browser, tiny_model_dir, tmp_path) -> None:
    """Six columns ran 406 px wide in a 358 px box, the failed file's note entirely off the
    edge; the phone's table has four, the note under the file name."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_phone(browser, f"{url}/diagnose", errors)
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
        uploader.set_input_files(
            [
                {"name": "spot.png", "mimeType": "image/png", "buffer": lesion_photo()},
                {"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": bytes(range(256))},
            ]
        )
        table = page.locator(".st-key-dx_table table")
        table.wait_for(timeout=UI_TIMEOUT_MS)
        settled(page)
        note = table.locator("th", has_text="broken.jpg").get_by_text("not an image")
        assert note.is_visible()
        box = note.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        assert_fits(page, "a batch with a file that failed")
        assert not errors, errors


def test_camera_switch_keeps_the_expanders_open(browser, tiny_model_dir, tmp_path) -> None:
    """Switching the camera on inserted it above the expanders, which then redrew closed."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/diagnose", errors)
        settled(page)
        signs = page.locator('[data-testid="stExpander"] details', has_text="Warning signs")
        signs.locator("summary").click()
        page.wait_for_function("el => el.open", arg=signs.element_handle())
        for shown in (True, False):
            page.get_by_text("Take a photo with my camera").click()
            camera = page.locator('[data-testid="stCameraInput"]')
            camera.wait_for(state="visible" if shown else "detached", timeout=UI_TIMEOUT_MS)
            settled(page)
            assert signs.evaluate("el => el.open"), f"closed when the camera went {shown}"
        assert not errors, errors


# The explorer's boxes measured in the input that shows the choice: its text against its room.
_CUT_LABELS_JS = """([key, labels]) => {
  const input = document.querySelector(`.st-key-${key} input`);
  const style = getComputedStyle(input);
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  return labels.filter((label) => context.measureText(label).width > room);
}"""


_CUT_TEXT_JS = """() => [...document.querySelectorAll(
  '[data-testid="stMetric"] p, [data-testid="stDownloadButton"] p')].filter((e) => {
  const range = document.createRange();
  range.selectNodeContents(e);  // the text's laid-out width, before any ellipsis is painted
  let box = e;
  while (box && getComputedStyle(box).overflow === "visible") box = box.parentElement;
  return box && range.getBoundingClientRect().width > box.getBoundingClientRect().width + 1;
}).map((e) => e.innerText)
"""


_LEGEND_TOPS_JS = """() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
  .filter((e) => /weaker|influence on|stronger/.test(e.innerText))
  .map((e) => Math.round(e.getBoundingClientRect().top))
"""


@pytest.mark.parametrize("viewport", [(1366, 850), (820, 1180)], ids=["desktop", "tablet"])
def test_explorer_boxes_show_their_whole_labels(browser, tmp_path, viewport) -> None:
    """Every option of the explorer's method, layer, class and colour boxes fits its box on a
    desktop and on a tablet beside the menu, with the shipped ensemble's layer labels (a plain
    model's are shorter)."""
    from skindx.config import DEFAULT_MODEL_DIR
    from skindx.explain.explainer import METHODS, Explainer, layer_groups, short_layer_label
    from skindx.explain.overlay import COLORMAPS
    from skindx.model.bundle import load_model
    from skindx.reports.results import diagnosis_label
    from skindx.taxonomy import CODES

    explainer = Explainer(load_model(DEFAULT_MODEL_DIR))
    groups = layer_groups(explainer.layers, explainer.members)
    assert len(groups) == 5  # four members and their combined maps
    boxes = {
        "sal_method": list(METHODS.values()),
        "sal_network": [group.label for group in groups],
        "sal_layer": [short_layer_label(name) for group in groups for name in group.layers],
        "sal_colormap": list(COLORMAPS),
        "sal_target": [f">99% · {diagnosis_label(code)}" for code in CODES],  # the widest
    }
    errors: list[str] = []
    with streamlit_server(DEFAULT_MODEL_DIR, tmp_path / "streamlit.log") as url:
        width, height = viewport
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}/saliency", wait_until="domcontentloaded")
        uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
        uploader.set_input_files(
            {"name": "spot.png", "mimeType": "image/png", "buffer": lesion_photo()}
        )
        page.locator('img[alt*="saliency overlay"]').wait_for(timeout=UI_TIMEOUT_MS)
        page.locator('img[alt^="Colour scale of the viridis map"]').wait_for(timeout=UI_TIMEOUT_MS)
        for key, labels in boxes.items():
            assert page.evaluate(_CUT_LABELS_JS, [key, labels]) == [], (viewport, key)
        # and the faithfulness figure beside (or, on the tablet, under) the map shows whole
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=UI_TIMEOUT_MS)
        assert page.evaluate(_CUT_TEXT_JS) == [], viewport
        # the colour scale's words on one line, at the strip's two ends
        tops = page.evaluate(_LEGEND_TOPS_JS)
        assert len(tops) == 3 and len(set(tops)) == 1, (viewport, tops)
        page.get_by_text("Two classes").click()  # two maps, each with its figure
        page.locator('[data-testid="stMetricValue"]').nth(1).wait_for(timeout=UI_TIMEOUT_MS)
        settled(page)
        assert page.evaluate(_CUT_TEXT_JS) == [], viewport
        assert not errors, errors
