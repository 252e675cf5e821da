"""Dataset statistics: normalised metadata frames → aggregated summary → tables → plotly figures.

The summary (:func:`summarize`) is JSON and holds counts only, never per-image rows:

- ``datasets``: per dataset, the headline tables (diagnosis counts, age histograms by diagnosis,
  sex/site/confirmation × diagnosis, images per lesion and per patient);
- ``cube``: image counts over every combination of :data:`CUBE_DIMS` that occurs. Filters act on
  the cube, so every filtered chart is exact without the per-image rows.

Each chart is three functions over the (filtered) cube frame: ``*_table`` (a tidy DataFrame, the
CSV a reader downloads), ``*_figure`` (plotly) and ``*_takeaway`` (the sentence under the chart,
computed from the same table).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from skindx.config import STATS_SUMMARY_PATH, settings
from skindx.datasets.metadata import (
    COLUMNS,
    CONFIRMATIONS,
    DATASETS,
    HAM10000,
    SEXES,
    SITES,
    MetadataError,
    detect_format,
    read_header,
    read_metadata,
    unicode_encoding,
)
from skindx.taxonomy import BY_CODE, CODES

SCHEMA_VERSION = 1
SUMMARY_PATH = STATS_SUMMARY_PATH
REBUILD_COMMAND = "skindx stats summarize CSV... --out content/stats_summary.json"
AGE_BIN_WIDTH = 5
UPLOAD_DATASET = "Your data"
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

_PALETTE = px.colors.qualitative.Safe
DATASET_COLORS: dict[str, str] = {
    name: color for name, color in zip((*DATASETS, UPLOAD_DATASET), _PALETTE, strict=False)
}
MALIGNANCY_COLORS = {"malignant": "#c0392b", "benign": "#5d9c59", "unknown": "#b0b0b0"}
SEX_COLORS = {"female": "#aa4499", "male": "#3366aa", "unknown": "#b0b0b0"}


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


def _named(table: pd.DataFrame, column: str = "diagnosis") -> pd.DataFrame:
    """The table with its diagnosis codes replaced by their names, for a chart."""
    names = {value: diagnosis_name(value) for value in table[column].unique()}
    return table.assign(**{column: table[column].map(names)})


def _name_order(values: Iterable[str]) -> list[str]:
    return [diagnosis_name(code) for code in diagnosis_order(values)]


class SummaryError(ValueError):
    """A statistics summary file that is missing or not in the expected format."""


# --------------------------------------------------------------------------------------------
# Orders


def diagnosis_order(values: Iterable[str]) -> list[str]:
    """The seven codes in taxonomy order, then other names alphabetically, ``unknown`` last."""
    present = set(values)
    others = sorted(present - set(CODES) - {"unknown", "scc"})
    others = (["scc"] if "scc" in present else []) + others
    return (
        [c for c in CODES if c in present] + others + (["unknown"] if "unknown" in present else [])
    )


def _dataset_order(values: Iterable[str]) -> list[str]:
    """An upload first (the takeaways speak of the first), then the ISIC sets, then others."""
    present = list(dict.fromkeys(values))
    known = [d for d in (UPLOAD_DATASET, *DATASETS) if d in present]
    return known + [d for d in present if d not in known]


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def _sort(table: pd.DataFrame, orders: dict[str, Sequence[Any]]) -> pd.DataFrame:
    keys = {}
    for column, order in orders.items():
        rank = {value: i for i, value in enumerate(order)}
        keys[f"_{column}"] = table[column].map(rank)
    ranked = table.assign(**keys).sort_values(list(keys), kind="stable")
    return ranked.drop(columns=list(keys)).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Summaries


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
        "dataset": _dataset_order(cube["dataset"]),
        "diagnosis": diagnosis_order(cube["diagnosis"]),
        "age": [*ages, None] if cube["age"].isna().any() else ages,
        "sex": _ordered(cube["sex"], SEXES),
        "site": _ordered(cube["site"], SITES),
        "confirmation": _ordered(cube["confirmation"], CONFIRMATIONS),
        "malignancy": _ordered(cube["malignancy"], MALIGNANCIES),
        "lesion_images": _ordered(cube["lesion_images"], (*GROUP_LABELS, NO_ID)),
        "patient_images": _ordered(cube["patient_images"], (*GROUP_LABELS, NO_ID)),
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
    return {key: int(counts[key]) for key in _ordered(counts.index, order)}


def _by_diagnosis(part: pd.DataFrame, column: str, order: Sequence[str]) -> dict[str, Any]:
    table = pd.crosstab(part["diagnosis"], part[column])
    columns = _ordered(table.columns, order)
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
    names = _dataset_order(frame["dataset"])
    parts = {name: frame[frame["dataset"] == name] for name in names}
    return {
        "schema_version": SCHEMA_VERSION,
        "age_bin_width": AGE_BIN_WIDTH,
        "datasets": {name: _dataset_summary(part) for name, part in parts.items()},
        "cube": encode_cube(_cube(frame)),
    }


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


def read_files(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """Read and concatenate metadata CSVs (an ISIC 2019 metadata CSV joins its ground truth)."""
    if not paths:
        raise MetadataError("no metadata CSV given")
    frames = [
        _read(path, metadata=meta) for path, meta in _pair_2019_metadata([Path(p) for p in paths])
    ]
    return pd.concat(frames, ignore_index=True)


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


def _read(source: Any, **kwargs: Any) -> pd.DataFrame:
    try:
        return read_metadata(source, **kwargs)
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
    summary = summarize(read_files(paths))
    return {"sources": [Path(p).name for p in paths], **summary}


def summarize_upload(data: bytes, name: str = "upload.csv") -> dict[str, Any]:
    """Validate and summarise an uploaded CSV in memory (nothing is written or cached)."""
    limit = settings().max_upload_bytes
    if len(data) > limit:
        raise MetadataError(
            f"{name} is {len(data) / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB"
        )
    buffer = io.BytesIO(upload_bytes(data, name))
    buffer.name = name
    return summarize(_read(buffer, dataset=UPLOAD_DATASET))


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
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(out)
    return out


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


# --------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class Filters:
    """Filters over the cube; ``None`` (or empty) keeps everything for that dimension.

    ``age_range`` is inclusive and acts on 5-year bins: ``(40, 60)`` keeps ages 40–64.
    When set, images of unknown age are left out.
    """

    datasets: tuple[str, ...] | None = None
    age_range: tuple[float, float] | None = None
    sexes: tuple[str, ...] | None = None
    sites: tuple[str, ...] | None = None
    diagnoses: tuple[str, ...] | None = None


def apply_filters(cube: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The cube rows that pass every filter."""
    keep = pd.Series(True, index=cube.index)
    for column, values in (
        ("dataset", filters.datasets),
        ("sex", filters.sexes),
        ("site", filters.sites),
        ("diagnosis", filters.diagnoses),
    ):
        if values:
            keep &= cube[column].isin(values)
    if filters.age_range is not None:
        low, high = filters.age_range
        keep &= cube["age"].between(math.floor(low / AGE_BIN_WIDTH) * AGE_BIN_WIDTH, high)
    return cube[keep].reset_index(drop=True)


