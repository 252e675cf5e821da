"""Metadata CSVs, from disk or uploaded, into summaries; CSV parser errors as plain sentences."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from skindx.config import settings
from skindx.datasets.csv_text import read_header, unicode_encoding
from skindx.datasets.metadata import (
    KNOWN_DIAGNOSES,
    MetadataError,
    detect_format,
    read_metadata_checked,
)
from skindx.datasets.names import UPLOAD_DATASET
from skindx.datasets.summary import summarize
from skindx.taxonomy import MAX_AGE


def _pair_2019_metadata(paths: list[Path]) -> list[tuple[Path, Path | None]]:
    """Pair each ISIC 2019 metadata CSV in ``paths`` with the ground truth it describes."""
    formats = {path: _format_of(path) for path in paths}
    metadata = [p for p in paths if formats[p] == "isic2019_metadata"]
    truths = [p for p in paths if formats[p] == "isic2019"]
    if metadata and len(truths) == len(metadata) == 1:
        return [(p, metadata[0] if p == truths[0] else None) for p in paths if p != metadata[0]]
    return [(p, None) for p in paths]


def _format_of(path: Path) -> str:
    try:
        return detect_format(read_header(path))
    except MetadataError as error:
        raise MetadataError(f"{path.name}: {error}") from None


# Per file read, the values it holds that skindx does not know: {path: {"sex": {"robot": 3}}}.
Unrecognised = dict[Path, dict[str, dict[str, int]]]


def read_files_checked(
    paths: Sequence[str | os.PathLike[str]], dataset: str | None = None
) -> tuple[pd.DataFrame, Unrecognised]:
    """Read and concatenate metadata CSVs (an ISIC 2019 metadata CSV joins its ground truth),
    and the values each file holds that skindx does not know (see
    :func:`~skindx.datasets.metadata.read_metadata_checked`), for the files with any.
    ``dataset``: the name for every row, where the formats' own names would mislead (a
    clinic's file in HAM10000's format is otherwise "HAM10000")."""
    if not paths:
        raise MetadataError("no metadata CSV given")
    frames, unrecognised = [], {}
    for path, meta in _pair_2019_metadata([Path(p) for p in paths]):
        frame, unknown = _read(path, metadata=meta, dataset=dataset)
        frames.append(frame)
        if unknown:
            unrecognised[path] = unknown
    return pd.concat(frames, ignore_index=True), unrecognised


_NOT_CSV = "cannot be read as CSV: "
_EXPECTED_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def plain_csv_error(message: str) -> str:
    """A CSV parser's message (``"x.csv cannot be read as CSV: Error tokenizing data. C error:
    EOF inside string …"``) as one sentence a person can act on; other messages unchanged."""
    if _NOT_CSV not in message:
        return message
    name, detail = message.split(_NOT_CSV, 1)
    name = name.strip()
    if "EOF inside string" in detail or "EOF in quoted" in detail:
        return (
            f'{name} has a quotation mark (") that is never closed, so its rows cannot be told '
            "apart: open it in a spreadsheet and save it again as CSV."
        )
    fields = _EXPECTED_FIELDS.search(detail)
    if fields:
        expected, line, seen = fields.groups()
        return (
            f"Line {line} of {name} has {seen} values where the header has {expected}: "
            "check that line, or save the file again as CSV from a spreadsheet."
        )
    return (
        f"{name} cannot be read as a table: save it as a comma- or tab-separated CSV file "
        "and try again."
    )


def _read(source: Any, **kwargs: Any) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """:func:`read_metadata_checked`, its CSV parser errors as plain sentences."""
    try:
        return read_metadata_checked(source, **kwargs)
    except MetadataError as error:
        raise MetadataError(plain_csv_error(str(error))) from None


def upload_bytes(data: bytes, name: str) -> bytes:
    """An uploaded CSV as UTF-8 bytes: UTF-16 and UTF-32 text (which spreadsheets save as
    "Unicode text") is decoded here; anything else is passed on as it is."""
    encoding = unicode_encoding(data)
    if encoding is None:
        return data
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        family = "UTF-32" if "32" in encoding else "UTF-16"
        raise MetadataError(
            f"{name} looks like {family} text but cannot be decoded: save it again as CSV (UTF-8)."
        ) from None
    return text.lstrip("\ufeff").encode("utf-8")


