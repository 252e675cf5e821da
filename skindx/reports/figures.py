"""Plotly figures and tables of results and evaluations: a prediction's probabilities, and
from a model card's ``metrics`` (as written by :mod:`skindx.evaluation.evaluate`) the per-class
table, confusion matrix, ROC curves, reliability diagram, context tables, training curves
and ensemble members. Every number is read from the prediction or the card; nothing is typed
in, and plotly is imported only when a figure is drawn.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from skindx.datasets.names import diagnosis_name
from skindx.datasets.themes import HEAT_SCALE, HIGHLIGHT, MALIGNANT_COLOUR
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import BY_CODE, CODES, MALIGNANT_CODES

if TYPE_CHECKING:
    import plotly.graph_objects as go


__all__ = [
    "confusion_figure",
    "context_figure",
    "history_figure",
    "per_class_table",
    "reliability_figure",
    "roc_figure",
]


def _readable(figure: go.Figure) -> go.Figure:
    """The figure in the app's chart text colours (:func:`skindx.datasets.figures.readable`),
    imported only when a figure is drawn, as plotly is."""
    from skindx.datasets.figures import readable

    return readable(figure)


# A heat map's diagnosis ticks: the Statistics page's short names on lines of up to 10
# characters, side by side under a laptop's columns and upright under a phone's. The two long
# words are hyphenated: whole, their width left a phone's cells room only for 9 px figures.
_TICK_WIDTH = 10
_TICK_NAMES = {"df": "Dermato-fibroma", "nv": "Melano-cytic nevus"}
_ROW_TICK_WIDTH = 20  # a context chart's rows: "Palm of the hand or / sole of the foot"


def _ticks(categories: Sequence[str], texts: Sequence[str], width: int) -> dict[str, Any]:
    """An axis whose ``categories`` (the full names, which the hover text shows) are labelled
    with ``texts`` wrapped at ``width`` (a line may end at a hyphen)."""
    wrap = textwrap.TextWrapper(width, break_long_words=False, break_on_hyphens=True).wrap
    return {
        "tickmode": "array",
        "tickvals": list(categories),
        "ticktext": ["<br>".join(wrap(text)) or text for text in texts],
        "automargin": True,
    }


def _diagnosis_ticks(codes: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """The full names of ``codes`` as a heat map's categories, and its axis settings that
    label them with the short ones (HAM10000's codes mean nothing to the public)."""
    names = [diagnosis_label(code) for code in codes]
    texts = [_TICK_NAMES.get(code) or diagnosis_name(code) for code in codes]
    return names, _ticks(names, texts, _TICK_WIDTH)


def split_classes(metrics: Mapping[str, Any]) -> list[str]:
    """The class codes an evaluation's figures are in, in order."""
    classes = metrics.get("classes")
    return list(classes) if classes else list(BY_CODE)


def reliability_bins(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reliability diagram's bins that hold images."""
    return [b for b in metrics.get("reliability") or [] if b.get("count")]


def history_series(history: Mapping[str, Any] | None) -> dict[str, Sequence[float]]:
    """The training curves recorded (a list of values per name; a single number is none)."""
    return {k: v for k, v in (history or {}).items() if isinstance(v, list | tuple) and v}


def per_class_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Per-class n, sensitivity, specificity and AUC, as recorded (missing figures stay empty)."""
    per_class = metrics.get("per_class") or {}
    rows = []
    for code in split_classes(metrics):
        figures = per_class.get(code)
        if figures is None:
            continue
        rows.append(
            {
                "diagnosis": diagnosis_label(code),
                "malignant": code in MALIGNANT_CODES,
                "n": figures.get("n"),
                "sensitivity": figures.get("sensitivity"),
                "specificity": figures.get("specificity"),
                "auc": figures.get("auc"),
            }
        )
    return pd.DataFrame(
        rows, columns=["diagnosis", "malignant", "n", "sensitivity", "specificity", "auc"]
    )


def confusion_figure(metrics: Mapping[str, Any]) -> go.Figure | None:
    """Row-normalised confusion matrix heat map (cell text: share and count), or ``None``."""
    import plotly.graph_objects as go

    matrix = metrics.get("confusion_matrix")
    if not matrix:
        return None
    counts = np.asarray(matrix, dtype=float)
    classes, ticks = _diagnosis_ticks(split_classes(metrics)[: counts.shape[0]])
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    text = [
        [f"{100 * s:.0f}%<br>({int(c)})" for s, c in zip(srow, crow, strict=True)]
        for srow, crow in zip(shares, counts, strict=True)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=classes,
            y=classes,
            text=text,
            texttemplate="%{text}",
            colorscale=HEAT_SCALE,
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": "predicted", "side": "bottom", **ticks},
        yaxis={"title": "true", "autorange": "reversed", **ticks},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=420,
    )
    return _readable(figure)


def context_shares(context: Mapping[str, Any], variable: str) -> np.ndarray | None:
    """A context table's shares (rows: age bins, sexes or sites; columns: diagnoses, each
    adding up to 1), from the log shares the card keeps; ``None`` without the table."""
    table = (context.get("tables") or {}).get(variable)
    return np.exp(np.asarray(table, dtype=float)) if table else None


def context_figure(context: Mapping[str, Any], variable: str) -> go.Figure | None:
    """Heat map of a context table: for each diagnosis (column), the share of its training
    lesions at each age bin, sex or site (each column adds up to 100%)."""
    import plotly.graph_objects as go

    from skindx.diagnosis.context import value_labels

    shares = context_shares(context, variable)
    if shares is None:
        return None
    classes, ticks = _diagnosis_ticks(list(CODES)[: shares.shape[1]])
    rows = value_labels(variable)
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=classes,
            y=rows,
            text=[[f"{100 * v:.0f}%" for v in row] for row in shares],
            texttemplate="%{text}",
            colorscale=HEAT_SCALE,
            zmin=0,
            showscale=False,
            hovertemplate="%{x}: %{text} at %{y}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": "diagnosis", "side": "bottom", **ticks},
        yaxis={"autorange": "reversed", **_ticks(rows, rows, _ROW_TICK_WIDTH)},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=60 + 42 * len(rows),
    )
    return _readable(figure)


def roc_figure(metrics: Mapping[str, Any]) -> go.Figure | None:
    """One-vs-rest ROC curve per class (legend shows the recorded AUC), or ``None``."""
    import plotly.graph_objects as go

    rocs = metrics.get("roc")
    if not rocs:
        return None
    per_class = metrics.get("per_class") or {}
    figure = go.Figure()
    for code in split_classes(metrics):
        curve = rocs.get(code)
        if not curve or not curve.get("fpr"):
            continue
        auc = (per_class.get(code) or {}).get("auc")
        name = diagnosis_name(code) if auc is None else f"{diagnosis_name(code)} (AUC {auc:.3f})"
        figure.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=name))
    figure.add_trace(_diagonal("chance"))
    figure.update_layout(
        xaxis={"title": "false-positive rate (1 − specificity)", "range": [0, 1]},
        yaxis={"title": "true-positive rate (sensitivity)", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=520,  # a phone's legend takes a row per diagnosis name, under a square plot
    )
    return _readable(figure)


def _diagonal(name: str):
    """The dotted y = x reference line of ROC and reliability plots."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        line={"dash": "dot", "color": "grey"},
        name=name,
        hoverinfo="skip",
    )


