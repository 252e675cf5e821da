"""Live figures: the sentences and charts that lesson placeholders draw from the statistics
summary and the model card (never a typed-in number), and the SVG figures in ``content/figures/``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skindx.config import CONTENT_DIR, DEFAULT_MODEL_DIR, STATS_SUMMARY_PATH, settings
from skindx.model.card import CARD_FILE
from skindx.taxonomy import BY_CODE, CODES, normalize_diagnosis
from skindx.teaching.lesson import SLUG, LessonNotFound

if TYPE_CHECKING:
    import plotly.graph_objects as go

FIGURES_DIR = CONTENT_DIR / "figures"
CHARTS: tuple[str, ...] = ("diagnosis_counts", "model_per_class")

# How the lessons name each class in running text (plural, for "found 62% of melanomas").
PLURAL_NAMES: dict[str, str] = {
    "akiec": "actinic keratoses and intraepithelial carcinomas",
    "bcc": "basal cell carcinomas",
    "bkl": "benign keratosis-like lesions",
    "df": "dermatofibromas",
    "mel": "melanomas",
    "nv": "moles (melanocytic nevi)",
    "vasc": "vascular lesions",
}

# Short class names for chart axes, where the full names would be cut off.
SHORT_NAMES: dict[str, str] = {
    "akiec": "AK / Bowen's",
    "bcc": "Basal cell (BCC)",
    "bkl": "Benign keratosis",
    "df": "Dermatofibroma",
    "mel": "Melanoma",
    "nv": "Mole (nevus)",
    "vasc": "Vascular lesion",
}

DATASET_LABELS: dict[str, str] = {
    "ham10000": "HAM10000",
    "isic2018": "the ISIC 2018 challenge data",
    "isic2018test": "the ISIC 2018 test set",
    "isic2018task3test": "the ISIC 2018 test set",
    "isic2019": "ISIC 2019",
    "isic2019train": "ISIC 2019",
    "isic2019training": "ISIC 2019",
    "isic2020": "ISIC 2020",
    "isic2020train": "ISIC 2020",
    "isic2020training": "ISIC 2020",
}

_DATASET_ORDER = ("ham10000", "isic2018", "isic2019", "isic2020")
_COUNT_KEYS = ("diagnosis_counts", "dx_counts", "class_counts", "counts_by_diagnosis")
_TOTAL_KEYS = ("total", "all", "n", "count", "images")


@dataclass(frozen=True)
class Figure:
    name: str
    svg: str
    title: str


@dataclass(frozen=True)
class Chart:
    """Table-shaped data for a chart: ``data[series][row] = value``; empty with a ``note``."""

    name: str
    title: str
    y_label: str
    data: dict[str, dict[str, float]]
    note: str = ""


def load_stats_summary(path: Path | None = None) -> dict[str, Any] | None:
    """The bundled statistics summary, or ``None`` when it is missing or unreadable."""
    return _read_json(STATS_SUMMARY_PATH if path is None else Path(path))


def load_model_card(path: Path | None = None) -> dict[str, Any] | None:
    """The model card as a dict (``SKINDX_MODEL`` or the shipped default), or ``None``."""
    if path is None:
        path = settings().model_dir or DEFAULT_MODEL_DIR
    path = Path(path)
    return _read_json(path / CARD_FILE if path.is_dir() else path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def diagnosis_counts(summary: Mapping[str, Any] | None) -> dict[str, dict[str, int]]:
    """Per-dataset image counts by diagnosis code, read tolerantly from a statistics summary.

    Looks for ``{dataset: {"diagnosis_counts": {label: n}}}`` at the top level or one level
    down (e.g. under ``"datasets"``), or a list of ``{"name": …, "diagnosis_counts": …}``.
    Labels in any ISIC spelling are folded into the seven codes; other labels keep their own
    name so that totals stay right. Anything unreadable is skipped.
    """
    found: dict[str, dict[str, int]] = {}
    for name, table in _count_tables(summary, "", 0):
        counts = _fold_counts(table)
        if counts and name not in found:
            found[name] = counts
    return dict(sorted(found.items(), key=lambda item: _dataset_rank(item[0])))


def _count_tables(node: Any, name: str, depth: int) -> Iterator[tuple[str, Any]]:
    if depth > 3:
        return
    if isinstance(node, Mapping):
        key = next((k for k in _COUNT_KEYS if k in node), None)
        if key is None:
            for child_key, child in node.items():
                yield from _count_tables(child, str(child_key), depth + 1)
        elif isinstance(node[key], Mapping) and all(
            isinstance(v, Mapping) for v in node[key].values()
        ):
            yield from ((str(k), v) for k, v in node[key].items())
        else:
            yield _dataset_name(node, name), node[key]
    elif isinstance(node, list):
        for child in node:
            if isinstance(child, Mapping):
                yield from _count_tables(child, name, depth + 1)


def _dataset_name(node: Mapping[str, Any], fallback: str) -> str:
    for key in ("dataset", "name"):
        if isinstance(node.get(key), str) and node[key].strip():
            return node[key].strip()
    return fallback or "ISIC data"


def _fold_counts(table: Any) -> dict[str, int]:
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(table, Mapping):
        pairs = table.items()
    elif isinstance(table, list):
        pairs = [
            (row.get("dx", row.get("diagnosis", row.get("code"))), row.get("n", row.get("count")))
            for row in table
            if isinstance(row, Mapping)
        ]
    else:
        return {}
    counts: dict[str, int] = {}
    for label, n in pairs:
        if str(label).strip().lower() in _TOTAL_KEYS:
            continue
        if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n) or n < 0:
            continue
        code = normalize_diagnosis(label)
        counts[code] = counts.get(code, 0) + int(n)
    return counts if sum(counts.values()) > 0 else {}


def _dataset_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _dataset_rank(name: str) -> tuple[int, str]:
    key = _dataset_key(name)
    for i, prefix in enumerate(_DATASET_ORDER):
        if key.startswith(prefix):
            return i, key
    return len(_DATASET_ORDER), key


def dataset_label(name: str) -> str:
    """A readable name for a dataset key (``"isic2018_test"`` → ``"the ISIC 2018 test set"``)."""
    return DATASET_LABELS.get(_dataset_key(name), name)


def _display(code: str) -> str:
    return BY_CODE[code].name.lower()


def stats_sentence(code: str, summary: Mapping[str, Any] | None) -> str:
    """How often ``code`` appears in each ISIC dataset, or an honest 'not available'."""
    name = _display(code)
    if summary is None:
        return (
            "(Figure not available: this copy of the app has no dataset statistics summary, "
            f"so the share of {name} images in ISIC data cannot be shown.)"
        )
    tables = diagnosis_counts(summary)
    if not tables:
        return "(Figure not available: the dataset statistics summary has no diagnosis counts.)"
    return " ".join(_count_sentence(code, dataset, counts) for dataset, counts in tables.items())


def _count_sentence(code: str, dataset: str, counts: Mapping[str, int]) -> str:
    label = dataset_label(dataset)
    total = sum(counts.values())
    if code not in counts:
        return f"{_capital(label)} has no separate label for {_display(code)}."
    n = counts[code]
    if n == 0:
        return f"In {label}, none of the {total:,} images are labelled {_display(code)}."
    sentence = (
        f"In {label}, {n:,} of {total:,} images ({100 * n / total:.1f}%) "
        f"are labelled {_display(code)}"
    )
    unknown = counts.get("unknown", 0)
    return sentence + (f"; {unknown:,} have no specific diagnosis." if unknown else ".")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fraction(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if 0 <= value <= 1:
        return float(value)
    return float(value) / 100 if 1 < value <= 100 else None


def _test_metrics(card: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    metrics = card.get("metrics") if isinstance(card, Mapping) else None
    test = metrics.get("test") if isinstance(metrics, Mapping) else None
    return test if isinstance(test, Mapping) else None


def _test_set_label(test: Mapping[str, Any]) -> str:
    dataset = test.get("dataset")
    if isinstance(dataset, str) and dataset.strip():
        label = dataset_label(dataset.strip())
        return label if label != dataset.strip() else f"the test set ({dataset.strip()})"
    return "its test set"


def model_sentence(code: str, card: Mapping[str, Any] | None) -> str:
    """The model's test sensitivity, specificity and AUC for ``code``, from the model card."""
    test = _test_metrics(card)
    name = _display(code)
    if test is None:
        return (
            "(Figure not available: no model card with test results was found, so the "
            f"model's performance on {name} cannot be shown.)"
        )
    per_class = test.get("per_class")
    figures = per_class.get(code) if isinstance(per_class, Mapping) else None
    if not isinstance(figures, Mapping):
        return f"(Figure not available: the model card has no test figures for {name}.)"
    sensitivity = _fraction(figures.get("sensitivity"))
    specificity = _fraction(figures.get("specificity"))
    auc = _fraction(figures.get("auc"))
    if sensitivity is None and specificity is None and auc is None:
        return f"(Figure not available: the model card has no test figures for {name}.)"
    where = _test_set_label(test)
    n = figures.get("n", figures.get("support"))
    # The count goes with the share it is of ("59% of the 171 melanomas"): at the sentence's
    # end, after "(specificity)", it read as a second aside of unclear reference.
    of_them = f"{n:,} {PLURAL_NAMES[code]}" if _is_count(n) else PLURAL_NAMES[code]
    parts = []
    if sensitivity is not None:
        parts.append(f"the model found {sensitivity:.0%} of the {of_them} (sensitivity)")
    if specificity is not None:
        parts.append(
            f"it correctly said “not {name}” for {specificity:.0%} of the other lesions "
            "(specificity)"
        )
    sentences = []
    if parts:
        sentences.append(f"On {where}, " + "; ".join(parts) + ".")
    if auc is not None:
        lead = "Its" if parts else f"On {where}, the model's"
        sentences.append(f"{lead} AUC for {name} is {auc:.2f} (1.00 is perfect, 0.50 is guessing).")
    return " ".join(sentences)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def model_summary_sentence(card: Mapping[str, Any] | None) -> str:
    """Balanced accuracy (and melanoma sensitivity) on the test set, from the model card."""
    test = _test_metrics(card)
    balanced = _fraction(test.get("balanced_accuracy")) if test is not None else None
    if test is None or balanced is None:
        return (
            "(Figure not available: no model card with test results was found, so the "
            "model's overall accuracy cannot be shown.)"
        )
    sentence = (
        f"On {_test_set_label(test)}, the model's balanced accuracy (the average of its "
        f"sensitivities over the seven diagnoses) is {balanced:.0%}."
    )
    per_class = test.get("per_class")
    mel = per_class.get("mel") if isinstance(per_class, Mapping) else None
    mel_sens = _fraction(mel.get("sensitivity")) if isinstance(mel, Mapping) else None
    if mel_sens is not None:
        sentence += f" It found {mel_sens:.0%} of the melanomas."
    return sentence


