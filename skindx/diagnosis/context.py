"""Clinical context: a person's age, sex and body site sharpen the image's diagnosis.

Dermatologists never read a lesion without them (a new dark spot means something else at 25
than at 75, and on the face than on the back); the ISIC 2019 challenge had a track for them,
and the ``sklesion`` peer model uses them. The fusion is naive Bayes on top of the calibrated
image probabilities:

    p(y | image, context) ∝ p(y | image) · (p(age | y) · p(sex | y) · p(site | y)) ** weight

The likelihood tables are counted on the *training* split, one row per lesion (a lesion
photographed eight times does not count eight times), with add-one smoothing. ``weight``
(expected below 1: the three are not independent of each other or of the image) is the one
number fitted on the validation split, by negative log-likelihood, so the fused
probabilities stay calibrated without tuning on balanced accuracy. Anything not given
contributes nothing: with no context the probabilities are exactly the image's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from skindx.taxonomy import CODES, MAX_AGE, SEX_SYNONYMS, SEXES, SITE_LABELS, SITE_SYNONYMS, SITES

if TYPE_CHECKING:  # pandas stays out of prediction's imports
    import pandas as pd

AGE_EDGES: tuple[int, ...] = (15, 30, 45, 60, 75)  # bins: under 15, 15–29, …, 75 and over
# The three variables, in table order, as headings name them.
VARIABLE_LABELS: dict[str, str] = {"age": "Age", "sex": "Sex", "site": "Body site"}
VARIABLES: tuple[str, ...] = tuple(VARIABLE_LABELS)


LIMITATION = (
    "Age, sex and body site adjust the probabilities by how common each diagnosis was for "
    "them among HAM10000's patients (two clinics, mostly fair-skinned adults); elsewhere "
    "those frequencies differ, and a diagnosis unusual for someone's age still happens."
)


class ContextError(ValueError):
    """An age, sex or body site that cannot be used (the message says what can)."""


@dataclass(frozen=True)
class Context:
    """Age in years, sex and body site of one lesion; ``None`` where not given.

    Synonyms are normalised (``"F"`` → ``female``, ``"back"`` → ``torso``); ``"unknown"`` and
    empty text mean not given.
    """

    age: float | None = None
    sex: str | None = None
    site: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "age", _age(self.age))
        object.__setattr__(self, "sex", _choice(self.sex, SEX_SYNONYMS, SEXES, "sex"))
        object.__setattr__(self, "site", _choice(self.site, SITE_SYNONYMS, SITES, "body site"))

    @property
    def given(self) -> bool:
        return any(value is not None for value in (self.age, self.sex, self.site))


def _age(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        age = float(value)
    except (TypeError, ValueError):
        raise ContextError(f"Age must be a number of years. Received: {value!r}") from None
    if np.isnan(age):
        return None
    if not 0 <= age <= MAX_AGE:
        raise ContextError(f"Age must be between 0 and {MAX_AGE} years. Received: {value!r}")
    return age


def _choice(value: Any, synonyms: dict[str, str], allowed: tuple[str, ...], what: str):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    if text in ("", "unknown"):
        return None
    normal = synonyms.get(text)
    if normal not in allowed:
        raise ContextError(f"Unknown {what} {value!r}. Use one of: {', '.join(allowed)}.")
    return normal


def contexts_from_frame(frame: pd.DataFrame) -> list[Context]:
    """Contexts from a normalised metadata frame (:func:`skindx.datasets.metadata.read_metadata`);
    sites outside :data:`SITES` (``other``) count as not given."""
    sites = frame["site"].where(frame["site"].isin(SITES), None)
    return [
        Context(age, sex, site)
        for age, sex, site in zip(frame["age"], frame["sex"], sites, strict=True)
    ]


def value_labels(variable: str) -> list[str]:
    """Row names of a likelihood table: age bins (``under 15`` … ``75 and over``), sexes, sites."""
    if variable == "age":
        middle = [f"{lo}–{hi - 1}" for lo, hi in itertools.pairwise(AGE_EDGES)]
        return [f"under {AGE_EDGES[0]}", *middle, f"{AGE_EDGES[-1]} and over"]
    if variable == "sex":
        return [sex.capitalize() for sex in SEXES]
    return [SITE_LABELS[site] for site in SITES]


def value_label(variable: str, context: Context) -> str | None:
    """``context``'s ``variable`` as its row name in :func:`value_labels`; None if not given."""
    index = _row(variable, context)
    return None if index is None else value_labels(variable)[index]


