"""The Explainer: saliency maps for one model, one image per call, and what it returns.

Grad-CAM, Grad-CAM++, LayerCAM, Score-CAM and SmoothGrad run as the compiled graphs of
:mod:`skindx.explain.cams`; :meth:`Explainer.reference_map` runs tf-keras-vis itself, the
reference the tests compare against. Nothing here edits the shared model. The faithfulness
check lives in :mod:`skindx.explain.faithfulness`, drawing in :mod:`skindx.explain.overlay`.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from skindx.explain.cams import (
    SMOOTHGRAD_NOISE,
    SMOOTHGRAD_SAMPLES,
    cam_from_gradients,
    gradients_graph,
    input_gradients_graph,
    scorecam,
    scorecam_channels,
)
from skindx.explain.faithfulness import Faithfulness, measure_faithfulness
from skindx.images.loading import load_image
from skindx.model.bundle import SkinModel
from skindx.model.networks import (
    ENSEMBLE_MAPS_LAYER,
    LOGITS_LAYER,
    NETWORK_NOUNS,
    conv_layer_names,
    layer_probe,
)
from skindx.model.precision import float32_graphs

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
_INPUT_METHODS = frozenset({"smoothgrad"})  # gradients of the input pixels: no layer
_CONV_NAME = re.compile(r"(?:m(\d+)_)?block(\d+)_conv(\d+)")


def uses_layer(method: str) -> bool:
    """Whether ``method`` explains from a conv layer (SmoothGrad reads the input pixels)."""
    return method not in _INPUT_METHODS


def layer_label(name: str, members: Sequence[dict] | None = None) -> str:
    """A reader's name for a saliency layer, short enough for a narrow select box:
    ``block3_conv2`` → "block 3 conv 2", ``m2_block3_conv1`` → "member 2 · block 3 conv 1",
    or with the card's ``members`` the member's kind too: "member 2 (VGG16) · block 3 conv 1"."""
    if name == ENSEMBLE_MAPS_LAYER:
        return "all members · last block"
    member, where = int(_member(name)), short_layer_label(name)
    if not member:
        return where
    kind = member_kinds(members).get(member)
    return f"member {member}{f' ({kind})' if kind else ''} · {where}"


def member_kinds(members: Sequence[dict] | None) -> dict[int, str]:
    """What kind of network each ensemble member is (1-based, as the layer labels count
    them), from the model card's ``members``; members of an unknown kind are left out."""
    kinds = {}
    for number, member in enumerate(members or (), start=1):
        architecture = (member.get("recipe") or {}).get("architecture")
        if architecture in NETWORK_NOUNS:
            kinds[number] = NETWORK_NOUNS[architecture][0]
    return kinds


def reading_order(layers: Sequence[str]) -> list[str]:
    """``layers`` grouped by ensemble member (a plain model's keep their order), each member's
    input side first, the members' combined maps last: the order a reader scans a list in."""
    return sorted(layers, key=_member)  # stable: depth order within a member


def _member(name: str) -> float:
    """The ensemble member a layer belongs to (1-based); 0: a plain model's (or an unnamed)
    layer, infinity: the members' combined maps."""
    if name == ENSEMBLE_MAPS_LAYER:
        return float("inf")
    found = _CONV_NAME.fullmatch(name)
    return int(found.group(1)) if found and found.group(1) else 0


ALL_MEMBERS = "All members (last blocks)"


@dataclass(frozen=True)
class LayerGroup:
    """One network's layers, for a picker that asks for the network first: its name for a
    reader and its layers, input side first (the deepest last)."""

    label: str
    layers: tuple[str, ...]


def layer_groups(layers: Sequence[str], members: Sequence[dict] | None = None) -> list[LayerGroup]:
    """``layers`` by the network they belong to: an ensemble's combined maps first
    (:data:`ALL_MEMBERS`), then each member ("Member 2: compact VGG", with the card's
    ``members``), each in depth order; a single network's layers are one group. A flat list
    of an ensemble's layers (over 40 for the shipped one) is too long to scan."""
    grouped: dict[float, list[str]] = {}
    for name in reading_order(layers):
        grouped.setdefault(_member(name), []).append(name)
    kinds = member_kinds(members)

    def label(member: float) -> str:
        if member == float("inf"):
            return ALL_MEMBERS
        if member == 0:
            return "Network" if len(grouped) == 1 else "Other layers"
        kind = kinds.get(int(member))
        return f"Member {int(member)}: {kind}" if kind else f"Member {int(member)}"

    order = sorted(grouped, key=lambda member: (member != float("inf"), member))
    return [LayerGroup(label(member), tuple(grouped[member])) for member in order]


