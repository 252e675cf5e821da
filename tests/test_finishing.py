"""What a build records on its validation split (skindx.training.finishing)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("tta", [False, True])
def test_validation_figures_are_those_of_the_served_probabilities(tiny_model_dir, monkeypatch, tta):
    """Where flips are adopted, the thresholds and the card's validation figures are fitted on
    the flip-averaged probabilities the Predictor serves, not on the single pass."""
    from skindx.diagnosis import predict
    from skindx.diagnosis.predict import Predictor
    from skindx.evaluation.evaluate import balanced_accuracy, expected_calibration_error
    from skindx.model.bundle import load_model
    from skindx.training import finishing

    # a gain of at least -1 or of more than 1: flips always or never adopted; the tiny model
    # barely tells an image from its mirror, so its "flips" here are negatives, which it does
    monkeypatch.setattr(finishing, "TTA_MIN_GAIN", -1.0 if tta else 1.0)
    monkeypatch.setattr(predict, "flips", lambda batch: [255.0 - batch])
    skin_model = load_model(tiny_model_dir)
    size = skin_model.card.input_size
    rng = np.random.default_rng(3)
    x_val = rng.uniform(0, 255, (70, size, size, 3)).astype("float32")
    # labels the single pass gets right, so the temperature sharpens rather than flattens
    single = Predictor(skin_model, tta=False)
    y_val = single.forward(x_val)[0].argmax(axis=1)
    finishing.finish_with_validation(skin_model, x_val, y_val)

    assert skin_model.card.preprocessing["tta"] is tta
    predictor = Predictor(skin_model)
    served = predictor.probabilities(predictor.forward(x_val)[0])
    recorded = skin_model.card.metrics["validation"]
    assert recorded["balanced_accuracy"] == pytest.approx(
        balanced_accuracy(y_val, served.argmax(axis=1)), abs=1e-4
    )
    assert recorded["ece"] == pytest.approx(expected_calibration_error(y_val, served)[0], abs=1e-4)


def test_a_card_cut_short_mid_write_leaves_the_old_one(tiny_model_dir, tmp_path, monkeypatch):
    """``ModelCard.save`` writes beside card.json and renames: a failure mid-write (Ctrl-C, a
    full disk) keeps the card the model loads with."""
    import os
    import shutil

    from skindx.model.bundle import load_model

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    before = (model_dir / "card.json").read_text()
    skin_model = load_model(model_dir)
    skin_model.card.name = "renamed"

    def interrupted(fd: int) -> None:  # half the new card written, then a Ctrl-C
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        skin_model.card.save(model_dir)
    monkeypatch.undo()
    assert (model_dir / "card.json").read_text() == before
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        p.name for p in tiny_model_dir.iterdir()
    )
    assert load_model(model_dir).card.name == "tiny-test-model"
    skin_model.card.save(model_dir)
    assert load_model(model_dir).card.name == "renamed"
