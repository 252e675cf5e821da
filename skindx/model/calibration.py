"""Post-training fits on the validation split: temperature, out-of-domain detector, triage."""

from __future__ import annotations

import functools

import numpy as np

from skindx.taxonomy import CODES, MALIGNANT_CODES

MALIGNANT_INDEX = np.array([CODES.index(code) for code in MALIGNANT_CODES])


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature minimising validation negative log-likelihood.

    References:
        Guo et al., "On Calibration of Modern Neural Networks", ICML 2017.
    """
    from scipy.optimize import minimize_scalar  # training only: keeps prediction imports light
    from scipy.special import log_softmax

    def nll(log_t: float) -> float:
        log_p = log_softmax(logits / np.exp(log_t), axis=1)
        return float(-log_p[np.arange(len(labels)), labels].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def calibrated_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``logits / temperature`` over the last axis (any leading shape)."""
    # Imported here: scipy.special costs the app's pages 0.2 s to import, and only the
    # model's own work (loaded in the background) needs it.
    from scipy.special import softmax

    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)


def malignant_probability(probabilities: np.ndarray) -> np.ndarray:
    return probabilities[..., MALIGNANT_INDEX].sum(axis=-1)


def fit_mahalanobis(features: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Class means and a shared (tied) precision matrix of penultimate features.

    References:
        Lee et al., "A Simple Unified Framework for Detecting Out-of-Distribution Samples
        and Adversarial Attacks", NeurIPS 2018.
    """
    features = np.asarray(features, dtype=np.float64)
    classes = np.unique(labels)
    means = np.zeros((len(CODES), features.shape[1]))
    centred = []
    for c in classes:
        means[c] = features[labels == c].mean(axis=0)
        centred.append(features[labels == c] - means[c])
    stacked = np.concatenate(centred)
    covariance = stacked.T @ stacked / len(stacked)
    shrink = 1e-3 * np.trace(covariance) / covariance.shape[0]
    precision = np.linalg.inv(covariance + shrink * np.eye(covariance.shape[0]))
    present = np.zeros(len(CODES), dtype=bool)
    present[classes] = True
    return {
        "means": means.astype(np.float32),
        "precision": precision.astype(np.float32),
        "present": present,
    }


@functools.cache
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def mahalanobis_score(features: np.ndarray, reference: dict[str, np.ndarray]) -> np.ndarray:
    """Distance to the nearest class mean (larger = less like the training images)."""
    features = np.asarray(features, dtype=np.float64)
    # no copy per call when the reference is already float64 (Predictor converts it once)
    means = np.asarray(reference["means"], dtype=np.float64)[reference["present"]]
    precision = np.asarray(reference["precision"], dtype=np.float64)
    diffs = features[:, None, :] - means[None, :, :]
    # diffs @ precision goes to BLAS; a three-operand einsum loops in C, 8× slower per batch.
    # One BLAS thread: OpenBLAS's workers keep spinning after a call and starve the model's
    # own threads on a small machine (docs/benchmarks.md, "single image").
    with _blas().limit(limits=1, user_api="blas"):
        distances = np.einsum("nkd,nkd->nk", diffs @ precision, diffs)
    return np.sqrt(np.maximum(distances.min(axis=1), 0.0))


def out_of_fold_scores(
    features: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Each image's Mahalanobis score under a reference fitted without it (k-fold).

    Scores of the images a reference was fitted on are optimistic (hundreds of features,
    a few thousand images): a threshold at their 95th percentile keeps far fewer than 95% of
    new in-domain images. Quantiles of out-of-fold scores do not have that bias.
    """
    fold = np.random.default_rng(seed).integers(0, folds, len(labels))
    scores = np.empty(len(labels))
    for k in range(folds):
        held_out = fold == k
        if held_out.any():
            reference = fit_mahalanobis(features[~held_out], labels[~held_out])
            scores[held_out] = mahalanobis_score(features[held_out], reference)
    return scores


def threshold_for_sensitivity(scores: np.ndarray, positives: np.ndarray, target: float) -> float:
    """Largest threshold t with recall(scores >= t) >= target among the positives."""
    positive_scores = np.sort(np.asarray(scores)[np.asarray(positives, dtype=bool)])
    if len(positive_scores) == 0:
        return 0.5
    k = int(np.floor((1.0 - target) * len(positive_scores)))
    return float(positive_scores[min(k, len(positive_scores) - 1)])


def threshold_for_specificity(scores: np.ndarray, negatives: np.ndarray, target: float) -> float:
    """Smallest threshold t with specificity(scores < t) >= target among the negatives."""
    negative_scores = np.sort(np.asarray(scores)[np.asarray(negatives, dtype=bool)])
    if len(negative_scores) == 0:
        return 0.5
    k = int(np.ceil(target * len(negative_scores))) - 1
    return float(np.nextafter(negative_scores[max(k, 0)], np.inf))


# "See a doctor" must catch this share of validation lesions: all malignant ones, and
# melanoma (the deadliest, and the class the test set's other acquisitions hurt most) with
# a margin, since sensitivity measured on HAM10000 validation drops on other sources.
TRIAGE_SENSITIVITY = 0.90
TRIAGE_MELANOMA_SENSITIVITY = 0.95
TRIAGE_SOON_SPECIFICITY = 0.90  # "see a doctor soon": few benign lesions get it


def fit_triage(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Triage cut-offs on the malignant probability (mel + bcc + akiec).

    ``see_doctor`` keeps validation sensitivity at ``TRIAGE_SENSITIVITY`` or more for
    malignant lesions and at ``TRIAGE_MELANOMA_SENSITIVITY`` or more for melanoma;
    ``see_doctor_soon`` is where validation specificity reaches ``TRIAGE_SOON_SPECIFICITY``
    (few benign lesions get the strongest message). The second is never below the first.
    """
    p_malignant = malignant_probability(probabilities)
    is_malignant = np.isin(labels, MALIGNANT_INDEX)
    is_melanoma = labels == CODES.index("mel")
    see_doctor = threshold_for_sensitivity(p_malignant, is_malignant, TRIAGE_SENSITIVITY)
    if is_melanoma.any():
        melanoma = threshold_for_sensitivity(p_malignant, is_melanoma, TRIAGE_MELANOMA_SENSITIVITY)
        see_doctor = min(see_doctor, melanoma)
    soon = max(
        threshold_for_specificity(p_malignant, ~is_malignant, TRIAGE_SOON_SPECIFICITY), see_doctor
    )
    return {
        "see_doctor": see_doctor,
        "see_doctor_soon": soon,
        "target_sensitivity": TRIAGE_SENSITIVITY,
        "target_melanoma_sensitivity": TRIAGE_MELANOMA_SENSITIVITY,
    }
