"""Transfer learning for VGG16 from pretrained conv weights, affordable on a CPU.

The lower blocks stay frozen, so they need to run only once per image: their output is
cached (in memory, and in the run folder so that a resumed run skips that pass) and the upper
blocks and the head train on it, several times faster than full fine-tuning. The head is fitted
first on standardised frozen features (a class-balanced linear probe, its standardisation
folded into the ``logits`` layer), then the upper blocks and head are fine-tuned together at a
low learning rate: fine-tuning with a random head distorts the pretrained features, and a
head on raw VGG activations trains badly (both measured here before this recipe).

References:
    Kumar et al., "Fine-Tuning can Distort Pretrained Features and Underperform
    Out-of-Distribution", ICLR 2022.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.files import atomic_path
from skindx.model.networks import FEATURES_LAYER, LOGITS_LAYER, import_keras, layer_probe
from skindx.training.keras_engine import compile_for_training
from skindx.training.probe import fitted_probe

CACHE_FILE = "frozen_outputs.npz"
CHECKPOINT_FILE = "transfer_checkpoint.pt"  # the fine-tuning loop's, after every epoch


def split_at(model, freeze_blocks: int):
    """``(lower, upper, upper_features)``: the model up to ``block{n}_pool``, and the rest as
    a model of its own that takes that block's output and shares the layers (and weights)
    with ``model``, with a second output graph that stops at ``features``."""
    keras = import_keras()
    boundary = f"block{freeze_blocks}_pool"
    names = [layer.name for layer in model.layers]
    if boundary not in names:
        raise ValueError(
            f"--freeze-blocks {freeze_blocks}: the model has no layer {boundary}. "
            "Freeze at most the blocks it has (with all frozen, only the head trains)."
        )
    inputs = keras.Input(model.get_layer(boundary).output.shape[1:], name="frozen")
    x = features = inputs
    for layer in model.layers[names.index(boundary) + 1 :]:
        x = layer(x)
        if layer.name == FEATURES_LAYER:
            features = x
    upper = keras.Model(inputs, x, name="upper")
    return layer_probe(model, boundary), upper, keras.Model(inputs, features)


def frozen_outputs(
    lower, x: np.ndarray, ids: list[str], cache: Path | None = None, batch_size: int = 32
) -> np.ndarray:
    """``lower``'s outputs for the uint8 images ``x`` as float16, read from ``cache`` when it
    holds them for the same image ids (and written there otherwise, atomically). ``lower``:
    the Keras model of the frozen blocks, or :func:`torch_lower`'s function."""
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            if stored["ids"].tolist() == list(ids):
                return stored["outputs"]
    keras = import_keras()
    out, start = None, time.monotonic()
    for i in range(0, len(x), batch_size):
        batch = keras.ops.convert_to_numpy(lower(x[i : i + batch_size].astype("float32")))
        if out is None:
            out = np.empty((len(x), *batch.shape[1:]), np.float16)
        out[i : i + len(batch)] = batch
        if (i // batch_size) % 50 == 0:
            rate = (i + len(batch)) / (time.monotonic() - start)
            print(f"frozen blocks: {i + len(batch)}/{len(x)} images, {rate:.1f} img/s", flush=True)
    if cache is not None:
        with atomic_path(cache) as partial, open(partial, "wb") as handle:
            np.savez(handle, outputs=out, ids=np.array(ids))
    return out


def fit_probe(
    upper,
    upper_features,
    cached: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    groups,
    pinned_c: float | None = None,
) -> dict:
    """Fit the head of ``upper`` as a class-weighted logistic regression on its standardised
    ``features`` (C by :func:`~skindx.training.probe.chosen_c`), then fold the
    standardisation into the ``logits`` layer; returns the C for the card."""
    features = _predict(upper_features, cached)
    kernel, bias, details = fitted_probe(features, labels, weights, groups, pinned_c)
    upper.get_layer(LOGITS_LAYER).set_weights([kernel, bias])
    return details


def _predict(model, cached: np.ndarray, batch_size: int = 128) -> np.ndarray:
    keras = import_keras()
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(model(cached[i : i + batch_size].astype("float32")))
            for i in range(0, len(cached), batch_size)
        ]
    )


def _shifted_batches(keras):
    class ShiftedBatches(keras.utils.PyDataset):
        """Shuffled float32 batches of cached feature maps, each moved by up to one cell
        (the pooled stride: 16 px after block 4) as a translation of the image would."""

        def __init__(self, x, y, weights, batch_size, seed):
            super().__init__()
            self.x, self.y, self.w, self.batch_size = x, y, weights, batch_size
            self.seed, self.epoch = seed, 0
            self.order = np.random.default_rng(seed).permutation(len(x))

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * self.batch_size : (i + 1) * self.batch_size])
            dy, dx = np.random.default_rng((self.seed, self.epoch, i)).integers(-1, 2, 2)
            maps = np.roll(self.x[idx].astype("float32"), (int(dy), int(dx)), axis=(1, 2))
            return maps, self.y[idx], self.w[idx]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.x))

    return ShiftedBatches