def photo_quality_sentence(card: Mapping[str, Any] | None) -> str:
    """What darker, brighter or blurred photos cost the model on validation, from the card."""
    from skindx.images import quality

    measured = (card or {}).get("photo_quality", {}).get("validation")
    if not isinstance(measured, Mapping) or "clean" not in measured:
        return (
            "(Figure not available: the model card holds no measurement of darker, brighter or "
            "blurred photos.)"
        )
    accuracy = {
        kind: value["balanced_accuracy"]
        for kind, value in measured.items()
        if isinstance(value, Mapping)
    }
    changed = ", ".join(
        f"{quality.EFFECT_LABELS[kind]}: {accuracy[kind]:.0%}"
        for kind in quality.PERTURBATIONS
        if kind in accuracy
    )
    sentence = (
        f"On its validation images the model's balanced accuracy is {accuracy['clean']:.0%} as "
        f"they are; {changed}."
    )
    darker = measured.get("darker")
    if isinstance(darker, Mapping) and "out_of_domain" in darker:
        sentence += (
            f" Its check for unusual images flagged only {darker['out_of_domain']:.0%} of the "
            "darker ones."
        )
    return sentence


MODEL_SENTENCES = {"summary": model_summary_sentence, "photo_quality": photo_quality_sentence}


def build_chart(
    name: str,
    stats_summary: Mapping[str, Any] | None,
    model_card: Mapping[str, Any] | None,
) -> Chart:
    """Data for a ``{{ chart:… }}`` placeholder; ``data`` is empty (with a note) when missing."""
    if name == "diagnosis_counts":
        return _counts_chart(stats_summary)
    if name == "model_per_class":
        return _model_chart(model_card)
    raise LessonNotFound(f"there is no chart called {name!r} (use {', '.join(CHARTS)})")


