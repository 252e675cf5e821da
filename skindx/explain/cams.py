"""Compiled saliency graphs (Grad-CAM family, Score-CAM, SmoothGrad) and the CAM formulas.

Grad-CAM, Grad-CAM++ and LayerCAM come from one compiled forward and backward pass per image
(logits, the layers' maps and the target logit's gradients at those layers). One graph serves a
whole network's layers: tracing a graph and running it the first time cost about 0.5 s each on
the shipped ensemble, and the backward pass to a network's first layer costs about what one to
any of its layers does, so a graph per layer only made each new layer wait.
Score-CAM reads its maps from the same graph and scores its masked copies as one batch through
the Predictor's forward pass, compiled at load: it traces no graph of its own. SmoothGrad is one
batched pass over its noisy copies. Every graph has a fixed input signature, so it is traced
once, without AutoGraph: no Python branch or loop depends on a tensor, so converting each
body at its first trace was work for nothing. Under bfloat16 serving the explainer calls the
gradients graphs in float32 (:func:`skindx.model.precision.float32_graphs`): CAM weights from
bfloat16 gradients are wrong.
SmoothGrad's batch and Score-CAM's masked copies stay bfloat16 (docs/benchmarks.md). The
formulas follow tf-keras-vis, which stays the reference the tests compare against
(:meth:`skindx.explain.explainer.Explainer.reference_map`). Nothing here edits the shared model:
every graph is a separate functional probe to ``logits`` (pre-softmax, so no
``ReplaceToLinear`` is needed). Drawing lives in :mod:`skindx.explain.overlay`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from skindx.model.bundle import SkinModel
from skindx.model.networks import LOGITS_LAYER, layer_probe

# Score-CAM scores one masked copy per kept channel, each costing about a forward pass on a
# CPU (batching saves little there): 32 cost 34 passes; 10 cost 10 to 12.9 on a busy machine,
# too close to the 12 of issue #27; 8 stays under it (the faster variant's examples use 10).
SCORECAM_MAX_N = 8
SMOOTHGRAD_SAMPLES = 16
SMOOTHGRAD_NOISE = 0.15  # noise σ as a share of the input's value range


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


def scorecam_channels(model, layer: str) -> int:
    return min(SCORECAM_MAX_N, int(model.get_layer(layer).output.shape[-1]))


def _signature(skin_model: SkinModel):
    import tensorflow as tf

    size = skin_model.input_size
    return [tf.TensorSpec((1, size, size, 3), tf.float32), tf.TensorSpec((), tf.int32)]


def _chosen(index, logits):
    """``index``, or the argmax of ``logits[0]`` where ``index`` is negative (in the graph)."""
    import tensorflow as tf

    return tf.where(index < 0, tf.argmax(logits[0], output_type=tf.int32), index)


def gradients_graph(skin_model: SkinModel, layers: Sequence[str]):
    """``(x, index) → (logits, maps, gradients, index)``, ``maps`` and ``gradients`` a list
    with one entry per layer of ``layers``: one forward and one backward pass, compiled once
    with a fixed signature (no retracing per call).

    TensorFlow's "5 out of the last 5 calls to <function gradients_graph.<locals>.gradients>
    triggered tf.function retracing" at server start is no retracing: it counts traces per
    Python function, across every graph made from it, and the shipped ensemble makes five
    (the default layer's at load, one per member in the warm-up), each traced once
    (``tests/test_walk_retracing.py``). Each traces the whole ensemble forward (a member's
    target logit needs every member); one graph for all members would trace it once but run
    every member's backward pass on each map."""
    import tensorflow as tf

    probe = layer_probe(skin_model.model, LOGITS_LAYER, *layers)

    def gradients(x, index):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)  # records the path to the layers' maps; nothing else is derived
            logits, *maps = probe(x, training=False)
            index = _chosen(index, logits)
            score = tf.gather(logits[0], index)
        return logits, maps, tape.gradient(score, maps), index

    return tf.function(gradients, input_signature=_signature(skin_model), autograph=False)


def scorecam(maps, x: np.ndarray, index: int, keep: int, logits_of: Callable) -> np.ndarray:
    """Score-CAM's max_N variant (at the layer's grid) from one image's layer ``maps``
    (``h×w×c``), with ``logits_of`` scoring its ``keep`` masked copies as one batch.

    As tf-keras-vis does: keep the ``keep`` channels whose maps vary most, upsample them to the
    input (bilinear, corners aligned, as SciPy's ``zoom(order=1)``), scale each to [0, 1], mask
    the input with each, weigh each channel by the target's softmax probability on its masked
    copy, and sum. Unlike tf-keras-vis, no ``Model.predict`` (and so no progress bars). A few
    eager operations: only ``logits_of`` is a compiled graph.
    """
    import tensorflow as tf

    size = x.shape[1:3]
    spread = tf.math.reduce_std(maps, axis=(0, 1))
    maps = tf.gather(maps, tf.math.top_k(spread, keep).indices, axis=-1)  # h×w×N
    upsampled = tf.raw_ops.ResizeBilinear(
        images=maps[None], size=size, align_corners=True, half_pixel_centers=False
    )[0]
    low = tf.reduce_min(upsampled, axis=(0, 1))
    high = tf.reduce_max(upsampled, axis=(0, 1))
    masks = (upsampled - low) / (high - low + 1e-7)  # keras' epsilon, as tf-keras-vis
    masked = tf.transpose(masks, (2, 0, 1))[..., None] * x  # N×S×S×3
    weights = tf.gather(tf.nn.softmax(logits_of(masked)), index, axis=1)
    return np.asarray(tf.nn.relu(tf.tensordot(maps, weights, axes=[[2], [0]])), np.float64)


def input_gradients_graph(skin_model: SkinModel, _layer: str = "input"):
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

    return tf.function(input_gradients, input_signature=signature, autograph=False)