def filter_options(cube: pd.DataFrame) -> dict[str, Any]:
    """The values each filter can take in this cube (``age``: the lowest and highest bin)."""
    ages = cube["age"].dropna()
    return {
        "datasets": _dataset_order(cube["dataset"]),
        "sexes": _ordered(cube["sex"], SEXES),
        "sites": _ordered(cube["site"], SITES),
        "diagnoses": diagnosis_order(cube["diagnosis"]),
        "age": (int(ages.min()), int(ages.max())) if len(ages) else (0, 0),
    }


def combine_cubes(*cubes: pd.DataFrame) -> pd.DataFrame:
    """Stack cube frames (e.g. the bundled one and an upload's) into one."""
    return pd.concat(cubes, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Tables (one per chart)


def _share(table: pd.DataFrame, within: list[str]) -> pd.DataFrame:
    totals = table.groupby(within, sort=False)["images"].transform("sum")
    return table.assign(percent=(100.0 * table["images"] / totals).round(4))


def _count(cube: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return cube.groupby(by, sort=False, dropna=False)["images"].sum().reset_index()


def _standard_orders(table: pd.DataFrame) -> dict[str, Sequence[Any]]:
    orders: dict[str, Sequence[Any]] = {}
    known = {
        "dataset": _dataset_order(table["dataset"]) if "dataset" in table else [],
        "diagnosis": diagnosis_order(table["diagnosis"]) if "diagnosis" in table else [],
        "sex": SEXES,
        "site": SITES,
        "confirmation": CONFIRMATIONS,
        "malignancy": MALIGNANCIES,
        "age": sorted(table["age"].unique()) if "age" in table else [],
    }
    for column in table.columns:
        if column in known:
            orders[column] = known[column]
    return orders


def _table(cube: pd.DataFrame, by: list[str], within: list[str]) -> pd.DataFrame:
    table = _share(_count(cube, by), within)
    table = table[table["images"] > 0]
    return _sort(table, _standard_orders(table))


def diagnosis_table(cube: pd.DataFrame) -> pd.DataFrame:
    """Images per diagnosis and dataset; ``percent`` of the dataset's images."""
    return _table(cube, ["dataset", "diagnosis"], ["dataset"])


def malignancy_table(cube: pd.DataFrame) -> pd.DataFrame:
    """Images per dataset that are malignant, benign or of unknown malignancy."""
    return _table(cube, ["dataset", "malignancy"], ["dataset"])


def age_table(cube: pd.DataFrame) -> pd.DataFrame:
    """Images per 5-year age bin, diagnosis and dataset (known ages only).

    ``percent`` is of that diagnosis's images of known age in that dataset.
    """
    known = cube[cube["age"].notna()]
    table = _table(known, ["dataset", "diagnosis", "age"], ["dataset", "diagnosis"])
    table["age"] = table["age"].astype(int)
    return table


def sex_table(cube: pd.DataFrame) -> pd.DataFrame:
    """Images per sex × diagnosis × dataset; ``percent`` of that diagnosis in that dataset."""
    return _table(cube, ["dataset", "diagnosis", "sex"], ["dataset", "diagnosis"])


def site_table(cube: pd.DataFrame) -> pd.DataFrame:
    """Images per body site × diagnosis × dataset; ``percent`` of that diagnosis."""
    return _table(cube, ["dataset", "diagnosis", "site"], ["dataset", "diagnosis"])


def confirmation_table(cube: pd.DataFrame) -> pd.DataFrame:
    """Images per confirmation method × diagnosis × dataset; ``percent`` of that diagnosis."""
    return _table(cube, ["dataset", "diagnosis", "confirmation"], ["dataset", "diagnosis"])


def group_size_table(cube: pd.DataFrame, level: str = "lesion") -> pd.DataFrame:
    """Images by how many images their lesion (or patient) has in the dataset.

    Images without a lesion (patient) id are left out; ``percent`` is of the images with one.
    """
    column = _group_column(level)
    with_id = cube[cube[column] != NO_ID]
    table = _table(with_id, ["dataset", column], ["dataset"])
    return _sort(table, {"dataset": _dataset_order(table["dataset"]), column: GROUP_LABELS})


def _group_column(level: str) -> str:
    if level not in ("lesion", "patient"):
        raise ValueError(f"level must be 'lesion' or 'patient'. Received: level={level!r}")
    return f"{level}_images"


def imbalance_table(cube: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: what always answering the commonest class scores, over the model's classes.

    ``accuracy`` is that class's share of the images labelled with one of the seven classes;
    ``balanced_accuracy`` (mean per-class recall) is 1 / the number of classes present.
    """
    labelled = cube[cube["diagnosis"].isin(CODES)]
    counts = _count(labelled, ["dataset", "diagnosis"])
    counts = counts[counts["images"] > 0]
    rows = [_imbalance_row(name, part) for name, part in counts.groupby("dataset", sort=False)]
    columns = ["dataset", "majority_class", "majority_images", "labelled_images", "n_classes"]
    table = pd.DataFrame(rows, columns=[*columns, "accuracy", "balanced_accuracy"])
    return _sort(table, {"dataset": _dataset_order(table["dataset"])})


def _imbalance_row(name: str, part: pd.DataFrame) -> dict[str, Any]:
    top = part.loc[part["images"].idxmax()]
    total = int(part["images"].sum())
    n_classes = len(part)
    return {
        "dataset": name,
        "majority_class": top["diagnosis"],
        "majority_images": int(top["images"]),
        "labelled_images": total,
        "n_classes": n_classes,
        "accuracy": int(top["images"]) / total,
        "balanced_accuracy": 1 / n_classes,
    }


def balanced_accuracy_example(
    data: dict[str, Any] | pd.DataFrame, dataset: str = HAM10000
) -> dict[str, Any]:
    """The numbers behind "why balanced accuracy": always answering the commonest class.

    Args:
        data: a summary or a (filtered) cube frame.
        dataset: which dataset to take the numbers from.

    Returns:
        ``dataset, majority_class, majority_images, labelled_images, n_classes, accuracy,
        balanced_accuracy`` (e.g. HAM10000: always "nv" is 66.9% accurate, balanced 1/7).
    """
    cube = cube_frame(data) if isinstance(data, dict) else data
    table = imbalance_table(cube)
    row = table[table["dataset"] == dataset]
    if row.empty:
        raise ValueError(f"no labelled images of {dataset!r} in the data")
    return row.iloc[0].to_dict()


def overview_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per dataset of a summary (all images, before filters)."""
    rows = []
    for name, data in summary["datasets"].items():
        n = data["n_images"]
        diagnoses = data["diagnosis_counts"]
        rows.append(
            {
                "dataset": name,
                "images": n,
                "lesions": data["n_lesions"],
                "patients": data["n_patients"],
                "diagnoses": len([c for c in diagnoses if c != "unknown"]),
                "malignant %": round(100 * data["malignant_counts"].get("malignant", 0) / n, 1),
                "melanoma %": round(100 * diagnoses.get("mel", 0) / n, 1),
                "unknown diagnosis %": round(100 * diagnoses.get("unknown", 0) / n, 1),
            }
        )
    return pd.DataFrame(rows).astype({"lesions": "Int64", "patients": "Int64"})


# --------------------------------------------------------------------------------------------
# Figures (one per chart)


def _colors(values: Iterable[str]) -> dict[str, str]:
    names = list(dict.fromkeys(values))
    spare = iter(_PALETTE[len(DATASET_COLORS) :] + px.colors.qualitative.Pastel)
    return {name: DATASET_COLORS.get(name) or next(spare) for name in names}


def _layout(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0, "title": None},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=height,
    )
    # Long tick labels (diagnosis names, sites) get the room they need instead of being cut.
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig


def _empty_figure(title: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text="No images match the filters", showarrow=False, x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, 240)


def _facet_height(table: pd.DataFrame, per_row: int = 230) -> int:
    return 120 + per_row * max(1, table["dataset"].nunique())


def diagnosis_figure(table: pd.DataFrame, *, percent: bool = False, log: bool = False) -> go.Figure:
    """Grouped bars: images (or % of each dataset) per diagnosis, one colour per dataset."""
    title = "Diagnoses" + (" (% of each dataset)" if percent else " (images)")
    if table.empty:
        return _empty_figure(title)
    value = "percent" if percent else "images"
    fig = px.bar(
        _named(table),
        x="diagnosis",
        y=value,
        color="dataset",
        barmode="group",
        color_discrete_map=_colors(table["dataset"]),
        hover_data={"images": ":,", "percent": ":.1f"},
        log_y=log,
        category_orders={"diagnosis": _name_order(table["diagnosis"])},
        labels={"percent": "% of dataset", "images": "images", "diagnosis": ""},
    )
    return _layout(fig, title, 420)


def malignancy_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars: malignant / benign / unknown share per dataset."""
    title = "Benign or malignant (% of images)"
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        table,
        x="percent",
        y="dataset",
        color="malignancy",
        orientation="h",
        color_discrete_map=MALIGNANCY_COLORS,
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={"percent": "% of images", "dataset": ""},
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, 140 + 50 * table["dataset"].nunique())


def age_figure(table: pd.DataFrame) -> go.Figure:
    """Age distribution per diagnosis (% of that diagnosis), a panel per diagnosis."""
    title = "Age by diagnosis (% of each diagnosis's images, 5-year bins)"
    if table.empty:
        return _empty_figure(title)
    n_codes = table["diagnosis"].nunique()
    fig = px.line(
        _named(table),
        x="age",
        y="percent",
        color="dataset",
        facet_col="diagnosis",
        facet_col_wrap=2,
        facet_row_spacing=0.06,
        markers=True,
        color_discrete_map=_colors(table["dataset"]),
        category_orders={"diagnosis": _name_order(table["diagnosis"])},
        hover_data={"images": ":,"},
        labels={"percent": "%", "age": "age"},
    )
    return _layout(fig, title, 160 + 170 * math.ceil(n_codes / 2))


def _stacked_by_diagnosis(
    table: pd.DataFrame, column: str, title: str, colors: dict[str, str] | None = None
) -> go.Figure:
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        _named(table),
        x="diagnosis",
        y="percent",
        color=column,
        facet_row="dataset",
        color_discrete_map=colors or {},
        category_orders={
            "dataset": _dataset_order(table["dataset"]),
            "diagnosis": _name_order(table["diagnosis"]),
        },
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={"percent": "%", "diagnosis": ""},
    )
    fig.update_xaxes(matches=None, showticklabels=True)
    return _layout(fig, title, _facet_height(table))


def sex_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars: sex within each diagnosis, a panel per dataset."""
    return _stacked_by_diagnosis(table, "sex", "Sex by diagnosis (%)", SEX_COLORS)


def confirmation_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars: how each diagnosis was confirmed, a panel per dataset."""
    return _stacked_by_diagnosis(table, "confirmation", "How each diagnosis was confirmed (%)")


def site_figure(table: pd.DataFrame) -> go.Figure:
    """Heat map per dataset: % of each diagnosis's images at each body site."""
    title = "Body site by diagnosis (% of each diagnosis)"
    if table.empty:
        return _empty_figure(title)
    names = _dataset_order(table["dataset"])
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, vertical_spacing=0.08)
    for row, name in enumerate(names, start=1):
        part = table[table["dataset"] == name]
        z = part.pivot(index="site", columns="diagnosis", values="percent")
        counts = part.pivot(index="site", columns="diagnosis", values="images")
        sites = _ordered(z.index, SITES)
        codes = diagnosis_order(z.columns)
        z, counts = (
            z.reindex(index=sites, columns=codes),
            counts.reindex(index=sites, columns=codes),
        )
        fig.add_trace(_heatmap(z, counts), row=row, col=1)
        fig.update_yaxes(autorange="reversed", row=row, col=1)
    fig.update_layout(coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 100})
    fig.update_layout(coloraxis_colorbar={"title": "%", "thickness": 12})
    return _layout(fig, title, 80 + 260 * len(names))