def _counts_chart(summary: Mapping[str, Any] | None) -> Chart:
    data: dict[str, dict[str, float]] = {}
    for dataset, counts in diagnosis_counts(summary).items():
        total = sum(counts.values())
        data[_series_name(dataset)] = {
            SHORT_NAMES[c]: round(100 * counts[c] / total, 1) for c in CODES if c in counts
        }
    note = "" if data else "Chart not available: no dataset statistics summary with counts."
    return Chart("diagnosis_counts", "Share of images per diagnosis", "% of images", data, note)


def _series_name(dataset: str) -> str:
    """How a chart's legend names a dataset: "ISIC 2018 test set"."""
    return _capital(dataset_label(dataset).removeprefix("the "))


def chart_figure(chart: Chart) -> go.Figure:
    """A chart with data as the app draws it: the Statistics page's bars, colours and text
    (:func:`skindx.datasets.figures.share_bars`), each dataset in its colour there."""
    from skindx.datasets.figures import DATASET_COLORS, share_bars

    colors = {_series_name(name): colour for name, colour in DATASET_COLORS.items()}
    return share_bars(chart.data, chart.title, chart.y_label, colors)


# A slide's text is up to 1.9 rem (about 30 px) on a projector, where plotly's own 12 px made a
# chart's labels and values unreadable from the back of a room.
SLIDE_CHART_SCALE = 1.6
_PLOTLY_FONT_PX = 12  # plotly's default text size, the one the charts' pixel layout assumes


