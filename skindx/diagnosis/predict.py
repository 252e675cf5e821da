"""Predictor: preprocess → forward → postprocess, returning frozen Prediction records."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from skindx.diagnosis.context import Context, apply_context
from skindx.images import quality
from skindx.images.budget import heavy_work
from skindx.images.loading import load_image
from skindx.images.pixels import check_pixels
from skindx.images.preprocess import decode_side, load_for_model, preprocess_pixels
from skindx.model.bundle import SkinModel
from skindx.model.calibration import (
    calibrated_probabilities,
    mahalanobis_score,
    malignant_probability,
)
from skindx.model.networks import FEATURES_LAYER, LOGITS_LAYER, layer_probe
from skindx.taxonomy import BY_CODE

SEE_A_DOCTOR = "If a spot on your skin worries you, see a doctor."
CONCERN_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        # "most likely harmless" read as an all-clear; no answer of the model's can be one
        "low": (
            "The model sees little here that it links with skin cancer, but it cannot rule "
            "cancer out. Keep an eye on the spot, and see a doctor if it changes, bleeds, "
            "itches or worries you."
        ),
        "see_doctor": (
            "The model sees some features it links with skin cancer. Show this spot to a "
            "doctor or dermatologist in the next few weeks."
        ),
        "see_doctor_soon": (
            "The model sees strong signs it links with skin cancer. Please see a doctor or "
            "dermatologist soon, within two weeks."
        ),
        "not_assessed": (
            "This does not look like a close-up (dermoscopic) photo of a skin lesion, so the "
            "model cannot assess it. " + SEE_A_DOCTOR
        ),
    }
)


SAME_SPOT = "All photos together"  # how a combined result (Predictor.combine) is named
# Triage levels from least to most urgent ("not assessed" is no advice at all).
CONCERN_RANK: Mapping[str, int] = MappingProxyType(
    {"not_assessed": -1, "low": 0, "see_doctor": 1, "see_doctor_soon": 2}
)
KEPT_ADVICE = (
    " One of the photos on its own called for this, so the combined answer keeps the more "
    "cautious advice."
)


@dataclass(frozen=True)
class Prediction:
    """One image's result. ``probabilities`` are calibrated and sum to 1."""

    probabilities: Mapping[str, float]
    malignant_probability: float
    concern: str
    in_domain: bool
    domain_score: float | None
    # warnings about the photo itself (skindx.images.quality); out of domain, why if known
    notes: tuple[str, ...] = ()
    context_used: bool = False  # age, sex or body site sharpened the probabilities
    signs: tuple[str, ...] = ()  # warning signs the person noticed (skindx.diagnosis.signs)
    advice: str | None = None  # the triage message where those signs, not the model, set it

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def label_name(self) -> str:
        return BY_CODE[self.label].name

    def top_k(self, k: int = 3) -> list[tuple[str, float]]:
        ranked = sorted(self.probabilities.items(), key=lambda item: item[1], reverse=True)
        return ranked[: max(0, k)]

    @property
    def concern_message(self) -> str:
        """The advice: the warning signs', else why a refused photo got no answer (not that it
        is no lesion close-up), else the triage message."""
        if self.advice:
            return self.advice
        return f"{self.refusal} {SEE_A_DOCTOR}" if self.refusal else CONCERN_MESSAGES[self.concern]

    @property
    def refusal(self) -> str | None:
        """Why the photo got no diagnosis at all (:func:`quality.refusal`, which
        :func:`with_photo_warnings` keeps as the one note of an out-of-domain result), or
        ``None``: its scores are then known to mislead, not only untrusted."""
        return self.notes[0] if not self.in_domain and self.notes else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "label_name": self.label_name,
            "probabilities": dict(self.probabilities),
            "malignant_probability": self.malignant_probability,
            "concern": self.concern,
            "concern_message": self.concern_message,
            "in_domain": self.in_domain,
            "domain_score": self.domain_score,
            "notes": list(self.notes),
            "context_used": self.context_used,
            "signs": list(self.signs),
        }


def with_photo_warnings(
    prediction: Prediction, warnings: tuple[str, ...], refusal: str | None = None
) -> Prediction:
    """``prediction`` with the photo warnings (:meth:`Predictor.photo_warnings`) as its notes.
    They say how far to trust an answer, so an image judged not to be a lesion close-up, which
    gets none, gets no warning either ("less reliable" would contradict that verdict).

    A photo with a ``refusal`` (:func:`quality.refusal`: black and white, or too small) gets no
    answer either, though the out-of-domain check often passes it: its one note says why.
    """
    if refusal is not None:
        return replace(prediction, in_domain=False, concern="not_assessed", notes=(refusal,))
    return replace(prediction, notes=warnings if prediction.in_domain else ())


def _is_rgb_pixels(image: Any) -> bool:
    """Whether ``image`` is already an H×W×3 uint8 array (else it is decoded first)."""
    return (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[-1] == 3
    )


