"""The Keras training loop: ``model.fit`` over in-memory arrays, augmentation as Keras layers.

The loop is plain Keras 3, so it runs unchanged on the TensorFlow, JAX or PyTorch backend: a
user with a GPU but no GPU build of TensorFlow trains with ``KERAS_BACKEND=jax`` and ships the
same ``.keras`` file. HAM10000 at 192 px is 1.1 GB as uint8, so the images are decoded once
and kept in memory (the role ``tf.data``'s ``cache()`` plays) and batches are cast per step.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.networks import build_model
from skindx.training.augment import random_exposure, random_geometry
from skindx.training.recipe import COLOUR_JITTER


def _augmenter(keras, seed: int):
    """Colour jitter as Keras layers (cheap on every backend; runs on the accelerator).

    Always float32: in bfloat16 the hue and saturation round trips would band the colours.
    """
    layers, jitter = keras.layers, COLOUR_JITTER
    return [
        layers.RandomBrightness(
            jitter["brightness"], value_range=(0, 255), seed=seed + 3, dtype="float32"
        ),
        layers.RandomContrast(
            jitter["contrast"], value_range=(0, 255), seed=seed + 4, dtype="float32"
        ),
        layers.RandomSaturation(
            jitter["saturation"], value_range=(0, 255), seed=seed + 5, dtype="float32"
        ),
        layers.RandomHue(jitter["hue"], value_range=(0, 255), seed=seed + 6, dtype="float32"),
    ]


def _batches(keras):
    class ArrayBatches(keras.utils.PyDataset):
        """Shuffled, geometrically augmented float32 batches from a uint8 array, with
        per-sample weights. Each batch's randomness depends only on (seed, epoch, index),
        so loader threads cannot change the result."""

        def __init__(self, x, y, weights, batch_size, seed, workers=1, exposure=0.0):
            super().__init__(workers=workers, use_multiprocessing=False)
            self.x, self.y, self.w = x, y, weights
            self.exposure = exposure
            self.batch_size = batch_size
            self.seed, self.epoch = seed, 0
            self.order = np.random.default_rng(seed).permutation(len(x))

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * self.batch_size : (i + 1) * self.batch_size])
            rng = np.random.default_rng((self.seed, self.epoch, i))
            images = random_exposure(random_geometry(self.x[idx], rng), rng, self.exposure)
            return images, self.y[idx], self.w[idx]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.x))

    return ArrayBatches


def selection_callback(keras, x_val, y_val, best_path: Path, patience: int, max_minutes=None):
    import time

    start = time.monotonic()
    deadline = start + 60 * max_minutes if max_minutes else None

    class BestByBalancedAccuracy(keras.callbacks.Callback):
        """Validation balanced accuracy each epoch; keeps the best weights; early stop.

        Also stops at a wall-clock budget, so a run on a lent machine always ends with
        its best checkpoint saved.
        """

        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.wait = -1.0, -1, 0

        def on_epoch_end(self, epoch, logs=None):
            probabilities = self.model.predict(x_val, batch_size=256, verbose=0)
            score = balanced_accuracy(y_val, probabilities.argmax(axis=1))
            if logs is not None:
                logs["val_balanced_accuracy"] = score
            elapsed = time.monotonic() - start
            print(
                f"epoch {epoch + 1}: val_balanced_accuracy={score:.4f} ({elapsed:.0f} s)",
                flush=True,
            )
            if score > self.best:
                self.best, self.best_epoch, self.wait = score, epoch + 1, 0
                self.model.save_weights(best_path)
            else:
                self.wait += 1
                if self.wait >= patience:
                    self.model.stop_training = True
            if deadline is not None and time.monotonic() > deadline:
                print("time budget reached: stopping", flush=True)
                self.model.stop_training = True

    return BestByBalancedAccuracy()


def _distribution_scope(keras, strategy: str | None):
    """``tf.distribute`` scope for the TensorFlow backend (mirrored / multi-worker)."""
    import contextlib

    if not strategy:
        return contextlib.nullcontext()
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "--strategy uses tf.distribute and needs KERAS_BACKEND=tensorflow. "
            f"Received: backend={keras.backend.backend()}"
        )
    import tensorflow as tf

    strategies = {
        "mirrored": tf.distribute.MirroredStrategy,
        "multiworker": tf.distribute.MultiWorkerMirroredStrategy,
    }
    if strategy not in strategies:
        raise ValueError(f"--strategy must be one of {sorted(strategies)}. Received: {strategy}")
    return strategies[strategy]().scope()


def compile_for_training(keras, model, config, n_images: int, **compile_args) -> None:
    """AdamW on ``config``'s schedule (a tenth of the learning rate warming up to it, then
    cosine decay to 1%) and label-smoothed cross-entropy, for ``n_images`` an epoch."""
    steps = math.ceil(n_images / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        decay_steps=max(1, steps * (config.epochs - config.warmup_epochs)),
        warmup_target=config.learning_rate,
        warmup_steps=steps * config.warmup_epochs,
        alpha=0.01,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        **compile_args,
    )


def fit_keras(keras, config, x_train, targets, weights, validation, progress, start=None):
    """``model.fit`` with Keras' augmentation layers, from ``start``'s weights (by layer name)
    where given; returns (weights by layer, selection)."""
    out, (x_val, y_val) = Path(config.out), validation
    if config.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    with _distribution_scope(keras, config.strategy):
        model = build_model(config.architecture_dict())
        for name, values in (start or {}).items():
            model.get_layer(name).set_weights(values)
        trainer = keras.Sequential(
            [keras.Input(model.input_shape[1:]), *_augmenter(keras, config.seed), model],
            name="trainer",
        )
        compile_for_training(keras, trainer, config, len(x_train), metrics=["accuracy"])
    batches = _batches(keras)(
        x_train,
        targets,
        weights,
        config.batch_size,
        config.seed,
        workers=config.loader_workers,
        exposure=config.exposure,
    )
    best_path = out / "best.weights.h5"
    selector = selection_callback(
        keras, x_val, y_val, best_path, config.patience, config.max_minutes
    )
    callbacks = [selector, keras.callbacks.BackupAndRestore(str(out / "backup"))]
    history = trainer.fit(
        batches, epochs=config.epochs, callbacks=callbacks, verbose=2 if progress else 0
    )
    trainer.load_weights(best_path)
    keras.mixed_precision.set_dtype_policy("float32")
    selector.history = history.history
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}, selector
