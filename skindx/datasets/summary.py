"""The statistics summary: a normalised metadata frame → aggregated JSON counts and its cube.

The summary (:func:`summarize`) is JSON and holds counts only, never per-image rows:

- ``datasets``: per dataset, the headline tables (diagnosis counts, age histograms by diagnosis,
  sex/site/confirmation × diagnosis, images per lesion and per patient);
- ``cube``: image counts over every combination of :data:`CUBE_DIMS` that occurs. Filters act on
  the cube, so every filtered chart is exact without the per-image rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from skindx.config import STATS_SUMMARY_PATH
from skindx.datasets.metadata import COLUMNS, CONFIRMATIONS, SEXES, SITES
from skindx.datasets.names import dataset_order, diagnosis_order, ordered
from skindx.files import write_atomic

SCHEMA_VERSION = 1
SUMMARY_PATH = STATS_SUMMARY_PATH
REBUILD_COMMAND = "skindx stats summarize CSV... --out content/stats_summary.json"
AGE_BIN_WIDTH = 5
CUBE_DIMS: tuple[str, ...] = (
    "dataset",
    "diagnosis",
    "age",
    "sex",
    "site",
    "confirmation",
    "malignancy",
    "lesion_images",
    "patient_images",
)
MALIGNANCIES: tuple[str, ...] = ("malignant", "benign", "unknown")
# Bins for "how many images does this image's lesion (patient) have"; "none" = no id.
GROUP_BINS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 4, "4"),
    (5, 5, "5"),
    (6, 10, "6-10"),
    (11, 20, "11-20"),
    (21, 50, "21-50"),
    (51, 10**9, "51+"),
)
GROUP_LABELS: tuple[str, ...] = tuple(label for _, _, label in GROUP_BINS)
NO_ID = "none"


class SummaryError(ValueError):
    """A statistics summary file that is missing or not in the expected format."""


def age_bin(age: pd.Series) -> pd.Series:
    """Start of the 5-year bin of each age (``NaN`` stays ``NaN``): 0, 5, 10 …"""
    return (age // AGE_BIN_WIDTH) * AGE_BIN_WIDTH


def _group_bin(sizes: pd.Series) -> pd.Series:
    labels = pd.Series(NO_ID, index=sizes.index, dtype=object)
    for low, high, label in GROUP_BINS:
        labels[(sizes >= low) & (sizes <= high)] = label
    return labels


def _group_sizes(frame: pd.DataFrame, column: str) -> pd.Series:
    sizes = frame.groupby(["dataset", column], dropna=True)["image_id"].transform("size")
    return _group_bin(sizes.astype(float))


def _malignancy(malignant: pd.Series) -> pd.Series:
    as_bool = malignant.astype("boolean")
    labels = as_bool.map({True: "malignant", False: "benign"}, na_action="ignore")
    return labels.astype(object).where(as_bool.notna(), "unknown")


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise ValueError(f"not a normalised metadata frame: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise ValueError("cannot summarise an empty metadata frame")


def _cube(frame: pd.DataFrame) -> pd.DataFrame:
    keys = pd.DataFrame(
        {
            "dataset": frame["dataset"].astype(object),
            "diagnosis": frame["diagnosis"].astype(object),
            "age": age_bin(frame["age"].astype(float)),
            "sex": frame["sex"].astype(object),
            "site": frame["site"].astype(object),
            "confirmation": frame["confirmation"].astype(object),
            "malignancy": _malignancy(frame["malignant"]),
            "lesion_images": _group_sizes(frame, "lesion_id"),
            "patient_images": _group_sizes(frame, "patient_id"),
        }
    )
    counts = keys.groupby(list(CUBE_DIMS), dropna=False, sort=False).size()
    return counts.rename("images").reset_index()


def _levels(cube: pd.DataFrame) -> dict[str, list[Any]]:
    ages = sorted(int(a) for a in cube["age"].dropna().unique())
    return {
        "dataset": dataset_order(cube["dataset"]),
        "diagnosis": diagnosis_order(cube["diagnosis"]),
        "age": [*ages, None] if cube["age"].isna().any() else ages,
        "sex": ordered(cube["sex"], SEXES),
        "site": ordered(cube["site"], SITES),
        "confirmation": ordered(cube["confirmation"], CONFIRMATIONS),
        "malignancy": ordered(cube["malignancy"], MALIGNANCIES),
        "lesion_images": ordered(cube["lesion_images"], (*GROUP_LABELS, NO_ID)),
        "patient_images": ordered(cube["patient_images"], (*GROUP_LABELS, NO_ID)),
    }


def encode_cube(cube: pd.DataFrame) -> dict[str, Any]:
    """The cube frame as JSON: level lists per dimension and rows of level indices + count."""
    levels = _levels(cube)
    codes = []
    for dim in CUBE_DIMS:
        index = {value: i for i, value in enumerate(levels[dim]) if value is not None}
        column = cube[dim]
        code = column.map(index)
        if dim == "age":
            code = code.where(column.notna(), len(levels["age"]) - 1)
        codes.append(code.astype(int))
    table = pd.concat([*codes, cube["images"].astype(int)], axis=1)
    table = table.sort_values(list(table.columns[:-1]))
    return {
        "dims": list(CUBE_DIMS),
        "levels": levels,
        "rows": table.to_numpy().tolist(),
    }


def cube_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """Decode a summary's cube into a frame: one column per dimension plus ``images``."""
    cube = summary["cube"]
    rows = pd.DataFrame(cube["rows"], columns=[*cube["dims"], "images"])
    for dim in cube["dims"]:
        levels = cube["levels"][dim]
        rows[dim] = rows[dim].map(dict(enumerate(levels)))
    rows["age"] = rows["age"].astype(float)
    return rows.astype({"images": int})


