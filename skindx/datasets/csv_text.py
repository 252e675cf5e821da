"""CSV text: a path, bytes or file-like object → decoded text → a table of strings.

Encodings (UTF-8, cp1252, UTF-16/32 "Unicode text"), separators and binary files are handled
here; what the columns mean is :mod:`skindx.datasets.metadata`'s business.
"""

from __future__ import annotations

import codecs
import io
import os
from pathlib import Path
from typing import Any

import pandas as pd


class MetadataError(ValueError):
    """A CSV that is not ISIC metadata, or holds values that cannot be read."""


_NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none"]
_SEPARATORS = (",", ";", "\t", "|")
_ARCHIVE_MAGIC = {b"PK\x03\x04": "a ZIP archive", b"\x1f\x8b": "a gzip file"}


def read_header(source: Any) -> list[str]:
    """The cleaned (lower-case, stripped) column names of a CSV source or DataFrame."""
    name = source_name(source)
    if isinstance(source, pd.DataFrame):
        return [clean_column(c) for c in source.columns]
    text = _decode(_read_bytes(source, name), name)
    return [clean_column(c) for c in _parse_csv(text, name, nrows=0).columns]


def source_name(source: Any) -> str:
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
    if (kind := _other_text_format(text)) is not None:
        # Read as CSV, a JSON file failed on "line 73 has 3 values where the header has 2".
        raise MetadataError(f"{name} is {kind}, not a CSV: export or save the metadata as CSV")
    return text.lstrip("\ufeff")


def _other_text_format(text: str) -> str | None:
    """ "a JSON file" or "a web page (HTML)" for text that opens as one; ``None`` otherwise."""
    start = text.lstrip("\ufeff \t\r\n")[:15].lower()
    if start.startswith(("{", "[")):
        return "a JSON file"
    if start.startswith(("<!doctype html", "<html")):
        return "a web page (HTML)"
    return None


def _looks_binary(sample: str) -> bool:
    controls = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n") or ch == "\ufffd")
    return controls > 0.05 * len(sample)


def _separator(text: str) -> str:
    header = next(line for line in text.splitlines() if line.strip())
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_table(source: Any, name: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        raw = source.astype(object).map(lambda v: v if pd.isna(v) else str(v))
    else:
        text = _decode(_read_bytes(source, name), name)
        raw = _parse_csv(text, name)
    raw.columns = [clean_column(c) for c in raw.columns]
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


def clean_column(column: object) -> str:
    return str(column).replace("\ufeff", "").strip().strip("\"'").strip().lower()
