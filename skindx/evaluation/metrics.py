"""Classification metrics on arrays alone: balanced accuracy, bootstrap intervals and
calibration error.

The bottom layer of evaluation: it imports nothing of skindx, so photo quality, training and
evaluation can all use it. ``skindx.evaluation.evaluate`` re-exports both names.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "ECE_BINS",
    "balanced_accuracy",
    "balanced_accuracy_interval",
    "balanced_accuracy_resamples",
    "expected_calibration_error",
    "share_interval",
]

INTERVAL_LEVEL, RESAMPLES = 0.95, 2000
ECE_BINS = 15  # equal-width confidence bins of the calibration error (the card says so)


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, n_bins: int = ECE_BINS
) -> tuple[float, list[dict[str, float]]]:
    """Top-label ECE (Guo et al. 2017) with equal-width bins, and the reliability bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece, bins = 0.0, []
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if not inside.any():
            continue
        accuracy, mean_conf = float(correct[inside].mean()), float(confidence[inside].mean())
        ece += inside.mean() * abs(accuracy - mean_conf)
        bins.append(
            {
                "lower": round(float(lo), 4),
                "upper": round(float(hi), 4),
                "confidence": round(mean_conf, 4),
                "accuracy": round(accuracy, 4),
                "count": int(inside.sum()),
            }
        )
    return float(ece), bins


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """Mean recall over the classes present in ``labels`` (the ISIC 2018 Task 3 metric)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in np.unique(labels)]))


def balanced_accuracy_resamples(
    labels: np.ndarray,
    predictions: list[np.ndarray],
    groups: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """Balanced accuracy of each of ``predictions`` on the same ``resamples`` bootstrap
    resamples of the images: ``resamples × len(predictions)``, paired, so differences between
    predictions can be read off per resample.

    Whole lesions are resampled (``groups``: a lesion id per image; None: each image alone):
    several photos of one lesion are not independent evidence. scipy's ``bootstrap`` resamples
    single observations only, hence this cluster bootstrap, counted per lesion so that each
    resample is two matrix products.
    """
    labels = np.asarray(labels)
    _, lesion = np.unique(np.arange(len(labels)) if groups is None else groups, return_inverse=True)
    n_lesions, n_classes = lesion.max() + 1, labels.max() + 1
    counts = np.zeros((n_lesions, n_classes))
    np.add.at(counts, (lesion, labels), 1)
    draws = np.random.default_rng(seed).multinomial(
        n_lesions, np.full(n_lesions, 1 / n_lesions), size=resamples
    )  # how often each lesion is drawn, per resample
    totals = draws @ counts
    present = totals > 0
    scores = []
    for predicted in predictions:
        hit = np.asarray(predicted) == labels
        correct = np.zeros((n_lesions, n_classes))
        np.add.at(correct, (lesion[hit], labels[hit]), 1)
        recall = np.divide(draws @ correct, totals, out=np.zeros_like(totals), where=present)
        scores.append(recall.sum(axis=1) / present.sum(axis=1))
    return np.stack(scores, axis=1)


def percentile_interval(values: np.ndarray, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """The central ``level`` share of bootstrap ``values``."""
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def share_interval(hits: np.ndarray, groups: np.ndarray | None = None) -> tuple[float, float]:
    """The 95% lesion bootstrap interval of a share (a sensitivity over the melanomas, say):
    the balanced accuracy of a single class, whose recall is that share."""
    hits = np.asarray(hits, dtype=bool)
    return balanced_accuracy_interval(np.zeros(len(hits), int), (~hits).astype(int), groups)


def balanced_accuracy_interval(
    labels: np.ndarray, predicted: np.ndarray, groups: np.ndarray | None = None
) -> tuple[float, float]:
    """The 95% percentile bootstrap interval of balanced accuracy, lesions resampled whole
    (:func:`balanced_accuracy_resamples`)."""
    return percentile_interval(balanced_accuracy_resamples(labels, [predicted], groups)[:, 0])