def _heatmap(z: pd.DataFrame, counts: pd.DataFrame) -> go.Heatmap:
    return go.Heatmap(
        z=z.fillna(0).to_numpy(),
        x=[diagnosis_name(code) for code in z.columns],
        y=list(z.index),
        customdata=counts.fillna(0).astype(int).to_numpy(),
        text=z.round(0).fillna(0).astype(int).to_numpy(),
        texttemplate="%{text}",
        hovertemplate="%{x} at %{y}: %{z:.1f}% (%{customdata:,} images)<extra></extra>",
        coloraxis="coloraxis",
    )


def group_size_figure(table: pd.DataFrame, level: str = "lesion") -> go.Figure:
    """Bars: % of images by how many images their lesion (patient) has."""
    column = _group_column(level)
    title = f"Images by how many images their {level} has (%)"
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        table,
        x=column,
        y="percent",
        color="dataset",
        barmode="group",
        color_discrete_map=_colors(table["dataset"]),
        category_orders={column: list(GROUP_LABELS)},
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={column: f"images of the same {level}", "percent": "% of images"},
    )
    # The labels "1"…"5" look like numbers: without a categorical axis plotly draws a numeric
    # one (1.5…5.5) on which "6-10", "11-20", "21-50" and "51+" have no place.
    groups = [label for label in GROUP_LABELS if label in set(table[column])]
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=groups)
    return _layout(fig, title, 400)


