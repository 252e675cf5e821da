"""Presenting results: the batch results table, plotly figures and a one-image PNG report.

Nothing here draws on screen or imports streamlit: the app's pages lay these objects out, and
the same functions serve tests and scripts. Every number in a figure is read from a
:class:`~skindx.diagnosis.predict.Prediction` or from a model card's ``metrics`` (as written by
:mod:`skindx.evaluation.evaluate`); nothing is typed in.
"""

from __future__ import annotations

import datetime
import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from skindx.taxonomy import BY_CODE, CODES, MALIGNANT_CODES

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from skindx.diagnosis.predict import Prediction

__all__ = [
    "CONCERN_LABELS",
    "DISCLAIMER",
    "combined_report_png",
    "confusion_figure",
    "diagnosis_label",
    "history_figure",
    "per_class_table",
    "probability_figure",
    "reliability_figure",
    "report_png",
    "results_csv",
    "results_table",
    "roc_figure",
    "safe_csv",
]

DISCLAIMER = (
    "Educational tool, not a medical device and not a diagnosis. See a doctor or dermatologist "
    "about any spot that is new, changing, bleeding or worrying you."
)
CONCERN_LABELS: Mapping[str, str] = {
    "low": "Low",
    "see_doctor": "See a doctor",
    "see_doctor_soon": "See a doctor soon",
    "not_assessed": "Not assessed",
}
NOT_ANALYSED = "Not analysed"
OUT_OF_DOMAIN_NOTE = "Does not look like a close-up photo of a skin lesion"
CONTEXT_NOTE = "Age, sex and body site taken into account"
SIGNS_NOTE = "Your warning signs taken into account"
PHOTO_NOTE = "Photo darker, brighter or less sharp than the training images"
TABLE_COLUMNS = (
    "file",
    "top_diagnosis",
    "probability",
    "malignant_probability",
    "concern",
    "note",
)
HIGHLIGHT = "#1f5fa8"
MUTED = "#a9b4c2"
MALIGNANT_COLOUR = "#b23a48"
BENIGN_COLOUR = "#3c8d5a"
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def diagnosis_label(code: str) -> str:
    """``"Melanoma"`` for ``"mel"``; unknown codes come back unchanged."""
    return BY_CODE[code].name if code in BY_CODE else code


# ----------------------------------------------------------------------------- results table


def results_table(results: Sequence[tuple[str, Prediction | str]]) -> pd.DataFrame:
    """One row per file: ``(file name, Prediction)`` or ``(file name, rejection message)``.

    Out-of-domain images get no diagnosis (the model's guess would look more confident than it
    is); rejected files keep their row so that a batch reads as complete.
    """
    rows = []
    for name, result in results:
        if isinstance(result, str):
            rows.append(_row(name, None, None, None, NOT_ANALYSED, result))
        elif not result.in_domain:
            concern = CONCERN_LABELS[result.concern]  # not assessed, unless warning signs say
            rows.append(_row(name, None, None, None, concern, _note(result, OUT_OF_DOMAIN_NOTE)))
        else:
            label = result.label
            rows.append(
                _row(
                    name,
                    diagnosis_label(label),
                    result.probabilities[label],
                    result.malignant_probability,
                    CONCERN_LABELS.get(result.concern, result.concern),
                    _note(result),
                )
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _note(result: Prediction, *first: str) -> str:
    notes = (
        *first,
        CONTEXT_NOTE if result.context_used else "",
        SIGNS_NOTE if result.signs else "",
        PHOTO_NOTE if result.notes else "",
    )
    return "; ".join(note for note in notes if note)


def _row(name, label, probability, malignant, concern, note) -> dict[str, Any]:
    return {
        "file": name,
        "top_diagnosis": label,
        "probability": None if probability is None else round(float(probability), 4),
        "malignant_probability": None if malignant is None else round(float(malignant), 4),
        "concern": concern,
        "note": note,
    }


def safe_csv(table: pd.DataFrame) -> bytes:
    """Any table as UTF-8 CSV for a download, safe to open in a spreadsheet: text cells (and
    column names) that a spreadsheet would run as a formula (``=cmd|' /c calc'!A0``) are
    quoted with a leading apostrophe. Every CSV the app offers goes through here, because
    file names and uploaded metadata (diagnoses, sites) come from the person using it."""
    safe = table.rename(columns=_defuse)
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(_defuse)
    return safe.to_csv(index=False).encode("utf-8")


def results_csv(table: pd.DataFrame) -> bytes:
    """The results table (:func:`results_table`) as a formula-safe CSV (:func:`safe_csv`)."""
    return safe_csv(table)


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip(" ").startswith(_CSV_FORMULA_START):
        return "'" + value
    return value


# ----------------------------------------------------------------------------- figures


def probability_figure(prediction: Prediction, highlight: int = 3) -> go.Figure:
    """Horizontal bars of all calibrated probabilities, largest on top; the top
    ``highlight`` bars in colour, the rest muted."""
    import plotly.graph_objects as go

    ranked = prediction.top_k(len(prediction.probabilities))
    codes = [code for code, _ in ranked][::-1]
    values = [100 * p for _, p in ranked][::-1]
    n = len(codes)
    colours = [HIGHLIGHT if i >= n - highlight else MUTED for i in range(n)]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=[_wrap_label(diagnosis_label(code)) for code in codes],
            orientation="h",
            marker_color=colours,
            text=[f"{v:.1f}%" for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"range": [0, 115], "ticksuffix": "%", "showgrid": False, "visible": False},
        yaxis={"automargin": True},
        margin={"l": 0, "r": 10, "t": 10, "b": 10},
        height=40 * n + 30,
        showlegend=False,
    )
    return figure