def _value_counts(series: pd.Series, order: Sequence[str]) -> dict[str, int]:
    counts = series.value_counts()
    return {key: int(counts[key]) for key in ordered(counts.index, order)}


def _by_diagnosis(part: pd.DataFrame, column: str, order: Sequence[str]) -> dict[str, Any]:
    table = pd.crosstab(part["diagnosis"], part[column])
    columns = ordered(table.columns, order)
    return {
        code: {value: int(table.loc[code, value]) for value in columns if table.loc[code, value]}
        for code in diagnosis_order(table.index)
    }


def _age_histogram(part: pd.DataFrame, codes: list[str]) -> dict[str, Any]:
    bins = age_bin(part["age"])
    known = bins.dropna()
    edges = list(range(0, int(known.max()) + 1, AGE_BIN_WIDTH)) if len(known) else []
    table = pd.crosstab(part["diagnosis"], bins).reindex(columns=edges, fill_value=0)
    unknown = part.loc[bins.isna(), "diagnosis"].value_counts()
    return {
        "bins": edges,
        "by_diagnosis": {
            code: [int(n) for n in table.loc[code]] if code in table.index else [0] * len(edges)
            for code in codes
        },
        "unknown_by_diagnosis": {code: int(unknown.get(code, 0)) for code in codes},
    }


def _images_per(part: pd.DataFrame, column: str) -> dict[str, int]:
    sizes = part[column].dropna().value_counts().value_counts().sort_index()
    return {str(size): int(n) for size, n in sizes.items()}


def _count_ids(part: pd.DataFrame, column: str) -> int | None:
    ids = part[column].dropna()
    return int(ids.nunique()) if len(ids) else None


def _dataset_summary(part: pd.DataFrame) -> dict[str, Any]:
    codes = diagnosis_order(part["diagnosis"])
    return {
        "n_images": len(part),
        "n_lesions": _count_ids(part, "lesion_id"),
        "n_patients": _count_ids(part, "patient_id"),
        "n_images_without_lesion_id": int(part["lesion_id"].isna().sum()),
        "n_images_without_patient_id": int(part["patient_id"].isna().sum()),
        "diagnosis_counts": _value_counts(part["diagnosis"], codes),
        "malignant_counts": _value_counts(_malignancy(part["malignant"]), MALIGNANCIES),
        "age_histogram": _age_histogram(part, codes),
        "sex_by_diagnosis": _by_diagnosis(part, "sex", SEXES),
        "site_by_diagnosis": _by_diagnosis(part, "site", SITES),
        "confirmation_by_diagnosis": _by_diagnosis(part, "confirmation", CONFIRMATIONS),
        "images_per_lesion": _images_per(part, "lesion_id"),
        "images_per_patient": _images_per(part, "patient_id"),
    }


def summarize(frame: pd.DataFrame) -> dict[str, Any]:
    """Aggregate a normalised metadata frame (see :mod:`.metadata`) into a JSON summary.

    Returns:
        ``{"schema_version", "age_bin_width", "datasets": {name: {...}}, "cube": {...}}``;
        counts and histograms only.
    """
    _check_frame(frame)
    names = dataset_order(frame["dataset"])
    parts = {name: frame[frame["dataset"] == name] for name in names}
    return {
        "schema_version": SCHEMA_VERSION,
        "age_bin_width": AGE_BIN_WIDTH,
        "datasets": {name: _dataset_summary(part) for name, part in parts.items()},
        "cube": encode_cube(_cube(frame)),
    }


def write_summary(summary: dict[str, Any], out_path: str | os.PathLike[str]) -> Path:
    """Write a summary as JSON (one cube row per line), atomically; returns the path."""
    out = Path(out_path)
    rows = summary["cube"]["rows"]
    marker = "@@CUBE_ROWS@@"
    skeleton = {**summary, "cube": {**summary["cube"], "rows": marker}}
    text = json.dumps(skeleton, indent=1, ensure_ascii=False)
    lines = ",\n".join(json.dumps(row, separators=(",", ":")) for row in rows)
    text = text.replace(json.dumps(marker), "[\n" + lines + "\n]")
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(out, text + "\n")


def load_summary(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read a summary written by :func:`write_summary`; ``None`` means the bundled one."""
    where = Path(path) if path is not None else SUMMARY_PATH
    try:
        summary = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryError(f"{where} not found: rebuild it with `{REBUILD_COMMAND}`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryError(f"{where} is not a readable JSON summary: {error}") from None
    _check_summary(summary, where)
    return summary


def _check_summary(summary: Any, where: Path) -> None:
    if not isinstance(summary, dict) or not {"datasets", "cube"} <= summary.keys():
        raise SummaryError(f"{where} is not a statistics summary (no 'datasets' and 'cube')")
    version = summary.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SummaryError(
            f"{where} has schema version {version}, expected {SCHEMA_VERSION}: "
            f"rebuild it with `{REBUILD_COMMAND}`"
        )
