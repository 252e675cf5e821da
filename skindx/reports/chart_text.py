"""The Model card page's charts as text: each chart's numbers as a table, with a sentence on
what it shows, for a screen reader, which gets nothing from a plotly chart (and for anyone
who wants the figures behind a bar)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from skindx.diagnosis.context import VARIABLE_LABELS, value_labels
from skindx.reports.card_view import percent_span, value_text
from skindx.reports.figures import (
    context_shares,
    history_series,
    reliability_bins,
    split_classes,
)
from skindx.reports.numbers import percent
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import CODES


class ChartText(NamedTuple):
    """A chart's numbers as a table (its first column heads each row), a plain sentence on what
    it shows and a note on reading it ("" if none); ``narrow``: the same in fewer columns of
    text for a phone or tablet, where ``table`` has too many (``None``: ``table`` fits)."""

    table: pd.DataFrame
    summary: str = ""
    note: str = ""
    narrow: pd.DataFrame | None = None


ROC_POINT = 0.9  # the sensitivity and specificity the ROC table reads the curves at
AT = f"{ROC_POINT:.0%}"
ROC_COLUMNS = ["diagnosis", "AUC", "sensitivity as top class", "specificity as top class"]
ROC_COLUMNS += [f"sensitivity at {AT} specificity", f"specificity at {AT} sensitivity"]
PREDICTED = "predicted: "  # the confusion table's column headings, read out with each count


def confusion_text(metrics: Mapping[str, Any]) -> ChartText | None:
    """The confusion matrix's counts, a true diagnosis per row and the model's top class per
    column, both with their full names, and the commonest mistakes; ``None`` without one."""
    matrix = metrics.get("confusion_matrix")
    if not matrix:
        return None
    counts = np.asarray(matrix, dtype=int)
    names = [diagnosis_label(code) for code in split_classes(metrics)]
    names = names[: counts.shape[0]]
    table = pd.DataFrame(counts, columns=[PREDICTED + name for name in names])
    table.insert(0, "true diagnosis", names)
    table["images"] = counts.sum(axis=1)
    # A phone's row: the true diagnosis, then what the model called its images, commonest first.
    called = [
        "; ".join(
            f"{name}: {count:,}"
            for name, count in sorted(zip(names, row, strict=True), key=lambda x: -x[1])
            if count
        )
        for row in counts
    ]
    narrow = table[["true diagnosis", "images"]].assign(
        **{"the model's top class: images (the rest none)": called}
    )
    return ChartText(table, _mistakes_sentence(counts, names), narrow=narrow)


def _mistakes_sentence(counts: np.ndarray, names: list[str]) -> str:
    """The commonest mistake by count and, where another, the largest by share of its row."""
    wrong = counts * (1 - np.eye(*counts.shape, dtype=int))
    if not wrong.any():
        return "The model's top class was the true diagnosis for every image."
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(wrong, totals, out=np.zeros(wrong.shape), where=totals > 0)

    def mistake(true: int, called: int) -> str:
        return (
            f"{names[true].lower()} taken for {names[called].lower()} ({wrong[true, called]:,} "
            f"of {totals[true, 0]:,} images, {percent(shares[true, called])})"
        )

    most = np.unravel_index(wrong.argmax(), wrong.shape)
    largest = np.unravel_index(shares.argmax(), shares.shape)
    sentence = f"The commonest mistake: {mistake(*most)}"
    if largest != most:
        sentence += f"; the largest share of one diagnosis: {mistake(*largest)}"
    return sentence + "."


def roc_text(metrics: Mapping[str, Any]) -> ChartText | None:
    """Each ROC curve's class with its AUC, its sensitivity and specificity where the top class
    decides (the per-class table's) and, read off the curve as drawn, its sensitivity at 90%
    specificity and specificity at 90% sensitivity; ``None`` without curves."""
    rocs, per_class = metrics.get("roc") or {}, metrics.get("per_class") or {}
    rows, aucs = [], {}
    for code in split_classes(metrics):
        curve, figures = rocs.get(code) or {}, per_class.get(code) or {}
        if not curve.get("fpr"):
            continue
        if figures.get("auc") is not None:
            aucs[diagnosis_label(code).lower()] = figures["auc"]
        rows.append(
            [
                diagnosis_label(code),
                value_text(figures.get("auc"), "auc"),
                percent(figures.get("sensitivity")),
                percent(figures.get("specificity")),
                percent(_along(curve["fpr"], curve["tpr"], 1 - ROC_POINT)),
                percent(1 - _along(curve["tpr"], curve["fpr"], ROC_POINT)),
            ]
        )
    if not rows:
        return None
    table = pd.DataFrame(rows, columns=ROC_COLUMNS)
    summary = ""
    if len(aucs) > 1:
        best, worst = max(aucs, key=aucs.get), min(aucs, key=aucs.get)
        summary = (
            f"Told apart from the other diagnoses best: {best} (AUC {aucs[best]:.3f}); worst: "
            f"{worst} (AUC {aucs[worst]:.3f}). An AUC of 0.5 is guessing, 1 is perfect."
        )
    note = (
        "As top class: found when it is the model's top class (the per-class table's figures). "
        f"At {AT}: read off the curve, another cut-off on the class's probability."
    )
    # A phone's four columns: each point's two rates in one cell of words.
    sensitivity, specificity, at_specificity, at_sensitivity = (table[c] for c in ROC_COLUMNS[2:])
    narrow = table[ROC_COLUMNS[:2]].assign(
        **{
            "as top class": "sensitivity " + sensitivity + ", specificity " + specificity,
            f"read off the curve at {AT}": "sensitivity "
            + at_specificity
            + f" at {AT} specificity; specificity "
            + at_sensitivity
            + f" at {AT} sensitivity",
        }
    )
    return ChartText(table, summary, note, narrow)


def _along(x: list[float], y: list[float], at: float) -> float:
    """``y`` at ``x = at`` on the curve through ``(x, y)`` (both never falling, as a ROC curve's
    rates) as the chart draws it: straight lines between the points."""
    after = next((j for j, value in enumerate(x) if value > at), None)
    if after is None:
        return max(y)
    if after == 0:
        return y[0]
    before = after - 1
    step = (at - x[before]) / (x[after] - x[before])
    return y[before] + step * (y[after] - y[before])


def reliability_text(metrics: Mapping[str, Any]) -> ChartText | None:
    """The reliability diagram's bins that hold images: the confidence range, the model's mean
    confidence in it, how often its top class was right and the number of images; and how many
    bins were over-confident. ``None`` without bins."""
    bins = reliability_bins(metrics)
    if not bins:
        return None
    spans = [{"low": b["lower"], "high": b["upper"]} for b in bins]
    table = pd.DataFrame(
        {
            "confidence range": [percent_span(span) for span in spans],
            "mean confidence": [percent(b["confidence"]) for b in bins],
            "top class right": [percent(b["accuracy"]) for b in bins],
            "images": [f"{b['count']:,}" for b in bins],
        }
    )
    over = sum(b["accuracy"] < b["confidence"] for b in bins)
    under = sum(b["accuracy"] > b["confidence"] for b in bins)
    summary = (
        f"In {over} of the {len(bins)} confidence ranges with images the top class was right "
        f"less often than the model's confidence said (over-confident), in {under} more often."
    )
    return ChartText(table, summary)


def history_text(history: Mapping[str, Any] | None) -> ChartText | None:
    """The training curves' values, one row per epoch (from 1); ``None`` without any."""
    series = history_series(history)
    if not series:
        return None
    epochs = max(len(values) for values in series.values())
    table = pd.DataFrame({"epoch": range(1, epochs + 1)})
    for name, values in series.items():
        table[name] = [f"{v:.4g}" for v in values] + [""] * (epochs - len(values))
    return ChartText(table)


def context_text(context: Mapping[str, Any], variable: str) -> ChartText | None:
    """A context chart's shares: for each age bin, sex or site (rows), the share of each
    diagnosis's training lesions there (columns, each adding up to 100%); ``None`` without it."""
    shares = context_shares(context, variable)
    if shares is None:
        return None
    names = [diagnosis_label(code) for code in CODES][: shares.shape[1]]
    values = value_labels(variable)[: shares.shape[0]]
    cells = [[f"{100 * v:.0f}%" for v in row] for row in shares]
    frame = pd.DataFrame(cells, columns=names)
    frame.insert(0, VARIABLE_LABELS[variable], values)
    # A phone's row: one diagnosis, as the chart's column, its shares adding up to 100%.
    spread = [
        "; ".join(f"{value}: {row[k]}" for value, row in zip(values, cells, strict=True))
        for k in range(len(names))
    ]
    heading = f"its training lesions by {VARIABLE_LABELS[variable].lower()}"
    return ChartText(frame, narrow=pd.DataFrame({"diagnosis": names, heading: spread}))
