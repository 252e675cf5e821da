"""``skindx train --engine torch``: the compact VGG, or VGG16 from pretrained conv weights,
trained by a PyTorch loop, for machines with a CUDA GPU but no CUDA build of TensorFlow, and
for CPUs with native bfloat16 (``--mixed-precision auto``, :mod:`skindx.training.precision`).

Keras' own ``fit`` on the torch backend steps eagerly through Python and a CPU loader
(8.6 s per HAM10000 epoch on an H100, bounded by Python rather than the GPU; see
docs/training_logs/gpu_e160bf.log). This engine keeps the training images on the device
as uint8 and augments whole batches there with the Keras loop's recipe (any rotation, a
mirror, zoom, colour jitter), with the same loss, optimiser, schedule and selection by
validation balanced accuracy. The best weights are then copied into the Keras model layer
by layer, so what ships is the same ``.keras`` file, calibrated by the same code.

cuDNN picks its fastest kernels, some of them nondeterministic: on a GPU, ``--seed`` fixes
the initialisation, the order and the augmentation, not every last bit of the result.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.files import atomic_path
from skindx.model.networks import block_counts
from skindx.training.recipe import COLOUR_JITTER, ZOOM_RANGE

__all__ = [
    "Selection",
    "fit",
    "keras_weights",
    "require_torch",
    "torch_compact_vgg",
    "torch_vgg16",
]

# Keras' defaults, so the copied model computes what the torch one did.
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.01
LR_FLOOR = 0.01  # cosine decay ends at this fraction of the peak (Keras' alpha)
CHECKPOINT_FILE = "torch_checkpoint.pt"  # the state after every epoch, for a resumed run


@dataclass
class Selection:
    """What the loop reports: the best epoch and its validation balanced accuracy."""

    best: float = -1.0
    best_epoch: int = -1
    history: dict[str, list[float]] = field(default_factory=dict)
    details: dict = field(default_factory=dict)  # more for the card's training record


def require_torch():
    """PyTorch, or an ImportError that says how to get it (it is not in requirements.txt)."""
    try:
        import torch
    except ImportError as error:
        raise ImportError("--engine torch needs PyTorch: pip install torch") from error
    return torch


def torch_compact_vgg(architecture: dict, n_classes: int):
    """The compact VGG of :func:`skindx.model.networks.build_compact_vgg` as a torch module whose
    submodules carry the Keras layer names (``block3_conv2``, ``block3_bn2``, ``logits``)."""
    torch = require_torch()
    nn = torch.nn
    widths = architecture["widths"]
    counts = block_counts(widths, architecture["convs_per_block"])

    class CompactVGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.named = nn.ModuleDict()
            self.blocks = []  # per block: the (conv, bn) names in order
            channels = 3
            for b, (width, n_convs) in enumerate(zip(widths, counts, strict=True), start=1):
                names = []
                for c in range(1, n_convs + 1):
                    conv, bn = f"block{b}_conv{c}", f"block{b}_bn{c}"
                    self.named[conv] = nn.Conv2d(channels, width, 3, padding=1, bias=False)
                    self.named[bn] = nn.BatchNorm2d(width, eps=BN_EPSILON, momentum=BN_MOMENTUM)
                    names.append((conv, bn))
                    channels = width
                self.blocks.append(names)
            self.dropout = nn.Dropout(architecture.get("dropout", 0.3))
            self.named["logits"] = nn.Linear(channels, n_classes)

        def forward(self, x):
            """``x``: float NCHW in [0, 255]; returns logits."""
            x = x / 127.5 - 1.0
            for names in self.blocks:
                for conv, bn in names:
                    x = torch.relu(self.named[bn](self.named[conv](x)))
                x = torch.nn.functional.max_pool2d(x, 2)
            return self.named["logits"](self.dropout(x.mean(dim=(2, 3))))

    return CompactVGG()


def torch_vgg16(model):
    """A Keras VGG16 (:func:`skindx.model.networks.build_vgg16`), or a run of its layers as
    :mod:`skindx.training.transfer` splits it, as a torch module with Keras' layer names in
    ``named`` (so :func:`keras_weights` and :func:`load_keras_weights` convert them) and the
    Keras model's weights. It returns logits, or with ``features=True`` the pooled features
    the ``logits`` layer reads. VGG16's conv layers carry their ReLU."""
    torch = require_torch()
    nn = torch.nn

    class VGG16(nn.Module):
        def __init__(self):
            super().__init__()
            self.named, self.steps = nn.ModuleDict(), []
            for layer in model.layers[1:]:
                kind = layer.__class__.__name__
                if kind == "Conv2D":
                    kernel = layer.kernel.shape
                    self.named[layer.name] = nn.Conv2d(kernel[2], kernel[3], 3, padding=1)
                elif kind == "Dense":
                    self.named[layer.name] = nn.Linear(*layer.kernel.shape)
                elif kind == "Dropout":
                    self.dropout = nn.Dropout(layer.rate)
                    # the linear probe sets it: dropout then zeroes deviations from the
                    # training features' mean, not the features (see forward)
                    self.register_buffer("feature_mean", torch.zeros(layer.input.shape[-1]))
                elif kind == "Normalization":
                    mean, variance = (np.asarray(v, "float32").reshape(1, -1, 1, 1)
                                      for v in (layer.mean, layer.variance))  # fmt: skip
                    self.register_buffer("mean", torch.tensor(mean))
                    self.register_buffer("scale", torch.tensor(1 / np.sqrt(variance)))
                self.steps.append((kind, layer.name))

        def forward(self, x, features=False):
            for kind, name in self.steps:
                if kind == "Conv2D":
                    x = torch.relu(self.named[name](x))
                elif kind == "MaxPooling2D":
                    x = nn.functional.max_pool2d(x, 2)
                elif kind == "GlobalAveragePooling2D":
                    x = x.mean(dim=(2, 3))
                    if features:
                        return x
                elif kind == "Dropout":
                    # The probe's head has the features' standardisation folded in
                    # (probe.probe_weights): a dropped raw feature would read as far below
                    # its mean and shift every logit; a dropped deviation reads as the mean.
                    # Keras' Dropout is the identity when serving, so nothing else changes.
                    x = self.feature_mean + self.dropout(x - self.feature_mean)
                elif kind == "Dense":
                    x = self.named[name](x)
                elif kind == "Normalization":
                    x = (x - self.mean) * self.scale
            return x

    module = VGG16()
    load_keras_weights(module, {name: model.get_layer(name).get_weights() for name in module.named})
    return module


