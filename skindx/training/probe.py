"""The linear probe that starts a pretrained network's fine-tuning: its head fitted first,
on the frozen features, so that fine-tuning does not begin from a random head (which distorts
the pretrained features: Kumar et al., "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution", ICLR 2022). Both the transfer recipe and the torch
engine's VGG16 use it, and a fully frozen network (``--head multiblock``) keeps it as its whole
head. Its regularisation is chosen by cross-validation over training lesions
(:func:`chosen_c`) unless ``--probe-c`` pins it; :func:`fitted_probe` does both."""

from __future__ import annotations

import numpy as np

# Inverse regularisation strengths a probe chooses from. At 0.1 (every probe fitted before C was
# chosen) the multiblock probe of VGG16 fits its training split almost perfectly (balanced
# accuracy 0.99) and scores 0.07 below C 0.001 on validation (docs/training_logs/probe_c_sweep.log).
PROBE_CS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
FIXED_PROBE_C = 0.1  # every probe fitted before C was chosen (their cards' reproduce commands)


def fit_standardised(features, labels, weights, c):
    """``(probe, mean, std)``: the class-weighted logistic regression on standardised
    ``features`` and the standardisation."""
    from sklearn.linear_model import LogisticRegression

    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-3
    probe = LogisticRegression(C=c, max_iter=2000)
    probe.fit((features - mean) / std, labels, sample_weight=weights)
    return probe, mean, std


def probe_weights(
    features: np.ndarray, labels: np.ndarray, weights: np.ndarray, c: float = FIXED_PROBE_C
) -> tuple[np.ndarray, np.ndarray]:
    """A class-weighted logistic regression (inverse regularisation ``c``) on standardised
    ``features`` as the ``logits`` layer's Keras-layout ``(kernel, bias)``, the
    standardisation folded in."""
    probe, mean, std = fit_standardised(features, labels, weights, c)
    scale = probe.coef_ / std  # (classes, features)
    return scale.T.astype("float32"), (probe.intercept_ - scale @ mean).astype("float32")


def cross_validated_c(
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
    cs: tuple[float, ...] = PROBE_CS,
    folds: int = 3,
) -> tuple[float, dict[float, float]]:
    """The ``c`` of ``cs`` whose probe scores the best mean balanced accuracy on held-out
    folds of the training images, each lesion (``groups``) wholly in one fold, so that images
    of one lesion cannot reward memorising it; with the mean score by ``c``. The
    validation split is never seen, so it stays an honest judge of the probe."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedGroupKFold

    splits = list(
        StratifiedGroupKFold(folds, shuffle=True, random_state=0).split(features, labels, groups)
    )
    scores = {}
    for c in cs:
        fold_scores = []
        for rows, held in splits:
            probe, mean, std = fit_standardised(features[rows], labels[rows], weights[rows], c)
            predicted = probe.predict((features[held] - mean) / std)
            fold_scores.append(balanced_accuracy_score(labels[held], predicted))
        scores[c] = float(np.mean(fold_scores))
    return max(scores, key=scores.get), scores


def chosen_c(
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
    pinned: float | None = None,
) -> dict:
    """The probe's C for the card's training record: ``{"probe_c": pinned}``, or where none is
    pinned the :func:`cross_validated_c` choice with its scores (printed as well)."""
    if pinned is not None:
        return {"probe_c": pinned}
    c, scores = cross_validated_c(features, labels, weights, groups)
    by_c = {f"{value:g}": round(score, 4) for value, score in scores.items()}
    print(
        "linear probe C by 3-fold cross-validation over training lesions: "
        + ", ".join(f"{value} {score}" for value, score in by_c.items())
        + f"; chosen C={c:g}",
        flush=True,
    )
    return {"probe_c": c, "probe_c_cross_validation": by_c}


def fitted_probe(
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
    pinned: float | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """The probe at its :func:`chosen_c`: the ``logits`` layer's ``(kernel, bias)``
    (:func:`probe_weights`) and the C for the card's training record."""
    details = chosen_c(features, labels, weights, groups, pinned)
    return (*probe_weights(features, labels, weights, details["probe_c"]), details)
