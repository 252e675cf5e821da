"""ISIC metadata readers: HAM10000, ISIC 2018 test, ISIC 2019 and 2020 → one normalised frame.

Every reader returns the columns of :data:`COLUMNS`:

``image_id, lesion_id, patient_id, diagnosis, malignant, age, sex, site, confirmation, dataset,
collection``

- ``diagnosis``: a taxonomy code (``nv``, ``mel`` …); classes outside the seven keep their own
  lower-case name (``scc``, ``unknown``, ``cafe-au-lait macule``).
- ``malignant``: nullable boolean (``pd.NA`` where it cannot be said).
- ``age``: float, ``NaN`` where missing.
- ``sex``: ``male``, ``female`` or ``unknown``.
- ``site``: one of :data:`SITES` (the ISIC "general" sites, torso not split).
- ``confirmation``: one of :data:`CONFIRMATIONS`.
- ``dataset``: :data:`HAM10000`, :data:`ISIC2018_TEST`, :data:`ISIC2019`, :data:`ISIC2020` …
- ``collection``: the clinic or device series a HAM10000-style file names in its own ``dataset``
  column (``vidir_modern``, ``rosendahl``; ``external`` for ISIC 2018 test images from outside
  HAM10000's collections); NA for the other formats.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skindx.diagnosis.context import MAX_AGE, SEX_SYNONYMS, SITE_SYNONYMS
from skindx.diagnosis.context import SITES as BODY_SITES
from skindx.taxonomy import BY_CODE, ISIC2019_COLUMNS, is_malignant, normalize_diagnosis

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


class MetadataError(ValueError):
    """A CSV that is not ISIC metadata, or holds values that cannot be read."""


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
_NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none"]
_SEPARATORS = (",", ";", "\t", "|")
_ARCHIVE_MAGIC = {b"PK\x03\x04": "a ZIP archive", b"\x1f\x8b": "a gzip file"}
ISIC2019_METADATA_NAME = "ISIC_2019_Training_Metadata.csv"


# --------------------------------------------------------------------------------------------
# Public API


def detect_format(columns: Iterable[object]) -> str:
    """The key of :data:`FORMATS` whose columns a CSV has (case- and whitespace-insensitive).

    Raises:
        MetadataError: naming the missing and unexpected columns when no format fits.
    """
    found = [_clean_column(c) for c in columns]
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
    """Read one ISIC metadata CSV into the normalised frame (columns :data:`COLUMNS`).

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
    name = _source_name(source)
    raw = _read_table(source, name)
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
    return frame.loc[:, list(COLUMNS)].reset_index(drop=True)


def read_header(source: Any) -> list[str]:
    """The cleaned (lower-case, stripped) column names of a CSV source or DataFrame."""
    name = _source_name(source)
    if isinstance(source, pd.DataFrame):
        return [_clean_column(c) for c in source.columns]
    text = _decode(_read_bytes(source, name), name)
    return [_clean_column(c) for c in _parse_csv(text, name, nrows=0).columns]


# --------------------------------------------------------------------------------------------
# Reading bytes into a raw string table


def _source_name(source: Any) -> str:
    if isinstance(source, str) and "\n" in source:
        return "the file"
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) and name else "the file"


def _read_bytes(source: Any, name: str) -> bytes:
    if isinstance(source, str) and "\n" in source:
        raise MetadataError(
            "a str source is a path, and this one holds line breaks: "
            "pass CSV text as bytes or io.StringIO"
        )
    if isinstance(source, str | os.PathLike):
        try:
            return Path(source).read_bytes()
        except OSError as error:
            raise MetadataError(f"cannot read {source}: {error.strerror or error}") from None
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise MetadataError(
        f"cannot read metadata from a {type(source).__name__}: "
        "give a path, bytes, a file-like object or a DataFrame"
    )


