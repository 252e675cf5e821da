"""Training data: labelled image tables, lesion-level splits, in-memory image arrays."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skindx.imaging import preprocess_pixels
from skindx.taxonomy import CODES, normalize_diagnosis

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def read_labels(metadata_csv: str | Path) -> pd.DataFrame:
    """``image_id, lesion_id, diagnosis`` rows for the seven classes, from HAM10000-style CSVs.

    Rows without a ``lesion_id`` get their image id as lesion id (one image per lesion).
    """
    frame = pd.read_csv(metadata_csv, encoding="utf-8-sig")
    missing = {"image_id", "dx"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{metadata_csv} lacks the column(s) {sorted(missing)}; expected HAM10000-style "
            "metadata with image_id, lesion_id and dx."
        )
    table = pd.DataFrame(
        {
            "image_id": frame["image_id"].astype(str),
            "lesion_id": frame.get("lesion_id", frame["image_id"]).fillna(frame["image_id"]),
            "diagnosis": frame["dx"].map(normalize_diagnosis),
        }
    )
    return table[table["diagnosis"].isin(CODES)].reset_index(drop=True)


def split_by_lesion(
    table: pd.DataFrame, val_fraction: float = 0.15, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded, class-stratified train/validation split in which no lesion crosses sides.

    HAM10000 holds several images of many lesions; an image-level split would put the
    same lesion on both sides and inflate every validation figure.
    """
    from sklearn.model_selection import train_test_split

    lesions = table.groupby("lesion_id")["diagnosis"].first()
    train_ids, val_ids = train_test_split(
        lesions.index.to_numpy(),
        test_size=val_fraction,
        random_state=seed,
        stratify=lesions.to_numpy(),
    )
    val_set = set(val_ids)
    in_val = table["lesion_id"].isin(val_set)
    assert not set(train_ids) & val_set
    return table[~in_val].reset_index(drop=True), table[in_val].reset_index(drop=True)


def find_image(images_dir: str | Path, image_id: str) -> Path | None:
    """The file for ``image_id`` in ``images_dir`` (any known extension), or None."""
    for extension in IMAGE_EXTENSIONS:
        path = Path(images_dir) / f"{image_id}{extension}"
        if path.is_file():
            return path
    return None


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def load_arrays(
    paths: Sequence[str | Path],
    size: int,
    color_constancy: bool = False,
    hair_removal: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Decode and preprocess images into one ``N×size×size×3`` uint8 array (threads)."""

    def load(path: str | Path) -> np.ndarray:
        return preprocess_pixels(_read_rgb(Path(path)), size, color_constancy, hair_removal)

    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    workers = workers or min(16, (os.cpu_count() or 2))
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(load, paths)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(paths), desc="images", unit="img")
        for i, pixels in enumerate(results):
            out[i] = pixels
    return out


def labelled_paths(table: pd.DataFrame, images_dir: str | Path) -> tuple[list[Path], np.ndarray]:
    """Image paths and class indices for the rows whose image exists; missing ones skipped."""
    index = {code: i for i, code in enumerate(CODES)}
    paths, labels = [], []
    for image_id, diagnosis in zip(table["image_id"], table["diagnosis"], strict=True):
        path = find_image(images_dir, image_id)
        if path is not None:
            paths.append(path)
            labels.append(index[diagnosis])
    return paths, np.asarray(labels, dtype=np.int64)