def torch_lower(lower, bfloat16: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """The frozen blocks as a torch function from float32 NHWC images to NHWC outputs, in
    bfloat16 autocast with ``bfloat16`` (for :func:`frozen_outputs`): on a CPU with AMX this
    pass, the costliest of the recipe, runs many times faster than Keras' in float32."""
    from skindx.training.torch_engine import autocast, require_torch, torch_device, torch_vgg16

    torch = require_torch()
    device = torch_device(torch)
    module = torch_vgg16(lower).eval().to(device).to(memory_format=torch.channels_last)

    def run(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images).permute(0, 3, 1, 2).to(device)
        with torch.no_grad(), autocast(torch, device, bfloat16):
            out = module(x.contiguous(memory_format=torch.channels_last))
        return out.float().permute(0, 2, 3, 1).cpu().numpy()

    return run


def _fine_tune_torch(
    config, upper, cached, targets, weights, cached_val, y_val, progress, probe_score=-1.0
):
    """The fine-tuning stage as a PyTorch loop on the CPU or a GPU (about twice Keras' speed
    on a 2-core CPU; in bfloat16 autocast with ``config.mixed_precision``), with the Keras
    loop's loss, AdamW, schedule, shift augmentation and selection. A checkpoint after every
    epoch (``transfer_checkpoint.pt`` in the run folder) lets an interrupted run resume where
    it stopped. The linear probe (``probe_score``) is epoch 0: fine-tuning is kept only where
    it beats it on validation."""
    from skindx.training.torch_engine import (
        Checkpoint,
        Selection,
        autocast,
        copy_state,
        keras_weights,
        learning_rate,
        require_torch,
        torch_device,
        torch_vgg16,
    )

    torch = require_torch()
    device = torch_device(torch)
    torch.manual_seed(config.seed)
    module = torch_vgg16(upper).to(device).to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(
        module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, eps=1e-7
    )
    soft = torch.from_numpy(np.asarray(targets, dtype="float32"))
    soft = soft * (1 - config.label_smoothing) + config.label_smoothing / soft.shape[1]
    sample_weights = torch.from_numpy(np.asarray(weights, dtype="float32"))
    selection = Selection(probe_score, 0, {"loss": [], "val_balanced_accuracy": []})
    best_state, first_epoch, step = copy_state(module), 0, 0
    checkpoint = Checkpoint(torch, config, CHECKPOINT_FILE)
    if resumed := checkpoint.load(module, optimiser):
        selection, best_state, first_epoch = resumed
        step = first_epoch * math.ceil(len(cached) / config.batch_size)
        print(f"resuming after epoch {first_epoch}", flush=True)

    def maps(array):
        x = torch.from_numpy(np.asarray(array, dtype="float32")).permute(0, 3, 1, 2)
        return x.to(device).contiguous(memory_format=torch.channels_last)

    steps, start, wait = math.ceil(len(cached) / config.batch_size), time.monotonic(), 0
    budget = 60 * config.max_minutes if config.max_minutes else math.inf
    for epoch in range(first_epoch, config.epochs):
        epoch_start = time.monotonic()
        module.train()
        rng = np.random.default_rng((config.seed, epoch))
        total = 0.0
        for idx in np.array_split(rng.permutation(len(cached)), steps):
            idx = np.sort(idx)
            spent = (time.monotonic() - start) / budget
            for group in optimiser.param_groups:  # a time budget anneals the schedule too
                group["lr"] = learning_rate(config, step, steps, spent)
            step += 1
            shift = tuple(int(v) for v in rng.integers(-1, 2, 2))
            with autocast(torch, device, config.mixed_precision):
                logits = module(torch.roll(maps(cached[idx]), shift, dims=(2, 3))).float()
            per_image = -(soft[idx].to(device) * torch.log_softmax(logits, dim=1)).sum(dim=1)
            loss = (per_image * sample_weights[idx].to(device)).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
            if progress and step % 50 == 0:
                print(f"  step {step}: loss={float(loss.detach()):.4f}", flush=True)
        rate = len(cached) / (time.monotonic() - epoch_start)  # training alone, as torch_engine
        module.eval()
        with torch.no_grad(), autocast(torch, device, config.mixed_precision):
            scores = torch.cat(
                [module(maps(cached_val[i : i + 128])) for i in range(0, len(cached_val), 128)]
            )
        score = balanced_accuracy(y_val, scores.argmax(1).cpu().numpy())
        selection.history["loss"].append(round(total / len(cached), 4))
        selection.history["val_balanced_accuracy"].append(round(score, 4))
        if progress:
            print(
                f"epoch {epoch + 1}: val_balanced_accuracy={score:.4f} ({rate:.1f} img/s)",
                flush=True,
            )
        if score > selection.best:
            selection.best, selection.best_epoch, wait = score, epoch + 1, 0
            best_state = copy_state(module)
        else:
            wait += 1
        checkpoint.save(module, optimiser, selection, best_state, epoch + 1)
        if wait >= config.patience or time.monotonic() - start > budget:
            break
    module.load_state_dict(best_state)
    return keras_weights(module), selection


def _probe_only(config, model, x_train, train_ids, targets, weights, validation, out: Path):
    """Every conv block frozen: only the linear probe on the (cached) features, its
    regularisation chosen by cross-validation over the training split's lesions, as
    :func:`fit` returns its result. Fine-tuning from such a probe lowered validation balanced
    accuracy in every form tried on a CPU (docs/training_logs/README.md)."""
    from skindx.training.torch_engine import Selection

    x_val, y_val, val_ids = validation
    features = layer_probe(model, FEATURES_LAYER)
    cached = frozen_outputs(features, x_train, train_ids, out / CACHE_FILE).astype("float32")
    labels = targets.argmax(axis=1)
    groups = lesion_groups(config, train_ids)
    kernel, bias, details = fitted_probe(cached, labels, weights, groups, config.probe_c)
    model.get_layer(LOGITS_LAYER).set_weights([kernel, bias])
    val_features = frozen_outputs(features, x_val, val_ids, out / ("val_" + CACHE_FILE))
    score = balanced_accuracy(y_val, (val_features.astype("float32") @ kernel + bias).argmax(1))
    print(f"linear probe: val_balanced_accuracy={score:.4f}", flush=True)
    history = {"loss": [], "val_balanced_accuracy": [round(score, 4)]}
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}, Selection(
        score, 0, history, details
    )


