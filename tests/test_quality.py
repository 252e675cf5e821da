"""skindx.images.quality: darker, brighter or blurrier photos than the training images warn."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from skindx.cli import main
from skindx.diagnosis.predict import Predictor
from skindx.images import quality
from skindx.model.bundle import load_model
from skindx.model.card import ModelCard
from skindx.reports.model_card import render_markdown

LIMITS = {
    "work_side": quality.WORK_SIDE,
    "n_reference": 100,
    "brightness": {"low": 60.0, "high": 220.0},
    "sharpness": {"low": 20.0},
    "validation": {
        "n": 50,
        "clean": {"balanced_accuracy": 0.7, "out_of_domain": 0.0},
        "darker": {"balanced_accuracy": 0.5, "out_of_domain": 0.02},
        "brighter": {"balanced_accuracy": 0.6, "out_of_domain": 0.1},
        "blurred": {"balanced_accuracy": 0.65, "out_of_domain": 0.0},
    },
}


def textured(level: float = 150.0, shape=(300, 400)) -> np.ndarray:
    """A photo of grey level ``level`` with fine texture (sharp at the working scale), tinted
    a little warm: a grey one is refused as black and white (``quality.refusal``)."""
    rng = np.random.default_rng(0)
    grey = rng.normal(level, 30, shape)
    return np.clip(np.stack([grey + 8, grey, grey - 8], axis=2), 0, 255).astype(np.uint8)


def test_working_scale_shrinks_the_long_side_and_never_enlarges() -> None:
    assert quality.working_scale(np.zeros((3000, 4000, 3), np.uint8)).shape == (150, 200, 3)
    assert quality.working_scale(np.zeros((4000, 1000, 3), np.uint8)).shape == (200, 50, 3)
    small = np.zeros((90, 120, 3), np.uint8)
    assert quality.working_scale(small) is small


def test_measure_brightness_and_sharpness() -> None:
    flat = quality.measure(np.full((150, 200, 3), 90, np.uint8))
    assert flat.brightness == pytest.approx(90) and flat.sharpness == pytest.approx(0)
    sharp, blurred = textured(), cv2.GaussianBlur(textured(), (0, 0), 6)
    assert quality.measure(sharp).sharpness > 20 * quality.measure(blurred).sharpness
    assert quality.measure(sharp).brightness == pytest.approx(150, abs=2)


def test_perturbations_do_what_they_say() -> None:
    photo = textured()
    base = quality.measure(photo)
    darker = quality.measure(quality.perturb(photo, "darker"))
    brighter = quality.measure(quality.perturb(photo, "brighter"))
    assert darker.brightness == pytest.approx(base.brightness * quality.DARKER, rel=0.02)
    assert brighter.brightness > base.brightness
    assert quality.measure(quality.perturb(photo, "blurred")).sharpness < base.sharpness / 4


def test_reference_holds_the_percentiles() -> None:
    measured = [quality.PhotoQuality(float(b), float(b) / 10) for b in range(1, 102)]
    limits = quality.reference(measured)
    assert limits["n_reference"] == 101 and limits["work_side"] == quality.WORK_SIDE
    assert limits["brightness"]["low"] == pytest.approx(2)
    assert limits["brightness"]["high"] == pytest.approx(100)
    assert limits["sharpness"]["low"] == pytest.approx(0.2)


def test_a_good_photo_gets_no_warning() -> None:
    assert quality.photo_warnings(quality.measure(textured()), LIMITS) == ()
    assert quality.photo_warnings(quality.PhotoQuality(10, 0), {}) == ()  # no limits measured


def test_a_dark_blurred_photo_gets_both_warnings_with_the_measured_cost() -> None:
    dark_and_soft = cv2.GaussianBlur(textured(30), (0, 0), 8)
    dark, soft = quality.photo_warnings(quality.measure(dark_and_soft), LIMITS)
    assert dark.startswith("This photo is darker than 99% of the images the model learned from")
    assert "made 30% darker were read correctly less often: 50 in 100 instead of 70" in dark
    assert "daylight" in dark and "fair-skinned" in dark
    assert soft.startswith("This photo is less sharp than 99%") and "in focus" in soft


def test_a_washed_out_photo_is_too_bright() -> None:
    (warning,) = quality.photo_warnings(quality.measure(textured(250)), LIMITS)
    assert "brighter than 99%" in warning and "made 40% brighter" in warning
    no_effects = {key: value for key, value in LIMITS.items() if key != "validation"}
    (bare,) = quality.photo_warnings(quality.measure(textured(250)), no_effects)
    assert "in 100" not in bare  # no measured cost, no figure


@pytest.fixture(scope="module")
def quality_model_dir(tiny_model_dir, tmp_path_factory):
    directory = tmp_path_factory.mktemp("quality_model")
    shutil.copytree(tiny_model_dir, directory, dirs_exist_ok=True)
    card = ModelCard.load(directory)
    card.photo_quality = LIMITS
    # every photo in domain: the tiny model, fitted on bright noise, finds a dark photo out of
    # domain, and an out-of-domain image carries no photo warning (with_photo_warnings)
    card.ood = {**card.ood, "threshold": 1e9}
    card.save(directory)
    return directory


def test_predict_carries_the_warnings_for_arrays_and_files(quality_model_dir, tmp_path) -> None:
    from PIL import Image

    predictor = Predictor(load_model(quality_model_dir))
    assert predictor.predict(textured()).notes == ()
    dark = textured(20)
    assert "darker than 99%" in predictor.predict(dark).notes[0]
    path = tmp_path / "dark.png"
    Image.fromarray(dark).save(path)
    from_file = predictor.predict(path)
    assert from_file.notes == predictor.predict(dark).notes
    assert from_file.to_dict()["notes"] == list(from_file.notes)


def test_cli_prints_the_warning(quality_model_dir, tmp_path, capsys) -> None:
    from PIL import Image

    path = tmp_path / "dark.png"
    Image.fromarray(textured(20)).save(path)
    assert main(["predict", str(path), "--model", str(quality_model_dir)]) == 0
    assert "  ! This photo is darker than 99%" in capsys.readouterr().out


def test_photo_quality_command_measures_and_updates_the_card(
    synthetic_ham, tiny_model_dir, tmp_path, capsys
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    args = ["photo-quality", "--model", str(model_dir), "--images", str(synthetic_ham.images)]
    assert main([*args, "--metadata", str(synthetic_ham.metadata), "--update-card"]) == 0
    printed = capsys.readouterr().out
    limits = ModelCard.load(model_dir).photo_quality
    assert json.loads(printed[: printed.rindex("}") + 1]) == limits
    assert 0 < limits["brightness"]["low"] < limits["brightness"]["high"] < 255
    validation = limits["validation"]
    assert validation["n"] + limits["n_reference"] == 42  # every image, on one side or the other
    for kind in ("clean", *quality.PERTURBATIONS):
        assert 0 <= validation[kind]["balanced_accuracy"] <= 1
        assert 0 <= validation[kind]["out_of_domain"] <= 1
    markdown = render_markdown(ModelCard.load(model_dir))
    assert "### Photo quality" in markdown and "| made 30% darker |" in markdown


def test_photo_quality_command_skips_unreadable_images(
    synthetic_ham, tiny_model_dir, tmp_path, capsys
) -> None:
    images = tmp_path / "images"
    shutil.copytree(synthetic_ham.images, images)
    first = sorted(images.iterdir())[0]
    first.write_bytes(b"not a jpeg")
    args = ["photo-quality", "--model", str(tiny_model_dir), "--images", str(images)]
    assert main([*args, "--metadata", str(synthetic_ham.metadata)]) == 0
    assert "1 unreadable" in capsys.readouterr().err


def test_photo_quality_command_rejects_a_folder_without_the_images(
    synthetic_ham, tiny_model_dir, tmp_path, capsys
) -> None:
    args = ["photo-quality", "--model", str(tiny_model_dir), "--images", str(tmp_path)]
    assert main([*args, "--metadata", str(synthetic_ham.metadata)]) == 1
    assert "No training or validation image" in capsys.readouterr().err


def test_the_loader_asks_for_the_size_that_gets_a_diagnosis() -> None:
    """A 10-px image was told to use one of 16 px; at 20 px it then got no diagnosis (under
    64 px): the loader's refusal names the size that gets one."""
    import io

    from PIL import Image

    from skindx.images.loading import ImageRejected, load_image

    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), (180, 120, 90)).save(buffer, "PNG")
    with pytest.raises(ImageRejected, match=f"at least {quality.MIN_PHOTO_SIDE} pixels"):
        load_image(buffer.getvalue())