def keras_weights(module) -> dict[str, list[np.ndarray]]:
    """The module's weights in Keras' layout, by Keras layer name."""
    torch = require_torch()
    weights = {}
    for name, layer in module.named.items():
        if isinstance(layer, torch.nn.Conv2d):  # (out, in, h, w) -> (h, w, in, out)
            values = [layer.weight.permute(2, 3, 1, 0)]
            if layer.bias is not None:  # VGG16's convs have one; the compact VGG's do not
                values.append(layer.bias)
        elif isinstance(layer, torch.nn.BatchNorm2d):
            values = [layer.weight, layer.bias, layer.running_mean, layer.running_var]
        else:  # Linear: (out, in) -> (in, out)
            values = [layer.weight.T, layer.bias]
        weights[name] = [v.detach().float().cpu().numpy().copy() for v in values]
    return weights


def _augment(torch, x, generator, zoom_range, jitter, exposure=0.0):
    """Random rotation, mirror and zoom about the centre (reflected border), then exposure
    and colour jitter: the Keras loop's augmentation, on the device for a whole batch."""
    functional = torch.nn.functional
    n, device = x.shape[0], x.device

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, device=device, generator=generator)

    angle = uniform(-math.pi, math.pi)
    field_of_view = 1.0 + uniform(*zoom_range)
    mirror = torch.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) * field_of_view, torch.sin(angle) * field_of_view
    zero = torch.zeros_like(cos)
    theta = torch.stack(
        [torch.stack([cos * mirror, -sin, zero], 1), torch.stack([sin * mirror, cos, zero], 1)], 1
    )
    grid = functional.affine_grid(theta, list(x.shape), align_corners=False)
    x = functional.grid_sample(x, grid, padding_mode="reflection", align_corners=False)

    def per_image(values):
        return values.view(n, 1, 1, 1)

    if exposure:  # before the clamps, as the Keras loader's random_exposure
        x = (x * per_image(torch.exp(uniform(-exposure, exposure)))).clamp(0.0, 255.0)
    x = x + per_image(uniform(-jitter["brightness"], jitter["brightness"]) * 255.0)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = (x - mean) * per_image(uniform(1 - jitter["contrast"], 1 + jitter["contrast"])) + mean
    x = x.clamp(0.0, 255.0)
    # Keras' saturation factor f scales saturation by f / (1 - f); here as a blend with grey.
    f = uniform(*jitter["saturation"])
    luma = torch.tensor([0.299, 0.587, 0.114], device=device).view(1, 3, 1, 1)
    grey = (x * luma).sum(dim=1, keepdim=True)
    x = grey + (x - grey) * per_image(f / (1 - f))
    return _rotate_hue(torch, x, uniform(-1.0, 1.0) * jitter["hue"] * 2 * math.pi).clamp(0, 255)


