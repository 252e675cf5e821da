"""The SkinModel bundle (Keras model, ModelCard, OOD reference) and how a model directory loads."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skindx.config import DEFAULT_MODEL_DIR, settings
from skindx.model.card import CARD_FILE, ModelCard
from skindx.model.networks import (
    ModelLoadError,
    half_conv_layer,
    import_keras,
    resize_layer,
    shades_of_gray_layer,
)

MODEL_FILE = "model.keras"
OOD_FILE = "ood.npz"
_LFS_MAGIC = b"version https://git-lfs"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class SkinModel:
    """A Keras model with its card and optional out-of-domain reference statistics."""

    model: Any
    card: ModelCard
    ood_reference: dict[str, np.ndarray] = field(default_factory=dict)
    directory: Path | None = None

    @property
    def input_size(self) -> int:
        return int(self.card.input_size)

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def save(self, directory: str | Path) -> Path:
        """Write ``model.keras``, ``ood.npz`` and ``card.json`` (with the weights' sha256)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model_path = directory / MODEL_FILE
        self.model.save(model_path)
        if self.ood_reference:
            np.savez(directory / OOD_FILE, **self.ood_reference)
        self.card.weights_sha256 = sha256_file(model_path)
        self.card.save(directory)
        self.directory = directory
        return directory


def resolve_model_dir(path: str | Path | None = None) -> Path:
    """``path``, else ``SKINDX_MODEL``, else the shipped default."""
    if path is not None:
        return Path(path)
    return settings().model_dir or DEFAULT_MODEL_DIR


def _check_model_file(model_path: Path, card: ModelCard) -> None:
    if not model_path.is_file():
        raise ModelLoadError(
            f"Model file {model_path} is missing. Train one with `skindx train`, or point "
            "SKINDX_MODEL at a directory holding model.keras and card.json."
        )
    with open(model_path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(_LFS_MAGIC):
        raise ModelLoadError(
            f"Model file {model_path} is a Git LFS pointer, not the weights. "
            "Run `git lfs pull` to fetch the real file."
        )
    if card.weights_sha256 and sha256_file(model_path) != card.weights_sha256:
        raise ModelLoadError(
            f"Model file {model_path} does not match the sha256 in {CARD_FILE} (truncated or "
            "replaced). Restore both files from the same training run."
        )


def _read_card(directory: Path) -> ModelCard:
    card_path = directory / CARD_FILE
    if not card_path.is_file():
        raise ModelLoadError(
            f"Model card {card_path} is missing. A model directory needs model.keras and "
            "card.json, as written by `skindx train`."
        )
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise ModelLoadError(
            f"Model card {card_path} is not valid JSON ({type(error).__name__}). Restore "
            "card.json from the same training run as model.keras, or retrain."
        ) from error
    try:
        return ModelCard.from_dict(data)
    except (ValueError, TypeError) as error:
        raise ModelLoadError(
            f"Model card {card_path} is not a model card: {error}. Restore card.json from the "
            "same training run as model.keras, or retrain."
        ) from error


def _read_ood(ood_path: Path) -> dict[str, np.ndarray]:
    """The out-of-domain reference, read without pickles (a damaged or crafted file must not
    run code or be advised to be loaded unsafely)."""
    if not ood_path.is_file():
        return {}
    try:
        with np.load(ood_path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except Exception as error:  # numpy raises ValueError, OSError, BadZipFile, EOFError …
        raise ModelLoadError(
            f"Out-of-domain reference {ood_path} is damaged ({type(error).__name__}). Restore "
            "ood.npz from the same training run as model.keras, or retrain."
        ) from None


def _checked_files(path: str | Path | None) -> tuple[Path, ModelCard]:
    directory = resolve_model_dir(path)
    if not directory.is_dir():
        raise ModelLoadError(
            f"Model directory {directory} does not exist. Set SKINDX_MODEL to a directory "
            "written by `skindx train`, or restore models/default from the repository."
        )
    card = _read_card(directory)
    _check_model_file(directory / MODEL_FILE, card)
    return directory, card


def check_model_dir(path: str | Path | None = None) -> ModelCard:
    """Every check of a model directory that needs no TensorFlow: the directory, its card,
    the model file (present, not a Git LFS pointer, its sha256, a zip archive as every
    ``.keras`` file is) and the out-of-domain reference. Returns the card.

    The app runs this when a page opens, so that a broken directory is reported at once
    while the model itself loads in the background.

    Raises:
        ModelLoadError: naming the file and the fix.
    """
    directory, card = _checked_files(path)
    model_path = directory / MODEL_FILE
    if not zipfile.is_zipfile(model_path):
        raise ModelLoadError(
            f"Model file {model_path} could not be read (not a .keras archive). Restore it "
            "from the repository or retrain."
        )
    _read_ood(directory / OOD_FILE)
    return card


def load_model(path: str | Path | None = None) -> SkinModel:
    """Load a model directory (``None``: ``SKINDX_MODEL`` or the shipped default).

    Raises:
        ModelLoadError: for a missing directory or file, a Git LFS pointer, a checksum
            mismatch, an unreadable file or a card that does not describe the model.
    """
    directory, card = _checked_files(path)
    model_path = directory / MODEL_FILE
    keras = import_keras()
    # registered before loading a model that uses them
    resize_layer(), half_conv_layer(), shades_of_gray_layer()
    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # keras raises many types for a damaged zip
        raise ModelLoadError(
            f"Model file {model_path} could not be read ({type(error).__name__}). "
            "Restore it from the repository or retrain."
        ) from error
    _check_matches_card(model, card, model_path)
    ood = _read_ood(directory / OOD_FILE)
    return SkinModel(model=model, card=card, ood_reference=ood, directory=directory)


def _check_matches_card(model, card: ModelCard, model_path: Path) -> None:
    _, height, width, channels = model.input_shape
    n_out = model.output_shape[-1]
    problems = []
    if (height, width, channels) != (card.input_size, card.input_size, 3):
        problems.append(f"input {height}×{width}×{channels} vs card {card.input_size}")
    if n_out != len(card.classes):
        problems.append(f"{n_out} outputs vs {len(card.classes)} classes in the card")
    if problems:
        raise ModelLoadError(
            f"Model file {model_path} does not match its {CARD_FILE}: {'; '.join(problems)}. "
            "Keep model.keras and card.json from the same training run together."
        )
