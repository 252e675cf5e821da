"""The app's dark theme: the device's setting chooses it, and charts, probability bars and the
focus ring take colours that read on its background (skindx/datasets/themes.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from contrast import contrast
from test_browser import (  # noqa: F401  (browser: a fixture)
    _CHART_TEXTS,
    CHART_FILLS,
    UI_TIMEOUT_MS,
    browser,
    open_page,
    streamlit_server,
)

from skindx.datasets import themes
from skindx.datasets.themes import DARK_BACKGROUND, DARK_COLOURS, DARK_TEXT, colour, in_dark

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_the_config_defines_both_themes_with_the_charts_colours() -> None:
    """Without a dark theme a phone set to dark mode got the white app; the charts' dark
    colours are worked out against the dark theme's own background and text."""
    theme = tomllib.loads(CONFIG.read_text())["theme"]
    assert theme["light"]["primaryColor"] == themes.HIGHLIGHT
    assert theme["light"]["textColor"] == themes.TITLE_TEXT
    dark = theme["dark"]
    assert dark["backgroundColor"] == DARK_BACKGROUND
    assert dark["textColor"] == DARK_TEXT
    assert dark["primaryColor"] == DARK_COLOURS[themes.HIGHLIGHT]
    # Nothing theme-wide outside the two tables would override one of them.
    assert not {"primaryColor", "textColor", "backgroundColor"} & set(theme)


def test_dark_colours_read_on_the_dark_background() -> None:
    """Text at WCAG AA (4.5:1), the focus ring and highlighted bars at 3:1 or more, and no
    data colour that melts into the background."""
    for text in (themes.TITLE_TEXT, themes.CHART_TEXT):
        assert contrast(DARK_COLOURS[text], DARK_BACKGROUND) >= 4.5, text
    assert contrast(DARK_COLOURS[themes.HIGHLIGHT], DARK_BACKGROUND) >= 3
    assert contrast(DARK_COLOURS[themes.HIGHLIGHT], "#262730") >= 3  # the menu's grey
    lightest_heat = DARK_COLOURS[themes.HEAT_SCALE[-1][1]]
    assert contrast(DARK_COLOURS[themes.TITLE_TEXT], lightest_heat) >= 4.5
    backgrounds = {themes.CHART_BACKGROUND, themes.GRID, themes.TRACK, themes.HEAT_SCALE[0][1]}
    for light, dark in DARK_COLOURS.items():
        if light not in backgrounds:
            assert contrast(dark.replace(" ", ""), DARK_BACKGROUND) >= 2.5, light


def test_in_dark_swaps_colours_and_leaves_words_and_numbers() -> None:
    """Only properties that are colours change: a category or label that happens to be
    called "white" stays as it is."""
    fig = go.Figure(
        go.Bar(
            x=["white", "#141414"],
            y=[1, 2],
            text=["white", "a"],
            marker={"color": np.array([themes.HIGHLIGHT, "rgb(1, 2, 3)"], dtype=object)},
            textfont={"color": themes.TITLE_TEXT},
        ),
        layout={
            "paper_bgcolor": "white",
            "title": {"text": "white", "font": {"color": themes.TITLE_TEXT}},
            "coloraxis": {"colorscale": themes.HEAT_SCALE},
            "annotations": [{"text": "#4d4d4d", "font": {"color": themes.CHART_TEXT}}],
        },
    )
    dark = in_dark(fig)
    bar = dark.data[0]
    assert list(bar.x) == ["white", "#141414"] and list(bar.y) == [1, 2]
    assert list(bar.text) == ["white", "a"]
    assert list(bar.marker.color) == [DARK_COLOURS[themes.HIGHLIGHT], "rgb(1, 2, 3)"]
    assert bar.textfont.color == DARK_TEXT
    layout = dark.layout
    assert layout.paper_bgcolor == DARK_BACKGROUND and layout.title.text == "white"
    assert layout.title.font.color == DARK_TEXT
    assert [stop[1] for stop in layout.coloraxis.colorscale] == [
        DARK_COLOURS[stop] for _, stop in themes.HEAT_SCALE
    ]
    assert layout.annotations[0].text == "#4d4d4d"
    assert layout.annotations[0].font.color == DARK_COLOURS[themes.CHART_TEXT]
    assert fig.layout.paper_bgcolor == "white"  # the light figure, cached, is untouched


@pytest.mark.parametrize("dark", [False, True])
def test_probability_bars_take_the_themes_colours(dark: bool) -> None:
    from test_walk_a11y import melanoma_first

    from streamlit_app.diagnosis_results import probability_bars_html

    listed = probability_bars_html(melanoma_first(), dark=dark)
    assert listed.count(f"background:{colour(themes.HIGHLIGHT, dark)}") == 3
    assert listed.count(f"background:{colour(themes.MUTED, dark)}") == 4
    assert listed.count(f"background:{colour(themes.TRACK, dark)}") == 7


def test_a_chart_with_nothing_to_show_draws_in_the_dark_theme() -> None:
    """A statistics chart whose filters match no image has no traces: Streamlit refuses such
    a figure as a dict ("Empty data list found"), so the dark one is a figure."""
    import plotly.tools

    from skindx.datasets.figures import _empty_figure

    empty = in_dark(_empty_figure("Diagnoses"))
    assert isinstance(empty, go.Figure) and not empty.data
    plotly.tools.return_figure_from_figure_or_data(empty, validate_figure=True)  # no raise
    assert empty.layout.annotations[0].font.color == DARK_TEXT


def _fills_become(page, fills: set[str]) -> None:
    """Wait until every chart text on the page is drawn in one of ``fills``."""
    page.wait_for_function(
        "([selector, fills]) => { const texts = [...document.querySelectorAll(selector)];"
        " return texts.length > 0 && texts.every(t => fills.includes(getComputedStyle(t).fill)); }",
        arg=[_CHART_TEXTS, sorted(fills)],
        timeout=UI_TIMEOUT_MS,
    )


def _choose_theme(page, name: str) -> None:
    """Pick ``name`` in Streamlit's menu (which stays open after a pick: close it)."""
    page.get_by_test_id("stMainMenu").click()
    page.get_by_test_id(f"stMainMenuItem-theme-{name}").click()
    page.keyboard.press("Escape")
    page.get_by_test_id("stMainMenuPopover").wait_for(state="detached", timeout=UI_TIMEOUT_MS)


def test_charts_follow_a_theme_changed_on_an_open_page(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    """Streamlit does not rerun when the theme changes, so a chart drawn for the light theme
    kept its dark grey text (2.3:1) on the dark background until the next click: the page now
    reruns itself, whether the visitor picks a theme in the menu or the device switches."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=limits-and-bias", errors)
        _fills_become(page, CHART_FILLS["light"])
        _choose_theme(page, "Dark")
        _fills_become(page, CHART_FILLS["dark"])
        _choose_theme(page, "System")  # the device's: light
        _fills_become(page, CHART_FILLS["light"])
        page.emulate_media(color_scheme="dark")  # the device turns dark
        _fills_become(page, CHART_FILLS["dark"])
        assert not errors, errors
