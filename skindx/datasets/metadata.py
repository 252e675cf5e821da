"""ISIC metadata readers: HAM10000, ISIC 2018 test, ISIC 2019 and 2020 → one normalised frame.

Every reader returns the columns of :data:`COLUMNS`:

``image_id, lesion_id, patient_id, diagnosis, malignant, age, sex, site, confirmation, dataset,
collection``

- ``diagnosis``: a taxonomy code (``nv``, ``mel`` …); classes outside the seven keep their own
  lower-case name (``scc``, ``unknown``, ``cafe-au-lait macule``).
- ``malignant``: nullable boolean (``pd.NA`` where it cannot be said).
- ``age``: float, ``NaN`` where missing, not a number or outside 0–120 (reported, not refused).
- ``sex``: ``male``, ``female`` or ``unknown``.
- ``site``: one of :data:`SITES` (the ISIC "general" sites, torso not split).
- ``confirmation``: one of :data:`CONFIRMATIONS`.
- ``dataset``: :data:`HAM10000`, :data:`ISIC2018_TEST`, :data:`ISIC2019`, :data:`ISIC2020` …
- ``collection``: the clinic or device series a HAM10000-style file names in its own ``dataset``
  column (``vidir_modern``, ``rosendahl``; ``external`` for ISIC 2018 test images from outside
  HAM10000's collections); NA for the other formats.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skindx.datasets.csv_text import MetadataError, clean_column, read_table, source_name
from skindx.taxonomy import (
    BY_CODE,
    ISIC2019_COLUMNS,
    ISIC2020_DIAGNOSES,
    MAX_AGE,
    SEX_SYNONYMS,
    SITE_SYNONYMS,
    is_malignant,
    normalize_diagnosis,
)
from skindx.taxonomy import SITES as BODY_SITES

COLUMNS: tuple[str, ...] = (
    "image_id",
    "lesion_id",
    "patient_id",
    "diagnosis",
    "malignant",
    "age",
    "sex",
    "site",
    "confirmation",
    "dataset",
    "collection",
)

HAM10000 = "HAM10000"
ISIC2018_TEST = "ISIC 2018 test"
ISIC2019 = "ISIC 2019"
ISIC2019_METADATA = "ISIC 2019 metadata"
ISIC2020 = "ISIC 2020"
ISIC_ARCHIVE = "ISIC Archive"
DATASETS: tuple[str, ...] = (HAM10000, ISIC2018_TEST, ISIC2019, ISIC2020)

SEXES: tuple[str, ...] = ("female", "male", "unknown")
SITES: tuple[str, ...] = (*BODY_SITES, "other", "unknown")
CONFIRMATIONS: tuple[str, ...] = ("histopathology", "follow-up", "consensus", "confocal", "unknown")

# HAM10000 `dx_type` and the ISIC Archive's `diagnosis_confirm_type`.
CONFIRMATION_SYNONYMS: dict[str, str] = {
    "histo": "histopathology",
    "histopathology": "histopathology",
    "follow_up": "follow-up",
    "follow-up": "follow-up",
    "serial imaging showing no change": "follow-up",
    "consensus": "consensus",
    "single image expert consensus": "consensus",
    "confocal": "confocal",
    "confocal microscopy with consensus dermoscopy": "confocal",
}


# ISIC Archive diagnosis strings the taxonomy does not name (applied only after it).
ARCHIVE_DIAGNOSES: dict[str, str] = {
    "basal cell carcinoma": "bcc",
    "actinic keratosis": "akiec",
    "pigmented benign keratosis": "bkl",
    "dermatofibroma": "df",
    "vascular lesion": "vasc",
    "squamous cell carcinoma": "scc",
}


# Every diagnosis the app names; a file's other diagnosis values are ones it does not know.
KNOWN_DIAGNOSES: frozenset[str] = frozenset(
    {*BY_CODE, "scc", "unknown", *ISIC2020_DIAGNOSES.values(), *ARCHIVE_DIAGNOSES.values()}
)


@dataclass(frozen=True)
class MetadataFormat:
    """A known metadata layout, recognised by its (lower-case) column names."""

    key: str
    label: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


_ONE_HOT = tuple(c.lower() for c in ISIC2019_COLUMNS if c != "UNK")
_META_2019 = ("age_approx", "anatom_site_general", "lesion_id", "sex")

# In order of precedence when a CSV fits more than one.
FORMATS: dict[str, MetadataFormat] = {
    f.key: f
    for f in (
        MetadataFormat(
            "isic2019",
            "ISIC 2019 training ground truth",
            ("image", *_ONE_HOT),
            ("unk", *_META_2019),
        ),
        MetadataFormat(
            "ham10000",
            "HAM10000 / ISIC 2018 metadata",
            ("image_id", "dx"),
            ("lesion_id", "dx_type", "age", "sex", "localization", "dataset"),
        ),
        MetadataFormat(
            "isic2020",
            "ISIC 2020 training ground truth",
            ("image_name", "diagnosis"),
            (
                "patient_id",
                "lesion_id",
                "sex",
                "age_approx",
                "anatom_site_general_challenge",
                "benign_malignant",
                "target",
            ),
        ),
        MetadataFormat(
            "isic_archive",
            "ISIC Archive metadata export",
            ("isic_id", "diagnosis"),
            (
                "patient_id",
                "lesion_id",
                "sex",
                "age_approx",
                "anatom_site_general",
                "benign_malignant",
                "diagnosis_confirm_type",
            ),
        ),
        MetadataFormat(
            "isic2019_metadata",
            "ISIC 2019 metadata (no diagnoses)",
            ("image", "age_approx", "anatom_site_general", "sex"),
            ("lesion_id",),
        ),
    )
}

_KNOWN_COLUMNS = frozenset(c for f in FORMATS.values() for c in f.columns)
ISIC2019_METADATA_NAME = "ISIC_2019_Training_Metadata.csv"


# --------------------------------------------------------------------------------------------
# Public API


def detect_format(columns: Iterable[object]) -> str:
    """The key of :data:`FORMATS` whose columns a CSV has (case- and whitespace-insensitive).

    Raises:
        MetadataError: naming the missing and unexpected columns when no format fits.
    """
    found = [clean_column(c) for c in columns]
    present = set(found)
    for fmt in FORMATS.values():
        if set(fmt.required) <= present:
            return fmt.key
    raise MetadataError(_no_format_message(found))


def read_metadata(
    source: Any,
    *,
    dataset: str | None = None,
    metadata: Any = None,
) -> pd.DataFrame:
    """Read one ISIC metadata CSV into the normalised frame (columns :data:`COLUMNS`); see
    :func:`read_metadata_checked` for the arguments."""
    return read_metadata_checked(source, dataset=dataset, metadata=metadata)[0]


def is_isic2018_test(source: Any) -> bool:
    """Whether a metadata CSV is the ISIC 2018 test set, the held-out benchmark, which training
    and validation must never read (docs/data.md)."""
    return set(read_metadata(source)["dataset"]) == {ISIC2018_TEST}


def read_metadata_checked(
    source: Any,
    *,
    dataset: str | None = None,
    metadata: Any = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Read one ISIC metadata CSV into the normalised frame (columns :data:`COLUMNS`), and the
    values it holds that the app does not know: ``{"sex": {"robot": 3}}`` (rows per value, as
    written in the file) for ``diagnosis``, ``age``, ``sex``, ``site`` and ``confirmation``. The
    frame keeps an unknown diagnosis as its own name and an unknown site as ``other``; an age
    that is not a number from 0 to :data:`~skindx.taxonomy.MAX_AGE` ("forty", "-5") is NaN.

    Args:
        source: a path, the file's bytes, a text or binary file-like object, or a DataFrame.
        dataset: the ``dataset`` label to give every row; by default it is inferred
            (HAM10000 rows whose lesion ids all start ``HAMTEST_`` are the ISIC 2018 test set).
        metadata: for the ISIC 2019 ground truth only, its metadata CSV (same kinds of source).
            When omitted and ``source`` is a path, ``ISIC_2019_Training_Metadata.csv`` beside
            it is used if present.

    Raises:
        MetadataError: for a file that cannot be read, is not one of :data:`FORMATS`, or holds
            values of the wrong type; the message names the file, columns and rows.
    """
    name = source_name(source)
    raw = read_table(source, name)
    fmt = _detect(raw, name)
    if metadata is not None and fmt != "isic2019":
        raise MetadataError(f"{name}: metadata= is only for the ISIC 2019 ground truth")
    if fmt == "isic2019":
        raw = _join_2019_metadata(raw, source, metadata)
    try:
        frame = _READERS[fmt](raw)
    except MetadataError as error:
        raise MetadataError(f"{name}: {error}") from None
    frame["dataset"] = dataset or _default_dataset(fmt, frame)
    _check_image_ids(frame, name)
    return frame.loc[:, list(COLUMNS)].reset_index(drop=True), _unrecognised(raw, fmt)