def _row(variable: str, context: Context) -> int | None:
    """The table row of ``context``'s ``variable`` (age bin, sex or site), None if not given."""
    value = getattr(context, variable)
    if value is None:
        return None
    if variable == "age":
        return int(np.searchsorted(AGE_EDGES, value, side="right"))
    return (SEXES if variable == "sex" else SITES).index(value)


# -- fitting ------------------------------------------------------------------------------


def fit_tables(frame: pd.DataFrame, smoothing: float = 1.0) -> dict[str, list[list[float]]]:
    """log p(value | diagnosis) for age bin, sex and site: ``{variable: values × classes}``.

    ``frame``: normalised metadata of the training split; counted once per lesion.
    """
    lesions = frame.groupby(frame["lesion_id"].fillna(frame["image_id"]), sort=False).first()
    contexts = contexts_from_frame(lesions)
    diagnosis = lesions["diagnosis"].to_numpy()
    tables = {}
    for variable in VARIABLES:
        counts = np.full((len(value_labels(variable)), len(CODES)), smoothing)
        for context, code in zip(contexts, diagnosis, strict=True):
            row = _row(variable, context)
            if row is not None and code in CODES:
                counts[row, CODES.index(code)] += 1
        tables[variable] = np.log(counts / counts.sum(axis=0)).round(5).tolist()
    return tables


def log_likelihoods(tables: dict[str, list[list[float]]], contexts: Sequence[Context]):
    """``N × classes`` sums of log p(value | class) over the variables each context gives."""
    arrays = {variable: np.asarray(tables[variable]) for variable in VARIABLES}
    terms = np.zeros((len(contexts), arrays["age"].shape[1]))
    for term, context in zip(terms, contexts, strict=True):
        for variable, table in arrays.items():
            row = _row(variable, context)
            if row is not None:
                term += table[row]
    return terms


def fuse(probabilities: np.ndarray, terms: np.ndarray, weight: float) -> np.ndarray:
    """Image probabilities times the weighted context likelihoods, renormalised."""
    from scipy.special import softmax

    log_p = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0))
    return softmax(log_p + weight * terms, axis=-1)


def fit_weight(probabilities: np.ndarray, labels: np.ndarray, terms: np.ndarray) -> float:
    """The context weight in [0, 3] minimising validation negative log-likelihood."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))

    def nll(weight: float) -> float:
        return float(-np.log(fuse(probabilities, terms, weight)[rows, labels] + 1e-12).mean())

    return float(minimize_scalar(nll, bounds=(0.0, 3.0), method="bounded").x)


def fit_context(
    train_frame: pd.DataFrame, val_frame: pd.DataFrame, probabilities: np.ndarray, labels
) -> tuple[dict[str, Any], np.ndarray]:
    """The card's ``context`` section and the fused validation probabilities.

    ``val_frame`` rows align with ``probabilities`` and ``labels`` (the validation images).
    """
    from skindx.model.calibration import fit_triage

    tables = fit_tables(train_frame)
    contexts = contexts_from_frame(val_frame)
    terms = log_likelihoods(tables, contexts)
    weight = fit_weight(probabilities, labels, terms)
    fused = fuse(probabilities, terms, weight)
    section = {
        "method": "naive Bayes on calibrated image probabilities",
        "variables": list(VARIABLES),
        "age_edges": list(AGE_EDGES),
        "sexes": list(SEXES),
        "sites": list(SITES),
        "tables": tables,
        "tables_from": f"training split, {train_frame['lesion_id'].nunique()} lesions",
        "weight": round(weight, 4),
        "weight_from": "validation negative log-likelihood",
        "thresholds": fit_triage(fused, labels),
        "validation_share_given": round(float(np.mean([c.given for c in contexts])), 4),
    }
    return section, fused


def apply_context(
    section: dict[str, Any], probabilities: np.ndarray, contexts: Sequence[Context | None]
) -> tuple[np.ndarray, np.ndarray]:
    """(fused probabilities, used mask): rows whose context gives nothing stay as they were."""
    used = np.array([c is not None and c.given for c in contexts], dtype=bool)
    fused = np.array(probabilities, dtype=np.float64, copy=True)
    if used.any():
        given = [c for c in contexts if c is not None and c.given]
        terms = log_likelihoods(section["tables"], given)
        fused[used] = fuse(fused[used], terms, section["weight"])
    return fused, used