_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose mark it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def unicode_encoding(data: bytes) -> str | None:
    """``"utf-16"`` / ``"utf-32"`` (or an endianness-specific name) for text in those
    encodings, as spreadsheets save "Unicode text"; ``None`` for anything else."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return encoding
    sample = data[:512]
    if len(sample) >= 8 and len(sample) % 2 == 0:
        # UTF-16 without a byte order mark: ASCII text with a zero byte beside every character.
        if not any(sample[1::2]) and all(sample[0::2]):
            return "utf-16-le"
        if not any(sample[0::2]) and all(sample[1::2]):
            return "utf-16-be"
    return None


def _decode(data: bytes, name: str) -> str:
    for magic, kind in _ARCHIVE_MAGIC.items():
        if data.startswith(magic):
            raise MetadataError(f"{name} is {kind}, not a CSV: extract the CSV first")
    if (encoding := unicode_encoding(data)) is not None:  # "Unicode text" from a spreadsheet
        try:
            data = data.decode(encoding).lstrip("\ufeff").encode("utf-8")
        except UnicodeDecodeError:
            family = "UTF-32" if "32" in encoding else "UTF-16"
            raise MetadataError(
                f"{name} looks like {family} text but cannot be decoded: save it again as CSV "
                "(UTF-8)."
            ) from None
    if b"\x00" in data[:65536]:
        raise MetadataError(f"{name} is not a CSV text file (it contains binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if not text.strip():
        raise MetadataError(f"{name} is empty")
    if _looks_binary(text[:4096]):
        raise MetadataError(f"{name} is not a CSV text file (it contains binary data)")
    return text.lstrip("\ufeff")


def _looks_binary(sample: str) -> bool:
    controls = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n") or ch == "\ufffd")
    return controls > 0.05 * len(sample)


def _separator(text: str) -> str:
    header = next(line for line in text.splitlines() if line.strip())
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _read_table(source: Any, name: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        raw = source.astype(object).map(lambda v: v if pd.isna(v) else str(v))
    else:
        text = _decode(_read_bytes(source, name), name)
        raw = _parse_csv(text, name)
    raw.columns = [_clean_column(c) for c in raw.columns]
    if raw.empty:
        raise MetadataError(f"{name} has a header but no data rows")
    return raw


def _parse_csv(text: str, name: str, nrows: int | None = None) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=_separator(text),
            dtype=str,
            keep_default_na=False,
            na_values=_NA_VALUES,
            skipinitialspace=True,
            nrows=nrows,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else "unreadable"
        raise MetadataError(f"{name} cannot be read as CSV: {detail}") from None


def _clean_column(column: object) -> str:
    return str(column).replace("\ufeff", "").strip().strip("\"'").strip().lower()


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


def _age(raw: pd.DataFrame, column: str) -> pd.Series:
    age = _numeric(raw, column)
    bad = (age < 0) | (age > MAX_AGE)
    if bad.any():
        raise MetadataError(
            f"column {column!r} must be an age between 0 and {MAX_AGE}, "
            f"but holds {age[bad].iloc[0]:g} on data row(s) {_rows(bad)}"
        )
    return age


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
        raise MetadataError(f"{name}: the image id is blank on data row(s) {_rows(missing)}")
    duplicated = frame["image_id"].duplicated(keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, "image_id"].iloc[0]
        raise MetadataError(
            f"{name}: image id {first!r} appears more than once "
            f"(duplicates on data row(s) {_rows(duplicated)})"
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
    name = _source_name(metadata)
    meta = _read_table(metadata, name)
    if _detect(meta, name) != "isic2019_metadata":
        raise MetadataError(f"{name}: expected the ISIC 2019 metadata CSV (image, {_META_2019})")
    meta = meta.loc[:, ["image", *(c for c in _META_2019 if c in meta)]]
    meta = meta.drop_duplicates("image")
    truth = raw.drop(columns=[c for c in _META_2019 if c in raw])
    return truth.merge(meta, on="image", how="left", validate="many_to_one")
