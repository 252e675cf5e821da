"""Classification metrics on arrays alone: balanced accuracy and calibration error.

The bottom layer of evaluation: it imports nothing of skindx, so photo quality, training and
evaluation can all use it. ``skindx.evaluation.evaluate`` re-exports both names.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["balanced_accuracy", "expected_calibration_error"]


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, n_bins: int = 15
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