def imbalance_figure(table: pd.DataFrame) -> go.Figure:
    """Bars per dataset: accuracy vs balanced accuracy of always answering the commonest class."""
    title = "Always answering the commonest class"
    if table.empty:
        return _empty_figure(title)
    long = table.melt(
        id_vars=["dataset", "majority_class"],
        value_vars=["accuracy", "balanced_accuracy"],
        var_name="metric",
        value_name="score",
    )
    long["metric"] = long["metric"].str.replace("_", " ")
    long["majority_class"] = long["majority_class"].map(diagnosis_name)
    long["score"] = 100 * long["score"]
    fig = px.bar(
        long,
        x="dataset",
        y="score",
        color="metric",
        barmode="group",
        hover_data={"majority_class": True},
        labels={"score": "%", "dataset": "", "majority_class": "commonest class"},
        color_discrete_map={"accuracy": "#999933", "balanced accuracy": "#332288"},
    )
    fig.update_yaxes(range=[0, 100])
    return _layout(fig, title, 380)


# --------------------------------------------------------------------------------------------
# Takeaways (one per chart, computed from the chart's table)

NO_MATCH = "No images match the filters."


def _pct(value: float) -> str:
    return "<0.1%" if 0 < value < 0.05 else f"{value:.1f}%"


def _name(code: str) -> str:
    return f"{BY_CODE[code].name.lower()} ({code})" if code in BY_CODE else code


