"""The Statistics page with an educator's own metadata CSV: an interaction rebuilds and redraws
only what it changes.

The walk-through: with a 2,000-row upload every interaction (a filter, the diagnoses' "% of
each dataset" or "Log scale" toggle) reran the whole page and rebuilt its nine charts, about
1.3 s in a browser for a toggle that changes one chart. The toggles now rerun their own
section (a fragment), and a session keeps the charts it made per view, so a chart whose inputs
did not change is not rebuilt, nor redrawn by plotly. A filter still took about 2 s, the
browser's redraw most of it: the nine tables in the closed "Table" expanders were sent and drawn
on every run. An expander now sends its table only while open, and opening one reruns it alone.
A filter then still took 2 s, plotly redrawing the nine charts most of it: the charts are now
grouped in tabs, and only the chosen tab's are built, sent and drawn.
Timing: benchmarks/statistics_interaction.py.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_browser import (  # noqa: F401  (browser: a fixture)
    UI_TIMEOUT_MS,
    assert_fits,
    browser,
    open_page,
    open_phone,
    settled,
    streamlit_server,
)
from test_statistics_page import _over_tabs

from skindx.datasets.charts import CHARTS
from streamlit_app.statistics_widgets import CHARTS_MADE

PAGE = Path(__file__).resolve().parents[1] / "pages" / "statistics.py"
METADATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ham10000"
HEADER = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
FIRST_TAB = ["diagnoses", "malignancy", "balanced_accuracy"]  # the charts a page opens with


def _upload(rows: int = 200, seed: int = 0) -> bytes:
    """An ISIC-format metadata CSV: a sample of HAM10000's where the data is, else made up."""
    source = METADATA / "HAM10000_metadata.csv"
    if source.is_file():
        frame = pd.read_csv(source).sample(rows, random_state=seed)
        return frame.to_csv(index=False).encode()
    dx = ("nv", "mel", "bkl", "bcc")
    lines = [
        f"L{i // 2},I{i},{dx[(i + seed) % 4]},histo,{30 + 5 * (i % 9)},"
        f"{'male' if i % 3 else 'female'},back\n"
        for i in range(rows)
    ]
    return (HEADER + "".join(lines)).encode()


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the charts the page builds, in order, as the figure builder is called."""
    module = importlib.import_module("skindx.datasets.charts")
    real, calls = module.chart, []

    def counted(key, *args, **options):  # type: ignore[no-untyped-def]
        calls.append(key)
        return real(key, *args, **options)

    monkeypatch.setattr(module, "chart", counted)
    return calls


@pytest.fixture
def uploaded(made: list[str]) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    at.run()
    made.clear()  # the page as it opens: its charts built once per server, if not yet
    at.file_uploader(key="stats_upload").set_value(("mine.csv", _upload(), "text/csv"))
    at.run()
    assert not at.exception
    assert made == FIRST_TAB  # the upload's charts shown: the first tab's, built
    made.clear()
    return at


def test_a_toggle_rebuilds_the_diagnoses_chart_alone(uploaded: AppTest, made: list[str]) -> None:
    before = {c.proto.id: c.proto.spec for c in uploaded.get("plotly_chart")}
    uploaded.toggle(key="stats_percent").set_value(True)
    uploaded.run()
    assert not uploaded.exception
    assert made == ["diagnoses"]
    after = {c.proto.id: c.proto.spec for c in uploaded.get("plotly_chart")}
    changed = [key for key in after if after[key] != before.get(key)]
    assert len(changed) == 1 and "stats_chart_diagnoses" in changed[0]
    made.clear()
    uploaded.toggle(key="stats_percent").set_value(False)
    uploaded.run()
    assert made == []  # its chart as it was: kept, not made again
    assert {c.proto.id: c.proto.spec for c in uploaded.get("plotly_chart")} == before


def test_a_filter_undone_rebuilds_nothing(uploaded: AppTest, made: list[str]) -> None:
    uploaded.multiselect(key="stats_sex").set_value(["female"])
    uploaded.run()
    assert made == FIRST_TAB  # a new view: every chart shown made for it, no other
    made.clear()
    uploaded.multiselect(key="stats_sex").set_value([])
    uploaded.run()
    assert not uploaded.exception
    assert made == []


def test_the_kept_charts_go_with_the_file(uploaded: AppTest, made: list[str]) -> None:
    """A session's charts stay in its memory only, and only while their file is used: another
    file's charts are made from it, and removing the file drops them."""
    first = uploaded.metric[0].value
    uploaded.file_uploader(key="stats_upload").set_value(
        ("other.csv", _upload(rows=300, seed=1), "text/csv")
    )
    uploaded.run()
    assert not uploaded.exception
    assert made == FIRST_TAB
    assert uploaded.metric[0].value != first
    assert len(uploaded.session_state[CHARTS_MADE]) == 1  # the new file's view alone
    uploaded.file_uploader(key="stats_upload").set_value(None)
    uploaded.run()
    assert not uploaded.exception
    assert CHARTS_MADE not in uploaded.session_state


