"""After the fit, on the validation split: temperature, out-of-domain reference, triage
thresholds, validation metrics, the flip-TTA choice and the age/sex/site context."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from skindx.evaluation.evaluate import (
    balanced_accuracy,
    expected_calibration_error,
    image_sources,
    interval_record,
    lesion_ids,
    metrics_from_probabilities,
    subgroup_metrics,
)
from skindx.model.bundle import SkinModel
from skindx.model.calibration import (
    calibrated_probabilities,
    fit_mahalanobis,
    fit_temperature,
    fit_triage,
    out_of_fold_scores,
)
from skindx.model.networks import FEATURES_LAYER, LOGITS_LAYER, import_keras, layer_probe
from skindx.taxonomy import CODES
from skindx.training.decoded_split import validation_arrays


def logits_and_features(model, x: np.ndarray, batch_size: int = 128):
    """Logits and penultimate features of ``model`` for a batch array (a separate graph)."""
    keras = import_keras()

    probe = layer_probe(model, LOGITS_LAYER, FEATURES_LAYER)
    logits, features = [], []
    for start in range(0, len(x), batch_size):
        lo, fe = probe(x[start : start + batch_size].astype("float32"), training=False)
        logits.append(keras.ops.convert_to_numpy(lo))
        features.append(keras.ops.convert_to_numpy(fe))
    return np.concatenate(logits), np.concatenate(features)


def finish_with_validation(
    skin_model: SkinModel,
    x_val: np.ndarray,
    y_val: np.ndarray,
    val_ids: list[str] | None = None,
    metadata: str | Path | None = None,
) -> None:
    """Fit temperature, OOD reference, triage thresholds and flip-TTA on validation; record
    metrics. With the validation ``val_ids`` and their ``metadata`` CSV, also fit the
    age/sex/site context (:mod:`skindx.diagnosis.context`) when the CSV has those columns."""
    logits, features = logits_and_features(skin_model.model, x_val)
    card = skin_model.card
    card.temperature = fit_temperature(logits, y_val)
    # thresholds and figures are those of the probabilities the Predictor serves (with or
    # without flips)
    probabilities = select_tta(skin_model, x_val, y_val, logits)
    card.thresholds = fit_triage(probabilities, y_val)
    skin_model.ood_reference = fit_mahalanobis(features, y_val)
    scores = out_of_fold_scores(features, y_val)
    card.ood = {
        "method": "mahalanobis",
        "layer": FEATURES_LAYER,
        "threshold": float(np.quantile(scores, 0.95)),
        "quantile": 0.95,
        "threshold_from": "out-of-fold validation scores (5 folds)",
        "validation_median": float(np.median(scores)),
    }
    uncalibrated = calibrated_probabilities(logits, 1.0)
    frame = None if val_ids is None or metadata is None else _validation_frame(metadata)
    metrics = metrics_from_probabilities(y_val, probabilities, card.thresholds)
    metrics["ece_uncalibrated"] = round(expected_calibration_error(y_val, uncalibrated)[0], 4)
    # as the test evaluations have it: how far one split's figure can be trusted (whole
    # lesions resampled where the metadata names them)
    lesions = None if frame is None else lesion_ids(frame, val_ids)
    metrics["balanced_accuracy_interval"] = interval_record(
        y_val, probabilities.argmax(axis=1), lesions
    )
    metrics["dataset"] = "HAM10000 validation split (by lesion)"
    card.metrics["validation"] = metrics
    if frame is not None:
        in_domain = scores <= card.ood["threshold"]
        fit_context_on_validation(skin_model, frame, val_ids, y_val, probabilities, in_domain)


def _validation_frame(metadata: str | Path):
    """The metadata CSV as :func:`fit_context_on_validation` takes it: one row per image."""
    from skindx.datasets.metadata import read_metadata

    frame = read_metadata(metadata).drop_duplicates("image_id")
    return frame.set_index("image_id", drop=False)


def add_context(skin_model: SkinModel, images: str | Path, metadata: str | Path) -> bool:
    """Fit the age/sex/site context of a trained model on its own validation split (what
    ``skindx context`` does); the weights are untouched. False where the metadata has none."""
    from skindx.diagnosis.predict import Predictor

    (x_val, y_val, val_ids), _ = validation_arrays(skin_model.card, images, metadata)
    predictor = Predictor(skin_model)
    outputs = [predictor.forward(x_val[i : i + 128]) for i in range(0, len(x_val), 128)]
    probabilities = np.concatenate([predictor.probabilities(logits) for logits, _ in outputs])
    features = np.concatenate([features for _, features in outputs])
    in_domain = out_of_fold_scores(features, y_val) <= skin_model.card.ood["threshold"]
    frame = _validation_frame(metadata)
    return fit_context_on_validation(skin_model, frame, val_ids, y_val, probabilities, in_domain)


def fit_context_on_validation(
    skin_model: SkinModel,
    frame: pd.DataFrame,
    val_ids: list[str],
    y_val: np.ndarray,
    probabilities: np.ndarray,
    in_domain: np.ndarray | None = None,
) -> bool:
    """Record the context section and its validation metrics in the card (False, and the
    card unchanged, where the metadata gives no age, sex or site for the validation images).

    ``frame``: the metadata, one row per image, indexed by image id (:func:`_validation_frame`);
    ``probabilities``: the model's validation probabilities as the Predictor makes them;
    ``in_domain``: each image's out-of-domain verdict from out-of-fold scores.
    """
    from skindx.diagnosis.context import LIMITATION, contexts_from_frame, fit_context

    val_frame = frame.reindex(val_ids)
    if not any(c.given for c in contexts_from_frame(val_frame.dropna(subset=["diagnosis"]))):
        return False
    # the training side of the split: every labelled lesion that is not a validation lesion
    lesion = frame["lesion_id"].fillna(frame["image_id"])
    in_val = lesion.isin(set(lesion.reindex(val_ids).dropna()))
    train_frame = frame[frame["diagnosis"].isin(CODES) & ~in_val]
    section, fused = fit_context(train_frame, val_frame, probabilities, y_val)
    card = skin_model.card
    card.context = section
    if LIMITATION not in card.limitations:
        card.limitations.append(LIMITATION)
    metrics = metrics_from_probabilities(y_val, fused, section["thresholds"])
    metrics["dataset"] = "HAM10000 validation split (by lesion), with age, sex and site"
    lesions = lesion_ids(val_frame, val_ids)
    metrics["balanced_accuracy_interval"] = interval_record(y_val, fused.argmax(axis=1), lesions)
    card.metrics["validation_with_context"] = metrics
    # the test evaluations' figures by age, sex, site and source, for the same split: a group
    # weak here too is hard for the model anywhere, one weak only on the test set points at the
    # test data
    contexts = contexts_from_frame(val_frame)
    with_cuts = card.see_doctor_cuts([c.given for c in contexts])
    sources = image_sources(val_frame, val_ids)
    if "validation" in card.metrics:
        cut = card.thresholds["see_doctor"]
        card.metrics["validation"]["subgroups"] = subgroup_metrics(
            y_val, probabilities, contexts, cut, in_domain, sources, lesions
        )
    metrics["subgroups"] = subgroup_metrics(
        y_val, fused, contexts, with_cuts, in_domain, sources, lesions
    )
    return True


TTA_MIN_GAIN = 0.005  # flips cost 4× the compute; adopt them only for a real gain


def select_tta(
    skin_model: SkinModel, x_val: np.ndarray, y_val: np.ndarray, logits: np.ndarray
) -> np.ndarray:
    """Adopt flip test-time augmentation only if it raises validation balanced accuracy;
    returns the validation probabilities with the choice made.

    ``logits``: the model's validation logits (already computed); the flips are run here on
    the same preprocessed arrays, averaged as :class:`~skindx.diagnosis.predict.Predictor` does.
    """
    from skindx.diagnosis.predict import flips

    stacked = np.stack(
        [logits, *(logits_and_features(skin_model.model, f)[0] for f in flips(x_val))]
    )
    probabilities = calibrated_probabilities(stacked, skin_model.card.temperature)
    scores = [
        round(balanced_accuracy(y_val, p.argmax(axis=-1)), 4)
        for p in (probabilities[0], probabilities.mean(axis=0))
    ]
    use = scores[1] > scores[0] + TTA_MIN_GAIN
    skin_model.card.training["tta_selected_on_validation"] = {
        "without": scores[0],
        "with": scores[1],
        "use": use,
    }
    skin_model.card.preprocessing["tta"] = use
    return probabilities.mean(axis=0) if use else probabilities[0]