# --------------------------------------------------------------------------------------------
# Format detection messages


def _detect(raw: pd.DataFrame, name: str) -> str:
    try:
        return detect_format(raw.columns)
    except MetadataError as error:
        raise MetadataError(f"{name}: {error}") from None


def _closest_format(present: set[str]) -> MetadataFormat | None:
    scored = [(len(present & set(f.columns)), -i, f) for i, f in enumerate(FORMATS.values())]
    hits, _, best = max(scored, key=lambda item: item[:2])
    return best if hits else None


def _no_format_message(found: list[str]) -> str:
    present = set(found)
    shown = ", ".join(c or "(blank)" for c in found[:12]) + (" …" if len(found) > 12 else "")
    unexpected = [c for c in found if c not in _KNOWN_COLUMNS]
    closest = _closest_format(present)
    if closest is None:
        expected = "; ".join(f"{f.label} ({', '.join(f.required)})" for f in FORMATS.values())
        return (
            f"not a recognised ISIC metadata CSV: none of its columns ({shown}) is an ISIC "
            f"metadata column. Expected the columns of one of: {expected}"
        )
    missing = [c for c in closest.required if c not in present]
    message = (
        f"not a recognised ISIC metadata CSV. It looks closest to the {closest.label}, "
        f"which needs the column(s) {', '.join(closest.required)}; missing: {', '.join(missing)}"
    )
    if unexpected:
        message += f"; unexpected column(s): {', '.join(c or '(blank)' for c in unexpected[:12])}"
    return message + f". Columns found: {shown}"


