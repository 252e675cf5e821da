"""skindx web app: ``streamlit run streamlit_app/app.py`` from the repository root.

The entrypoint only configures the page and the menu, and, once the first page is out,
starts loading the model (and the similar-lesions gallery) in the background once per server;
each page is a thin script in ``pages/`` and the pages are listed in
:mod:`streamlit_app.navigation`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run streamlit_app/app.py` puts streamlit_app/ on sys.path, not the repository root.
if (_ROOT := str(Path(__file__).resolve().parents[1])) not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st

from skindx.datasets import themes
from skindx.reports.results import DISCLAIMER
from streamlit_app import navigation, resources, ui

# A file in the repository: a ":material/…:" page icon makes browsers fetch the favicon from
# Google's font CDN, which fails offline and tells a third party who opened the app.
ICON = Path(__file__).resolve().parent / "icon.png"


# One clear focus ring, in the theme's blue (6.4:1 on white, 3:1 and more on the menu's grey;
# in the dark theme 6.4:1 on its background, 5:1 on its grey), for whatever the keyboard
# reaches. Streamlit marks focus on menu and page links and on image toolbars with a faint
# grey or not at all, and on checkboxes, toggles and radio buttons, whose inputs are
# invisible, with a faint grey behind the label: the ring goes round the label instead.
FOCUS_CSS = """
<style>
:focus-visible { outline: 3px solid RING !important; outline-offset: 2px; }
[data-testid="stMain"]:focus-visible { outline-offset: -3px; }
:is([data-testid="stCheckbox"], [data-testid="stRadio"]) label:has(input:focus-visible) {
  outline: 3px solid RING; outline-offset: 2px; border-radius: 0.25rem; }
/* The theme watcher (ui.follow_theme_changes) draws nothing and takes no room in the menu. */
.st-key-theme_watch { display: none; }
</style>
"""
# The dark theme's blue is light, so the white names Streamlit writes on its multiselect chips
# fell to 2.8:1: dark names instead, 6.4:1.
DARK_CSS = f"""
<style>
[data-tag], [data-tag] * {{ color: {themes.DARK_BACKGROUND} !important; }}
</style>
"""


@st.fragment(run_every=2)
def _warm_up_status() -> None:
    """Progress of the background warm-up, refreshed while it runs (a later full rerun, once
    it is done, no longer calls this, which stops the refresh)."""
    status = resources.WARM_UP
    if status.stage in ("waiting", "model"):
        st.caption("Getting the model ready…")
    elif status.stage == "gallery":
        st.caption(f"Preparing similar lesions: {status.images_read} example images read…")


st.set_page_config(
    page_title="skindx: skin lesions, explained",
    page_icon=str(ICON),
    layout="wide",
    # A shared presentation link (?mode=present) opens with the menu out of the slides' way.
    initial_sidebar_state="collapsed" if st.query_params.get("mode") == "present" else "auto",
    menu_items={
        "About": "skindx: a teaching tool for skin-lesion images. " + DISCLAIMER,
    },
)
current = st.navigation(navigation.pages())
with st.sidebar:
    dark = ui.dark()
    st.html(
        FOCUS_CSS.replace("RING", themes.colour(themes.HIGHLIGHT, dark))
        + (DARK_CSS if dark else "")
    )
    st.caption(DISCLAIMER)
    ui.follow_theme_changes()
    if resources.WARM_UP.stage in ("waiting", "model", "gallery"):
        _warm_up_status()
try:
    current.run()
finally:
    # Started once the page is out: TensorFlow's import holds the GIL for seconds, and the
    # first visitor after a restart should get the page before the model, not after it.
    resources.warm_up()
