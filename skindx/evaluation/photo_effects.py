"""What darker, brighter and blurrier photos cost the model: balanced accuracy and the
out-of-domain share on labelled images as they are and after each perturbation of
:mod:`skindx.images.quality` (``skindx photo-quality`` records this in the card)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from skindx.evaluation.metrics import balanced_accuracy
from skindx.images.quality import variants
from skindx.taxonomy import CODES

__all__ = ["effects"]


def effects(predictor, images: Sequence[np.ndarray], labels: np.ndarray) -> dict[str, Any]:
    """Balanced accuracy and out-of-domain share of ``predictor`` on these labelled images
    (``labels``: indices into :data:`~skindx.taxonomy.CODES`) as they are and after each of
    :data:`PERTURBATIONS`, all at the working scale."""
    result: dict[str, Any] = {"n": len(images)}
    for kind, changed in variants(images):
        predictions = predictor.predict_batch(changed)
        predicted = np.array([CODES.index(p.label) for p in predictions])
        result[kind] = {
            "balanced_accuracy": balanced_accuracy(labels, predicted),
            "out_of_domain": float(np.mean([not p.in_domain for p in predictions])),
        }
    return result