# --------------------------------------------------------------------------------------------
# Value normalisation


def _text(raw: pd.DataFrame, column: str) -> pd.Series:
    """Stripped strings with NA for missing or blank; all-NA when the column is absent."""
    if column not in raw:
        return pd.Series(np.nan, index=raw.index, dtype=object)
    stripped = raw[column].astype(object).str.strip()
    return stripped.where(stripped.notna() & (stripped != ""), np.nan)


def _rows(mask: pd.Series) -> str:
    positions = np.flatnonzero(mask.to_numpy()) + 1
    shown = ", ".join(str(p) for p in positions[:5])
    return shown + (f" and {len(positions) - 5} more" if len(positions) > 5 else "")


def _numeric(raw: pd.DataFrame, column: str) -> pd.Series:
    text = _text(raw, column)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    bad = text.notna() & numbers.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in text[bad].unique()[:3])
        raise MetadataError(
            f"column {column!r} must be numeric, but holds {examples} on data row(s) {_rows(bad)}"
        )
    return numbers


def _age_number(text: str) -> float:
    """An age as written ("40", " 40.0 ") → years; NaN for "forty" or one outside 0–MAX_AGE."""
    if "_" in text:  # float() reads "4_0" as 40; a file's "4_0" is no age
        return np.nan
    try:
        age = float(text)
    except ValueError:
        return np.nan
    return age if 0 <= age <= MAX_AGE else np.nan


def _age(raw: pd.DataFrame, column: str) -> pd.Series:
    """Ages in years; NaN where blank, "unknown", not a number or outside 0–MAX_AGE, like an
    unknown sex or site (:func:`_unrecognised` reports the values that were not blank)."""
    text = _text(raw, column)
    return text.map(_age_number, na_action="ignore").astype(float)


def _mapped(raw: pd.DataFrame, column: str, table: dict[str, str], other: str) -> pd.Series:
    lowered = _text(raw, column).map(str.lower, na_action="ignore")
    return lowered.map(table).where(lowered.notna(), "unknown").fillna(other).astype(object)


def _sex(raw: pd.DataFrame, column: str = "sex") -> pd.Series:
    return _mapped(raw, column, SEX_SYNONYMS, "unknown")


def _site(raw: pd.DataFrame, column: str) -> pd.Series:
    return _mapped(raw, column, SITE_SYNONYMS, "other")


def _confirmation(raw: pd.DataFrame, column: str) -> pd.Series:
    return _mapped(raw, column, CONFIRMATION_SYNONYMS, "unknown")


def _diagnosis_code(label: str) -> str:
    code = normalize_diagnosis(label)
    return code if code in BY_CODE else ARCHIVE_DIAGNOSES.get(code, code)


