"""Statistics page: the ISIC datasets side by side (layout only; logic: skindx.datasets)."""

from __future__ import annotations

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
from skindx.datasets.metadata import MetadataError
from skindx.datasets.names import UPLOAD_DATASET
from skindx.datasets.summary import AGE_BIN_WIDTH, cube_frame, load_summary
from skindx.datasets.uploads import images_read, summarize_upload, upload_notes
from skindx.reports.results import safe_csv
from skindx.taxonomy import BY_CODE
from streamlit_app import ui

UPLOAD_STATE = "stats_upload_result"
UPLOADER = "stats_upload"
UPLOAD_NAME = "stats_upload_name"  # the file's name, to say which file is kept
UPLOAD_KEPT = "stats_upload_kept"  # set while an upload is shown that the uploader no longer holds
DATASETS_KEY = "stats_datasets"
# Streamlit forgets a page's widgets while another page is shown: their values are kept here,
# and the widgets drawn with them on the person's return (an upload, its summary, likewise).
KEPT = "stats_kept"


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


def _diagnosis_label(code: str) -> str:
    return f"{code} — {BY_CODE[code].name}" if code in BY_CODE else code


def _read_upload(upload: Any) -> dict[str, Any] | str:
    """The upload's summary (or error message), computed once per file in this session only."""

    def read(upload: Any) -> dict[str, Any] | str:
        st.session_state[UPLOAD_NAME] = upload.name
        try:
            result = summarize_upload(upload.getvalue(), upload.name)
        except MetadataError as error:
            _select_upload(False)
            return str(error)
        _select_upload(True)
        return result

    return ui.once_per_upload(UPLOAD_STATE, upload, read)


def _select_upload(selected: bool) -> None:
    """Add "Your data" to the datasets compared (or take it out), keeping the person's other
    choices. Set through the session state, so the browser's widget shows it too and the next
    interaction keeps it (a changed default alone would be dropped)."""
    chosen = st.session_state.get(DATASETS_KEY)
    if chosen is None:
        return  # first run: the widget starts with every dataset, the upload included
    others = [name for name in chosen if name != UPLOAD_DATASET]
    st.session_state[DATASETS_KEY] = [UPLOAD_DATASET, *others] if selected else others


def _forget_upload() -> None:
    for key in (UPLOAD_STATE, UPLOAD_NAME, UPLOAD_KEPT):
        st.session_state.pop(key, None)
    _select_upload(False)


def _held_upload() -> dict[str, Any] | None:
    """The summary of a file read earlier in this session, where it read well."""
    held = st.session_state.get(UPLOAD_STATE)
    return held[1] if held is not None and isinstance(held[1], dict) else None


def _upload_notes(result: dict[str, Any]) -> None:
    st.success(images_read(ui.escape(st.session_state.get(UPLOAD_NAME, "")), result))
    for note in upload_notes(result):  # escaped: the notes quote the file's values
        st.warning(ui.escape(note))


def _upload_section() -> dict[str, Any] | None:
    # An empty uploader on a return from another page is not the person removing their file.
    returning = UPLOADER not in st.session_state
    with st.expander("Use your own metadata", expanded=False):
        st.markdown(
            "Upload an ISIC-format metadata CSV (HAM10000 / ISIC 2018, ISIC 2019 ground truth, "
            "ISIC 2020 ground truth or an ISIC Archive export). It is checked, summarised in "
            "memory for this session only, and shown below as “Your data”. Nothing is stored."
        )
        upload = st.file_uploader("Metadata CSV", type=["csv", "tsv", "txt"], key=UPLOADER)
        if upload is not None:
            st.session_state.pop(UPLOAD_KEPT, None)
            result = _read_upload(upload)
            if isinstance(result, str):  # plain text: the message quotes the file's own words
                st.error(f"This file cannot be used: {ui.escape(result)}")
                return None
            _upload_notes(result)
            return result
    kept = _held_upload()
    if kept is None or not (returning or st.session_state.get(UPLOAD_KEPT)):
        if st.session_state.get(UPLOAD_STATE) is not None:
            _forget_upload()  # the person removed their file (or it could not be read)
        return None
    st.session_state[UPLOAD_KEPT] = True
    _kept_upload_note()
    return kept


def _kept_upload_note() -> None:
    """Outside the closed expander, so a person coming back sees that "Your data" is theirs."""
    name = ui.escape(st.session_state.get(UPLOAD_NAME, "your file"))
    st.info(
        f"“Your data” is still “{name}”, uploaded earlier in this session. It stays until you "
        "remove it, upload another file, reload the page or close the tab.",
        icon=":material/history:",
    )
    st.button("Remove my file", key="stats_upload_remove", on_click=_forget_upload)


def _kept(key: str, default: Any) -> Any:
    """The value to draw widget ``key`` with: the person's, kept from before a visit to
    another page, else ``default``. Passed as the widget's default, not set in its state,
    which Streamlit would warn about beside a default."""
    return st.session_state.get(KEPT, {}).get(key, default)


