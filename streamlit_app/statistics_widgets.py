"""The Statistics page's widgets that outlive a visit to another page: the person's own
metadata CSV (read once, summarised in memory for this session only) and the filters and
toggles. Streamlit forgets a page's widgets while another page is shown, so their values are
kept in the session state and the widgets drawn with them on the person's return."""

from __future__ import annotations

from typing import Any

import streamlit as st

from skindx.datasets.filters import Filters
from skindx.datasets.metadata import MetadataError
from skindx.datasets.names import UPLOAD_DATASET
from skindx.datasets.summary import AGE_BIN_WIDTH
from skindx.datasets.uploads import images_read, summarize_upload, upload_notes
from skindx.taxonomy import BY_CODE
from streamlit_app import ui

UPLOAD_STATE = "stats_upload_result"
UPLOADER = "stats_upload"
UPLOAD_NAME = "stats_upload_name"  # the file's name, to say which file is kept
UPLOAD_KEPT = "stats_upload_kept"  # set while an upload is shown that the uploader no longer holds
DATASETS_KEY = "stats_datasets"
KEPT = "stats_kept"  # the widgets' values, kept while another page is shown
TAB = "stats_tab"  # the charts' tab shown, its label
CHARTS_MADE = "stats_charts_made"  # this session's charts, by the view they show (the page's)
# Where the keyboard focus goes when the control pressed vanishes: the uploader's button after
# an upload, "Remove my file" once pressed. Each: a container's key, and the token last focused.
UPLOAD_MESSAGE, UPLOAD_FOCUSED = "stats_upload_message", "stats_upload_focused"
OWN_DATA, REMOVALS, REMOVAL_FOCUSED = "stats_own_data", "stats_removals", "stats_removal_focused"


def _diagnosis_label(code: str) -> str:
    return f"{code} — {BY_CODE[code].name}" if code in BY_CODE else code


def _read_upload(upload: Any) -> dict[str, Any] | str:
    """The upload's summary (or error message), computed once per file in this session only."""

    def read(upload: Any) -> dict[str, Any] | str:
        st.session_state[UPLOAD_NAME] = upload.name
        st.session_state.pop(CHARTS_MADE, None)  # the charts of an earlier file go with it
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
    for key in (UPLOAD_STATE, UPLOAD_NAME, UPLOAD_KEPT, CHARTS_MADE):
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


def upload_section() -> dict[str, Any] | None:
    # An empty uploader on a return from another page is not the person removing their file.
    returning = UPLOADER not in st.session_state
    removals = st.session_state.get(REMOVALS)
    if removals:  # "Remove my file" is gone, and the focus with it: to the upload's section
        ui.scroll_to(f".st-key-{OWN_DATA} summary", removals, REMOVAL_FOCUSED, focus=True)
    with st.container(key=OWN_DATA), st.expander("Use your own metadata", expanded=False):
        st.markdown(
            "Upload an ISIC-format metadata CSV (HAM10000 / ISIC 2018, ISIC 2019 ground truth, "
            "ISIC 2020 ground truth or an ISIC Archive export). It is checked, summarised in "
            "memory for this session only, and shown below as “Your data”. Nothing is stored."
        )
        upload = st.file_uploader("Metadata CSV", type=["csv", "tsv", "txt"], key=UPLOADER)
        if upload is not None:
            st.session_state.pop(UPLOAD_KEPT, None)
            result = _read_upload(upload)
            with st.container(key=UPLOAD_MESSAGE):
                if isinstance(result, str):  # plain text: the message quotes the file's words
                    st.error(f"This file cannot be used: {ui.escape(result)}")
                else:
                    _upload_notes(result)
            # The focus, lost with the uploader's button, goes to what was made of the file.
            ui.scroll_to(f".st-key-{UPLOAD_MESSAGE} p", upload.file_id, UPLOAD_FOCUSED, focus=True)
            return None if isinstance(result, str) else result
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
    st.button("Remove my file", key="stats_upload_remove", on_click=_remove_kept_upload)


def _remove_kept_upload() -> None:
    _forget_upload()
    st.session_state[REMOVALS] = st.session_state.get(REMOVALS, 0) + 1


def remembered(key: str, default: Any) -> Any:
    """The value to draw widget ``key`` with: the person's, kept from before a visit to
    another page, else ``default``. Passed as the widget's default, not set in its state,
    which Streamlit would warn about beside a default."""
    return ui.kept(KEPT, key, default)


def remember(*keys: str) -> None:
    ui.keep(KEPT, *keys)


def kept_tab() -> str:
    """The key of the charts' tabs, their state set to the tab shown before a visit to another
    page. Not through ``default=``: a tab's default is part of its identity, so a default that
    followed the person's choice made new tabs, back on the first, on the next run."""
    if TAB not in st.session_state and (label := remembered(TAB, None)) is not None:
        st.session_state[TAB] = label
    return TAB


def _chosen(key: str, options: list[str]) -> list[str]:
    """The kept choices of a multiselect that are still among its options."""
    return [value for value in remembered(key, []) if value in options]


def _narrowing(label: str, options: list[str], key: str, **extra: Any) -> list[str]:
    """A filter's multiselect: none chosen keeps every value."""
    chosen = _chosen(key, options)
    return st.multiselect(label, options, chosen, key=key, placeholder="All", **extra)


def _age_range(low: int, high: int) -> tuple[int, int]:
    kept = remembered("stats_age", (low, high))
    return kept if low <= kept[0] <= kept[1] <= high else (low, high)


def filters(options: dict[str, Any]) -> Filters:
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
    remember(DATASETS_KEY, "stats_age", "stats_sex", "stats_site", "stats_diagnosis")
    return Filters(
        datasets=tuple(datasets),
        age_range=None if tuple(ages) == (low, high) else (ages[0], ages[1]),
        sexes=tuple(sexes),
        sites=tuple(sites),
        diagnoses=tuple(diagnoses),
    )