def _diagnosis(raw: pd.DataFrame, column: str) -> pd.Series:
    labels = _text(raw, column)
    table = {label: _diagnosis_code(label) for label in labels.dropna().unique()}
    return labels.map(table).fillna("unknown").astype(object)


def _malignant_from_diagnosis(diagnosis: pd.Series) -> pd.Series:
    table = {code: is_malignant(code) for code in diagnosis.unique()}
    return diagnosis.map(table).astype("boolean")


def _malignant(raw: pd.DataFrame, diagnosis: pd.Series) -> pd.Series:
    """``benign_malignant`` (or 0/1 ``target``) where given, else from the diagnosis."""
    malignant = _malignant_from_diagnosis(diagnosis)
    if "target" in raw:
        target = _numeric(raw, "target")
        stated = target.map({0.0: False, 1.0: True}).astype("boolean")
        malignant = stated.fillna(malignant)
    if "benign_malignant" in raw:
        words = _text(raw, "benign_malignant").map(str.lower, na_action="ignore")
        stated = words.map({"benign": False, "malignant": True}).astype("boolean")
        malignant = stated.fillna(malignant)
    return malignant


def _frame(**columns: Any) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    if "collection" not in frame:
        frame["collection"] = np.nan
    frame["collection"] = frame["collection"].astype(object)
    for column in ("image_id", "lesion_id", "patient_id"):
        frame[column] = frame[column].astype(object)
    frame["age"] = frame["age"].astype(float)
    frame["malignant"] = frame["malignant"].astype("boolean")
    return frame


def _absent(raw: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=raw.index, dtype=object)


# The file's column each vocabulary is read from, per format (ISIC 2019: one-hot diagnoses).
VALUE_COLUMNS: dict[str, dict[str, str]] = {
    "ham10000": {
        "diagnosis": "dx",
        "age": "age",
        "sex": "sex",
        "site": "localization",
        "confirmation": "dx_type",
    },
    "isic2019": {"age": "age_approx", "sex": "sex", "site": "anatom_site_general"},
    "isic2019_metadata": {"age": "age_approx", "sex": "sex", "site": "anatom_site_general"},
    "isic2020": {
        "diagnosis": "diagnosis",
        "age": "age_approx",
        "sex": "sex",
        "site": "anatom_site_general_challenge",
        "confirmation": "diagnosis_confirm_type",
    },
    "isic_archive": {
        "diagnosis": "diagnosis",
        "age": "age_approx",
        "sex": "sex",
        "site": "anatom_site_general",
        "confirmation": "diagnosis_confirm_type",
    },
}
_IS_KNOWN = {
    "diagnosis": lambda value: _diagnosis_code(value) in KNOWN_DIAGNOSES,
    "age": lambda value: value.lower() == "unknown" or not np.isnan(_age_number(value)),
    "sex": lambda value: value.lower() in {*SEX_SYNONYMS, "unknown"},
    "site": lambda value: value.lower() in SITE_SYNONYMS,
    "confirmation": lambda value: value.lower() in {*CONFIRMATION_SYNONYMS, "unknown"},
}


def _unrecognised(raw: pd.DataFrame, fmt: str) -> dict[str, dict[str, int]]:
    """Per vocabulary column, the file's values outside it and their row counts (blanks are
    simply unknown, so not listed)."""
    found = {}
    for column, source in VALUE_COLUMNS[fmt].items():
        counts = _text(raw, source).value_counts()
        bad = {str(value): int(n) for value, n in counts.items() if not _IS_KNOWN[column](value)}
        if bad:
            found[column] = bad
    return found


# --------------------------------------------------------------------------------------------
# One reader per format


def _read_ham10000(raw: pd.DataFrame) -> pd.DataFrame:
    diagnosis = _diagnosis(raw, "dx")
    return _frame(
        image_id=_text(raw, "image_id"),
        lesion_id=_text(raw, "lesion_id"),
        patient_id=_absent(raw),
        diagnosis=diagnosis,
        malignant=_malignant_from_diagnosis(diagnosis),
        age=_age(raw, "age"),
        sex=_sex(raw),
        site=_site(raw, "localization"),
        confirmation=_confirmation(raw, "dx_type"),
        collection=_text(raw, "dataset"),
    )


def _one_hot_diagnosis(raw: pd.DataFrame) -> pd.Series:
    columns = [c for c in (*_ONE_HOT, "unk") if c in raw]
    if not columns:
        return pd.Series("unknown", index=raw.index, dtype=object)
    scores = pd.concat([_numeric(raw, c).rename(c) for c in columns], axis=1).fillna(0.0)
    best = scores.idxmax(axis=1).map(lambda c: ISIC2019_COLUMNS[c.upper()])
    return best.where(scores.max(axis=1) > 0, "unknown").astype(object)