def summarize_files(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """:func:`summarize` over the rows of several metadata CSVs, naming them under ``sources``."""
    return summarize_files_checked(paths)[0]


def summarize_files_checked(
    paths: Sequence[str | os.PathLike[str]], dataset: str | None = None
) -> tuple[dict[str, Any], Unrecognised]:
    """:func:`summarize_files`, and per file the values skindx does not know, which the summary
    counts as unknown, as an upload's (for :func:`unknown_value_notes`); ``dataset`` as
    :func:`read_files_checked` takes it."""
    frame, unrecognised = read_files_checked(paths, dataset)
    summary = summarize(_as_unknown(frame))
    return {"sources": [Path(p).name for p in paths], **summary}, unrecognised


def summarize_upload(data: bytes, name: str = "upload.csv") -> dict[str, Any]:
    """Validate and summarise an uploaded CSV in memory (nothing is written or cached).

    Values skindx does not know (a diagnosis "foo", a sex "robot", a site "moon") are counted
    as unknown, and listed under ``unrecognised`` (see :func:`unrecognised_notes`)."""
    limit = settings().max_upload_bytes
    if len(data) > limit:
        raise MetadataError(
            f"{name} is {len(data) / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB"
        )
    buffer = io.BytesIO(upload_bytes(data, name))
    buffer.name = name
    frame, unrecognised = _read(buffer, dataset=UPLOAD_DATASET)
    return {**summarize(_as_unknown(frame)), "unrecognised": unrecognised}


def _as_unknown(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the diagnoses and sites skindx does not know made ``unknown`` (the
    reader keeps such a diagnosis as its own name and such a site as ``other``; unknown sexes
    and confirmation methods are ``unknown`` already)."""
    known = frame["diagnosis"].isin(KNOWN_DIAGNOSES)
    return frame.assign(
        diagnosis=frame["diagnosis"].where(known, "unknown"),
        site=frame["site"].replace("other", "unknown"),
    )


# "skindx", not "this page": the Statistics page and `skindx stats summarize` say the same.
_NOT_KNOWN = {
    "diagnosis": "a diagnosis skindx does not know",
    "age": f"an age that is not a number from 0 to {MAX_AGE}",
    "sex": "a sex skindx does not know",
    "site": "a body site skindx does not know",
    "confirmation": "a confirmation method skindx does not know",
}
_MAX_VALUES_NAMED = 5


def upload_notes(summary: dict[str, Any]) -> list[str]:
    """What a person should know about their upload's summary before reading its charts: what
    it gives for none of its images (:func:`absent_note`), its values skindx does not know
    (:func:`unrecognised_notes`), then how rough its shares are (:func:`few_images_note`)."""
    data = summary["datasets"][UPLOAD_DATASET]
    absent = absent_note(data, summary.get("unrecognised", {}))
    few = few_images_note(data["n_images"])
    return [*([absent] if absent else []), *unrecognised_notes(summary), *([few] if few else [])]


# Below this many images a share's 95% margin, at its widest (a share of 50%), passes ±10
# points: the charts' percentages read as firmly as the datasets' thousands.
FEW_IMAGES = 100
_MARGIN_FROM = 10  # fewer images: one image's step says enough (the margin's formula fails)


def few_images_note(n_images: int) -> str:
    """ "With only 12 images, the shares (percentages) are rough: …" for a file of fewer than
    :data:`FEW_IMAGES` images, with one image's step in a share and, from
    :data:`_MARGIN_FROM` images, a share's widest 95% margin (1.96·√(¼/n)); "" for a larger
    file (or an empty one, which has no shares)."""
    if not 0 < n_images < FEW_IMAGES:
        return ""
    images = "1 image" if n_images == 1 else f"{n_images:,} images"
    step = round(100 / n_images)
    note = (
        f"With only {images}, the shares (percentages) in the charts are rough: one image more "
        f"or less moves a share by about {step} point{'' if step == 1 else 's'}"
    )
    if n_images >= _MARGIN_FROM:
        margin = 196 * (0.25 / n_images) ** 0.5
        note += f", and chance alone can move one by up to about {margin:.0f} points either way"
    return note + ". Compare them with the datasets' with care."


_GIVEN_FOR_NONE = {
    "diagnosis": "a diagnosis",
    "age": "an age",
    "sex": "a sex",
    "site": "a body site",
}


def absent_note(data: dict[str, Any], unrecognised: Collection[str]) -> str:
    """ "No image in this file has an age or a sex, so …" where a file (``data``: its part of
    a summary) lacks a column, or leaves it blank throughout (an ISIC 2019 metadata CSV has no
    diagnoses: its ground truth has them), so that its charts, all "unknown", do not read as a
    fault; "" where none is. A column in ``unrecognised`` (given, but with values skindx does
    not know) is noted on its own."""
    known = {
        "diagnosis": set(data["diagnosis_counts"]),
        "age": set(data["age_histogram"]["bins"]),
        "sex": {sex for counts in data["sex_by_diagnosis"].values() for sex in counts},
        "site": {site for counts in data["site_by_diagnosis"].values() for site in counts},
    }
    missing = [
        _GIVEN_FOR_NONE[column]
        for column, values in known.items()
        if values <= {"unknown"} and column not in unrecognised
    ]
    if not missing:
        return ""
    listed = ", ".join(missing[:-1]) + " or " + missing[-1] if len(missing) > 1 else missing[0]
    return f"No image in this file has {listed}, so the charts count all its images as “unknown”."


def unrecognised_notes(summary: dict[str, Any]) -> list[str]:
    """:func:`unknown_value_notes` for an upload's summary (its ``unrecognised``)."""
    return unknown_value_notes(summary.get("unrecognised", {}))


def unknown_value_notes(unrecognised: dict[str, dict[str, int]]) -> list[str]:
    """One sentence per column of a file's values skindx does not know: "3 rows have a
    diagnosis skindx does not know (foo); they are counted as unknown." (or "… an age that is
    not a number from 0 to 120 (forty, 300) …")."""
    notes = []
    for column, values in unrecognised.items():
        rows = sum(values.values())
        named = list(values)[:_MAX_VALUES_NAMED]
        more = len(values) - len(named)
        listed = ", ".join(named) + (f" and {more:,} more" if more else "")
        have, they = ("row has", "it is") if rows == 1 else ("rows have", "they are")
        notes.append(f"{rows:,} {have} {_NOT_KNOWN[column]} ({listed}); {they} counted as unknown.")
    return notes


def images_read(name: str, summary: dict[str, Any]) -> str:
    """ "mine.csv: 1 image read." (or "…: 1,234 images read.") for an upload's summary."""
    n = summary["datasets"][UPLOAD_DATASET]["n_images"]
    return f"{name}: {n:,} image{'' if n == 1 else 's'} read."
