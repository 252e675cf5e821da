"""The one-page PNG report of a prediction (the photo, its saliency overlay, every probability,
the warning signs the person ticked, the triage message and the disclaimer), dated so reports
of one spot months apart can be put in order, and a saliency overlay's own PNG with its colour
scale; drawn with Pillow's bundled font only."""

from __future__ import annotations

import datetime
import io
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from skindx.datasets.themes import BENIGN_COLOUR, HIGHLIGHT, MALIGNANT_COLOUR, MUTED
from skindx.reports.numbers import counted, probability
from skindx.reports.results import DISCLAIMER, LIMITS_SHORT, diagnosis_label, not_assessed

if TYPE_CHECKING:
    from skindx.diagnosis.predict import Prediction

__all__ = [
    "combined_report_png",
    "overlay_png",
    "report_png",
    "report_rows",
    "report_signs",
    "report_subtitle",
]

_WIDTH = 1200
_PAD = 40
_PANEL = 540
_GAP = 40  # between panels: two full-size ones fill the width
_BG = (255, 255, 255)
_INK = (25, 30, 40)
_GREY = (95, 105, 120)
_RULE = (220, 225, 232)
_OVERLAY_MIN_WIDTH = 480
SIGNS_HEADING = "Warning signs you noticed"


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
    summary, the warning signs the person ticked, the triage message and the disclaimer.
    Drawn with Pillow's bundled font only.

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
    what = f"{counted(len(photos), 'photo')} of one spot, combined"
    subtitle = report_subtitle(what, model_name, date or datetime.date.today())
    return _draw_report(panels, prediction, subtitle)