def _keep(*keys: str) -> None:
    kept = st.session_state.setdefault(KEPT, {})
    kept.update({key: st.session_state[key] for key in keys if key in st.session_state})


def _chosen(key: str, options: list[str]) -> list[str]:
    """The kept choices of a multiselect that are still among its options."""
    return [value for value in _kept(key, []) if value in options]


def _narrowing(label: str, options: list[str], key: str, **extra: Any) -> list[str]:
    """A filter's multiselect: none chosen keeps every value."""
    chosen = _chosen(key, options)
    return st.multiselect(label, options, chosen, key=key, placeholder="All", **extra)


def _age_range(low: int, high: int) -> tuple[int, int]:
    kept = _kept("stats_age", (low, high))
    return kept if low <= kept[0] <= kept[1] <= high else (low, high)


def _filters(options: dict[str, Any]) -> Filters:
    if DATASETS_KEY not in st.session_state:
        everything = list(options["datasets"])
        st.session_state[DATASETS_KEY] = _chosen(DATASETS_KEY, everything) or everything
    datasets = st.multiselect("Datasets to compare", options["datasets"], key=DATASETS_KEY)
    with st.expander("Filters: age, sex, body site, diagnosis", expanded=False):
        low, high = options["age"]
        ages = st.slider(
            "Age (5-year bins)",
            low,
            high,
            _age_range(low, high),
            step=AGE_BIN_WIDTH,
            key="stats_age",
        )
        st.caption("Narrowing the age range leaves out images of unknown age.")
        sexes = _narrowing("Sex", options["sexes"], "stats_sex")
        sites = _narrowing("Body site", options["sites"], "stats_site")
        diagnoses = _narrowing(
            "Diagnosis", options["diagnoses"], "stats_diagnosis", format_func=_diagnosis_label
        )
    _keep(DATASETS_KEY, "stats_age", "stats_sex", "stats_site", "stats_diagnosis")
    return Filters(
        datasets=tuple(datasets),
        age_range=None if tuple(ages) == (low, high) else (ages[0], ages[1]),
        sexes=tuple(sexes),
        sites=tuple(sites),
        diagnoses=tuple(diagnoses),
    )


def _section(shown: charts.Chart) -> None:
    key, table = shown.key, shown.table
    st.plotly_chart(shown.figure, width="stretch", key=f"stats_chart_{key}", config=ui.CHART_CONFIG)
    if shown.note:  # the diagnoses the chart leaves out, too few images for a share
        st.caption(ui.escape(shown.note))
    # A takeaway is "" where the data shown has nothing to say (an upload's unknown malignancy),
    # and plain text, never markdown: it can quote a diagnosis from an uploaded file.
    if shown.takeaway:
        st.markdown(f"**Takeaway.** {ui.escape(shown.takeaway)}")
    with st.expander("Table"):
        ui.table(
            table,
            narrow=tables.phone_table(table),
            key=f"stats_table_{key}",
            hide_index=True,
            width="stretch",
            column_config=_number_formats(table),
        )
    st.download_button(
        "Download table (CSV)",
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
    return charts.chart(key, cube, everything, percent=percent, log=log)


def _chart(key: str, view: pd.DataFrame, filters: Filters, opening: bool, **options: bool):
    """The chart ``key``: the kept one for the page as it opens (``opening``: no upload, no
    filter), else made afresh for this session (an upload's charts are never kept)."""
    if opening:
        return _opening_chart(key, **options)
    return charts.chart(key, view, filters, **options)


def _diagnoses(view: pd.DataFrame, filters: Filters, opening: bool) -> None:
    st.header("Diagnoses")
    percent = st.toggle(
        "Show % of each dataset", _kept("stats_percent", False), key="stats_percent"
    )
    log = st.toggle("Log scale", _kept("stats_log", False), key="stats_log", disabled=percent)
    _keep("stats_percent", "stats_log")
    _section(_chart("diagnoses", view, filters, opening, percent=percent, log=log))


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


def _charts(view: pd.DataFrame, filters: Filters, opening: bool) -> None:
    """Every chart after the diagnoses', each under its heading."""
    for key in charts.CHARTS[1:]:
        if key == "balanced_accuracy":
            _balanced_accuracy()
        elif key in HEADINGS:
            st.header(HEADINGS[key])
        shown = _chart(key, view, filters, opening)
        if shown is None:
            level = key.removeprefix("images_per_")
            st.caption(f"None of the images shown has a {level} id.")
        else:
            _section(shown)


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
    uploaded = _upload_section()
    if uploaded is not None:
        cube = combine_cubes(cube, cube_frame(uploaded))
        summary = {**summary, "datasets": {**summary["datasets"], **uploaded["datasets"]}}
    options = filter_options(cube)
    filters = _filters(options)
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
    _diagnoses(view, filters, opening)
    _charts(view, filters, opening)
    _sources()


main()