# Whether the page's last element (the sources) was ever marked stale: Streamlit marks what a
# run has not yet re-sent, so a rerun of the whole page marks it, and one of a section does not.
WATCH_STALE = """() => {
  const last = [...document.querySelectorAll('[data-testid="stElementContainer"]')]
    .filter(e => e.textContent.includes('Counts only')).pop();
  window.__staled = false;
  new MutationObserver(() => {
    if (last.getAttribute('data-stale') === 'true') window.__staled = true;
  }).observe(last, {attributes: true, attributeFilter: ['data-stale']});
}"""


PERCENT_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]
  .some(t => t.textContent.includes('% of each dataset'))"""


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_a_toggle_reruns_its_section_not_the_page(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/statistics", errors)
        settled(page)
        page.get_by_text("Use your own metadata").click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            {"name": "mine.csv", "mimeType": "text/csv", "buffer": _upload()}
        )
        page.get_by_text("images read").first.wait_for(timeout=UI_TIMEOUT_MS)
        settled(page)
        page.evaluate(WATCH_STALE)
        page.get_by_text("Show % of each dataset").click()
        page.wait_for_function(PERCENT_DRAWN, timeout=UI_TIMEOUT_MS)
        settled(page)
        assert page.evaluate("window.__staled") is False
        # A filter still reruns the page: the check above can see a full rerun.
        page.get_by_role("button", name="Remove ISIC 2020").click()
        settled(page)
        assert page.evaluate("window.__staled") is True
    assert not errors, errors


def test_a_servers_first_visit_gets_the_kept_charts() -> None:
    """The charts built for a server's first visitor are, byte for byte, the ones st.cache_data
    gives back on the next run: plotly drew every chart again where their JSON differed (an
    empty legend title the cache's copy lost, the layout's keys in another order)."""
    import streamlit as st

    st.cache_data.clear()
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    for tab in ("Diagnoses", "Age, sex"):  # each tab's charts built for the first time
        at.session_state["stats_tab"] = tab
        at.run()
        built = {c.proto.id: c.proto.spec for c in at.get("plotly_chart")}
        at.session_state["stats_table_open_diagnoses"] = True  # a run that builds nothing
        at.run()
        assert not at.exception
        assert {c.proto.id: c.proto.spec for c in at.get("plotly_chart")} == built


def test_closed_tables_are_not_sent(uploaded: AppTest) -> None:
    """Only the overview's table is sent while the charts' tables are closed; an opened one is
    sent whole, and stays open under a filter, showing the filtered counts."""
    assert len(uploaded.dataframe) == 1 and len(uploaded.table) == 1  # the overview's alone
    uploaded.session_state["stats_tab"] = "Age, sex"
    uploaded.run()
    assert len(uploaded.dataframe) == 1 and len(uploaded.table) == 1
    uploaded.session_state["stats_table_open_sex"] = True
    uploaded.run()
    assert not uploaded.exception
    assert len(uploaded.dataframe) == 2 and len(uploaded.table) == 2  # a grid, a phone copy
    everyone = uploaded.dataframe[1].value
    uploaded.multiselect(key="stats_sex").set_value(["female"])
    uploaded.run()
    assert len(uploaded.dataframe) == 2
    female = uploaded.dataframe[1].value
    assert set(female["sex"]) == {"female"} and set(everyone["sex"]) > {"female"}


def test_each_table_has_its_own_names(uploaded: AppTest) -> None:
    """Nine "Table" expanders and nine "Download table (CSV)" buttons sounded alike to a
    screen reader listing the page's buttons."""
    downloads = _over_tabs(uploaded, lambda at: [b.proto.label for b in at.get("download_button")])
    expanders = _over_tabs(
        uploaded, lambda at: [e.label for e in at.expander if e.label.endswith(" table")]
    )
    for names in (downloads, expanders):
        assert len(names) == len(set(names)) == len(CHARTS), names
    assert "Download body site table (CSV)" in downloads and "Age table" in expanders


