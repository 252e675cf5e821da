"""What the benchmark scripts share: the model they measure (``--model``, else
``models/default``, else a random-weight stand-in of the default recipe's architecture).

Imported by ``run.py`` and ``load_test.py`` alike, so neither imports the other.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402  (after the path and log-level setup above)

from skindx.training.recipe import default  # noqa: E402  (light: no Keras)

DEFAULT_MODEL = REPO / "models" / "default"
STAND_IN = {name: default(name) for name in ("input_size", "widths", "convs_per_block")}


def stand_in_model(directory: Path, seed: int = 0):
    """The default training recipe's architecture with random weights, and a card fitted like
    the test fixture's (temperature, triage thresholds, Mahalanobis OOD reference on random
    images), so postprocessing does its full work; its OOD threshold lets every image through.
    Saved to ``directory`` and loaded back."""
    from skindx.model.bundle import SkinModel, load_model
    from skindx.model.calibration import (
        calibrated_probabilities,
        fit_mahalanobis,
        fit_triage,
        mahalanobis_score,
    )
    from skindx.model.card import ModelCard
    from skindx.model.networks import build_compact_vgg, import_keras
    from skindx.training.finishing import logits_and_features

    keras = import_keras()
    keras.utils.set_random_seed(seed)
    size = STAND_IN["input_size"]
    model = build_compact_vgg(**STAND_IN)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (140, size, size, 3)).astype("float32")
    labels = np.arange(len(x)) % 7
    logits, features = logits_and_features(model, x)
    reference = fit_mahalanobis(features, labels)
    scores = mahalanobis_score(features, reference)
    card = ModelCard(
        name="random-weight stand-in for models/default",
        architecture={
            "name": "compact_vgg",
            "input_size": size,
            "widths": list(STAND_IN["widths"]),
            "convs_per_block": list(STAND_IN["convs_per_block"]),
        },
        input_size=size,
        temperature=1.5,
        thresholds=fit_triage(calibrated_probabilities(logits, 1.5), labels),
        # Scored like a real model, but every photo passes: random weights put real photos
        # out of domain, and the app would then skip its chart and Grad-CAM (a lighter path).
        ood={"method": "mahalanobis", "threshold": float(scores.max() * 1e6)},
    )
    SkinModel(model, card, reference).save(directory)
    return load_model(directory)


def model_directory(path: str | Path | None, scratch: Path) -> tuple[Path, str]:
    """``--model``, else models/default, else a random-weight stand-in written to ``scratch``;
    with a description for the report."""
    if path:
        return Path(path), str(path)
    if (DEFAULT_MODEL / "model.keras").is_file():
        return DEFAULT_MODEL, "models/default"
    directory = scratch / "stand_in"
    stand_in_model(directory)
    return directory, "random-weight stand-in (models/default not present yet)"


def median_seconds(run: Callable[[], object], calls: int, warm_ups: int = 1) -> float:
    """The median wall time of ``calls`` calls of ``run``, after ``warm_ups`` untimed ones
    (tracing and graph rewrites happen on the first calls)."""
    for _ in range(warm_ups):
        run()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def json_from_child(
    command: list[str], cwd: Path, env: dict | None = None, timeout: float | None = None
) -> Any:
    """Run ``command`` (a child process measuring one side of a comparison: one precision, one
    checkout) in ``cwd`` and return the JSON of its last line of output; a failure raises with
    the end of its error output."""
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:3])} in {cwd} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
