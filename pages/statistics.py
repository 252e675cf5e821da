"""Statistics page: the ISIC datasets side by side (layout only; logic: skindx.datasets)."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import streamlit as st

from skindx.datasets import charts, tables, takeaways
from skindx.datasets.filters import (
    Filters,
    apply_filters,
    combine_cubes,
    filter_options,
    keeps_everything,
)
from skindx.datasets.summary import cube_frame, load_summary
from skindx.reports.results import safe_csv
from streamlit_app import statistics_widgets, ui


def _number_formats(table: pd.DataFrame) -> dict[str, Any]:
    """One number format per float column ("0.0" beside "81.9", never "0"): percentages to one
    decimal, fractions (the imbalance table's accuracies) to three."""
    return {
        column: st.column_config.NumberColumn(
            format="%.1f" if "percent" in column or column.endswith("%") else "%.3f"
        )
        for column in table.columns
        if table[column].dtype.kind == "f"
    }


@st.cache_data(show_spinner=False)
def _bundled() -> tuple[dict[str, Any], pd.DataFrame]:
    summary = load_summary()
    return summary, cube_frame(summary)


# Each table's name, in its expander's and download button's: nine "Table" and nine "Download
# table (CSV)" buttons sounded alike to a screen reader listing the page's buttons.
TABLE_NAMES = {key: key.replace("_", " ") for key in charts.CHARTS} | {"site": "body site"}


def _figure(shown: charts.Chart) -> None:
    key = shown.key
    ui.chart(shown.figure, width="stretch", key=f"stats_chart_{key}")
    if shown.note:  # the diagnoses the chart leaves out, too few images for a share
        st.caption(ui.escape(shown.note))


def _details(shown: charts.Chart) -> None:
    """The chart's takeaway, its table in an expander and the table's download. The table is
    sent only while its expander is open (which reruns the page, not a fragment: a fragment's
    style-only ``st.html``, the table's CSS, took the place of another table's): the nine
    closed tables, a data grid and a phone copy each, were sent and drawn on every run."""
    key, table = shown.key, shown.table
    # A takeaway is "" where the data shown has nothing to say (an upload's unknown malignancy),
    # and plain text, never markdown: it can quote a diagnosis from an uploaded file.
    if shown.takeaway:
        st.markdown(f"**Takeaway.** {ui.escape(shown.takeaway)}")
    name = f"{TABLE_NAMES[key].capitalize()} table"
    with st.expander(name, key=f"stats_table_open_{key}", on_change="rerun") as expander:
        if expander.open:
            ui.table(
                table,
                narrow=tables.phone_table(table),
                key=f"stats_table_{key}",
                hide_index=True,
                width="stretch",
                column_config=_number_formats(table),
            )
    st.download_button(
        f"Download {TABLE_NAMES[key]} table (CSV)",
        safe_csv(table),
        file_name=f"isic_{key}.csv",
        mime="text/csv",
        key=f"stats_download_{key}",
        on_click="ignore",
    )


@st.cache_data(show_spinner=False)
def _opening_chart(key: str, percent: bool = False, log: bool = False) -> charts.Chart | None:
    """A chart of the page as it opens (the bundled datasets, no filter), kept for every
    session: building the page's figures took most of its second per new visitor. Its
    arguments are the chart's name and the diagnoses' toggles, nothing a session uploaded."""
    cube = _bundled()[1]
    everything = Filters(datasets=tuple(filter_options(cube)["datasets"]))
    shown = charts.chart(key, cube, everything, percent=percent, log=log)
    # A copy made as the cache makes the ones it gives back (plotly orders a figure made again
    # from its dict in its own way): the server's first visitor got figures whose JSON differed
    # from the kept ones, and its next run (a table opened) drew every chart again.
    return copy.deepcopy(shown)


MADE_VIEWS = 4  # views whose charts a session keeps: the latest filters and a few before


def _made(filters: Filters) -> dict[tuple, charts.Chart | None]:
    """This session's charts under ``filters``, by chart and toggles: a rerun whose inputs did
    not change (a toggle beside one chart, a filter undone) rebuilds nothing else, and plotly
    in the browser keeps the charts it has drawn. The filters decide the view, since the
    bundled data never changes and a new or removed upload drops them all. In the session
    state only (an upload's charts are never shared), for the last few views."""
    views = st.session_state.setdefault(statistics_widgets.CHARTS_MADE, {})
    made = views.pop(filters, {})
    views[filters] = made  # the latest last
    while len(views) > MADE_VIEWS:
        views.pop(next(iter(views)))
    return made


def _chart(key: str, view: pd.DataFrame, filters: Filters, made: dict | None, **options: bool):
    """The chart ``key``: the kept one for the page as it opens (``made`` is None: no upload,
    no filter), else this session's own, made once per view, filters and toggles."""
    if made is None:
        return _opening_chart(key, **options)
    ident = (key, *sorted(options.items()))
    if ident not in made:
        made[ident] = charts.chart(key, view, filters, **options)
    return made[ident]


@st.fragment
def _diagnoses(view: pd.DataFrame, filters: Filters, made: dict | None) -> None:
    """A fragment: its toggles change this chart alone, so they rerun this section, not the
    page (the other eight charts, the overview and the upload's summary stay as drawn). Its
    takeaway and table, which the toggles do not change, follow outside it."""
    st.header("Diagnoses")
    percent = st.toggle(
        "Show % of each dataset",
        statistics_widgets.remembered("stats_percent", False),
        key="stats_percent",
    )
    log = st.toggle(
        "Log scale",
        statistics_widgets.remembered("stats_log", False),
        key="stats_log",
        disabled=percent,
    )
    statistics_widgets.remember("stats_percent", "stats_log")
    _figure(_chart("diagnoses", view, filters, made, percent=percent, log=log))


def _balanced_accuracy() -> None:
    st.header("Why the model is judged by balanced accuracy")
    st.markdown(
        "Plain accuracy rewards a model for agreeing with the commonest class. Balanced "
        "accuracy — the mean of the per-class recalls, the ISIC 2018 metric — gives every "
        "diagnosis the same weight, so missing every melanoma costs as much as missing every "
        "nevus."
    )


HEADINGS = {
    "malignancy": "Benign or malignant",
    "age": "Age by diagnosis",
    "sex": "Sex by diagnosis",
    "site": "Body site by diagnosis",
    "confirmation": "How each diagnosis was confirmed",
    "images_per_lesion": "Images per lesion and per patient",
}


# The charts in tabs, by theme; each tab sends and draws its own charts only (lazy tabs rerun
# the page when another is chosen): a filter redrew all nine, most of its two seconds in the
# browser, and a visitor sees one tab's at a time anyway. Short labels, closer together on a
# phone, where the bar holds them all at 390 px (narrower, it scrolls, as Streamlit's does).
TABS = {
    "Diagnoses": ("diagnoses", "malignancy", "balanced_accuracy"),
    "Age, sex": ("age", "sex"),
    "Body site": ("site",),
    "Confirmation": ("confirmation",),
    "Per lesion": ("images_per_lesion", "images_per_patient"),
}
TABS_CSS = (
    f"<style>@media (max-width: {ui.NARROW_PX}px) {{ .st-key-{statistics_widgets.TAB} "
    '[role="tablist"] { gap: 0.5rem; } }</style>'
)


def _charts(keys: tuple[str, ...], view: pd.DataFrame, filters: Filters, made: dict | None):
    """The charts ``keys`` other than the diagnoses', each under its heading."""
    for key in keys:
        if key == "balanced_accuracy":
            _balanced_accuracy()
        elif key in HEADINGS:
            st.header(HEADINGS[key])
        shown = _chart(key, view, filters, made)
        if shown is None:
            level = key.removeprefix("images_per_")
            st.caption(f"None of the images shown has a {level} id.")
        else:
            _figure(shown)
            _details(shown)


def _sources() -> None:
    st.caption(
        "Data: HAM10000 (Tschandl et al. 2018), ISIC 2018 Task 3 test (Codella et al. 2019), "
        "ISIC 2019 incl. BCN20000 (Combalia et al. 2019) — it contains the HAM10000 images "
        "too — and ISIC 2020 (Rotemberg et al. 2021); all CC BY-NC 4.0. Counts only: the page "
        "holds no per-image rows. Body sites are mapped onto the ISIC general sites."
    )


def main() -> None:
    st.title("ISIC dataset statistics")
    ui.phone_layout()
    st.markdown(
        "What the model learnt from and is tested on: diagnoses, age, sex, body site and how "
        "each diagnosis was confirmed, across HAM10000 (training), the ISIC 2018 test set, "
        "ISIC 2019 and ISIC 2020."
    )
    summary, cube = _bundled()
    uploaded = statistics_widgets.upload_section()
    if uploaded is not None:
        cube = combine_cubes(cube, cube_frame(uploaded))
        summary = {**summary, "datasets": {**summary["datasets"], **uploaded["datasets"]}}
    options = filter_options(cube)
    filters = statistics_widgets.filters(options)
    if not filters.datasets:
        st.info("Pick at least one dataset to compare.")
        return
    overview = tables.overview_table(summary)
    shown = overview[overview["dataset"].isin(filters.datasets)].copy()
    counts = ["images", "lesions", "patients"]  # a dash, not "None", where a file has no count
    shown[counts] = shown[counts].map(lambda n: "—" if pd.isna(n) else f"{int(n):,}")
    right = st.column_config.TextColumn(alignment="right")
    narrow = shown[["dataset", *counts]].assign(  # for a phone: fewer columns, written out
        **{
            name: shown[column].map(lambda v: f"{v:.1f}%")
            # soft hyphens: narrow headings break inside the long words
            for name, column in (
                ("malig\u00adnant", "malignant %"),
                ("mela\u00adnoma", "melanoma %"),
            )
        }
    )
    ui.table(
        shown,
        narrow=narrow,
        key="stats_overview",
        hide_index=True,
        column_config={**dict.fromkeys(counts, right), **_number_formats(shown)},
    )
    st.caption("All images of each dataset, before the filters; — where its files do not say.")
    view = apply_filters(cube, filters)
    if view.empty:
        st.warning(takeaways.NO_MATCH)
        return
    st.metric("Images matching the filters", f"{int(view['images'].sum()):,}")
    if narrowed := takeaways.filters_line(filters):
        st.caption(ui.escape(narrowed))
    opening = uploaded is None and keeps_everything(filters, options)
    made = None if opening else _made(filters)
    st.html(TABS_CSS)
    tabs = st.tabs(list(TABS), key=statistics_widgets.kept_tab(), on_change="rerun")
    statistics_widgets.remember(statistics_widgets.TAB)
    for container, keys in zip(tabs, TABS.values(), strict=True):
        with container:
            if container.open:
                _tab(keys, view, filters, made)
    _sources()


def _tab(keys: tuple[str, ...], view: pd.DataFrame, filters: Filters, made: dict | None) -> None:
    if keys[0] == "diagnoses":
        _diagnoses(view, filters, made)
        # Its takeaway and table from the chart the fragment drew (the toggles' values).
        toggled = {name: st.session_state[f"stats_{name}"] for name in ("percent", "log")}
        _details(_chart("diagnoses", view, filters, made, **toggled))
        keys = keys[1:]
    _charts(keys, view, filters, made)


main()
