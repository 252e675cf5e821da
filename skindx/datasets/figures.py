"""The statistics figures: one plotly figure per chart, drawn from the chart's table."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from skindx.datasets.metadata import DATASETS, SITES
from skindx.datasets.names import (
    UPLOAD_DATASET,
    dataset_order,
    diagnosis_name,
    diagnosis_order,
    ordered,
)
from skindx.datasets.summary import GROUP_LABELS
from skindx.datasets.tables import group_column

_PALETTE = px.colors.qualitative.Safe
DATASET_COLORS: dict[str, str] = {
    name: color for name, color in zip((*DATASETS, UPLOAD_DATASET), _PALETTE, strict=False)
}
MALIGNANCY_COLORS = {"malignant": "#c0392b", "benign": "#5d9c59", "unknown": "#b0b0b0"}
SEX_COLORS = {"female": "#aa4499", "male": "#3366aa", "unknown": "#b0b0b0"}


def _named(table: pd.DataFrame, column: str = "diagnosis") -> pd.DataFrame:
    """The table with its diagnosis codes replaced by their names, for a chart."""
    names = {value: diagnosis_name(value) for value in table[column].unique()}
    return table.assign(**{column: table[column].map(names)})


def _name_order(values: Iterable[str]) -> list[str]:
    return [diagnosis_name(code) for code in diagnosis_order(values)]


def _colors(values: Iterable[str]) -> dict[str, str]:
    names = list(dict.fromkeys(values))
    spare = iter(_PALETTE[len(DATASET_COLORS) :] + px.colors.qualitative.Pastel)
    return {name: DATASET_COLORS.get(name) or next(spare) for name in names}


def _layout(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0, "title": None},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=height,
    )
    # Long tick labels (diagnosis names, sites) get the room they need instead of being cut.
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig


def _empty_figure(title: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text="No images match the filters", showarrow=False, x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, 240)


def _facet_height(table: pd.DataFrame, per_row: int = 230) -> int:
    return 120 + per_row * max(1, table["dataset"].nunique())


def diagnosis_figure(table: pd.DataFrame, *, percent: bool = False, log: bool = False) -> go.Figure:
    """Grouped bars: images (or % of each dataset) per diagnosis, one colour per dataset."""
    title = "Diagnoses" + (" (% of each dataset)" if percent else " (images)")
    if table.empty:
        return _empty_figure(title)
    value = "percent" if percent else "images"
    fig = px.bar(
        _named(table),
        x="diagnosis",
        y=value,
        color="dataset",
        barmode="group",
        color_discrete_map=_colors(table["dataset"]),
        hover_data={"images": ":,", "percent": ":.1f"},
        log_y=log,
        category_orders={"diagnosis": _name_order(table["diagnosis"])},
        labels={"percent": "% of dataset", "images": "images", "diagnosis": ""},
    )
    return _layout(fig, title, 420)


def malignancy_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars: malignant / benign / unknown share per dataset."""
    title = "Benign or malignant (% of images)"
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        table,
        x="percent",
        y="dataset",
        color="malignancy",
        orientation="h",
        color_discrete_map=MALIGNANCY_COLORS,
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={"percent": "% of images", "dataset": ""},
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, 140 + 50 * table["dataset"].nunique())


def age_figure(table: pd.DataFrame) -> go.Figure:
    """Age distribution per diagnosis (% of that diagnosis), a panel per diagnosis."""
    title = "Age by diagnosis (% of each diagnosis's images, 5-year bins)"
    if table.empty:
        return _empty_figure(title)
    n_codes = table["diagnosis"].nunique()
    fig = px.line(
        _named(table),
        x="age",
        y="percent",
        color="dataset",
        facet_col="diagnosis",
        facet_col_wrap=2,
        facet_row_spacing=0.06,
        markers=True,
        color_discrete_map=_colors(table["dataset"]),
        category_orders={"diagnosis": _name_order(table["diagnosis"])},
        hover_data={"images": ":,"},
        labels={"percent": "%", "age": "age"},
    )
    return _layout(fig, title, 160 + 170 * math.ceil(n_codes / 2))