def _focus_share(table: pd.DataFrame, value: str, column: str = "diagnosis") -> pd.Series:
    """Each dataset's percent for one ``value`` of ``column`` (0 where absent)."""
    shares = table[table[column] == value].set_index("dataset")["percent"]
    return shares.reindex(_dataset_order(table["dataset"]), fill_value=0.0)


def diagnosis_takeaway(table: pd.DataFrame) -> str:
    """How lopsided the first dataset is, and how the melanoma share differs between datasets."""
    if table.empty:
        return NO_MATCH
    name, part = _first_dataset(table)
    if part.empty:
        return "None of the images shown has a known diagnosis."
    part = part.set_index("diagnosis")
    largest, smallest = part["images"].idxmax(), part["images"].idxmin()
    ratio = part.loc[largest, "images"] / part.loc[smallest, "images"]
    text = f"In {name}, {_name(largest)} is {_pct(part.loc[largest, 'percent'])} of the images"
    if largest != smallest:
        text += (
            f", {ratio:,.0f}× as many as {_name(smallest)} ({_pct(part.loc[smallest, 'percent'])})"
        )
    text += "." + _unknown_note(table)
    shares = _focus_share(table, "mel")
    if len(shares) > 1 and shares.max() > 0:
        high, low = shares.idxmax(), shares.idxmin()
        text += (
            f" Melanoma is {_pct(shares[high])} of {high} images but {_pct(shares[low])} of {low}."
        )
    return text


