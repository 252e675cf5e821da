"""Real example images per diagnosis from a local folder of ISIC images
(``SKINDX_EXAMPLES_DIR``), leaving out those a model card says the model trained on.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skindx.config import settings
from skindx.taxonomy import BY_CODE, CODES, ISIC2019_COLUMNS, normalize_diagnosis

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CONFIRMATION = {
    "histo": "confirmed by histopathology",
    "follow_up": "confirmed by follow-up",
    "consensus": "expert consensus",
    "confocal": "confirmed by confocal microscopy",
}


@dataclass(frozen=True)
class ExampleImage:
    code: str
    path: Path
    caption: str
    held_out: bool = False  # known to be outside the model's training images


def find_examples(
    directory: Path | None, per_class: int = 3, training: Mapping[str, Any] | None = None
) -> dict[str, list[ExampleImage]]:
    """Up to ``per_class`` real images per diagnosis from a local folder of ISIC images.

    Understands a HAM10000-style metadata CSV (``image_id``, ``dx``, optional ``lesion_id`` and
    ``dx_type``) in the folder (or beside an ``images/`` folder), an ISIC 2019 one-hot ground
    truth CSV, or one sub-folder per diagnosis (``mel/``, ``MEL/`` …). One image per lesion;
    the choice is deterministic. A missing or unreadable folder gives ``{}``.

    With ``training`` (a model card's ``training`` section), the images the model trained on
    are left out wherever the folder's metadata reproduces the card's lesion split, and those
    left are marked ``held_out``: the model's answer on them is a fair test. Paths are
    absolute.
    """
    if directory is None or not Path(directory).is_dir():
        return {}
    directory = Path(directory).resolve()  # absolute paths: an image can be matched to its own
    found = _metadata(directory)
    if found is None:
        return _pick_from_folders(directory, per_class)
    path, rows = found
    trained = _card_training_ids(training, path) if training else frozenset()
    rows = [row for row in rows if row["image_id"] not in trained]
    images = _image_index([directory, directory / "images"])
    return _pick_from_rows(rows, images, per_class, held_out=bool(trained))


def _metadata(directory: Path) -> tuple[Path, list[dict[str, str]]] | None:
    """The first CSV with image ids and diagnoses in the folder (or beside ``images/``), and
    its rows."""
    folders = [directory]
    if directory.name == "images":
        folders.append(directory.parent)
    for folder in folders:
        for path in sorted(folder.glob("*.csv")):
            rows = _read_labels(path)
            if rows:
                return path, rows
    return None


def _card_training_ids(training: Mapping[str, Any], metadata_csv: Path) -> frozenset[str]:
    """The ids on the training side of the card's lesion split, if this metadata is the table
    the split was drawn from (its training side matches the card's counts per class); else
    empty, as the split of any other table would be a different one."""
    from skindx.datasets.labelled import card_split
    from skindx.datasets.metadata import MetadataError

    expected = training.get("train_images_per_class")
    try:
        train, _ = card_split(dict(training), metadata_csv)
    except (MetadataError, ValueError, OSError):
        return frozenset()
    if not expected or train["diagnosis"].value_counts().to_dict() != expected:
        return frozenset()
    return frozenset(train["image_id"])


def _read_labels(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            image_col = next((c for c in ("image_id", "image", "isic_id") if c in fields), None)
            label_col = next((c for c in ("dx", "diagnosis", "label") if c in fields), None)
            onehot = [c for c in fields if c in ISIC2019_COLUMNS]
            if image_col is None or (label_col is None and len(onehot) < 2):
                return []
            return [
                _label_row(row, image_col, label_col, onehot) for row in reader if row[image_col]
            ]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _label_row(
    row: Mapping[str, str], image_col: str, label_col: str | None, onehot: Sequence[str]
) -> dict[str, str]:
    if label_col is not None:
        label = row.get(label_col, "")
    else:
        label = next((c for c in onehot if _is_one(row.get(c))), "")
    return {
        "image_id": row[image_col].strip(),
        "code": normalize_diagnosis(label),
        "lesion_id": (row.get("lesion_id") or row[image_col]).strip(),
        "dx_type": (row.get("dx_type") or "").strip(),
    }


def _is_one(value: str | None) -> bool:
    try:
        return float(value or 0) >= 0.5
    except ValueError:
        return False


def _image_index(folders: Iterable[Path]) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                path = Path(entry.path)
                if entry.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    index.setdefault(path.stem, path)
    return index


def _pick_from_rows(
    rows: Sequence[Mapping[str, str]],
    images: Mapping[str, Path],
    per_class: int,
    held_out: bool = False,
) -> dict[str, list[ExampleImage]]:
    picked: dict[str, list[ExampleImage]] = {}
    lesions: set[str] = set()
    for row in sorted(rows, key=lambda r: r["image_id"]):
        code, path = row["code"], images.get(row["image_id"])
        if code not in BY_CODE or path is None or row["lesion_id"] in lesions:
            continue
        chosen = picked.setdefault(code, [])
        if len(chosen) < per_class:
            how = _CONFIRMATION.get(row["dx_type"], "")
            caption = f"{row['image_id']} · {BY_CODE[code].name}" + (f" · {how}" if how else "")
            chosen.append(ExampleImage(code, path, caption, held_out))
            lesions.add(row["lesion_id"])
    return picked


def _pick_from_folders(directory: Path, per_class: int) -> dict[str, list[ExampleImage]]:
    picked: dict[str, list[ExampleImage]] = {}
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        code = normalize_diagnosis(folder.name)
        if code not in BY_CODE or code in picked:
            continue
        paths = sorted(_image_index([folder]).values())[:per_class]
        if paths:
            picked[code] = [
                ExampleImage(code, p, f"{p.stem} · {BY_CODE[code].name}") for p in paths
            ]
    return picked


def in_class_order(examples: Mapping[str, Sequence[ExampleImage]]) -> list[ExampleImage]:
    """:func:`find_examples`' images in one list, grouped by diagnosis in the model's order."""
    return [example for code in CODES for example in examples.get(code, ())]


def examples_dir() -> Path | None:
    """The configured folder of real ISIC images (``SKINDX_EXAMPLES_DIR``), if any."""
    return settings().examples_dir