def overlay_png(
    overlay: np.ndarray,
    colormap: str,
    *,
    alpha: float = 1.0,
    photo: np.ndarray | None = None,
    caption: str = "",
) -> bytes:
    """A saliency overlay (RGB uint8) as a PNG file with its colour scale under it, named as
    on the page (weaker · influence on the score · stronger): a map that leaves the app still
    says which colour means strong. ``alpha`` and ``photo``: the overlay's opacity and the
    photo under it, which the scale is blended with as on the page (:func:`legend`). A map
    narrower than :data:`_OVERLAY_MIN_WIDTH` is enlarged first, so the words under it stay
    legible (the test set's images are 224 px). ``caption``: what the map shows (the page's
    caption and the image's name), written under the scale, so a saved map still says it."""
    from PIL import Image, ImageDraw

    from skindx.explain.overlay import legend
    from skindx.reports.saliency_view import LEGEND_ENDS, LEGEND_MIDDLE

    picture = Image.fromarray(np.ascontiguousarray(overlay))
    if picture.width < _OVERLAY_MIN_WIDTH:
        scale = _OVERLAY_MIN_WIDTH / picture.width
        picture = picture.resize((_OVERLAY_MIN_WIDTH, round(picture.height * scale)), Image.LANCZOS)
    width, height = picture.size
    size = max(14, width // 32)
    font = _font(size)
    strip, gap = max(8, width // 50), max(4, width // 100)
    text_top = height + gap + strip + gap
    caption_lines = textwrap.wrap(caption, max(20, int(width / (0.55 * size))))
    line_height = size + gap
    caption_top = text_top + size + 2 * gap
    bottom = caption_top + (line_height * len(caption_lines) + gap if caption_lines else 0)
    canvas = Image.new("RGB", (width, bottom), _BG)
    canvas.paste(picture, (0, 0))
    scale = legend(colormap, width, strip, alpha=alpha, photo=photo)
    canvas.paste(Image.fromarray(scale), (0, height + gap))
    draw = ImageDraw.Draw(canvas)
    # Words only: Pillow's bundled font has no arrows (they came out as empty boxes).
    weaker, stronger = LEGEND_ENDS
    for text, x in (
        (weaker, gap),
        (LEGEND_MIDDLE, (width - draw.textlength(LEGEND_MIDDLE, font=font)) / 2),
        (stronger, width - gap - draw.textlength(stronger, font=font)),
    ):
        draw.text((x, text_top), text, font=font, fill=_INK)
    for row, line in enumerate(caption_lines):
        draw.text((gap, caption_top + row * line_height), line, font=font, fill=_GREY)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


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
    lines_after_panels = report_rows(prediction)
    wrapped_concern = textwrap.wrap(prediction.concern_message, 95)
    # Photo warnings (too dark, bright or blurred) belong with the result they qualify; a
    # refusal's one note is the advice above already.
    notes = () if prediction.refusal else prediction.notes
    wrapped_notes = [line for note in notes for line in [*textwrap.wrap(note, 95), ""]]
    wrapped_signs = report_signs(prediction)
    wrapped_disclaimer = report_footer()
    columns, side = _panel_layout(len(panels))
    panel_rows = -(-len(panels) // columns)
    height = (
        _PAD
        + 90
        + panel_rows * (side + 70)
        + 40
        + 38 * len(lines_after_panels)
        + (40 + 30 * len(wrapped_signs) + 20 if wrapped_signs else 0)
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
        else f"Not assessed: {_lower_first(not_assessed(prediction))}"
    )  # the context's values are personal data: said to be used, never drawn
    draw.text((_PAD, y), heading, font=fonts["heading"], fill=_INK)
    y += 40
    bar_left, bar_width = _PAD + 470, _WIDTH - 2 * _PAD - 470 - 90
    for label, value, written, colour in lines_after_panels:
        draw.text((_PAD, y), label, font=fonts["body"], fill=_INK)
        draw.rectangle((bar_left, y + 6, bar_left + bar_width, y + 24), fill=(241, 243, 246))
        draw.rectangle((bar_left, y + 6, bar_left + round(bar_width * value), y + 24), fill=colour)
        draw.text((bar_left + bar_width + 10, y), written, font=fonts["body"], fill=_INK)
        y += 38
    y += 20
    draw.line((_PAD, y, _WIDTH - _PAD, y), fill=_RULE, width=2)
    y += 20
    if wrapped_signs:  # what the person told the app, which the advice takes into account
        draw.text((_PAD, y), SIGNS_HEADING, font=fonts["heading"], fill=_INK)
        y += 40
        for line in wrapped_signs:
            draw.text((_PAD, y), line, font=fonts["body"], fill=_INK)
            y += 30
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


def report_rows(prediction: Prediction) -> list[tuple[str, float, str, tuple[int, int, int]]]:
    """The report's bars: (label, probability, the probability as written, colour). Written as
    the page writes it (``numbers.probability``: "69%", "<1%"), so report and screen agree."""
    if not prediction.in_domain:  # no confident diagnosis: draw no figures at all
        return []
    rows = []
    for rank, (code, p) in enumerate(prediction.top_k(len(prediction.probabilities))):
        colour = _hex(HIGHLIGHT) if rank < 3 else _hex(MUTED)
        rows.append((diagnosis_label(code), p, colour))
    malignant = prediction.malignant_probability
    rows.append(("All cancer types together", malignant, _hex(MALIGNANT_COLOUR)))
    rows.append(("All non-cancer types together", 1.0 - malignant, _hex(BENIGN_COLOUR)))
    return [(label, p, probability(p), colour) for label, p, colour in rows]


def report_footer() -> list[str]:
    """The disclaimer and the model's two main limits, wrapped: a report travels without the
    page that said them."""
    return textwrap.wrap(f"{DISCLAIMER} {LIMITS_SHORT}", 105)


def report_signs(prediction: Prediction) -> list[str]:
    """The lines listing the warning signs the person ticked, wrapped, each after a dash (the
    bundled font has no bullet); none where they ticked none. The single-photo and the
    combined report draw them alike."""
    from skindx.diagnosis.signs import noticed

    return [
        line
        for question in noticed(prediction.signs)
        for line in textwrap.wrap(question, 92, initial_indent="- ", subsequent_indent="  ")
    ]


def _fonts() -> dict[str, Any]:
    return {"title": _font(36), "heading": _font(26), "body": _font(22), "small": _font(18)}


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _fit(image, size: int):
    from PIL import Image

    scale = size / max(image.width, image.height)
    new = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("RGB").resize(new, Image.Resampling.LANCZOS)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _trim(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _hex(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