def _unknown_note(table: pd.DataFrame) -> str:
    unknown = _focus_share(table, "unknown")
    if unknown.max() < 1:
        return ""
    name = unknown.idxmax()
    return f" {_pct(unknown[name])} of {name} images have no specific diagnosis (unknown)."


def malignancy_takeaway(table: pd.DataFrame) -> str:
    """The malignant share, highest and lowest dataset."""
    if table.empty:
        return NO_MATCH
    shares = _focus_share(table, "malignant", "malignancy")
    high, low = shares.idxmax(), shares.idxmin()
    if high == low:
        return f"{_pct(shares[high])} of the {high} images shown are malignant."
    return (
        f"Malignant lesions are {_pct(shares[high])} of {high} images but only "
        f"{_pct(shares[low])} of {low}: a model's sensitivity and the positive predictive "
        "value it can reach depend on which set it is measured on."
    )


def _median_bins(table: pd.DataFrame) -> pd.Series:
    """Median age bin per diagnosis, from the histogram."""
    medians = {}
    for code, part in table.groupby("diagnosis", sort=False):
        counts = part.groupby("age")["images"].sum().sort_index()
        cumulative = counts.cumsum() / counts.sum()
        medians[code] = int(cumulative[cumulative >= 0.5].index[0])
    return pd.Series(medians, dtype=int)


