"""Saliency maps with tf-keras-vis: Grad-CAM family and SmoothGrad, plus a faithfulness check.

The explainer never edits the shared model: it builds its own functional graph from the
model's input to the ``logits`` layer (pre-softmax, so no ``ReplaceToLinear`` is needed)
and hands that to tf-keras-vis with ``clone=False``. Drawing lives in :func:`overlay`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from skindx.imaging import load_image
from skindx.modeling import (
    ENSEMBLE_MAPS_LAYER,
    LOGITS_LAYER,
    SkinModel,
    conv_layer_names,
    layer_probe,
)

if TYPE_CHECKING:
    from skindx.predict import Predictor

METHODS: Mapping[str, str] = MappingProxyType(
    {
        "gradcam": "Grad-CAM",
        "gradcam++": "Grad-CAM++",
        "scorecam": "Score-CAM (faster variant)",
        "layercam": "LayerCAM",
        "smoothgrad": "SmoothGrad",
    }
)
COLORMAPS: Mapping[str, int] = MappingProxyType(
    {
        "viridis": cv2.COLORMAP_VIRIDIS,
        "inferno": cv2.COLORMAP_INFERNO,
        "magma": cv2.COLORMAP_MAGMA,
        "turbo": cv2.COLORMAP_TURBO,
        "jet": cv2.COLORMAP_JET,
    }
)
SCORECAM_MAX_N = 32
SMOOTHGRAD_SAMPLES = 16
_CONV_NAME = re.compile(r"(?:m(\d+)_)?block(\d+)_conv(\d+)")


def layer_label(name: str) -> str:
    """A reader's name for a saliency layer: ``m2_block3_conv1`` → "block 3, conv 1 (member 2)"."""
    if name == ENSEMBLE_MAPS_LAYER:
        return "last block, all members together"
    found = _CONV_NAME.fullmatch(name)
    if found is None:
        return name
    member, block, conv = found.groups()
    return f"block {block}, conv {conv}" + (f" (member {member})" if member else "")


@dataclass(frozen=True)
class Saliency:
    """A heatmap in [0, 1] at the image's own size, and what produced it."""

    heatmap: np.ndarray
    method: str
    target: str
    layer: str | None


@dataclass(frozen=True)
class Faithfulness:
    """Drop in the target's probability when the most salient pixels are blurred away,
    against the drop for the same share of random pixels (a ROAD-style check)."""

    salient_drop: float
    random_drop: float
    fraction: float

    @property
    def ratio(self) -> float:
        return self.salient_drop / max(abs(self.random_drop), 1e-3)


