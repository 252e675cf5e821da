"""How the statistics name and order diagnoses and datasets: chart names, taxonomy order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from skindx.datasets.metadata import DATASETS
from skindx.taxonomy import BY_CODE, CODES

UPLOAD_DATASET = "Your data"


# How charts name the diagnoses for the public: the taxonomy's names, shortened where long.
SHORT_NAMES: dict[str, str] = {
    "akiec": "Actinic keratosis",
    "bkl": "Benign keratosis",
    "scc": "Squamous cell carcinoma",
    "unknown": "Unknown",
}


def diagnosis_name(value: str) -> str:
    """The name a chart shows for a diagnosis code (``"mel"`` → ``"Melanoma"``); a value from
    an uploaded file that is no code is shown as plain text (plotly's markup made inert)."""
    if value in SHORT_NAMES:
        return SHORT_NAMES[value]
    if value in BY_CODE:
        return BY_CODE[value].name
    return chart_text(str(value)[:1].upper() + str(value)[1:])


def chart_text(text: str) -> str:
    """Text that plotly draws as it is: its tags (``<a href>``, ``<b>``) and entities inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def diagnosis_order(values: Iterable[str]) -> list[str]:
    """The seven codes in taxonomy order, then other names alphabetically, ``unknown`` last."""
    present = set(values)
    others = sorted(present - set(CODES) - {"unknown", "scc"})
    others = (["scc"] if "scc" in present else []) + others
    return (
        [c for c in CODES if c in present] + others + (["unknown"] if "unknown" in present else [])
    )


def dataset_order(values: Iterable[str]) -> list[str]:
    """An upload first (the takeaways speak of the first), then the ISIC sets, then others."""
    present = list(dict.fromkeys(values))
    known = [d for d in (UPLOAD_DATASET, *DATASETS) if d in present]
    return known + [d for d in present if d not in known]


def ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))
