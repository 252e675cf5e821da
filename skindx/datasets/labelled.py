"""Labelled images: tables of ISIC images with their diagnoses, lesion-level splits, decoded
arrays, and restructuring or preprocessing an ISIC download."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from skindx.datasets.metadata import read_metadata
from skindx.datasets.splits import validation_split
from skindx.files import atomic_path
from skindx.images.formats import allowed_formats, heif_available
from skindx.images.loading import ImageRejected
from skindx.images.preprocess import load_for_model
from skindx.taxonomy import CODES

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def read_labels(metadata_csv: str | Path) -> pd.DataFrame:
    """``image_id, lesion_id, diagnosis`` rows for the seven classes from any ISIC metadata
    format :func:`skindx.datasets.metadata.read_metadata` knows (HAM10000, ISIC 2019, ISIC 2020).

    Rows without a ``lesion_id`` get their image id as lesion id (one image per lesion).
    """
    frame = read_metadata(metadata_csv)
    table = pd.DataFrame(
        {
            "image_id": frame["image_id"].astype(str),
            "lesion_id": frame["lesion_id"].fillna(frame["image_id"]).astype(str),
            "diagnosis": frame["diagnosis"].astype(str),
        }
    )
    return table[table["diagnosis"].isin(CODES)].reset_index(drop=True)


def card_split(training: dict, metadata_csv: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (training, validation) rows of the lesion split a model card's ``training``
    section records."""
    return split_by_lesion(read_labels(metadata_csv), *validation_split(training))


def card_validation_table(training: dict, metadata_csv: str | Path) -> pd.DataFrame:
    """The validation rows of the lesion split a model card's ``training`` section records."""
    return card_split(training, metadata_csv)[1]


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


def load_arrays(
    paths: Sequence[str | Path],
    size: int,
    color_constancy: bool = False,
    hair_removal: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Decode and preprocess images into one ``N×size×size×3`` uint8 array (threads).

    Decoding is :class:`~skindx.diagnosis.predict.Predictor`'s
    (:func:`~skindx.images.preprocess.load_for_model`:
    EXIF orientation, JPEGs decoded only to about ``size``), so the model
    trains on the pixels it will later be shown.

    Raises:
        ImageRejected: an image cannot be used; the message starts with its path.
    """

    def load(path: str | Path) -> np.ndarray:
        try:
            return load_for_model(path, size, color_constancy, hair_removal)
        except ImageRejected as error:
            raise ImageRejected(f"{path}: {error}") from None

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


@dataclass
class RestructureReport:
    """What ``restructure`` did: files placed per class, already present, missing, that could
    not be copied (ids), and that are no image skindx reads (file names), skipped."""

    placed: dict[str, int] = field(default_factory=dict)
    existing: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)


def _opens_as_image(path: Path) -> bool:
    """Whether ``path`` opens as a format the loader accepts: its header only (a fraction of a
    millisecond), so a text or HTML file saved as .jpg is skipped here rather than copied into
    a class folder for ``preprocess`` or training to refuse later. A file damaged after its
    header still passes; the loader names it then."""
    try:
        with Image.open(path, formats=allowed_formats(heif_available())) as image:
            return min(image.size) > 0
    except Exception:  # Pillow raises many kinds for files that are not images
        return False


def _atomic_place(source: Path, target: Path, link: bool) -> None:
    """Link or copy to a temporary name beside ``target``, then rename: never half-written."""
    with atomic_path(target) as temporary:
        temporary.unlink(missing_ok=True)  # a killed run's leftover, which os.link would refuse
        if link:
            os.link(source, temporary)
        else:
            shutil.copyfile(source, temporary)


def restructure(
    metadata_csv: str | Path, images_dir: str | Path, out_dir: str | Path, link: bool = False
) -> RestructureReport:
    """One folder per diagnosis (``out/mel/ISIC_….jpg``) from an ISIC download.

    Idempotent: files already in place with the same size are left alone. Missing images,
    and files that do not open as images, are listed in the report and skipped, not fatal.
    """
    frame = read_metadata(metadata_csv)
    out_dir = Path(out_dir)
    report = RestructureReport()
    for image_id, diagnosis in zip(frame["image_id"], frame["diagnosis"], strict=True):
        source = find_image(images_dir, str(image_id))
        if source is None:
            report.missing.append(str(image_id))
            continue
        target = out_dir / str(diagnosis) / source.name
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            report.existing += 1  # placed by an earlier run: its header was read then
        elif not _opens_as_image(source):
            report.not_images.append(source.name)
            continue
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                _atomic_place(source, target, link)
            except OSError:
                report.unreadable.append(str(image_id))
                continue
        report.placed[str(diagnosis)] = report.placed.get(str(diagnosis), 0) + 1
    return report


def _preprocess_one(job: tuple[Path, Path, int, bool, bool]) -> str | None:
    source, target, size, color_constancy, hair_removal = job
    try:
        pixels = load_for_model(source, size, color_constancy, hair_removal)
    except ImageRejected:
        return str(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary:
        Image.fromarray(pixels).save(temporary, "PNG")
    return None


def preprocess_folder(
    in_dir: str | Path,
    out_dir: str | Path,
    size: int,
    color_constancy: bool = False,
    hair_removal: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> tuple[int, list[str]]:
    """Resize (and optionally colour-correct / de-hair) every image under ``in_dir`` into
    ``out_dir`` as PNG, keeping the folder structure. Returns (written, rejected paths)."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    sources = sorted(
        p for p in in_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )
    jobs = [
        (
            p,
            (out_dir / p.relative_to(in_dir)).with_suffix(".png"),
            size,
            color_constancy,
            hair_removal,
        )
        for p in sources
    ]
    workers = workers or min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(_preprocess_one, jobs)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(jobs), desc="preprocess", unit="img")
        rejected = [r for r in results if r is not None]
    return len(jobs) - len(rejected), rejected