FOCUSED = "() => document.activeElement && document.activeElement.textContent"
# Marks every plotly chart drawn; a chart drawn again (remounted) is a new, unmarked one.
MARK_PLOTS = (
    """() => document.querySelectorAll('.js-plotly-plot').forEach(p => { p.__kept = true; })"""
)
PLOTS_KEPT = """() => [...document.querySelectorAll('.js-plotly-plot')].every(p => p.__kept)"""
# Every chart sent has been drawn (on a loaded machine, plotly can still be drawing after the
# run's end and the 800 ms that settled() waits: an unmarked chart then, not a redrawn one).
PLOTS_DRAWN = """() => {
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.length > 0 && charts.every(c => c.querySelector('.js-plotly-plot .main-svg'));
}"""


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_a_table_opens_by_keyboard(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    """A closed table holds nothing; Enter on its expander shows it, the focus kept there and
    no chart drawn again, and Enter closes it. On a server's first visit: its charts, built for
    it, had differed from the ones its cache gave back on the next run, and were drawn again."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/statistics", errors)
        settled(page)
        page.get_by_role("tab", name="Age, sex").click()
        page.locator('[data-testid="stExpander"] summary', has_text="Age table").wait_for(
            timeout=UI_TIMEOUT_MS
        )
        settled(page)
        grids = page.locator('[data-testid="stExpander"] [data-testid="stDataFrame"]')
        assert grids.count() == 0
        page.wait_for_function(PLOTS_DRAWN, timeout=UI_TIMEOUT_MS)
        page.evaluate(MARK_PLOTS)
        summary = page.locator('[data-testid="stExpander"] summary', has_text="Age table")
        summary.focus()
        page.keyboard.press("Enter")
        grid = page.locator('.st-key-stats_table_age_wide [data-testid="stDataFrame"]')
        grid.wait_for(timeout=UI_TIMEOUT_MS)
        settled(page)
        assert grids.count() == 1
        assert "Age table" in page.evaluate(FOCUSED)
        assert page.evaluate(PLOTS_KEPT)
        page.keyboard.press("Enter")  # closed again
        grid.wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    assert not errors, errors


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_phone_every_tab_fits_the_screen(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    """At 390 px the tab bar holds every tab's label, and each tab, its tables opened, fits:
    a tab's charts and tables are sent only while it is chosen."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_phone(browser, f"{url}/statistics", errors)
        settled(page)
        bar = page.locator('[role="tablist"]')
        assert bar.evaluate("bar => bar.scrollWidth <= bar.clientWidth")
        tabs = page.get_by_role("tab")
        for i in range(tabs.count()):
            tabs.nth(i).click()
            page.wait_for_function(
                "tab => tab.getAttribute('aria-selected') === 'true'",
                arg=tabs.nth(i).element_handle(),
                timeout=UI_TIMEOUT_MS,
            )
            settled(page)
            summaries = page.locator('[data-testid="stExpander"] summary', has_text="table")
            opened = page.locator('[data-testid="stExpander"] [data-testid="stTable"]')
            for j in range(summaries.count()):
                summaries.nth(j).click()
                opened.nth(j).wait_for(timeout=UI_TIMEOUT_MS)
            page.wait_for_timeout(800)
            assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
            assert_fits(page, f"statistics, tab {tabs.nth(i).inner_text()}")
        assert not errors, errors
