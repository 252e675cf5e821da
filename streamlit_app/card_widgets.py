"""The Model card page's widgets: a row of figures, a figure or its "not measured" note with its
numbers as a table, and the per-class, subgroup and photo-quality tables with their column
settings."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from skindx.reports.card_view import (
    FIGURE_HELP,
    PER_CLASS_ORDER,
    PHOTO_QUALITY_SHARES,
)
from skindx.reports.chart_text import ChartText
from streamlit_app import ui


def metric_row(figures: dict[str, str]) -> None:
    """One ``st.metric`` per figure, side by side, with what the figure means where a reader
    may not know the term."""
    for column, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        column.metric(name, value, help=FIGURE_HELP.get(name))


def figure(
    title: str,
    figure,
    caption: str,
    key: str,
    text: ChartText | None = None,
    *,
    nested: bool = False,
) -> None:
    """A chart under its heading, with its caption and ``text``: its numbers in a closed
    expander (``nested``: inside one already, which Streamlit cannot nest, straight under it)."""
    st.subheader(title)
    if figure is None:
        st.info(f"{title}: not measured.")
        return
    ui.chart(figure, key=key)
    st.caption(caption)
    chart_text(text, f"{title} as a table", key, nested=nested)


def chart_text(text: ChartText | None, label: str, key: str, *, nested: bool = False) -> None:
    """A chart's text equivalent: its sentence, where it has one, for everyone, and its numbers
    as a static table, a real HTML table that a screen reader reads cell by cell with its row
    and column headings (a plotly chart reads to it as nothing, or as loose tick labels)."""
    if text is None:
        return
    if text.summary:
        st.markdown(text.summary)
    with st.container(key=f"{key}_text"):
        box = st.container() if nested else st.expander(label)
        if nested:
            box.markdown(f"**{label}**")
        with box:
            ui.table(text.table, narrow=text.narrow, static=True, key=f"{key}_text")
            if text.note:
                st.caption(text.note)


def per_class_table(table: pd.DataFrame, narrow: pd.DataFrame) -> None:
    ui.table(
        table,
        narrow=narrow,
        hide_index=True,
        key="card_per_class",
        column_order=PER_CLASS_ORDER,
        column_config={
            # the longest name, "Actinic keratosis / intraepithelial carcinoma", in full
            "diagnosis": st.column_config.TextColumn(width="large", pinned=True),
            "sensitivity": st.column_config.NumberColumn(format="%.1f%%"),
            "specificity": st.column_config.NumberColumn(format="%.1f%%"),
            "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
            "malignant": st.column_config.CheckboxColumn("cancer type"),
        },
    )


def subgroup_table(table: pd.DataFrame, narrow: pd.DataFrame) -> None:
    """Static tables, which wrap their cells: as a grid, beside a desktop's menu, its last
    columns sat past the page's edge."""
    ui.table(table, narrow=narrow, key="card_subgroups", static=True)


def photo_quality_table(frame: pd.DataFrame, narrow: pd.DataFrame) -> None:
    share = st.column_config.NumberColumn(format="%.1f%%")
    ui.table(
        frame,
        narrow=narrow,
        hide_index=True,
        key="card_photo_quality",
        column_config=dict.fromkeys(PHOTO_QUALITY_SHARES, share),
    )
