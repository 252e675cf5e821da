"""The linear probe that starts a pretrained network's fine-tuning: its head fitted first,
on the frozen features, so that fine-tuning does not begin from a random head (which distorts
the pretrained features: Kumar et al., "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution", ICLR 2022). Both the transfer recipe and the torch
engine's VGG16 use it."""

from __future__ import annotations

import numpy as np


def probe_weights(
    features: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A class-weighted logistic regression on standardised ``features`` as the ``logits``
    layer's Keras-layout ``(kernel, bias)``, the standardisation folded in."""
    from sklearn.linear_model import LogisticRegression

    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-3
    probe = LogisticRegression(C=0.1, max_iter=2000)
    probe.fit((features - mean) / std, labels, sample_weight=weights)
    scale = probe.coef_ / std  # (classes, features)
    return scale.T.astype("float32"), (probe.intercept_ - scale @ mean).astype("float32")
