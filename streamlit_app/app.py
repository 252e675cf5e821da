"""skindx web app: ``streamlit run streamlit_app/app.py`` from the repository root.

The entrypoint only configures the page and the menu; each page is a thin script in ``pages/``
and the pages are listed in :mod:`streamlit_app.navigation`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run streamlit_app/app.py` puts streamlit_app/ on sys.path, not the repository root.
if (_ROOT := str(Path(__file__).resolve().parents[1])) not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st

from skindx.report import DISCLAIMER
from streamlit_app import navigation

st.set_page_config(
    page_title="skindx: skin lesions, explained",
    page_icon=":material/dermatology:",
    layout="wide",
    # A shared presentation link (?mode=present) opens with the menu out of the slides' way.
    initial_sidebar_state="collapsed" if st.query_params.get("mode") == "present" else "auto",
    menu_items={
        "About": "skindx: a teaching tool for skin-lesion images. " + DISCLAIMER,
    },
)
current = st.navigation(navigation.pages())
with st.sidebar:
    st.caption(DISCLAIMER)
current.run()