class Explainer:
    """Saliency for one model. Built once; ``explain`` is called per image.

    References:
        Selvaraju et al., "Grad-CAM", ICCV 2017 (arXiv:1610.02391); Chattopadhay et al.,
        "Grad-CAM++", WACV 2018; Wang et al., "Score-CAM", CVPR-W 2020; Jiang et al.,
        "LayerCAM", IEEE TIP 2021; Smilkov et al., "SmoothGrad", arXiv:1706.03825.
    """

    def __init__(self, skin_model: SkinModel, predictor: Predictor | None = None) -> None:
        self.skin_model = skin_model
        if predictor is None:
            from skindx.predict import Predictor

            predictor = Predictor(skin_model)
        self.predictor = predictor
        model = skin_model.model
        self._logits_model = layer_probe(model, LOGITS_LAYER, list_input=True)
        self.layers = conv_layer_names(model)
        self._visualizers: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def default_layer(self) -> str:
        return self.layers[-1]

    def _visualizer(self, method: str):
        with self._lock:
            if method not in self._visualizers:
                self._visualizers[method] = self._build(method)
            return self._visualizers[method]

    def _build(self, method: str):
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.layercam import Layercam
        from tf_keras_vis.saliency import Saliency as VanillaSaliency
        from tf_keras_vis.scorecam import Scorecam

        classes = {
            "gradcam": Gradcam,
            "gradcam++": GradcamPlusPlus,
            "scorecam": Scorecam,
            "layercam": Layercam,
            "smoothgrad": VanillaSaliency,
        }
        if method == "scorecam":  # Score-CAM calls predict(); no progress bars, set once
            import keras

            keras.config.disable_interactive_logging()
        return classes[method](self._logits_model, clone=False)

    def explain(
        self,
        image: Any,
        method: str = "gradcam",
        target: str | None = None,
        layer: str | None = None,
    ) -> Saliency:
        """Saliency of ``target`` (default: the predicted class) for one image.

        Raises:
            ValueError: unknown method, class or layer (the message lists the choices).
            skindx.imaging.ImageRejected: the image cannot be used.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}. Received: method={method}")
        layer = layer or self.default_layer
        if layer not in self.layers:
            raise ValueError(f"layer must be one of {self.layers}. Received: layer={layer}")
        pixels = load_image(image)
        x = self.predictor.preprocess(pixels)
        classes = self.skin_model.classes
        if target is None:
            target = self.predictor.postprocess(*self.predictor.forward(x))[0].label
        if target not in classes:
            raise ValueError(f"target must be one of {classes}. Received: target={target}")
        cam = self._raw_map(method, x, classes.index(target), layer)
        heatmap = cv2.resize(
            cam, (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_LINEAR
        )
        return Saliency(
            _normalise(heatmap), method, target, None if method == "smoothgrad" else layer
        )

    def _raw_map(self, method: str, x: np.ndarray, index: int, layer: str) -> np.ndarray:
        from tf_keras_vis.utils.scores import CategoricalScore

        visualizer = self._visualizer(method)
        score = CategoricalScore([index])
        if method == "smoothgrad":
            result = visualizer(
                score, x, smooth_samples=SMOOTHGRAD_SAMPLES, smooth_noise=0.15, keepdims=False
            )
        else:
            # Without seek=False, tf-keras-vis swaps a non-conv layer (an ensemble's
            # combined maps) for the nearest conv layer before it: one member's.
            options: dict[str, Any] = {
                "penultimate_layer": layer,
                "seek_penultimate_conv_layer": False,
            }
            if method == "scorecam":
                channels = int(self._logits_model.get_layer(layer).output.shape[-1])
                options["max_N"] = min(SCORECAM_MAX_N, channels)
            result = visualizer(score, x, **options)
        return np.nan_to_num(np.asarray(result, dtype=np.float32)[0])

    def faithfulness(
        self, image: Any, saliency: Saliency, fraction: float = 0.2, seed: int = 0
    ) -> Faithfulness:
        """Blur the top ``fraction`` of salient pixels and, separately, the same share of random
        pixels; report each drop in the target class's calibrated probability.

        A faithful map makes the first drop clearly larger than the second (see Hooker et al.,
        "ROAR", and Rong et al., "ROAD", ICML 2022, for why blurring beats blacking out).
        """
        pixels = load_image(image)
        blurred = cv2.GaussianBlur(pixels, (0, 0), sigmaX=max(pixels.shape[:2]) / 20)
        heat = saliency.heatmap
        salient = heat >= np.quantile(heat, 1.0 - fraction)
        rng = np.random.default_rng(seed)
        random_masks = [rng.random(heat.shape) < fraction for _ in range(3)]
        variants = [pixels, _replace(pixels, blurred, salient)]
        variants += [_replace(pixels, blurred, mask) for mask in random_masks]
        predictions = self.predictor.predict_batch(variants)
        base = predictions[0].probabilities[saliency.target]
        salient_drop = base - predictions[1].probabilities[saliency.target]
        random_drop = base - float(
            np.mean([p.probabilities[saliency.target] for p in predictions[2:]])
        )
        return Faithfulness(float(salient_drop), float(random_drop), fraction)


def _replace(pixels: np.ndarray, other: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = pixels.copy()
    out[mask] = other[mask]
    return out


def _normalise(heatmap: np.ndarray) -> np.ndarray:
    heatmap = np.asarray(heatmap, dtype=np.float32)
    lo, hi = float(heatmap.min()), float(heatmap.max())
    if hi - lo < 1e-12:
        return np.zeros_like(heatmap, dtype=np.float32)
    return ((heatmap - lo) / (hi - lo)).astype(np.float32)


def colorize(heatmap: np.ndarray, colormap: str = "viridis") -> np.ndarray:
    """A [0, 1] heatmap as an RGB uint8 image in the given OpenCV colormap."""
    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {list(COLORMAPS)}. Received: {colormap}")
    scaled = np.uint8(np.clip(heatmap, 0, 1) * 255)
    return cv2.cvtColor(cv2.applyColorMap(scaled, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def overlay(
    image: np.ndarray,
    saliency: Saliency | np.ndarray,
    alpha: float = 0.45,
    colormap: str = "viridis",
) -> np.ndarray:
    """Blend a saliency heatmap over the image (RGB uint8, the image's size).

    ``viridis`` is the default: perceptually uniform and readable with colour-blindness.
    """
    heatmap = saliency.heatmap if isinstance(saliency, Saliency) else np.asarray(saliency)
    if heatmap.shape != image.shape[:2]:
        heatmap = cv2.resize(heatmap, (image.shape[1], image.shape[0]))
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1. Received: alpha={alpha}")
    colored = colorize(heatmap, colormap).astype(np.float32)
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colored
    return np.clip(blended, 0, 255).astype(np.uint8)


def lesion_energy_share(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Share of a heatmap's total energy inside a binary lesion mask."""
    mask = mask.astype(bool)
    total = float(heatmap.sum())
    return float(heatmap[mask].sum() / total) if total > 0 else 0.0
