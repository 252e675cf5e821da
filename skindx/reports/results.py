"""The batch results table (one row per file, rejected files included) and the formula-safe
CSV every download in the app goes through; the disclaimer and the notes the results carry.

Nothing here draws on screen or imports streamlit: the app's pages lay these objects out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from skindx.images.quality import NO_COLOUR, TOO_SMALL
from skindx.reports.numbers import probability
from skindx.taxonomy import BY_CODE

if TYPE_CHECKING:
    from skindx.diagnosis.predict import Prediction

__all__ = [
    "DISCLAIMER",
    "LIMITS",
    "LIMITS_MARKDOWN",
    "LIMITS_SHORT",
    "SHORT_ADVICE",
    "answer",
    "diagnosis_label",
    "not_assessed",
    "probabilities_as_text",
    "results_csv",
    "results_table",
    "safe_csv",
    "short_advice",
]

DISCLAIMER = (
    "Educational tool, not a medical device and not a diagnosis. See a doctor or dermatologist "
    "about any spot that is new, changing, bleeding or worrying you."
)
# What the model cannot do, for the person checking a spot (the Diagnose and About pages): the
# model card's limitations in plain words, and the one a doctor would add first (a photo
# shows neither history nor touch).
LIMITS = (
    "The model learnt from dermoscopy images: close-ups taken through a skin magnifier with its "
    "own light. An ordinary phone photo looks different, so even where the model answers one, its "
    "answer is less reliable than its test figures.",
    "Those images come from clinics in Austria and Australia whose patients were overwhelmingly "
    "fair-skinned (skin tone was not even recorded): how well it does on brown or black skin "
    "is unknown, and probably worse.",
    "It knows only seven kinds of spot. Anything else, such as an invasive squamous cell "
    "carcinoma (a common skin cancer), a wart or a rash, still gets one of those seven names.",
    "It saw few images of some of the seven (dermatofibroma, vascular lesions, actinic "
    "keratosis), and its answers about them are the least certain.",
    "It sees one photo: not how the spot has changed, how it feels, or the rest of your skin, "
    "which are what a doctor goes by.",
    "Even on images like those it learnt from it is often wrong: no answer it gives can rule "
    "cancer in or out.",
)
LIMITS_MARKDOWN = "\n".join(f"- {limit}" for limit in LIMITS)
# The two limits a person most needs beside a result (its chart, the PNG report)
LIMITS_SHORT = (
    "The model learnt from dermoscopy images of mostly fair skin: it is less reliable on ordinary "
    "phone photos and on darker skin."
)
# The advice of each triage level in the words of its full message (predict.CONCERN_MESSAGES,
# and the warning signs' own), short enough for a table cell and a result's one-line header.
SHORT_ADVICE: Mapping[str, str] = {
    "low": "Keep an eye on it; see a doctor if it changes",
    "see_doctor": "Show it to a doctor in the next few weeks",
    "see_doctor_soon": "See a doctor soon, within two weeks",
    "not_assessed": "Not assessed: see a doctor if it worries you",
}
NOT_ANALYSED = "Not analysed"
OUT_OF_DOMAIN_NOTE = "Does not look like a close-up photo of a skin lesion"
NO_COLOUR_NOTE = "Black-and-white photo, which the model cannot read"
TOO_SMALL_NOTE = "Photo too small for the model to make out the spot"
# why a photo got no diagnosis (skindx.images.quality.refusal), in a few words
REFUSAL_NOTES = {NO_COLOUR: NO_COLOUR_NOTE, TOO_SMALL: TOO_SMALL_NOTE}
CONTEXT_NOTE = "Age, sex and body site taken into account"
SIGNS_NOTE = "Your warning signs taken into account"
PHOTO_NOTE = "Photo darker, brighter or less sharp than the training images"
TABLE_COLUMNS = (
    "file",
    "top_diagnosis",
    "probability",
    "malignant_probability",
    "advice",
    "note",
)
PROBABILITY_COLUMNS = ("probability", "malignant_probability")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def diagnosis_label(code: str) -> str:
    """``"Melanoma"`` for ``"mel"``; unknown codes come back unchanged."""
    return BY_CODE[code].name if code in BY_CODE else code


def answer(label_name: str, value: float) -> str:
    """A top diagnosis with its probability, ``"Melanocytic nevus, 97%"``: the words of the
    batch table, each result's header and its heading alike."""
    return f"{label_name}, {probability(value)}"


def short_advice(prediction: Prediction) -> str:
    """The prediction's advice (:attr:`Prediction.concern_message`) in a few words."""
    return SHORT_ADVICE[prediction.concern]


def results_table(results: Sequence[tuple[str, Prediction | str]]) -> pd.DataFrame:
    """One row per file: ``(file name, Prediction)`` or ``(file name, rejection message)``.

    Out-of-domain images get no diagnosis (the model's guess would look more confident than it
    is); rejected files keep their row so that a batch reads as complete.
    """
    rows = []
    for name, result in results:
        if isinstance(result, str):
            rows.append(_row(name, None, None, None, NOT_ANALYSED, result))
        elif not result.in_domain:  # not assessed, unless the warning signs advise more
            advice = short_advice(result)
            rows.append(_row(name, None, None, None, advice, _note(result, not_assessed(result))))
        else:
            label = result.label
            rows.append(
                _row(
                    name,
                    diagnosis_label(label),
                    result.probabilities[label],
                    result.malignant_probability,
                    short_advice(result),
                    _note(result),
                )
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def not_assessed(result: Prediction) -> str:
    """Why an out-of-domain result has no diagnosis, in a few words."""
    return REFUSAL_NOTES.get(result.refusal, OUT_OF_DOMAIN_NOTE)


def _note(result: Prediction, *first: str) -> str:
    notes = (
        *first,
        # no diagnosis was given, so none took age, sex and site into account
        CONTEXT_NOTE if result.context_used and result.in_domain else "",
        SIGNS_NOTE if result.signs else "",
        # an out-of-domain result's notes say why it has no answer (the first note)
        PHOTO_NOTE if result.notes and result.in_domain else "",
    )
    return ". ".join(note for note in notes if note)  # each note a sentence of its own


def _row(name, label, probability, malignant, advice, note) -> dict[str, Any]:
    return {
        "file": name,
        "top_diagnosis": label,
        "probability": None if probability is None else round(float(probability), 4),
        "malignant_probability": None if malignant is None else round(float(malignant), 4),
        "advice": advice,
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
    """The results table (:func:`results_table`) as a formula-safe CSV (:func:`safe_csv`),
    its probabilities written as the page and the PNG reports write them ("97%", "<1%"): a
    download that said 0.9712 or 0.004 where the page said 97% or <1% read as another answer."""
    return safe_csv(probabilities_as_text(table))


def probabilities_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of the results table with its probabilities as :func:`probability` writes them
    (a blank stays blank)."""
    shown = table.copy()
    for column in PROBABILITY_COLUMNS:
        shown[column] = [None if pd.isna(v) else probability(float(v)) for v in table[column]]
    return shown


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip(" ").startswith(_CSV_FORMULA_START):
        return "'" + value
    return value