def short_layer_label(name: str) -> str:
    """A layer's name within its group (:func:`layer_groups`), the member left to the network
    picker: ``m2_block3_conv1`` → "block 3 conv 1"; the combined maps: "last block of each"."""
    if name == ENSEMBLE_MAPS_LAYER:
        return "last block of each"
    found = _CONV_NAME.fullmatch(name)
    if found is None:
        return name
    _, block, conv = found.groups()
    return f"block {block} conv {conv}"


@dataclass(frozen=True)
class Saliency:
    """A heatmap in [0, 1] at the image's own size, and what produced it."""

    heatmap: np.ndarray
    method: str
    target: str
    layer: str | None


class Explainer:
    """Saliency for one model. Built once; ``explain`` is called per image.

    Safe to share across threads: the compiled graphs are built once under a lock (one for
    the default layer, traced at load; one for each network's other layers; one for
    SmoothGrad), and calling them changes no state. :meth:`warm_up` builds the networks'
    ahead of a clinician's first picks.

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
        self._groups = _graph_groups(self.layers)
        self._visualizers: dict[str, Any] = {}
        self._graphs: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    @property
    def default_layer(self) -> str:
        return self.layers[-1]

    def layer_label(self, layer: str | None, kind: bool = True) -> str:
        """:func:`layer_label`, with each ensemble member's kind from the model card unless
        ``kind`` is false (the select box's short form); ``None`` (SmoothGrad's input
        gradients): "input pixels"."""
        if layer is None:
            return "input pixels"
        return layer_label(layer, self.members if kind else None)

    @property
    def members(self) -> list[dict] | None:
        """The model card's ensemble members (their recipes name their kinds), if any."""
        return self.skin_model.card.training.get("members")

    def _visualizer(self, method: str):
        with self._lock:
            if method not in self._visualizers:
                self._visualizers[method] = _reference_visualizer(method, self._logits_model)
            return self._visualizers[method]

    def _graph(self, layers: tuple[str, ...]):
        """The compiled gradients graph for ``layers`` (a group of :func:`_graph_groups`), or
        SmoothGrad's for ``("input",)``, built once."""
        with self._lock:
            if layers not in self._graphs:
                if layers == ("input",):
                    self._graphs[layers] = input_gradients_graph(self.skin_model)
                else:
                    self._graphs[layers] = gradients_graph(self.skin_model, layers)
            return self._graphs[layers]

    def trace_counts(self) -> dict[object, int]:
        """How often each compiled graph was traced, by layer group (SmoothGrad's:
        ``("input",)``) and ``"forward"`` for the Predictor's: each should be once."""
        with self._lock:
            counts = {key: g.experimental_get_tracing_count() for key, g in self._graphs.items()}
        return counts | {"forward": self.predictor.trace_count()}

    def warm_up_steps(self) -> list[tuple[str, Callable[[], object]]]:
        """What a clinician's first picks would otherwise wait for, as ``(what, step)`` to run
        in turn: each network's gradients graph not built yet (the app's load has built the
        default layer's), built and run once on a blank image (the first run optimises the
        graph and makes its kernels, half the wait), in float32 as :meth:`explain` calls
        them. Score-CAM builds nothing of its own: it reads its maps from those graphs and
        scores its copies through the Predictor's. SmoothGrad is left out: its 16-copy batch
        keeps about 0.4 GB resident once run, which every server would pay to save one
        clinician about a second once (docs/benchmarks.md).

        Steps can be run with pauses between them (the app lets a diagnosis in flight finish
        first); :meth:`warm_up` runs them all."""
        blank = np.full((self.skin_model.input_size,) * 2 + (3,), 128, np.uint8)
        x = self.predictor.preprocess(blank)
        with self._lock:
            missing = [g for g in dict.fromkeys(self._groups.values()) if g not in self._graphs]
        return [
            (f"gradients graph of {group[0]}", partial(self._layer_pass, x, -1, group[0]))
            for group in missing
        ]

    def warm_up(self) -> None:
        """Run every step of :meth:`warm_up_steps` now."""
        for _, step in self.warm_up_steps():
            step()

    def _layer_pass(self, x: np.ndarray, index: int, layer: str):
        """``(logits, maps, gradients, index)`` for one layer, from its group's graph, in
        float32 under bfloat16 serving too (:func:`skindx.model.precision.float32_graphs`):
        CAM weights from bfloat16 gradients moved Grad-CAM++ maps by up to 1.0 per pixel and
        LayerCAM's by 0.46; float32 costs the pass 1.2-1.6 times bfloat16's time
        (docs/benchmarks.md)."""
        group = self._groups[layer]
        graph = self._graph(group)
        with float32_graphs():
            logits, maps, grads, chosen = graph(x, np.int32(index))
        at = group.index(layer)
        return logits, maps[at], grads[at], chosen

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
        # SmoothGrad's noise seeded by the image: the same photo gets the same map and
        # faithfulness figure in every session (unseeded, it changed from one to the next).
        noise = np.random.default_rng(zlib.crc32(x.tobytes())) if method == "smoothgrad" else None
        cam, index = self.raw_map(method, x, index, layer, noise)
        heatmap = cv2.resize(
            cam, (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_LINEAR
        )
        return Saliency(
            _normalise(heatmap),
            method,
            classes[index],
            layer if uses_layer(method) else None,
        )

    def raw_map(
        self,
        method: str,
        x: np.ndarray,
        index: int,
        layer: str | None = None,
        noise: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, int]:
        """The map at the model's input size, normalised as tf-keras-vis normalises it, and
        the class index it explains (``index`` -1: the predicted class).

        Args:
            method: a key of :data:`METHODS`.
            x: one preprocessed image, ``1×S×S×3`` float32 (:meth:`Predictor.preprocess`).
            index: the class to explain, or -1 for the argmax of the logits.
            layer: the conv layer (default: the last); ignored by SmoothGrad.
            noise: SmoothGrad's generator (default: NumPy's global one, as tf-keras-vis's).
        """
        layer = layer or self.default_layer
        size = x.shape[1:3]
        if method == "smoothgrad":
            if index < 0:
                index = int(np.argmax(self.predictor.forward(x)[0][0]))
            return self._smoothgrad(x, index, noise), index
        logits, maps, grads, chosen = self._layer_pass(x, index, layer)
        if method == "scorecam":
            keep = scorecam_channels(self.skin_model.model, layer)
            cam = scorecam(maps[0], x, int(chosen), keep, self.predictor.logits)
        else:
            cam = cam_from_gradients(
                method,
                np.asarray(maps[0], np.float64),
                np.asarray(grads[0], np.float64),
                float(np.asarray(logits)[0, int(chosen)]),
            )
        return _expand(np.nan_to_num(cam), size), int(chosen)

    def _smoothgrad(
        self, x: np.ndarray, index: int, noise: np.random.Generator | None = None
    ) -> np.ndarray:
        """SmoothGrad as tf-keras-vis computes it (noise 15% of the input's range, |gradient|
        averaged over the noisy copies, maximum over colour channels), with every copy's
        gradient from one compiled batched pass instead of one eager pass each. Without a
        ``noise`` generator it draws from NumPy's global one as tf-keras-vis does, so a seed
        reproduces its map."""
        sigma = SMOOTHGRAD_NOISE * (float(x.max()) - float(x.min()))
        shape = (SMOOTHGRAD_SAMPLES, *x.shape)
        draws = (noise or np.random).normal(0.0, sigma, shape)
        noisy = (x[None] + draws.astype(np.float32)).reshape(-1, *x.shape[1:])
        grads = self._graph(("input",))(noisy, np.int32(index))
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
            options["max_N"] = scorecam_channels(self.skin_model.model, layer)
        result = self._visualizer(method)(CategoricalScore([index]), x, **options)
        return np.nan_to_num(np.asarray(result, dtype=np.float32)[0])

    def faithfulness(
        self, image: Any, saliency: Saliency, fraction: float = 0.2, seed: int = 0
    ) -> Faithfulness:
        """Blur the top ``fraction`` of salient pixels and, separately, the same share of random
        pixels; report each drop in the target class's calibrated probability
        (:func:`skindx.explain.faithfulness.measure_faithfulness`)."""
        return measure_faithfulness(
            self.predictor, self.skin_model, image, saliency, fraction, seed
        )


def _graph_groups(layers: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each layer's group, the layers one compiled gradients graph returns together: the
    default (deepest) layer alone, since load traces its graph and its backward pass is the
    shortest; every other layer with the rest of its network's (an ensemble member's, or all of
    a plain model's), so exploring a network's layers traces one graph, not one per layer."""
    default = layers[-1]
    groups = [tuple(n for n in group.layers if n != default) for group in layer_groups(layers)]
    return {name: group for group in groups for name in group} | {default: (default,)}


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


def _normalise(heatmap: np.ndarray) -> np.ndarray:
    heatmap = np.asarray(heatmap, dtype=np.float32)
    lo, hi = float(heatmap.min()), float(heatmap.max())
    if hi - lo < 1e-12:
        return np.zeros_like(heatmap, dtype=np.float32)
    return ((heatmap - lo) / (hi - lo)).astype(np.float32)
