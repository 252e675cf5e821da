"""Shared fixtures: a tiny in-code model bundle (logic tests) and the shared ISIC data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# bfloat16 serving is process-wide: a CLI test calling `skindx predict` in this process would
# switch it on for every later test (and their float32 reference comparisons) on a CPU that
# has it. tests/test_serving_precision.py runs both precisions in processes of their own.
os.environ.setdefault("SKINDX_BFLOAT16", "off")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
TINY_SIZE = 32


def pytest_collection_modifyitems(config, items):
    """Tests marked ``data`` skip when the shared ISIC data is absent (a clone without
    ../shared). Tests marked ``browser`` run once more after a failure: they wait on a real
    server and Chromium, and on a busy or slower machine a wait can fall the wrong side of a
    re-render (a keyboard test pressed Tab before the page had drawn its controls, in CI
    only); a rerun shows as RERUN in the summary, and a test that fails twice fails."""
    rerun = pytest.mark.flaky(reruns=1, reruns_delay=2)
    has_data = (SHARED_DATA / "ham10000").is_dir()
    skip = pytest.mark.skip(reason="shared ISIC data not available (../shared/data)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(rerun)
        if not has_data and item.get_closest_marker("data"):
            item.add_marker(skip)


def build_tiny_model(directory: Path, seed: int = 0):
    """A 32-px two-block VGG with random weights and a card fitted on random images.

    Saved to ``directory`` and loaded back, so every test also exercises the .keras round trip.
    """
    import keras

    from skindx.model.bundle import SkinModel, load_model
    from skindx.model.calibration import (
        calibrated_probabilities,
        fit_mahalanobis,
        fit_triage,
        mahalanobis_score,
    )
    from skindx.model.card import ModelCard
    from skindx.model.networks import build_compact_vgg
    from skindx.training.finishing import logits_and_features

    keras.utils.set_random_seed(seed)
    model = build_compact_vgg(input_size=TINY_SIZE, widths=(8, 16), convs_per_block=1)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (70, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    labels = np.arange(70) % 7
    logits, features = logits_and_features(model, x)
    reference = fit_mahalanobis(features, labels)
    scores = mahalanobis_score(features, reference)
    card = ModelCard(
        name="tiny-test-model",
        architecture={"name": "compact_vgg", "input_size": TINY_SIZE, "widths": [8, 16]},
        input_size=TINY_SIZE,
        temperature=1.5,
        thresholds=fit_triage(calibrated_probabilities(logits, 1.5), labels),
        ood={"method": "mahalanobis", "threshold": float(np.quantile(scores, 0.95) * 3)},
    )
    SkinModel(model, card, reference).save(directory)
    return load_model(directory)


def add_test_context(model_dir: Path, source: Path | None = None) -> Path:
    """Give a model directory (copied from ``source`` first, if given) a context section in
    which melanoma is the diagnosis of 80-year-old men's torsos and naevi of 20-year-old
    women's legs, with weight 1 and triage cut-offs 0.2 / 0.6."""
    import json
    import shutil

    import pandas as pd

    from skindx.diagnosis.context import fit_tables

    if source is not None:
        shutil.copytree(source, model_dir)
    rows = [(f"m{k}", f"M{k}", "mel", 80.0, "male", "torso") for k in range(30)]
    rows += [(f"n{k}", f"N{k}", "nv", 20.0, "female", "lower extremity") for k in range(30)]
    frame = pd.DataFrame(rows, columns=["image_id", "lesion_id", "diagnosis", "age", "sex", "site"])
    card = json.loads((model_dir / "card.json").read_text())
    card["context"] = {
        "tables": fit_tables(frame),
        "weight": 1.0,
        "thresholds": {"see_doctor": 0.2, "see_doctor_soon": 0.6},
    }
    (model_dir / "card.json").write_text(json.dumps(card))
    return model_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny_model")
    build_tiny_model(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from skindx.model.bundle import load_model

    return load_model(tiny_model_dir)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "ham10000").is_dir():
        pytest.skip("shared ISIC data not available (../shared/data)")
    return SHARED_DATA


@pytest.fixture
def lesion_image() -> np.ndarray:
    """A synthetic dermoscopy-like picture: a brown blob on pink skin (200×150)."""
    yy, xx = np.mgrid[0:150, 0:200]
    blob = ((xx - 100) / 60) ** 2 + ((yy - 75) / 45) ** 2 < 1
    image = np.empty((150, 200, 3), dtype=np.uint8)
    image[:] = (224, 170, 160)
    image[blob] = (120, 80, 60)
    return image


@pytest.fixture(scope="module")
def predictor(tiny_model):
    """Fresh per module: the reliability tests count graph traces and RSS on it."""
    from skindx.diagnosis.predict import Predictor

    return Predictor(tiny_model)


@pytest.fixture(scope="module")
def explainer(tiny_model, predictor):
    from skindx.explain.explainer import Explainer

    return Explainer(tiny_model, predictor)


@pytest.fixture(scope="session")
def lessons():
    """The bundled lessons, parsed once."""
    from skindx.teaching.lessons import load_lessons

    return load_lessons()


@dataclass(frozen=True)
class SyntheticHam:
    images: Path
    metadata: Path
    teacher: Path


@pytest.fixture(scope="session")
def synthetic_ham(tmp_path_factory) -> SyntheticHam:
    """Six flat-coloured JPEGs per class with HAM10000-style metadata and a random teacher
    CSV: enough for the whole training path without the shared data."""
    import pandas as pd
    from PIL import Image

    from skindx.taxonomy import CODES, ISIC2018_HEADER

    root = tmp_path_factory.mktemp("synthetic_ham")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for c, code in enumerate(CODES):
        for k in range(6):
            image_id = f"ISIC_{c}{k:06d}"
            colour = rng.integers(40, 220, 3)
            pixels = np.clip(rng.normal(colour, 20, (48, 64, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(images / f"{image_id}.jpg", quality=90)
            rows.append((f"HAM_{c}{k:06d}", image_id, code, "histo", 50.0, "male", "back"))
    columns = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    metadata = root / "metadata.csv"
    pd.DataFrame(rows, columns=columns).to_csv(metadata, index=False)
    teacher = pd.DataFrame(rng.dirichlet(np.ones(7), len(rows)), columns=list(ISIC2018_HEADER))
    teacher.insert(0, "image", [row[1] for row in rows])
    teacher.to_csv(root / "teacher.csv", index=False)
    return SyntheticHam(images, metadata, root / "teacher.csv")