def _stacked_by_diagnosis(
    table: pd.DataFrame, column: str, title: str, colors: dict[str, str] | None = None
) -> go.Figure:
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        _named(table),
        x="diagnosis",
        y="percent",
        color=column,
        facet_row="dataset",
        color_discrete_map=colors or {},
        category_orders={
            "dataset": dataset_order(table["dataset"]),
            "diagnosis": _name_order(table["diagnosis"]),
        },
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={"percent": "%", "diagnosis": ""},
    )
    fig.update_xaxes(matches=None, showticklabels=True)
    return _layout(fig, title, _facet_height(table))


def sex_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars: sex within each diagnosis, a panel per dataset."""
    return _stacked_by_diagnosis(table, "sex", "Sex by diagnosis (%)", SEX_COLORS)


def confirmation_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars: how each diagnosis was confirmed, a panel per dataset."""
    return _stacked_by_diagnosis(table, "confirmation", "How each diagnosis was confirmed (%)")


def site_figure(table: pd.DataFrame) -> go.Figure:
    """Heat map per dataset: % of each diagnosis's images at each body site."""
    title = "Body site by diagnosis (% of each diagnosis)"
    if table.empty:
        return _empty_figure(title)
    names = dataset_order(table["dataset"])
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, vertical_spacing=0.08)
    for row, name in enumerate(names, start=1):
        part = table[table["dataset"] == name]
        z = part.pivot(index="site", columns="diagnosis", values="percent")
        counts = part.pivot(index="site", columns="diagnosis", values="images")
        sites = ordered(z.index, SITES)
        codes = diagnosis_order(z.columns)
        z, counts = (
            z.reindex(index=sites, columns=codes),
            counts.reindex(index=sites, columns=codes),
        )
        fig.add_trace(_heatmap(z, counts), row=row, col=1)
        fig.update_yaxes(autorange="reversed", row=row, col=1)
    fig.update_layout(coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 100})
    fig.update_layout(coloraxis_colorbar={"title": "%", "thickness": 12})
    return _layout(fig, title, 80 + 260 * len(names))


def _heatmap(z: pd.DataFrame, counts: pd.DataFrame) -> go.Heatmap:
    return go.Heatmap(
        z=z.fillna(0).to_numpy(),
        x=[diagnosis_name(code) for code in z.columns],
        y=list(z.index),
        customdata=counts.fillna(0).astype(int).to_numpy(),
        text=z.round(0).fillna(0).astype(int).to_numpy(),
        texttemplate="%{text}",
        hovertemplate="%{x} at %{y}: %{z:.1f}% (%{customdata:,} images)<extra></extra>",
        coloraxis="coloraxis",
    )


def group_size_figure(table: pd.DataFrame, level: str = "lesion") -> go.Figure:
    """Bars: % of images by how many images their lesion (patient) has."""
    column = group_column(level)
    title = f"Images by how many images their {level} has (%)"
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        table,
        x=column,
        y="percent",
        color="dataset",
        barmode="group",
        color_discrete_map=_colors(table["dataset"]),
        category_orders={column: list(GROUP_LABELS)},
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={column: f"images of the same {level}", "percent": "% of images"},
    )
    # The labels "1"…"5" look like numbers: without a categorical axis plotly draws a numeric
    # one (1.5…5.5) on which "6-10", "11-20", "21-50" and "51+" have no place.
    groups = [label for label in GROUP_LABELS if label in set(table[column])]
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=groups)
    return _layout(fig, title, 400)


def imbalance_figure(table: pd.DataFrame) -> go.Figure:
    """Bars per dataset: accuracy vs balanced accuracy of always answering the commonest class."""
    title = "Always answering the commonest class"
    if table.empty:
        return _empty_figure(title)
    long = table.melt(
        id_vars=["dataset", "majority_class"],
        value_vars=["accuracy", "balanced_accuracy"],
        var_name="metric",
        value_name="score",
    )
    long["metric"] = long["metric"].str.replace("_", " ")
    long["majority_class"] = long["majority_class"].map(diagnosis_name)
    long["score"] = 100 * long["score"]
    fig = px.bar(
        long,
        x="dataset",
        y="score",
        color="metric",
        barmode="group",
        hover_data={"majority_class": True},
        labels={"score": "%", "dataset": "", "majority_class": "commonest class"},
        color_discrete_map={"accuracy": "#999933", "balanced accuracy": "#332288"},
    )
    fig.update_yaxes(range=[0, 100])
    return _layout(fig, title, 380)