def _first_dataset(table: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The first dataset shown (the training set by default) and its rows, known diagnoses only."""
    known = table[table["diagnosis"] != "unknown"]
    if known.empty:
        return "", known
    name = _dataset_order(known["dataset"])[0]
    return name, known[known["dataset"] == name]


def _large_enough(part: pd.DataFrame, min_images: int) -> pd.DataFrame:
    sizes = part.groupby("diagnosis")["images"].sum()
    return part[part["diagnosis"].isin(sizes[sizes >= min_images].index)]


def age_takeaway(table: pd.DataFrame, min_images: int = 20) -> str:
    """Which diagnoses are seen in the oldest and the youngest patients (median age bin)."""
    if table.empty:
        return "No images of known age match the filters."
    name, part = _first_dataset(table)
    part = _large_enough(part, min_images)
    if part.empty:
        return "Too few images of known age and diagnosis for a comparison."
    medians = _median_bins(part)
    old, young = medians.idxmax(), medians.idxmin()
    text = f"In {name}, the median age is {_age_label(medians[old])} for {_name(old)}"
    if old == young:
        return text + "."
    return text + f" and {_age_label(medians[young])} for {_name(young)}."


def _age_label(start: int) -> str:
    return f"{start}–{start + AGE_BIN_WIDTH - 1}"


def _per_diagnosis(part: pd.DataFrame, column: str, exclude: Sequence[str]) -> pd.DataFrame:
    known = part[~part[column].isin(exclude)]
    wide = known.pivot_table(index="diagnosis", columns=column, values="images", aggfunc="sum")
    return wide.fillna(0)


def sex_takeaway(table: pd.DataFrame, min_images: int = 20) -> str:
    """The diagnoses with the highest and lowest share of men, in the first dataset shown."""
    if table.empty:
        return NO_MATCH
    name, part = _first_dataset(table)
    per_code = _per_diagnosis(part, "sex", ["unknown"])
    per_code = per_code[per_code.sum(axis=1) >= min_images]
    if per_code.empty or "male" not in per_code:
        return "Too few images of known sex and diagnosis for a comparison."
    male = 100 * per_code["male"] / per_code.sum(axis=1)
    high, low = male.idxmax(), male.idxmin()
    overall = 100 * per_code["male"].sum() / per_code.to_numpy().sum()
    text = f"In {name}, {_pct(overall)} of the images of known sex are of men"
    if high == low:
        return text + "."
    return text + f": {_pct(male[high])} for {_name(high)}, {_pct(male[low])} for {_name(low)}."


def site_takeaway(table: pd.DataFrame, min_images: int = 20) -> str:
    """The commonest site overall, and the diagnosis most concentrated at one site."""
    if table.empty:
        return NO_MATCH
    known = table[~table["site"].isin(["unknown", "other"])]
    if known.empty:
        return "The body site of the images shown is not recorded."
    sites = known.groupby("site")["images"].sum()
    top = sites.idxmax()
    text = f"The {top} is the commonest known site ({_pct(100 * sites[top] / sites.sum())})."
    name, part = _first_dataset(known)
    per_code = _per_diagnosis(part, "site", [])
    per_code = per_code[per_code.sum(axis=1) >= min_images]
    if per_code.empty:
        return text
    shares = per_code.div(per_code.sum(axis=1), axis=0)
    code = shares.max(axis=1).idxmax()
    site = shares.loc[code].idxmax()
    return text + (
        f" In {name}, {_pct(100 * shares.loc[code, site])} of {_name(code)} images of known "
        f"site are on the {site}."
    )


def confirmation_takeaway(table: pd.DataFrame) -> str:
    """How much of each dataset is histopathology-confirmed, and which record no method."""
    if table.empty:
        return NO_MATCH
    per_dataset = table.pivot_table(
        index="dataset", columns="confirmation", values="images", aggfunc="sum"
    ).fillna(0)
    order = _dataset_order(per_dataset.index)
    known = per_dataset.drop(columns=["unknown"], errors="ignore").sum(axis=1)
    unrecorded = [name for name in order if known[name] == 0]
    recorded = [name for name in order if known[name] > 0]
    parts = []
    if recorded:
        histo = per_dataset.get("histopathology", pd.Series(0, index=per_dataset.index))
        name = recorded[0]
        text = f"In {name}, {_pct(100 * histo[name] / known[name])} of the images"
        parts.append(text + " with a recorded method were confirmed by histopathology.")
        parts.append(_malignant_histology(table, name))
    if unrecorded:
        verb = "records" if len(unrecorded) == 1 else "record"
        parts.append(f"{_join(unrecorded)} {verb} no confirmation method.")
    return " ".join(p for p in parts if p)


def _malignant_histology(table: pd.DataFrame, name: str) -> str:
    part = table[(table["dataset"] == name) & table["diagnosis"].isin(["mel", "bcc"])]
    if part.empty:
        return ""
    histo = part.loc[part["confirmation"] == "histopathology", "images"].sum()
    return f"For melanoma and BCC it is {_pct(100 * histo / part['images'].sum())}."


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def group_size_takeaway(table: pd.DataFrame, level: str = "lesion") -> str:
    """How many images share their lesion (patient) with others: the reason to split by id."""
    if table.empty:
        return f"None of the images shown has a {level} id."
    column = _group_column(level)
    order = _dataset_order(table["dataset"])
    shared = table[table[column] != "1"].groupby("dataset")["percent"].sum()
    shared = shared.reindex(order, fill_value=0.0)
    many = table[table[column].isin(GROUP_LABELS[6:])].groupby("dataset")["percent"].sum()
    listed = _join([f"{_pct(shared[name])} in {name}" for name in order])
    text = f"Images that share their {level} with at least one other image: {listed}."
    if not many.empty and many.max() >= 1:
        name = many.idxmax()
        text += f" In {name}, {_pct(many[name])} come from a {level} with more than 10 images."
    return text + f" So split training and test data by {level}_id, never by image."


def imbalance_takeaway(table: pd.DataFrame) -> str:
    """What always answering the commonest class scores, in accuracy and balanced accuracy."""
    if table.empty:
        return "No images of the seven classes match the filters."
    row = table.iloc[0]
    return (
        f"A model that always answers {_name(row['majority_class'])} is right on "
        f"{_pct(100 * row['accuracy'])} of the {row['dataset']} images shown, yet finds not one "
        f"of the other {row['n_classes'] - 1} classes: its balanced accuracy (mean recall per "
        f"class) is {_pct(100 * row['balanced_accuracy'])}, 1/{row['n_classes']}. That is why "
        "the model is judged by balanced accuracy."
    )
