"""Saliency maps: Grad-CAM family and SmoothGrad, plus a faithfulness check.

Grad-CAM, Grad-CAM++ and LayerCAM come from one compiled forward and backward pass per image
(logits, the chosen layer's maps and the target logit's gradients at that layer), Score-CAM from
one compiled call that builds its masked copies and scores them as a single batch, SmoothGrad
from one batched pass over its noisy copies; each graph is traced once (per layer) with a fixed
input shape. The formulas follow tf-keras-vis, which stays the reference the tests compare
against (:meth:`Explainer.reference_map`). Nothing here
edits the shared model: every graph is a separate functional probe to ``logits`` (pre-softmax,
so no ``ReplaceToLinear`` is needed). Drawing lives in :func:`overlay`.
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

from skindx.images.loading import load_image
from skindx.images.preprocess import preprocess_pixels
from skindx.model.bundle import SkinModel
from skindx.model.networks import ENSEMBLE_MAPS_LAYER, LOGITS_LAYER, conv_layer_names, layer_probe

if TYPE_CHECKING:
    from skindx.diagnosis.predict import Predictor

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
# Score-CAM scores one masked copy per kept channel, each costing about a forward pass on a
# CPU (batching saves little there): 32 cost 34 passes; 10 cost 10 to 12.9 on a busy machine,
# too close to the 12 of issue #27; 8 stays under it (the faster variant's examples use 10).
SCORECAM_MAX_N = 8
SMOOTHGRAD_SAMPLES = 16
SMOOTHGRAD_NOISE = 0.15  # noise σ as a share of the input's value range
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

    Safe to share across threads: the compiled graphs are built once per layer under a lock,
    and calling them changes no state.

    References:
        Selvaraju et al., "Grad-CAM", ICCV 2017 (arXiv:1610.02391); Chattopadhay et al.,
        "Grad-CAM++", WACV 2018; Wang et al., "Score-CAM", CVPR-W 2020, with the faster
        max_N variant of tabayashi0117/Score-CAM; Jiang et al., "LayerCAM", IEEE TIP 2021;
        Smilkov et al., "SmoothGrad", arXiv:1706.03825; Kubota, tf-keras-vis 0.8.
    """

    def __init__(self, skin_model: SkinModel, predictor: Predictor | None = None) -> None:
        self.skin_model = skin_model
        if predictor is None:
            from skindx.diagnosis.predict import Predictor

            predictor = Predictor(skin_model)
        self.predictor = predictor
        model = skin_model.model
        self._logits_model = layer_probe(model, LOGITS_LAYER, list_input=True)
        self.layers = conv_layer_names(model)
        self._visualizers: dict[str, Any] = {}
        self._graphs: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @property
    def default_layer(self) -> str:
        return self.layers[-1]

    def _visualizer(self, method: str):
        with self._lock:
            if method not in self._visualizers:
                self._visualizers[method] = _reference_visualizer(method, self._logits_model)
            return self._visualizers[method]

    def _graph(self, kind: str, layer: str):
        """The compiled ``kind`` ("gradients", "scorecam" or "smoothgrad", whose ``layer`` is
        "input") graph for ``layer``, built once."""
        with self._lock:
            if (kind, layer) not in self._graphs:
                build = {
                    "gradients": _gradients_graph,
                    "scorecam": _scorecam_graph,
                    "smoothgrad": _input_gradients_graph,
                }[kind]
                self._graphs[kind, layer] = build(self.skin_model, layer)
            return self._graphs[kind, layer]

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
            skindx.images.loading.ImageRejected: the image cannot be used.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}. Received: method={method}")
        layer = layer or self.default_layer
        if layer not in self.layers:
            raise ValueError(f"layer must be one of {self.layers}. Received: layer={layer}")
        classes = self.skin_model.classes
        if target is not None and target not in classes:
            raise ValueError(f"target must be one of {classes}. Received: target={target}")
        pixels = load_image(image)
        x = self.predictor.preprocess(pixels)
        if target is None and self.predictor.tta:
            # The label averages flipped copies' probabilities: one pass cannot give it.
            target = self.predictor.postprocess(*self.predictor.forward(x))[0].label
        # Index -1: the graph takes the argmax of its own logits, which is the predicted label
        # (temperature scaling keeps the order), so no separate forward pass is needed.
        index = -1 if target is None else classes.index(target)
        cam, index = self.raw_map(method, x, index, layer)
        heatmap = cv2.resize(
            cam, (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_LINEAR
        )
        return Saliency(
            _normalise(heatmap),
            method,
            classes[index],
            None if method == "smoothgrad" else layer,
        )

    def raw_map(
        self, method: str, x: np.ndarray, index: int, layer: str | None = None
    ) -> tuple[np.ndarray, int]:
        """The map at the model's input size, normalised as tf-keras-vis normalises it, and
        the class index it explains (``index`` -1: the predicted class).

        Args:
            method: a key of :data:`METHODS`.
            x: one preprocessed image, ``1×S×S×3`` float32 (:meth:`Predictor.preprocess`).
            index: the class to explain, or -1 for the argmax of the logits.
            layer: the conv layer (default: the last); ignored by SmoothGrad.
        """
        layer = layer or self.default_layer
        size = x.shape[1:3]
        if method == "smoothgrad":
            if index < 0:
                index = int(np.argmax(self.predictor.forward(x)[0][0]))
            return self._smoothgrad(x, index), index
        if method == "scorecam":
            cam, chosen = self._graph("scorecam", layer)(x, np.int32(index))
            cam = np.asarray(cam, dtype=np.float64)
        else:
            logits, maps, grads, chosen = self._graph("gradients", layer)(x, np.int32(index))
            cam = cam_from_gradients(
                method,
                np.asarray(maps[0], np.float64),
                np.asarray(grads[0], np.float64),
                float(np.asarray(logits)[0, int(chosen)]),
            )
        return _expand(np.nan_to_num(cam), size), int(chosen)

    def _smoothgrad(self, x: np.ndarray, index: int) -> np.ndarray:
        """SmoothGrad as tf-keras-vis computes it (noise 15% of the input's range, |gradient|
        averaged over the noisy copies, maximum over colour channels), with every copy's
        gradient from one compiled batched pass instead of one eager pass each. The noise is
        drawn from NumPy's global generator as tf-keras-vis draws it, so a seed reproduces
        its map."""
        sigma = SMOOTHGRAD_NOISE * (float(x.max()) - float(x.min()))
        noise = np.random.normal(0.0, sigma, (SMOOTHGRAD_SAMPLES, *x.shape))
        noisy = (x[None] + noise.astype(np.float32)).reshape(-1, *x.shape[1:])
        grads = self._graph("smoothgrad", "input")(noisy, np.int32(index))
        cam = np.max(np.mean(np.abs(np.asarray(grads)), axis=0), axis=-1)
        cam = (cam - cam.min()) / (cam.max() - cam.min() + 1e-7)
        return np.nan_to_num(cam.astype(np.float32))

    def _reference_smoothgrad(self, x: np.ndarray, index: int) -> np.ndarray:
        from tf_keras_vis.utils.scores import CategoricalScore

        result = self._visualizer("smoothgrad")(
            CategoricalScore([index]),
            x,
            smooth_samples=SMOOTHGRAD_SAMPLES,
            smooth_noise=SMOOTHGRAD_NOISE,
            keepdims=False,
        )
        return np.nan_to_num(np.asarray(result, dtype=np.float32)[0])

    def reference_map(self, method: str, x: np.ndarray, index: int, layer: str) -> np.ndarray:
        """The same map from tf-keras-vis (eager, several times slower): the reference the
        tests hold :meth:`raw_map` to."""
        from tf_keras_vis.utils.scores import CategoricalScore

        if method == "smoothgrad":
            return self._reference_smoothgrad(x, index)
        # Without seek=False, tf-keras-vis swaps a non-conv layer (an ensemble's combined
        # maps) for the nearest conv layer before it: one member's.
        options: dict[str, Any] = {"penultimate_layer": layer, "seek_penultimate_conv_layer": False}
        if method == "scorecam":
            options["max_N"] = _scorecam_channels(self.skin_model.model, layer)
        result = self._visualizer(method)(CategoricalScore([index]), x, **options)
        return np.nan_to_num(np.asarray(result, dtype=np.float32)[0])

    def faithfulness(
        self, image: Any, saliency: Saliency, fraction: float = 0.2, seed: int = 0
    ) -> Faithfulness:
        """Blur the top ``fraction`` of salient pixels and, separately, the same share of random
        pixels; report each drop in the target class's calibrated probability.

        A faithful map makes the first drop clearly larger than the second (see Hooker et al.,
        "ROAR", and Rong et al., "ROAD", ICML 2022, for why blurring beats blacking out).
        Everything happens at the model's input size: the network sees nothing finer, and a
        blur at a 12 MP photo's own size cost seconds. The blur's width is still a twentieth
        of the photo's longer side, so a figure does not depend on the photo's resolution.

        References:
            Rong et al., "A Consistent and Efficient Evaluation Strategy for Attribution
            Methods" (ROAD), ICML 2022; Hooker et al., "A Benchmark for Interpretability
            Methods in Deep Neural Networks" (ROAR), NeurIPS 2019.
        """
        predictor = self.predictor
        pixels = load_image(image, min_side=predictor.decode_side)
        size = self.skin_model.input_size
        prep = self.skin_model.card.preprocessing
        height, width = pixels.shape[:2]
        # Hair removal (where the card asks for it) runs once on the photo, as prediction runs
        # it; colour constancy runs on each variant, also as prediction does.
        work = preprocess_pixels(pixels, size, False, bool(prep.get("hair_removal")))
        sigma = max(height, width) / 20
        blurred = cv2.GaussianBlur(
            work, (0, 0), sigmaX=sigma * size / width, sigmaY=sigma * size / height
        )
        heat = cv2.resize(saliency.heatmap, (size, size), interpolation=cv2.INTER_AREA)
        salient = heat >= np.quantile(heat, 1.0 - fraction)
        rng = np.random.default_rng(seed)
        random_masks = [rng.random(heat.shape) < fraction for _ in range(3)]
        variants = [work, _replace(work, blurred, salient)]
        variants += [_replace(work, blurred, mask) for mask in random_masks]
        colour = bool(prep.get("color_constancy"))
        batch = np.stack([preprocess_pixels(v, size, colour) for v in variants])
        predictions = predictor.postprocess(*predictor.forward(batch.astype(np.float32)))
        base = predictions[0].probabilities[saliency.target]
        salient_drop = base - predictions[1].probabilities[saliency.target]
        random_drop = base - float(
            np.mean([p.probabilities[saliency.target] for p in predictions[2:]])
        )
        return Faithfulness(float(salient_drop), float(random_drop), fraction)


def cam_from_gradients(
    method: str, maps: np.ndarray, grads: np.ndarray, score: float
) -> np.ndarray:
    """Grad-CAM, Grad-CAM++ or LayerCAM (``h×w``, before upsampling) from one pass's tensors.

    Args:
        method: "gradcam", "gradcam++" or "layercam".
        maps: the layer's output for one image, ``h×w×c``.
        grads: the target logit's gradient with respect to ``maps``, ``h×w×c``.
        score: the target logit (Grad-CAM++ weighs by its exponential, as tf-keras-vis does;
            float64 here, so large logits do not overflow).

    References:
        The formulas of tf-keras-vis 0.8 (``Gradcam``, ``GradcamPlusPlus``, ``Layercam``),
        after Selvaraju et al. 2017, Chattopadhay et al. 2018 and Jiang et al. 2021.
    """
    if method == "gradcam":
        cam = np.sum(maps * grads.mean(axis=(0, 1)), axis=-1)
    elif method == "layercam":
        cam = np.sum(maps * np.maximum(grads, 0.0), axis=-1)
    elif method == "gradcam++":
        first = np.exp(score) * grads
        second = first * grads
        third = second * grads
        global_sum = maps.sum(axis=(0, 1))
        denominator = second * 2.0 + third * global_sum
        alphas = second / (denominator + (second == 0.0))
        norm = alphas.sum(axis=(0, 1))
        alphas = alphas / (norm + (norm == 0.0))
        weights = np.sum(np.maximum(first, 0.0) * alphas, axis=(0, 1))
        cam = np.sum(weights * maps, axis=-1)
    else:
        raise ValueError(f"not a gradient CAM method: {method}")
    return np.maximum(cam, 0.0)


def _scorecam_channels(model, layer: str) -> int:
    return min(SCORECAM_MAX_N, int(model.get_layer(layer).output.shape[-1]))


def _signature(skin_model: SkinModel):
    import tensorflow as tf

    size = skin_model.input_size
    return [tf.TensorSpec((1, size, size, 3), tf.float32), tf.TensorSpec((), tf.int32)]


def _chosen(index, logits):
    """``index``, or the argmax of ``logits[0]`` where ``index`` is negative (in the graph)."""
    import tensorflow as tf

    return tf.where(index < 0, tf.argmax(logits[0], output_type=tf.int32), index)


def _gradients_graph(skin_model: SkinModel, layer: str):
    """``(x, index) → (logits, maps, gradients, index)``: one forward and one backward pass,
    compiled once with a fixed signature (no retracing per call)."""
    import tensorflow as tf

    probe = layer_probe(skin_model.model, LOGITS_LAYER, layer)

    def gradients(x, index):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)  # records the path to the layer's maps; nothing else is derived
            logits, maps = probe(x, training=False)
            index = _chosen(index, logits)
            score = tf.gather(logits[0], index)
        return logits, maps, tape.gradient(score, maps), index

    return tf.function(gradients, input_signature=_signature(skin_model))