def flips(batch: np.ndarray) -> list[np.ndarray]:
    """The horizontal, vertical and double flips of an ``N×H×W×C`` batch (for TTA)."""
    return [
        np.ascontiguousarray(f) for f in (batch[:, :, ::-1], batch[:, ::-1], batch[:, ::-1, ::-1])
    ]


@functools.cache
def _decoders() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="skindx-decode")


def _compiled_forward(probe, input_size: int):
    """One fixed-signature graph on TensorFlow (no retracing per upload; no AutoGraph, which
    has nothing to convert here); eager elsewhere."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return lambda x: probe(x, training=False)
    import tensorflow as tf

    spec = tf.TensorSpec((None, input_size, input_size, 3), tf.float32)
    return tf.function(lambda x: probe(x, training=False), input_signature=[spec], autograph=False)


class Predictor:
    """Runs a :class:`SkinModel` on images. Built once per model; safe across threads.

    Args:
        skin_model: the model bundle (its card supplies temperature, OOD and thresholds).
        tta: average the calibrated probabilities over horizontal/vertical flips; ``None``
            follows the card (``preprocessing["tta"]``, chosen on the validation split).

    Attributes:
        decode_side: the ``min_side`` this model's images are decoded with (JPEGs only to
            about model resolution, as in training; ``None`` under hair removal). Pass it to
            :func:`~skindx.imaging.load_image` when decoding images yourself for this predictor.
    """

    def __init__(self, skin_model: SkinModel, tta: bool | None = None) -> None:
        self.skin_model = skin_model
        self.card = skin_model.card
        self.tta = bool(skin_model.card.preprocessing.get("tta", False)) if tta is None else tta
        prep = skin_model.card.preprocessing
        self._color_constancy = bool(prep.get("color_constancy"))
        self._hair_removal = bool(prep.get("hair_removal"))
        self.decode_side = decode_side(skin_model.input_size, self._hair_removal)
        self._ood_reference = {
            name: np.asarray(value, dtype=np.float64) if value.dtype.kind == "f" else value
            for name, value in skin_model.ood_reference.items()
        }
        probe = layer_probe(skin_model.model, LOGITS_LAYER, FEATURES_LAYER)
        self._forward = _compiled_forward(probe, skin_model.input_size)

    # -- the three steps -------------------------------------------------------------
    def preprocess(self, image: Any) -> np.ndarray:
        """Any image source → ``1×S×S×3`` float32 in [0, 255] (raises ImageRejected).

        Encoded images are loaded with ``min_side=self.decode_side``; H×W×3 uint8 arrays are
        used as given once their size is checked (as :func:`~skindx.imaging.load_image` checks
        it, so an array too small to be an image is rejected here and by the explainer alike).
        """
        size, flags = self.skin_model.input_size, (self._color_constancy, self._hair_removal)
        if _is_rgb_pixels(image):
            check_pixels(image)
            resized = preprocess_pixels(image, size, *flags)
        else:
            resized = load_for_model(image, size, *flags)
        return resized[None].astype(np.float32)

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and penultimate features for a ``N×S×S×3`` float32 batch."""
        logits, features = self._forward(batch)
        logits, features = np.asarray(logits), np.asarray(features)
        if self.tta:
            extra = [np.asarray(self._forward(f)[0]) for f in flips(batch)]
            logits = np.stack([logits, *extra])
        return logits, features

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """The compiled pass's logits for each image of the batch as it is, without the flips
        of test-time augmentation (Score-CAM scores its masked copies so)."""
        return np.asarray(self._forward(batch)[0])

    def trace_count(self) -> int:
        """How often the compiled forward pass was traced (0 where nothing is compiled)."""
        count = getattr(self._forward, "experimental_get_tracing_count", None)
        return count() if count else 0

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated image probabilities from :meth:`forward`'s logits (TTA: their mean)."""
        probabilities = calibrated_probabilities(logits, self.card.temperature)
        if probabilities.ndim == 3:  # TTA: mean of calibrated probabilities over the flips
            probabilities = probabilities.mean(axis=0)
        return probabilities

    def postprocess(
        self,
        logits: np.ndarray,
        features: np.ndarray,
        contexts: Sequence[Context | None] | None = None,
    ) -> list[Prediction]:
        """Predictions from the forward pass; ``contexts`` (one per image, or ``None``) add
        age, sex and body site where the card has a context model."""
        card = self.card
        probabilities = self.probabilities(logits)
        used = np.zeros(len(probabilities), dtype=bool)
        if contexts is not None and card.context:
            if len(contexts) != len(probabilities):
                raise ValueError(f"{len(contexts)} contexts for {len(probabilities)} images.")
            probabilities, used = apply_context(card.context, probabilities, contexts)
        scores = self._domain_scores(features)
        if scores is None:
            scores = [None] * len(probabilities)
        return [
            self._prediction(p, None if d is None else float(d), bool(u))
            for p, d, u in zip(probabilities, scores, used, strict=True)
        ]

    def photo_warnings(self, pixels: np.ndarray) -> tuple[str, ...]:
        """Where this H×W×3 uint8 photo is darker, brighter or less sharp than the training
        images (the card's ``photo_quality``), as sentences for a person."""
        return quality.photo_warnings(quality.measure(pixels), self.card.photo_quality)

    # -- public API --------------------------------------------------------------------
    def predict(self, image: Any, context: Context | None = None) -> Prediction:
        """One image; ``context`` (age, sex, body site) sharpens it where the card allows.
        ``notes`` carries :meth:`photo_warnings` where the image is in domain, or why a photo
        gets no diagnosis at all (:func:`quality.refusal`: black and white, too small), as
        :func:`with_photo_warnings` and the app have it.

        Decode and forward pass hold one of the process-wide slots
        (:func:`~skindx.images.budget.heavy_work`), so concurrent uploads queue instead of each
        holding a full-size decode at once.
        """
        with heavy_work():
            if not _is_rgb_pixels(image):
                image = load_image(image, min_side=self.decode_side)
            contexts = None if context is None else [context]
            prediction = self.postprocess(*self.forward(self.preprocess(image)), contexts)[0]
            warnings, refusal = self.photo_warnings(image), quality.refusal(image)
            return with_photo_warnings(prediction, warnings, refusal)

    def predict_batch(
        self,
        images: Sequence[Any],
        batch_size: int = 32,
        contexts: Sequence[Context | None] | None = None,
    ) -> list[Prediction]:
        """Vectorised prediction; every image must load (use predict() to handle each, and for
        the photo warnings in ``notes``, which this bulk path leaves empty).

        Images are decoded on a small shared thread pool (decoding releases the GIL).
        """
        if contexts is not None and len(contexts) != len(images):
            raise ValueError(f"{len(contexts)} contexts for {len(images)} images.")
        results: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            batch = np.concatenate(list(_decoders().map(self.preprocess, chunk)))
            chunk_contexts = None if contexts is None else contexts[start : start + batch_size]
            results.extend(self.postprocess(*self.forward(batch), chunk_contexts))
        return results

    def combine(self, predictions: Sequence[Prediction]) -> Prediction | None:
        """One result for several photos of the same spot: the mean of the probabilities of
        those judged in domain (``None`` when no photo is), with the most cautious advice of
        the mean and of each of those photos.

        Views of one lesion disagree often enough that a single photo can mislead; averaging
        them is more accurate (``evaluate.same_spot_figures`` measures it into the card). But
        an average can dilute one alarming view, so the advice is never less cautious than
        any photo's own.
        """
        usable = [p for p in predictions if p.in_domain]
        if not usable:
            return None
        probabilities = np.mean(
            [[p.probabilities[c] for c in self.skin_model.classes] for p in usable], axis=0
        )
        scores = [p.domain_score for p in usable if p.domain_score is not None]
        context_used = all(p.context_used for p in usable)
        mean = self._prediction(probabilities, max(scores) if scores else None, context_used)
        # A photo whose advice came from the person's warning signs (skindx.diagnosis.signs) is left
        # out here: its model advice is no more urgent than theirs, which apply to the
        # combined result as well.
        urgent = max(
            (p.concern for p in usable if p.advice is None),
            key=CONCERN_RANK.__getitem__,
            default="not_assessed",
        )
        if CONCERN_RANK[urgent] <= CONCERN_RANK[mean.concern]:
            return mean
        return replace(mean, concern=urgent, advice=CONCERN_MESSAGES[urgent] + KEPT_ADVICE)

    # -- helpers -------------------------------------------------------------------------
    def _domain_scores(self, features: np.ndarray) -> np.ndarray | None:
        if not self._ood_reference or "threshold" not in self.card.ood:
            return None
        return mahalanobis_score(features, self._ood_reference)

    def _prediction(
        self, probabilities: np.ndarray, domain_score: float | None, context_used: bool = False
    ) -> Prediction:
        codes = self.skin_model.classes
        probabilities = probabilities / probabilities.sum()
        p_malignant = float(malignant_probability(probabilities))
        in_domain = domain_score is None or domain_score <= float(self.card.ood["threshold"])
        thresholds = self.card.triage_thresholds(context_used)
        return Prediction(
            probabilities=MappingProxyType(
                {code: float(p) for code, p in zip(codes, probabilities, strict=True)}
            ),
            malignant_probability=p_malignant,
            concern=self._concern(p_malignant, thresholds) if in_domain else "not_assessed",
            in_domain=in_domain,
            domain_score=domain_score,
            context_used=context_used,
        )

    @staticmethod
    def _concern(p_malignant: float, thresholds: Mapping[str, float]) -> str:
        if not thresholds:
            return "see_doctor" if p_malignant >= 0.5 else "low"
        if p_malignant >= thresholds["see_doctor_soon"]:
            return "see_doctor_soon"
        if p_malignant >= thresholds["see_doctor"]:
            return "see_doctor"
        return "low"
