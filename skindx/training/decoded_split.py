"""The lesion-level split decoded into in-memory arrays: for training, and for a trained
model's card (the split it records, decoded as its model sees it)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from skindx.datasets.labelled import labelled_paths, load_arrays, read_labels, split_by_lesion
from skindx.datasets.splits import split_seed, validation_split
from skindx.model.card import ModelCard
from skindx.training.recipe import TrainConfig


def _subsample(paths, labels, max_per_class: int | None, seed: int):
    if not max_per_class:
        return paths, labels
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:max_per_class] for c in np.unique(labels)]
    )
    keep.sort()
    return [paths[i] for i in keep], labels[keep]


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