def reliability_figure(metrics: Mapping[str, Any]) -> go.Figure | None:
    """Reliability diagram: accuracy against mean confidence per bin, or ``None``."""
    import plotly.graph_objects as go

    bins = reliability_bins(metrics)
    if not bins:
        return None
    centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
    widths = [b["upper"] - b["lower"] for b in bins]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=centres,
            y=[b["accuracy"] for b in bins],
            width=widths,
            name="accuracy in bin",
            marker_color=HIGHLIGHT,
            customdata=[[b["count"], b["confidence"]] for b in bins],
            hovertemplate=(
                "confidence %{customdata[1]:.2f}: accuracy %{y:.2f} "
                "(%{customdata[0]} images)<extra></extra>"
            ),
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[b["confidence"] for b in bins],
            y=[b["confidence"] for b in bins],
            mode="markers",
            marker={"color": MALIGNANT_COLOUR, "size": 8},
            name="mean confidence",
            hoverinfo="skip",
        )
    )
    figure.add_trace(_diagonal("perfect calibration"))
    figure.update_layout(
        xaxis={"title": "confidence (top probability)", "range": [0, 1]},
        yaxis={"title": "accuracy", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
        bargap=0.05,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=420,
    )
    return _readable(figure)


def history_figure(history: Mapping[str, Sequence[float]] | None) -> go.Figure | None:
    """Training curves (one line per recorded series, epochs from 1), or ``None``."""
    import plotly.graph_objects as go

    series = history_series(history)
    if not series:
        return None
    figure = go.Figure()
    for name, values in series.items():
        figure.add_trace(
            go.Scatter(x=list(range(1, len(values) + 1)), y=list(values), mode="lines", name=name)
        )
    figure.update_layout(
        xaxis={"title": "epoch"},
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=380,
    )
    return _readable(figure)