def for_slides(fig: go.Figure, scale: float = SLIDE_CHART_SCALE) -> go.Figure:
    """``fig`` with its text, its height and its top and bottom margins ``scale`` times as
    large, so that a chart laid out in pixels for plotly's text keeps its proportions."""
    margin, size = fig.layout.margin, round(_PLOTLY_FONT_PX * scale)
    # Each text's size set on the figure: Streamlit's chart theme sets its own small ones for
    # the title, legend and axes, over a font size set only for the whole figure.
    fig.update_layout(
        font_size=size,
        title_font_size=round(size * 1.2),
        legend_font_size=size,
        height=round(fig.layout.height * scale),
        margin={"t": round(margin.t * scale), "b": round(margin.b * scale)},
    )
    fig.update_xaxes(tickfont_size=size, title_font_size=size)
    fig.update_yaxes(tickfont_size=size, title_font_size=size)
    return fig


def _model_chart(card: Mapping[str, Any] | None) -> Chart:
    test = _test_metrics(card)
    per_class = test.get("per_class") if test is not None else None
    data: dict[str, dict[str, float]] = {}
    if isinstance(per_class, Mapping):
        for metric in ("sensitivity", "specificity"):
            column = {}
            for code in CODES:
                figures = per_class.get(code)
                value = _fraction(figures.get(metric)) if isinstance(figures, Mapping) else None
                if value is not None:
                    column[SHORT_NAMES[code]] = round(100 * value, 1)
            if column:
                data[metric.capitalize()] = column
    title = f"Model on {_test_set_label(test)}" if test is not None else "Model test results"
    note = "" if data else "Chart not available: the model card has no per-class test figures."
    return Chart("model_per_class", title, "%", data, note)


def list_figures(figures_dir: Path | None = None) -> list[str]:
    figures_dir = FIGURES_DIR if figures_dir is None else Path(figures_dir)
    return sorted(p.stem for p in figures_dir.glob("*.svg"))


def load_figure(name: str, figures_dir: Path | None = None) -> Figure:
    """An SVG drawn for the lessons, with its ``<title>`` as caption."""
    figures_dir = FIGURES_DIR if figures_dir is None else Path(figures_dir)
    if not SLUG.match(name):
        raise LessonNotFound(f"there is no figure called {name!r}")
    path = figures_dir / f"{name}.svg"
    if not path.is_file():
        raise LessonNotFound(f"there is no figure called {name!r}")
    svg = path.read_text(encoding="utf-8")
    title = re.search(r"<title[^>]*>(.*?)</title>", svg, re.S)
    return Figure(name, svg, " ".join(title.group(1).split()) if title else name)
