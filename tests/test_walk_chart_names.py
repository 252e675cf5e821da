"""The model card's charts name the diagnoses as people do, never by HAM10000's codes ("akiec",
"nv"), which the public and educators do not know: on the axes, in the legend and on hover."""

from __future__ import annotations

import json
import re

import pytest

from skindx.config import DEFAULT_MODEL_DIR
from skindx.diagnosis.context import VARIABLE_LABELS
from skindx.reports.figures import confusion_figure, context_figure, roc_figure
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import CODES

BARE_CODE = re.compile(rf"\b({'|'.join(CODES)})\b")


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((DEFAULT_MODEL_DIR / "card.json").read_text(encoding="utf-8"))


def _figures(card: dict) -> dict:
    metrics = card["metrics"]["test"]
    built = {"confusion": confusion_figure(metrics), "roc": roc_figure(metrics)}
    for variable in VARIABLE_LABELS:
        built[f"context {variable}"] = context_figure(card["context"], variable)
    return built


def _shown(fig) -> list[str]:
    """Every text the chart draws besides its numbers: tick labels, categories, legend names."""
    texts = [t.name for t in fig.data if t.name]
    for trace in fig.data:
        for values in (getattr(trace, "x", None), getattr(trace, "y", None)):
            texts += [v for v in values or () if isinstance(v, str)]
    for axis in (*fig.select_xaxes(), *fig.select_yaxes()):
        texts += list(axis.ticktext or ())
        texts.append(axis.title.text or "")
    return texts


def test_no_chart_shows_a_bare_code(card) -> None:
    for name, fig in _figures(card).items():
        assert fig is not None, name
        shown = [text for text in _shown(fig) if BARE_CODE.search(text)]
        assert not shown, (name, shown)


def test_heat_maps_hover_with_full_names_and_label_ticks_short(card) -> None:
    """The categories (what the hover text says) are the full names; the ticks wrap short
    ones onto lines of at most 10 characters, so the columns keep their room on a phone."""
    full = [diagnosis_label(code) for code in CODES]
    for name, fig in _figures(card).items():
        if name == "roc":
            continue
        (heatmap,) = fig.data
        assert list(heatmap.x) == full, name
        assert list(fig.layout.xaxis.tickvals) == full, name
        lines = [line for tick in fig.layout.xaxis.ticktext for line in tick.split("<br>")]
        assert max(map(len, lines)) <= 10, (name, lines)
        assert "%{x}" in heatmap.hovertemplate
    confusion = _figures(card)["confusion"]
    assert list(confusion.data[0].y) == full
    assert confusion.layout.yaxis.ticktext == confusion.layout.xaxis.ticktext


def test_context_rows_wrap_and_roc_legend_names(card) -> None:
    site = _figures(card)["context site"]
    assert "Palm of the hand or<br>sole of the foot" in site.layout.yaxis.ticktext
    names = [t.name for t in _figures(card)["roc"].data]
    auc = card["metrics"]["test"]["per_class"]["nv"]["auc"]
    assert f"Melanocytic nevus (AUC {auc:.3f})" in names