_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _rotate_hue(torch, x, angle):
    """Hue shifted by ``angle`` radians: a rotation of the chroma plane in YIQ space."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rotation = torch.stack(
        [
            torch.stack([one, zero, zero], 1),
            torch.stack([zero, cos, -sin], 1),
            torch.stack([zero, sin, cos], 1),
        ],
        1,
    )
    to_yiq = torch.tensor(_RGB_TO_YIQ, dtype=x.dtype, device=x.device)
    from_yiq = torch.tensor(np.linalg.inv(_RGB_TO_YIQ), dtype=x.dtype, device=x.device)
    matrix = from_yiq @ rotation @ to_yiq  # (n, 3, 3)
    return torch.einsum("nij,njhw->nihw", matrix, x)


def learning_rate(config, step: int, steps_per_epoch: int, time_fraction: float = 0.0) -> float:
    """Keras' CosineDecay with linear warm-up from a tenth of the peak. With a time budget
    the decay follows whichever is further along, steps or time, so a run stopped by its
    budget ends annealed rather than at a high learning rate."""
    peak = config.learning_rate
    warm = steps_per_epoch * config.warmup_epochs
    if step < warm:
        return peak / 10 + (peak - peak / 10) * step / warm
    decay = max(1, steps_per_epoch * (config.epochs - config.warmup_epochs))
    t = min(1.0, max((step - warm) / decay, time_fraction))
    return peak * ((1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * t)) + LR_FLOOR)


def _predict(torch, module, x, device, bfloat16, batch_size=512):
    module.eval()
    out = []
    with torch.no_grad(), autocast(torch, device, bfloat16):
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].permute(0, 3, 1, 2).float()
            out.append(module(batch.contiguous(memory_format=torch.channels_last)).float())
    return torch.cat(out).cpu().numpy()


def torch_device(torch):
    """A CUDA GPU where torch sees one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(torch, device, enabled):
    """bfloat16 autocast on ``device`` (a GPU or the CPU) where ``enabled``; a no-op elsewhere."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def epoch_draw(labels, cap: int | None, seed: int, epoch: int):
    """The images of one epoch in a seeded order, and a weight factor for each of them.

    Without ``cap`` every image once, factors 1. With it, at most ``cap`` images of each
    class, drawn afresh every epoch so a large class is seen in turns; each class's factor
    ``n_c / m_c * M / N`` (all of the class over those drawn) keeps every class's share of
    the loss and the loss's scale what the whole set gives.
    """
    rng = np.random.default_rng((seed, epoch))
    if not cap:
        return rng.permutation(len(labels)), np.ones(len(labels), dtype="float32")
    counts = np.bincount(labels)
    drawn = np.minimum(counts, cap)
    order = rng.permutation(
        np.concatenate(
            [rng.permutation(np.flatnonzero(labels == c))[:cap] for c in range(len(counts))]
        )
    )
    factor = np.where(drawn > 0, counts / np.maximum(drawn, 1), 0.0) * drawn.sum() / len(labels)
    return order, factor[labels[order]].astype("float32")


def _train_epoch(torch, module, optimiser, tensors, config, epoch, generator, next_rate, labels):
    """One pass over the epoch's images (:func:`epoch_draw`) in a seeded order; returns the
    mean loss and the number of images.

    ``tensors``: (uint8 NHWC images, smoothed soft targets, per-image weights) on the device.
    """
    images, soft, weights = tensors
    module.train()
    order, factor = epoch_draw(labels, config.epoch_class_cap, config.seed, epoch)
    device = images.device
    factor = torch.from_numpy(factor).to(device)
    order_on_device = torch.from_numpy(order).to(device)
    total = torch.zeros((), device=device)
    for position in torch.arange(len(order), device=device).split(config.batch_size):
        idx = order_on_device[position]
        for group in optimiser.param_groups:
            group["lr"] = next_rate()
        pixels = images[idx].permute(0, 3, 1, 2).float()
        batch = _augment(torch, pixels, generator, ZOOM_RANGE, COLOUR_JITTER, config.exposure)
        with autocast(torch, device, config.mixed_precision):
            logits = module(batch.contiguous(memory_format=torch.channels_last))
        per_image = -(soft[idx] * torch.log_softmax(logits.float(), dim=1)).sum(dim=1)
        loss = (per_image * weights[idx] * factor[position]).mean()  # Keras' sum / batch size
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        total += loss.detach() * len(idx)
    return float(total) / len(order), len(order)  # one device sync per epoch


def load_keras_weights(module, weights: dict[str, list[np.ndarray]]) -> None:
    """Set the module's weights from Keras-layout ones by layer name (``keras_weights``'
    inverse), to fine-tune a trained Keras model."""
    torch = require_torch()
    with torch.no_grad():
        for name, layer in module.named.items():
            values = [torch.from_numpy(np.asarray(v)) for v in weights[name]]
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.copy_(values[0].permute(3, 2, 0, 1))
                if layer.bias is not None:
                    layer.bias.copy_(values[1])
            elif isinstance(layer, torch.nn.BatchNorm2d):
                for target, value in zip(
                    (layer.weight, layer.bias, layer.running_mean, layer.running_var),
                    values,
                    strict=True,
                ):
                    target.copy_(value)
            else:
                layer.weight.copy_(values[0].T)
                layer.bias.copy_(values[1])


def fit(
    config,
    x_train,
    targets,
    sample_weights,
    x_val,
    y_val,
    progress=True,
    start=None,
    labels=None,
    groups=None,
):
    """Train on uint8 NHWC arrays, from ``start``'s Keras-layout weights where given; returns
    (Keras-layout weights of the best epoch, Selection).

    ``targets``: (n, classes) probabilities (one-hot, or mixed with a teacher's);
    ``sample_weights``: per-image class weights, as in the Keras loop; ``labels``: the
    classes that ``config.epoch_class_cap`` draws by (default: the targets' argmax).
    A pretrained VGG16 starts from a linear probe (its head fitted on the frozen features,
    its C cross-validated over ``groups``, the training images' lesions, unless
    ``config.probe_c`` pins it; that is epoch 0, and fine-tuning is kept only where it beats it;
    with ``config.refit_head`` it is fitted again after every epoch). A checkpoint after every epoch
    (``torch_checkpoint.pt`` in ``config.out``) lets a run that was cut off resume where it
    stopped.
    """
    torch = require_torch()
    device = torch_device(torch)
    torch.manual_seed(config.seed)
    torch.backends.cudnn.benchmark = True
    generator = torch.Generator(device=device).manual_seed(config.seed)
    module = _module(config, targets.shape[1], start).to(device)
    module = module.to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(
        trainable(module, config.lock_blocks),
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        eps=1e-7,
    )
    soft = torch.from_numpy(np.asarray(targets, dtype="float32")).to(device)
    tensors = (
        torch.from_numpy(x_train).to(device),
        soft * (1 - config.label_smoothing) + config.label_smoothing / soft.shape[1],
        torch.from_numpy(np.asarray(sample_weights, dtype="float32")).to(device),
    )
    val_images = torch.from_numpy(x_val).to(device)
    labels = np.asarray(targets).argmax(1) if labels is None else np.asarray(labels)
    per_epoch = len(epoch_draw(labels, config.epoch_class_cap, config.seed, 0)[0])
    steps = math.ceil(per_epoch / config.batch_size)
    budget = 60 * config.max_minutes if config.max_minutes else None
    checkpoint = Checkpoint(torch, config)
    selection = Selection(history={"loss": [], "val_balanced_accuracy": []})
    best_state, first_epoch = None, 0
    if resumed := checkpoint.load(module, optimiser, generator):
        selection, best_state, first_epoch = resumed
        print(f"resuming after epoch {first_epoch}", flush=True)
    elif config.architecture == "vgg16" and config.weights and start is None:
        selection.best, selection.details = _linear_probe(
            torch, module, tensors, (val_images, y_val), config, groups
        )
        selection.best_epoch, best_state = 0, copy_state(module)
        print(f"linear probe: val_balanced_accuracy={selection.best:.4f}", flush=True)
    start_time, step = time.monotonic(), first_epoch * steps

    def next_rate():
        nonlocal step
        step += 1
        spent = (time.monotonic() - start_time) / budget if budget else 0.0
        return learning_rate(config, step - 1, steps, spent)

    wait = 0
    for epoch in range(first_epoch, config.epochs):
        epoch_start = time.monotonic()
        loss, seen = _train_epoch(
            torch, module, optimiser, tensors, config, epoch, generator, next_rate, labels
        )
        rate = seen / (time.monotonic() - epoch_start)  # training alone, not validation
        if config.refit_head:  # the features improve while the head drifts on augmented images
            if progress and config.probe_c is None:
                print(
                    "refitting the head: its cross-validation now reuses images the backbone "
                    "trained on, so it flatters; the validation split selects the epoch",
                    flush=True,
                )
            score, refit = _linear_probe(
                torch, module, tensors, (val_images, y_val), config, groups
            )
        else:
            probabilities = _predict(torch, module, val_images, device, config.mixed_precision)
            score = balanced_accuracy(y_val, probabilities.argmax(1))
        selection.history["loss"].append(round(loss, 4))
        selection.history["val_balanced_accuracy"].append(round(score, 4))
        elapsed = time.monotonic() - start_time
        if progress:
            print(
                f"epoch {epoch + 1}: loss={loss:.4f} val_balanced_accuracy={score:.4f} "
                f"({elapsed:.0f} s, {rate:.1f} img/s)",
                flush=True,
            )
        if score > selection.best:
            selection.best, selection.best_epoch, wait = score, epoch + 1, 0
            best_state = copy_state(module)
            if config.refit_head:
                selection.details = refit
        else:
            wait += 1
        checkpoint.save(module, optimiser, selection, best_state, epoch + 1, generator)
        if wait >= config.patience:
            break
        if budget and elapsed > budget:
            print("time budget reached: stopping", flush=True)
            break
    module.load_state_dict(best_state)
    weights = keras_weights(module)
    # Hand the cached GPU memory back: calibration runs next, and other runs may share the GPU.
    del module, best_state, optimiser, tensors, val_images, soft
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return weights, selection


def _module(config, n_classes: int, start):
    """The network to train: the compact VGG, or VGG16 with the Keras model's (pretrained)
    weights; ``start``'s weights over either."""
    if config.architecture == "vgg16":
        from skindx.model.networks import build_model

        module = torch_vgg16(build_model(config.architecture_dict()))
    else:
        module = torch_compact_vgg(config.architecture_dict(), n_classes)
    if start:
        load_keras_weights(module, start)
    return module


def trainable(module, lock_blocks: int) -> list:
    """The parameters to train: all but those of VGG16's blocks 1..``lock_blocks``, which
    then need no gradient, so the backward pass stops above them."""
    locked = tuple(f"named.block{b}_" for b in range(1, lock_blocks + 1))
    for name, parameter in module.named_parameters():
        parameter.requires_grad_(not name.startswith(locked))
    return [p for p in module.parameters() if p.requires_grad]


def copy_state(module) -> dict:
    """A copy of the module's weights that later training steps leave alone."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _linear_probe(torch, module, tensors, validation, config, groups) -> tuple[float, dict]:
    """Fit the ``logits`` layer on the pretrained features of the training images as they are
    (:mod:`skindx.training.probe`); returns its validation balanced accuracy and its C for the
    card. (Fitting it on augmented images instead started from 0.481 rather than 0.573 and
    fine-tuned no better: docs/training_logs/cpu_bf16_vgg16_member.log.)"""
    from skindx.training.probe import fitted_probe

    images, soft, weights = tensors
    device = images.device

    def features(x):
        with torch.no_grad(), autocast(torch, device, config.mixed_precision):
            return torch.cat(
                [
                    module(batch.permute(0, 3, 1, 2).float(), features=True).float()
                    for batch in x.split(config.batch_size)
                ]
            )

    module.eval()
    pooled = features(images)
    module.feature_mean.copy_(pooled.mean(dim=0))
    pooled, labels = pooled.cpu().numpy(), soft.argmax(dim=1).cpu().numpy()
    weights = weights.cpu().numpy()
    kernel, bias, details = fitted_probe(pooled, labels, weights, groups, config.probe_c)
    head = module.named["logits"]
    with torch.no_grad():  # Keras' (in, out) kernel is torch's weight transposed
        head.weight.copy_(torch.from_numpy(kernel.T).to(device))
        head.bias.copy_(torch.from_numpy(bias).to(device))
    val_images, y_val = validation
    predicted = _predict(torch, module, val_images, device, config.mixed_precision).argmax(1)
    return balanced_accuracy(y_val, predicted), details


class Checkpoint:
    """The training state after an epoch, in ``config.out``, for a run to resume from. It is
    refused when the recipe differs (other than in epochs and time budget)."""

    def __init__(self, torch, config, filename: str = CHECKPOINT_FILE):
        self.torch, self.path = torch, Path(config.out) / filename
        recipe = config.recipe()
        self.recipe = {k: v for k, v in recipe.items() if k not in ("epochs", "max_minutes")}

    def load(self, module, optimiser, generator=None):
        """``(selection, best state, epochs done)`` restored into the arguments, or ``None``
        when there is no checkpoint."""
        if not self.path.is_file():
            return None
        state = self.torch.load(self.path, weights_only=False, map_location="cpu")
        recipe = state.get("recipe")
        if recipe != self.recipe:
            changed = sorted(k for k in self.recipe if (recipe or {}).get(k) != self.recipe[k])
            why = f"different {', '.join(changed)}" if recipe else "its recipe is not recorded"
            raise ValueError(
                f"{self.path} was written by another recipe ({why}): "
                "choose another --out, or delete it to start again."
            )
        module.load_state_dict(state["module"])
        optimiser.load_state_dict(state["optimiser"])
        if generator is not None:
            generator.set_state(state["generator"])
        return state["selection"], state["best"], state["epoch"]

    def save(self, module, optimiser, selection, best_state, epoch: int, generator=None) -> None:
        state = {"module": module.state_dict(), "optimiser": optimiser.state_dict(),
                 "generator": None if generator is None else generator.get_state(),
                 "selection": selection, "best": best_state, "epoch": epoch,
                 "recipe": self.recipe}  # fmt: skip
        with atomic_path(self.path) as partial:  # a run killed mid-save keeps the last one
            self.torch.save(state, partial)