def lesion_groups(config, image_ids: list[str]) -> np.ndarray:
    """Each image's lesion id from ``config.metadata`` (its own id where none is recorded)."""
    from skindx.datasets.labelled import read_labels
    from skindx.evaluation.evaluate import lesion_ids

    return lesion_ids(read_labels(config.metadata), image_ids)


def fit(
    config,
    model,
    x_train: np.ndarray,
    train_ids: list[str],
    targets: np.ndarray,
    weights: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray, list[str]],
    selection_callback: Callable,
    progress: bool = True,
):
    """Linear probe, then fine-tuning of the blocks above ``config.freeze_blocks`` on cached
    frozen outputs. Returns (weights by layer name, the selection callback), as the other
    training loops do; the best epoch by validation balanced accuracy is kept."""
    keras = import_keras()
    out = Path(config.out)
    if config.head == "multiblock":
        return _probe_only(config, model, x_train, train_ids, targets, weights, validation, out)
    lower, upper, upper_features = split_at(model, config.freeze_blocks)
    x_val, y_val, val_ids = validation
    if config.engine == "torch":
        lower = torch_lower(lower, config.mixed_precision)
    cached = frozen_outputs(lower, x_train, train_ids, out / CACHE_FILE)
    cached_val = frozen_outputs(lower, x_val, val_ids, out / ("val_" + CACHE_FILE))
    resuming = (out / "backup").exists() or (out / CHECKPOINT_FILE).exists()
    probe_score, details = -1.0, {}
    if not resuming:  # a resumed run keeps its fine-tuned head
        groups = lesion_groups(config, train_ids)
        details = fit_probe(
            upper, upper_features, cached, targets.argmax(axis=1), weights, groups, config.probe_c
        )
        probe_score = balanced_accuracy(y_val, _predict(upper, cached_val).argmax(axis=1))
        print(f"linear probe: val_balanced_accuracy={probe_score:.4f}", flush=True)
    if config.engine == "torch":
        trained = _fine_tune_torch(
            config, upper, cached, targets, weights, cached_val, y_val, progress, probe_score
        )
        for name, values in trained[0].items():
            model.get_layer(name).set_weights(values)
        trained[1].details.update(details)
        return {
            layer.name: layer.get_weights() for layer in model.layers if layer.weights
        }, trained[1]
    compile_for_training(keras, upper, config, len(cached))
    selector = selection_callback(
        keras, cached_val, y_val, out / "best.weights.h5", config.patience, config.max_minutes
    )
    batches = _shifted_batches(keras)(cached, targets, weights, config.batch_size, config.seed)
    history = upper.fit(
        batches,
        epochs=config.epochs,
        callbacks=[selector, keras.callbacks.BackupAndRestore(str(out / "backup"))],
        verbose=2 if progress else 0,
    )
    upper.load_weights(out / "best.weights.h5")
    selector.history, selector.details = history.history, details
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}, selector