def _scorecam_graph(skin_model: SkinModel, layer: str):
    """``(x, index) → (cam at the layer's grid, index)``: Score-CAM's max_N variant with every
    masked copy scored in one batch, compiled once with a fixed signature.

    As tf-keras-vis does: keep the ``max_N`` channels whose maps vary most, upsample them to the
    input (bilinear, corners aligned, as SciPy's ``zoom(order=1)``), scale each to [0, 1], mask
    the input with each, weigh each channel by the target's softmax probability on its masked
    copy, and sum. Unlike tf-keras-vis, no ``Model.predict`` (and so no progress bars).
    """
    import tensorflow as tf

    model = skin_model.model
    probe = layer_probe(model, LOGITS_LAYER, layer)
    logits_model = layer_probe(model, LOGITS_LAYER)
    keep = _scorecam_channels(model, layer)
    size = skin_model.input_size

    def scorecam(x, index):
        logits, maps = probe(x, training=False)
        index = _chosen(index, logits)
        maps = maps[0]
        spread = tf.math.reduce_std(maps, axis=(0, 1))
        maps = tf.gather(maps, tf.math.top_k(spread, keep).indices, axis=-1)  # h×w×N
        upsampled = tf.raw_ops.ResizeBilinear(
            images=maps[None], size=[size, size], align_corners=True, half_pixel_centers=False
        )[0]
        low = tf.reduce_min(upsampled, axis=(0, 1))
        high = tf.reduce_max(upsampled, axis=(0, 1))
        masks = (upsampled - low) / (high - low + 1e-7)  # keras' epsilon, as tf-keras-vis
        masked = tf.transpose(masks, (2, 0, 1))[..., None] * x  # N×S×S×3
        weights = tf.gather(tf.nn.softmax(logits_model(masked, training=False)), index, axis=1)
        return tf.nn.relu(tf.tensordot(maps, weights, axes=[[2], [0]])), index

    return tf.function(scorecam, input_signature=_signature(skin_model))


