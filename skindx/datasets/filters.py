"""Filters over the summary's cube: what to keep, the values each filter can take."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from skindx.datasets.metadata import SEXES, SITES
from skindx.datasets.names import dataset_order, diagnosis_order, ordered
from skindx.datasets.summary import AGE_BIN_WIDTH


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
        "datasets": dataset_order(cube["dataset"]),
        "sexes": ordered(cube["sex"], SEXES),
        "sites": ordered(cube["site"], SITES),
        "diagnoses": diagnosis_order(cube["diagnosis"]),
        "age": (int(ages.min()), int(ages.max())) if len(ages) else (0, 0),
    }


def keeps_everything(filters: Filters, options: dict[str, Any]) -> bool:
    """Whether ``filters`` keep every row of the cube whose :func:`filter_options` are
    ``options``: every dataset, in any order, and no other filter."""
    chosen = set(filters.datasets or options["datasets"])
    narrowed = filters.age_range or filters.sexes or filters.sites or filters.diagnoses
    return chosen == set(options["datasets"]) and not narrowed


def combine_cubes(*cubes: pd.DataFrame) -> pd.DataFrame:
    """Stack cube frames (e.g. the bundled one and an upload's) into one."""
    return pd.concat(cubes, ignore_index=True)
