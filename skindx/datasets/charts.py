"""The Statistics page's charts, each whole: its table, figure, takeaway and the note of what it
leaves out, computed from a filtered cube in one call, so that a page can keep (cache) them
whole for data that is not a person's upload."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from skindx.datasets import figures, tables, takeaways
from skindx.datasets.filters import Filters

if TYPE_CHECKING:
    import plotly.graph_objects as go


@dataclass(frozen=True)
class Chart:
    """One chart as the page shows it; ``note``: what it leaves out ("" where nothing)."""

    key: str
    table: pd.DataFrame
    figure: go.Figure
    takeaway: str
    note: str = ""


@dataclass(frozen=True)
class _Recipe:
    table: Callable[[pd.DataFrame], pd.DataFrame]
    figure: Callable[[pd.DataFrame], go.Figure]
    takeaway: Callable[[pd.DataFrame, Filters], str]
    per_diagnosis: bool = False  # shares within each diagnosis: too small ones are left out


_RECIPES = {
    "malignancy": _Recipe(
        tables.malignancy_table, figures.malignancy_figure, takeaways.malignancy_takeaway
    ),
    "balanced_accuracy": _Recipe(
        tables.imbalance_table, figures.imbalance_figure, takeaways.imbalance_takeaway
    ),
    **{
        key: _Recipe(
            getattr(tables, f"{key}_table"),
            getattr(figures, f"{key}_figure"),
            getattr(takeaways, f"{key}_takeaway"),
            per_diagnosis=True,
        )
        for key in ("age", "sex", "site", "confirmation")
    },
}
CHARTS = ("diagnoses", *_RECIPES, "images_per_lesion", "images_per_patient")


def chart(
    key: str, view: pd.DataFrame, filters: Filters, *, percent: bool = False, log: bool = False
) -> Chart | None:
    """The chart ``key`` (one of :data:`CHARTS`) of the filtered cube ``view``; ``percent`` and
    ``log`` for the diagnoses' chart. ``None`` for an images-per-lesion (patient) chart where
    no image shown has a lesion (patient) id."""
    if key == "diagnoses":
        table = tables.diagnosis_table(view)
        figure = figures.diagnosis_figure(table, percent=percent, log=log and not percent)
        return Chart(key, table, figure, takeaways.diagnosis_takeaway(table, filters))
    if key.startswith("images_per_"):
        level = key.removeprefix("images_per_")
        table = tables.group_size_table(view, level)
        if table.empty:
            return None
        figure = figures.group_size_figure(table, level)
        return Chart(key, table, figure, takeaways.group_size_takeaway(table, level))
    recipe = _RECIPES[key]
    table = recipe.table(view)
    note = takeaways.too_few_note(table) if recipe.per_diagnosis else ""
    return Chart(key, table, recipe.figure(table), recipe.takeaway(table, filters), note)