def _input_gradients_graph(skin_model: SkinModel, _layer: str = "input"):
    """``(noisy copies, index) → gradients of each copy's target logit at the input``, one
    batched forward and backward pass, compiled once (SmoothGrad's copies as one batch)."""
    import tensorflow as tf

    logits_model = layer_probe(skin_model.model, LOGITS_LAYER)
    size = skin_model.input_size
    signature = [
        tf.TensorSpec((SMOOTHGRAD_SAMPLES, size, size, 3), tf.float32),
        tf.TensorSpec((), tf.int32),
    ]

    def input_gradients(x, index):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            # Inference mode: each copy's logit depends on its own pixels only, so the
            # gradient of their sum is every copy's own gradient.
            score = tf.reduce_sum(tf.gather(logits_model(x, training=False), index, axis=1))
        return tape.gradient(score, x)

    return tf.function(input_gradients, input_signature=signature)


def _reference_visualizer(method: str, logits_model):
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
    if method == "scorecam":  # tf-keras-vis' Score-CAM calls predict(): no progress bars
        import keras

        keras.config.disable_interactive_logging()
    return classes[method](logits_model, clone=False)


def _bilinear_weights(source: int, target: int) -> np.ndarray:
    """``target×source`` linear interpolation with the end points aligned, which is what
    SciPy's ``zoom(order=1)`` (tf-keras-vis' upsampling) computes."""
    weights = np.zeros((target, source))
    if source == 1 or target == 1:
        weights[:, 0] = 1.0
        return weights
    position = np.arange(target) * (source - 1) / (target - 1)
    low = np.minimum(np.floor(position).astype(int), source - 2)
    fraction = position - low
    rows = np.arange(target)
    weights[rows, low] = 1.0 - fraction
    weights[rows, low + 1] += fraction
    return weights


def _expand(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A layer-grid map upsampled to the input size and scaled to [0, 1] (tf-keras-vis'
    ``zoom`` and ``normalize``)."""
    rows = _bilinear_weights(cam.shape[0], int(size[0]))
    columns = _bilinear_weights(cam.shape[1], int(size[1]))
    expanded = rows @ cam @ columns.T
    expanded = (expanded - expanded.min()) / (expanded.max() - expanded.min() + 1e-7)
    return expanded.astype(np.float32)


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
