"""The Model card page's widgets: a row of figures, a figure or its "not measured" note, and the
per-class, subgroup and photo-quality tables with their column settings."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from skindx.reports.card_view import (
    FIGURE_HELP,
    PER_CLASS_ORDER,
    PHOTO_QUALITY_SHARES,
    SUBGROUP_ACCURACY,
)
from streamlit_app import ui


def metric_row(figures: dict[str, str]) -> None:
    """One ``st.metric`` per figure, side by side, with what the figure means where a reader
    may not know the term."""
    for column, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        column.metric(name, value, help=FIGURE_HELP.get(name))


def figure(title: str, figure, caption: str, key: str) -> None:
    st.subheader(title)
    if figure is None:
        st.info(f"{title}: not measured.")
        return
    st.plotly_chart(figure, key=key, config=ui.CHART_CONFIG)
    st.caption(caption)


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
    right = st.column_config.TextColumn(alignment="right")
    ui.table(
        table,
        narrow=narrow,
        hide_index=True,
        key="card_subgroups",
        height=35 * (len(table) + 1) + 3,  # every group at once, no inner scrolling
        column_config={
            "group": st.column_config.TextColumn(width="medium", pinned=True),
            **dict.fromkeys(table.columns[3:], right),  # the shares, as text after the counts
            # a short header: the long one alone widened the grid past a desktop's page
            SUBGROUP_ACCURACY: st.column_config.TextColumn(
                "balanced accuracy",
                alignment="right",
                help="With its 95% bootstrap interval in brackets.",
            ),
        },
    )


def photo_quality_table(frame: pd.DataFrame, narrow: pd.DataFrame) -> None:
    share = st.column_config.NumberColumn(format="%.1f%%")
    ui.table(
        frame,
        narrow=narrow,
        hide_index=True,
        key="card_photo_quality",
        column_config=dict.fromkeys(PHOTO_QUALITY_SHARES, share),
    )
