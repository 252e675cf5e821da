"""Similar lesions: the labelled images nearest to a photo in the model's feature space.

Tschandl et al. (Br J Dermatol 2019) found that the most common diagnosis among the images a
classifier's penultimate features place nearest to a case was about as accurate as the
classifier's own top answer, and suggested that similar cases with known diagnoses may help
clinicians more than a probability does. The gallery here is a folder of labelled ISIC images
on the server (``SKINDX_EXAMPLES_DIR``, as
:func:`skindx.datasets.examples.find_examples` reads it): the
ISIC images may not ship with the app.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from skindx.datasets.examples import ExampleImage, find_examples, in_class_order
from skindx.images.loading import ImageRejected

NEIGHBOURS = 10  # the vote's size
GALLERY_PER_CLASS = 200  # lesions per diagnosis, so that nevi do not swamp the vote


@dataclass(frozen=True)
class Neighbour:
    example: ExampleImage
    similarity: float  # cosine similarity of centred features, in [-1, 1]


@dataclass(frozen=True)
class Gallery:
    """Labelled images and their centred, unit-length penultimate features.

    The features are centred on the gallery's mean before the cosine: they are non-negative
    averages after a ReLU, so uncentred they all point one way
    (``docs/training_logs/similar_check.py`` measures both on the shipped model's validation
    lesions).
    """

    examples: tuple[ExampleImage, ...]
    features: np.ndarray  # n×d float32, rows of unit length
    centre: np.ndarray  # d: the mean feature vector, subtracted before comparing
    figures: dict[str, Any] = field(default_factory=dict)  # leave_one_out(), as built

    def __len__(self) -> int:
        return len(self.examples)

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Features (``d`` or ``n×d``) centred on the gallery and scaled to unit length."""
        return _unit(np.atleast_2d(features).astype(np.float32) - self.centre)

    def nearest(
        self, features: np.ndarray, k: int = NEIGHBOURS, skip: Path | None = None
    ) -> list[Neighbour]:
        """The ``k`` gallery images most similar to one image's features, nearest first;
        ``skip``: the image's own file, when it is in the gallery."""
        similarity = self.features @ self.embed(features)[0]
        order = [i for i in np.argsort(-similarity, kind="stable") if self.examples[i].path != skip]
        return [Neighbour(self.examples[i], float(similarity[i])) for i in order[:k]]

    def leave_one_out(self, k: int = NEIGHBOURS, chunk: int = 512) -> dict[str, Any]:
        """How often the most common diagnosis among each image's ``k`` nearest others is its
        own: accuracy and balanced accuracy over the gallery (one image per lesion, so no
        image is matched with another view of itself)."""
        truth = [e.code for e in self.examples]
        voted = []
        for start in range(0, len(truth), chunk):  # bounded memory for large galleries
            similarity = self.features[start : start + chunk] @ self.features.T
            rows = np.arange(len(similarity))
            similarity[rows, start + rows] = -np.inf
            for row in np.argsort(-similarity, axis=1, kind="stable")[:, :k]:
                voted.append(vote([self.examples[j] for j in row])[0][0])
        hits = np.array([v == t for v, t in zip(voted, truth, strict=True)])
        recalls = [hits[[t == code for t in truth]].mean() for code in sorted(set(truth))]
        return {
            "n": len(truth),
            "k": k,
            "accuracy": float(hits.mean()),
            "balanced_accuracy": float(np.mean(recalls)),
        }


def vote(examples: Sequence[ExampleImage]) -> list[tuple[str, int]]:
    """Diagnoses among ``examples`` with their counts, most common first (ties: nearest
    first, as ``examples`` are ordered by similarity)."""
    return Counter(e.code for e in examples).most_common()


def build_gallery(
    predictor: Any, examples: Sequence[ExampleImage], batch: int = 32, centred: bool = True
) -> Gallery:
    """The penultimate features of every readable example (unreadable ones are left out),
    with the leave-one-out figures of :meth:`Gallery.leave_one_out`; ``centred=False``
    compares them as they are (for ``docs/training_logs/similar_check.py``).

    Raises:
        ValueError: fewer than two examples could be read.
    """
    kept, features = [], []
    for start in range(0, len(examples), batch):
        chunk, pixels = [], []
        for example in examples[start : start + batch]:
            try:
                pixels.append(predictor.preprocess(example.path))
            except ImageRejected:
                continue
            chunk.append(example)
        if chunk:
            features.append(predictor.forward(np.concatenate(pixels))[1])
            kept += chunk
    if len(kept) < 2:
        raise ValueError("fewer than two example images could be read")
    raw = np.concatenate(features).astype(np.float32)
    centre = raw.mean(axis=0) if centred else np.zeros(raw.shape[1], np.float32)
    gallery = Gallery(tuple(kept), _unit(raw - centre), centre)
    return replace(gallery, figures=gallery.leave_one_out())


def gallery_from_folder(
    predictor: Any, directory: Path, training: Mapping[str, Any] | None, centred: bool = True
) -> Gallery:
    """The gallery of a labelled folder (:func:`~skindx.datasets.examples.find_examples`, at most
    :data:`GALLERY_PER_CLASS` lesions per diagnosis, without the images the model trained on
    where its card's ``training`` split can be reproduced).

    Raises:
        ValueError: fewer than two labelled images could be read.
    """
    found = find_examples(directory, GALLERY_PER_CLASS, training)
    return build_gallery(predictor, in_class_order(found), centred=centred)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