def _read_isic2019(raw: pd.DataFrame) -> pd.DataFrame:
    diagnosis = _one_hot_diagnosis(raw)
    return _frame(
        image_id=_text(raw, "image"),
        lesion_id=_text(raw, "lesion_id"),
        patient_id=_absent(raw),
        diagnosis=diagnosis,
        malignant=_malignant_from_diagnosis(diagnosis),
        age=_age(raw, "age_approx"),
        sex=_sex(raw),
        site=_site(raw, "anatom_site_general"),
        confirmation=pd.Series("unknown", index=raw.index, dtype=object),
    )


def _read_isic2020(raw: pd.DataFrame, image: str = "image_name") -> pd.DataFrame:
    diagnosis = _diagnosis(raw, "diagnosis")
    site = "anatom_site_general_challenge" if image == "image_name" else "anatom_site_general"
    return _frame(
        image_id=_text(raw, image),
        lesion_id=_text(raw, "lesion_id"),
        patient_id=_text(raw, "patient_id"),
        diagnosis=diagnosis,
        malignant=_malignant(raw, diagnosis),
        age=_age(raw, "age_approx"),
        sex=_sex(raw),
        site=_site(raw, site),
        confirmation=_confirmation(raw, "diagnosis_confirm_type"),
    )


def _read_isic_archive(raw: pd.DataFrame) -> pd.DataFrame:
    return _read_isic2020(raw, image="isic_id")


_READERS = {
    "ham10000": _read_ham10000,
    "isic2019": _read_isic2019,
    "isic2019_metadata": _read_isic2019,
    "isic2020": _read_isic2020,
    "isic_archive": _read_isic_archive,
}


def _default_dataset(fmt: str, frame: pd.DataFrame) -> str:
    if fmt == "ham10000":
        lesions = frame["lesion_id"].dropna()
        is_test = len(lesions) > 0 and lesions.str.startswith("HAMTEST_").all()
        return ISIC2018_TEST if is_test else HAM10000
    return {
        "isic2019": ISIC2019,
        "isic2019_metadata": ISIC2019_METADATA,
        "isic2020": ISIC2020,
        "isic_archive": ISIC_ARCHIVE,
    }[fmt]


def _check_image_ids(frame: pd.DataFrame, name: str) -> None:
    missing = frame["image_id"].isna()
    if missing.any():
        raise MetadataError(
            f"{name}: the image id is blank on data row(s) {_rows(missing)}: fill it in or "
            "remove those rows, then try again"
        )
    duplicated = frame["image_id"].duplicated(keep=False)
    if duplicated.any():
        # Refused, not counted once: which of two differing rows is right, only the file's
        # owner can say, and counting both would inflate every figure.
        first = frame.loc[duplicated, "image_id"].iloc[0]
        raise MetadataError(
            f"{name}: image id {first!r} appears more than once "
            f"(duplicates on data row(s) {_rows(duplicated)}): each image may appear only once, "
            "so remove the repeated rows and try again"
        )


# --------------------------------------------------------------------------------------------
# ISIC 2019: ground truth + metadata


def _sibling_metadata(source: Any) -> Path | None:
    if not isinstance(source, str | os.PathLike):
        return None
    path = Path(source)
    for candidate in (
        path.with_name(path.name.replace("GroundTruth", "Metadata")),
        path.with_name(ISIC2019_METADATA_NAME),
    ):
        if candidate != path and candidate.is_file():
            return candidate
    return None


def _join_2019_metadata(raw: pd.DataFrame, source: Any, metadata: Any) -> pd.DataFrame:
    if metadata is None:
        if any(c in raw for c in _META_2019):
            return raw
        metadata = _sibling_metadata(source)
        if metadata is None:
            return raw
    name = source_name(metadata)
    meta = read_table(metadata, name)
    if _detect(meta, name) != "isic2019_metadata":
        raise MetadataError(f"{name}: expected the ISIC 2019 metadata CSV (image, {_META_2019})")
    meta = meta.loc[:, ["image", *(c for c in _META_2019 if c in meta)]]
    meta = meta.drop_duplicates("image")
    truth = raw.drop(columns=[c for c in _META_2019 if c in raw])
    return truth.merge(meta, on="image", how="left", validate="many_to_one")