def _wrap_label(text: str, width: int = 22) -> str:
    """Long class names on two lines, so the bars keep their room on a phone."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def _split_metrics(metrics: Mapping[str, Any]) -> list[str]:
    classes = metrics.get("classes")
    return list(classes) if classes else list(BY_CODE)


def per_class_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Per-class n, sensitivity, specificity and AUC, as recorded (missing figures stay empty)."""
    per_class = metrics.get("per_class") or {}
    rows = []
    for code in _split_metrics(metrics):
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


def members_frame(members: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per ensemble member: seed, teacher, training loop, best epoch, validation score."""
    from skindx.reports.model_card import member_rows

    return pd.DataFrame(member_rows(list(members)))


def confusion_figure(metrics: Mapping[str, Any]) -> go.Figure | None:
    """Row-normalised confusion matrix heat map (cell text: share and count), or ``None``."""
    import plotly.graph_objects as go

    matrix = metrics.get("confusion_matrix")
    if not matrix:
        return None
    counts = np.asarray(matrix, dtype=float)
    classes = _split_metrics(metrics)[: counts.shape[0]]
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
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": "predicted", "side": "bottom"},
        yaxis={"title": "true", "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=420,
    )
    return figure


def context_figure(context: Mapping[str, Any], variable: str) -> go.Figure | None:
    """Heat map of a context table: for each diagnosis (column), the share of its training
    lesions at each age bin, sex or site (each column adds up to 100%)."""
    import plotly.graph_objects as go

    from skindx.diagnosis.context import value_labels

    table = (context.get("tables") or {}).get(variable)
    if not table:
        return None
    shares = np.exp(np.asarray(table, dtype=float))
    classes = list(CODES)[: shares.shape[1]]
    rows = value_labels(variable)
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=classes,
            y=rows,
            text=[[f"{100 * v:.0f}%" for v in row] for row in shares],
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            showscale=False,
            hovertemplate="%{x}: %{text} at %{y}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"title": "diagnosis", "side": "bottom"},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=60 + 42 * len(rows),
    )
    return figure


def roc_figure(metrics: Mapping[str, Any]) -> go.Figure | None:
    """One-vs-rest ROC curve per class (legend shows the recorded AUC), or ``None``."""
    import plotly.graph_objects as go

    rocs = metrics.get("roc")
    if not rocs:
        return None
    per_class = metrics.get("per_class") or {}
    figure = go.Figure()
    for code in _split_metrics(metrics):
        curve = rocs.get(code)
        if not curve or not curve.get("fpr"):
            continue
        auc = (per_class.get(code) or {}).get("auc")
        name = code if auc is None else f"{code} (AUC {auc:.3f})"
        figure.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=name))
    figure.add_trace(_diagonal("chance"))
    figure.update_layout(
        xaxis={"title": "false-positive rate (1 − specificity)", "range": [0, 1]},
        yaxis={"title": "true-positive rate (sensitivity)", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=460,
    )
    return figure


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

    bins = [b for b in metrics.get("reliability") or [] if b.get("count")]
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
    return figure


def history_figure(history: Mapping[str, Sequence[float]] | None) -> go.Figure | None:
    """Training curves (one line per recorded series, epochs from 1), or ``None``."""
    import plotly.graph_objects as go

    series = {k: v for k, v in (history or {}).items() if isinstance(v, list | tuple) and v}
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
    return figure


# ----------------------------------------------------------------------------- PNG report

_WIDTH = 1200
_PAD = 40
_PANEL = 540
_GAP = 40  # between panels: two full-size ones fill the width
_BG = (255, 255, 255)
_INK = (25, 30, 40)
_GREY = (95, 105, 120)
_RULE = (220, 225, 232)


def report_png(
    pixels: np.ndarray,
    prediction: Prediction,
    overlay: np.ndarray | None = None,
    *,
    file_name: str = "",
    model_name: str = "",
    saliency_caption: str = "Grad-CAM: where the model looked for its top diagnosis",
    date: datetime.date | None = None,
) -> bytes:
    """A one-page PNG: the photo, its saliency overlay, all probabilities, the benign/malignant
    summary, the triage message and the disclaimer. Drawn with Pillow's bundled font only.

    Args:
        pixels: the photo, H×W×3 uint8 RGB.
        prediction: its result.
        overlay: the saliency overlay (same kind of array), or ``None`` to leave it out.
        file_name: shown in the header (trimmed); no other personal data is drawn.
        model_name: the model's name and version, from its card.
        saliency_caption: the line under the overlay.
        date: printed in the header (default: today), so reports of one spot taken months
            apart can be put in order and shown to a doctor.
    """
    panels = [(pixels, "The photo")]
    if overlay is not None:
        panels.append((overlay, saliency_caption))
    subtitle = report_subtitle(file_name, model_name, date or datetime.date.today())
    return _draw_report(panels, prediction, subtitle)


def combined_report_png(
    photos: Sequence[tuple[str, np.ndarray]],
    prediction: Prediction,
    *,
    model_name: str = "",
    date: datetime.date | None = None,
) -> bytes:
    """The one-page PNG of several photos of one spot and their combined result
    (``Predictor.combine``): each photo with its file name, then the page of ``report_png``.

    Args:
        photos: (file name, H×W×3 uint8 RGB) of each photo the result combines.
        prediction: the combined result.
        model_name, date: as for ``report_png``.
    """
    panels = [(pixels, name or f"Photo {i}") for i, (name, pixels) in enumerate(photos, 1)]
    what = f"{len(photos)} photos of one spot, combined"
    subtitle = report_subtitle(what, model_name, date or datetime.date.today())
    return _draw_report(panels, prediction, subtitle)


def _panel_layout(count: int) -> tuple[int, int]:
    """(columns, side) of ``count`` square panels: two full-size ones to a row, or up to four
    smaller ones."""
    columns = max(1, count if count <= 2 else min(count, 4))
    side = min(_PANEL, (_WIDTH - 2 * _PAD - _GAP * (columns - 1)) // columns)
    return columns, side


def _draw_report(
    panels: Sequence[tuple[np.ndarray, str]], prediction: Prediction, subtitle: str
) -> bytes:
    from PIL import Image, ImageDraw

    fonts = _fonts()
    lines_after_panels = _report_rows(prediction)
    wrapped_concern = textwrap.wrap(prediction.concern_message, 95)
    # Photo warnings (too dark, bright or blurred) belong with the result they qualify.
    wrapped_notes = [line for note in prediction.notes for line in [*textwrap.wrap(note, 95), ""]]
    wrapped_disclaimer = textwrap.wrap(DISCLAIMER, 105)
    columns, side = _panel_layout(len(panels))
    panel_rows = -(-len(panels) // columns)
    height = (
        _PAD
        + 90
        + panel_rows * (side + 70)
        + 40
        + 38 * len(lines_after_panels)
        + 60
        + 30 * len(wrapped_concern)
        + (10 + 30 * len(wrapped_notes) if wrapped_notes else 0)
        + 40
        + 26 * len(wrapped_disclaimer)
        + _PAD
    )
    canvas = Image.new("RGB", (_WIDTH, height), _BG)
    draw = ImageDraw.Draw(canvas)
    y = _PAD
    draw.text((_PAD, y), "skindx result", font=fonts["title"], fill=_INK)
    y += 48
    draw.text((_PAD, y), subtitle, font=fonts["small"], fill=_GREY)
    y += 42

    caption_chars = max(12, 58 * side // _PANEL)
    for i, (array, caption) in enumerate(panels):
        row, column = divmod(i, columns)
        x, top = _PAD + column * (side + _GAP), y + row * (side + 70)
        thumb = _fit(Image.fromarray(np.ascontiguousarray(array)), side)
        offset = (side - thumb.width) // 2, (side - thumb.height) // 2
        canvas.paste(thumb, (x + offset[0], top + offset[1]))
        draw.rectangle((x, top, x + side, top + side), outline=_RULE, width=2)
        draw.text(
            (x, top + side + 10), _trim(caption, caption_chars), font=fonts["small"], fill=_GREY
        )
    y += panel_rows * (side + 70)

    heading = (
        "Probabilities (calibrated"
        + (", with age, sex and body site)" if prediction.context_used else ")")
        if prediction.in_domain
        else "Not assessed: this does not look like a close-up skin-lesion photo"
    )  # the context's values are personal data: said to be used, never drawn
    draw.text((_PAD, y), heading, font=fonts["heading"], fill=_INK)
    y += 40
    bar_left, bar_width = _PAD + 470, _WIDTH - 2 * _PAD - 470 - 90
    for label, value, colour in lines_after_panels:
        draw.text((_PAD, y), label, font=fonts["body"], fill=_INK)
        draw.rectangle((bar_left, y + 6, bar_left + bar_width, y + 24), fill=(241, 243, 246))
        draw.rectangle((bar_left, y + 6, bar_left + round(bar_width * value), y + 24), fill=colour)
        draw.text(
            (bar_left + bar_width + 10, y), f"{100 * value:.1f}%", font=fonts["body"], fill=_INK
        )
        y += 38
    y += 20
    draw.line((_PAD, y, _WIDTH - _PAD, y), fill=_RULE, width=2)
    y += 20
    draw.text((_PAD, y), "What to do", font=fonts["heading"], fill=_INK)
    y += 40
    for line in wrapped_concern:
        draw.text((_PAD, y), line, font=fonts["body"], fill=_INK)
        y += 30
    y += 10 if wrapped_notes else 0
    for line in wrapped_notes:
        draw.text((_PAD, y), line, font=fonts["body"], fill=_INK)
        y += 30
    y += 20
    for line in wrapped_disclaimer:
        draw.text((_PAD, y), line, font=fonts["small"], fill=_GREY)
        y += 26

    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def report_subtitle(file_name: str, model_name: str, date: datetime.date) -> str:
    """The report's header line: date, file name (trimmed) and model."""
    parts = (f"{date.day} {date:%B %Y}", _trim(file_name, 60), model_name)
    return " · ".join(part for part in parts if part)


def _report_rows(prediction: Prediction) -> list[tuple[str, float, tuple[int, int, int]]]:
    if not prediction.in_domain:  # no confident diagnosis: draw no figures at all
        return []
    rows = []
    for rank, (code, p) in enumerate(prediction.top_k(len(prediction.probabilities))):
        colour = _hex(HIGHLIGHT) if rank < 3 else _hex(MUTED)
        rows.append((diagnosis_label(code), p, colour))
    malignant = prediction.malignant_probability
    rows.append(("All cancer types together", malignant, _hex(MALIGNANT_COLOUR)))
    rows.append(("All non-cancer types together", 1.0 - malignant, _hex(BENIGN_COLOUR)))
    return rows


def _fonts() -> dict[str, Any]:
    from PIL import ImageFont

    def font(size: int):
        try:
            return ImageFont.load_default(size=size)
        except (ImportError, OSError):  # Pillow without FreeType: the small bitmap font
            return ImageFont.load_default()

    return {"title": font(36), "heading": font(26), "body": font(22), "small": font(18)}


def _fit(image, size: int):
    from PIL import Image

    scale = size / max(image.width, image.height)
    new = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("RGB").resize(new, Image.Resampling.LANCZOS)


def _trim(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _hex(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
