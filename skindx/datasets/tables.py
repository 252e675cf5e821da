"""The statistics tables: a (filtered) cube → one tidy DataFrame per chart, the CSV a reader
downloads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from skindx.datasets.metadata import CONFIRMATIONS, HAM10000, SEXES, SITES
from skindx.datasets.names import dataset_order, diagnosis_order
from skindx.datasets.summary import GROUP_LABELS, MALIGNANCIES, NO_ID, cube_frame
from skindx.taxonomy import CODES

# Under this many images of a diagnosis in a dataset, its shares (by age, sex, site or
# confirmation) are left out of the charts: 2 of 2 images of men reads as "100% male", a finding.
MIN_IMAGES_FOR_SHARE = 5


def diagnosis_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """``dataset, diagnosis, images``: each diagnosis's images in each dataset of a
    per-diagnosis table (:func:`age_table`, :func:`sex_table` …), in the table's order."""
    sizes = table.groupby(["dataset", "diagnosis"], sort=False)["images"].sum().reset_index()
    return _sort(sizes, _standard_orders(sizes))


def too_few_for_shares(table: pd.DataFrame) -> pd.DataFrame:
    """The diagnoses of a per-diagnosis table with fewer than :data:`MIN_IMAGES_FOR_SHARE`
    images in their dataset (``dataset, diagnosis, images``): too few for a share."""
    sizes = diagnosis_sizes(table)
    return sizes[sizes["images"] < MIN_IMAGES_FOR_SHARE].reset_index(drop=True)


def enough_for_shares(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a per-diagnosis table whose diagnosis has at least
    :data:`MIN_IMAGES_FOR_SHARE` images in its dataset: the shares a chart may compare."""
    totals = table.groupby(["dataset", "diagnosis"], sort=False)["images"].transform("sum")
    return table[totals >= MIN_IMAGES_FOR_SHARE].reset_index(drop=True)


def _sort(table: pd.DataFrame, orders: dict[str, Sequence[Any]]) -> pd.DataFrame:
    keys = {}
    for column, order in orders.items():
        rank = {value: i for i, value in enumerate(order)}
        keys[f"_{column}"] = table[column].map(rank)
    ranked = table.assign(**keys).sort_values(list(keys), kind="stable")
    return ranked.drop(columns=list(keys)).reset_index(drop=True)


def _share(table: pd.DataFrame, within: list[str]) -> pd.DataFrame:
    totals = table.groupby(within, sort=False)["images"].transform("sum")
    return table.assign(percent=(100.0 * table["images"] / totals).round(4))


def _count(cube: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return cube.groupby(by, sort=False, dropna=False)["images"].sum().reset_index()


def _standard_orders(table: pd.DataFrame) -> dict[str, Sequence[Any]]:
    orders: dict[str, Sequence[Any]] = {}
    known = {
        "dataset": dataset_order(table["dataset"]) if "dataset" in table else [],
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
    column = group_column(level)
    with_id = cube[cube[column] != NO_ID]
    table = _table(with_id, ["dataset", column], ["dataset"])
    return _sort(table, {"dataset": dataset_order(table["dataset"]), column: GROUP_LABELS})


def group_column(level: str) -> str:
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
    return _sort(table, {"dataset": dataset_order(table["dataset"])})


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


# The imbalance table's counts, left out on a phone: its chart and takeaway carry them.
_PHONE_DROPPED = ("majority_images", "labelled_images", "n_classes")


def phone_table(table: pd.DataFrame) -> pd.DataFrame:
    """A chart's table for a phone's width: headings in words (spaces, so they wrap),
    percentages and fractions written short, long words hyphenable, and the imbalance table's
    counts left out."""
    shown = table.drop(columns=[c for c in _PHONE_DROPPED if c in table.columns])
    # "percent" holds percentages, the other float columns fractions. (reports.numbers.percent
    # writes them alike but sits a layer above this module.)
    short = {
        column: shown[column].map(
            (lambda v: f"{v:.1f}%") if column == "percent" else (lambda v: f"{v:.0%}")
        )
        for column in shown.columns
        if shown[column].dtype.kind == "f"
    }
    words = {
        column: shown[column].map(_hyphenable)
        for column in shown.columns
        if shown[column].dtype == object and column != "dataset"
    }
    return shown.assign(**short, **words).rename(columns=lambda c: c.replace("_", " "))


def _hyphenable(value: Any) -> Any:
    """A soft hyphen in the middle of each word of 12 letters or more ("histopathology"):
    tables do not break a word otherwise, so one long word widens its whole column."""
    if not isinstance(value, str):
        return value
    return " ".join(
        f"{word[: len(word) // 2]}\u00ad{word[len(word) // 2 :]}" if len(word) >= 12 else word
        for word in value.split(" ")
    )
