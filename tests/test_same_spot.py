"""Several photos of one spot: one combined result, and what combining is worth on validation."""

from __future__ import annotations

import dataclasses
import json
import shutil
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest

from skindx.cli import main
from skindx.diagnosis.predict import KEPT_ADVICE, Prediction
from skindx.evaluation.evaluate import same_spot_figures
from skindx.model.card import ModelCard
from skindx.reports.card_sections import same_spot_sentence
from skindx.reports.model_card import render_markdown
from skindx.taxonomy import CODES


def test_same_spot_figures_by_hand() -> None:
    # lesion a: images say nv, mel; mean says mel (truth mel). lesion b: both nv (truth nv).
    # lesion c has one image and is left out.
    p = np.zeros((5, 7))
    nv, mel = CODES.index("nv"), CODES.index("mel")
    p[0, nv], p[0, mel] = 0.6, 0.4
    p[1, nv], p[1, mel] = 0.1, 0.9
    p[2, nv], p[3, nv], p[4, mel] = 1.0, 1.0, 1.0
    labels = np.array([mel, mel, nv, nv, mel])
    figures = same_spot_figures(labels, p, ["a", "a", "b", "b", "c"])
    assert figures == {
        "n_lesions": 2,
        "n_images": 4,
        "one_image_balanced_accuracy": 0.5,  # a's first image is wrong, b's right
        "combined_balanced_accuracy": 1.0,
        "images_disagree": 0.5,
    }
    assert same_spot_figures(labels, p, list("vwxyz")) == {"n_lesions": 0}


def prediction(probabilities: dict[str, float], in_domain: bool = True) -> Prediction:
    full = {code: probabilities.get(code, 0.0) for code in CODES}
    return Prediction(
        probabilities=MappingProxyType(full),
        malignant_probability=sum(full[c] for c in ("akiec", "bcc", "mel")),
        concern="low" if in_domain else "not_assessed",
        in_domain=in_domain,
        domain_score=None,
    )


def test_combine_averages_the_photos_it_can_assess(predictor) -> None:
    first, second = prediction({"nv": 0.8, "mel": 0.2}), prediction({"nv": 0.2, "mel": 0.8})
    combined = predictor.combine([first, second])
    assert combined.probabilities["nv"] == pytest.approx(0.5)
    assert combined.probabilities["mel"] == pytest.approx(0.5)
    assert combined.malignant_probability == pytest.approx(0.5)
    thresholds = predictor.card.thresholds
    expected = "see_doctor_soon" if thresholds["see_doctor_soon"] <= 0.5 else "see_doctor"
    assert combined.concern == (expected if thresholds["see_doctor"] <= 0.5 else "low")
    outside = prediction({"bcc": 1.0}, in_domain=False)
    alone = predictor.combine([first, outside])  # a photo that cannot be assessed is left out
    assert dict(alone.probabilities) == pytest.approx(dict(first.probabilities))
    assert alone.in_domain
    assert predictor.combine([outside, outside]) is None


def test_combined_advice_is_never_less_cautious_than_a_photo(predictor) -> None:
    cuts = predictor.card.thresholds
    calm = prediction({"nv": 1.0})
    alarming = dataclasses.replace(
        prediction({"mel": cuts["see_doctor_soon"] + 0.01, "nv": 0.99 - cuts["see_doctor_soon"]}),
        concern="see_doctor_soon",
    )
    combined = predictor.combine([calm, calm, calm, alarming])
    assert combined.malignant_probability < cuts["see_doctor_soon"]  # the mean alone is calmer
    assert combined.concern == "see_doctor_soon"
    assert combined.concern_message.endswith(KEPT_ADVICE)
    # advice that came from the person's warning signs is theirs to re-apply, not a photo's
    signed = dataclasses.replace(alarming, advice="from the signs")
    assert predictor.combine([calm, signed]).advice is None


def test_predict_same_spot_prints_the_combined_result(tiny_model_dir, tmp_path, capsys) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):  # blocky noise, which the tiny model (fitted on noise) calls in domain
        blocks = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        path = tmp_path / f"view{i}.png"
        Image.fromarray(np.kron(blocks, np.ones((8, 8, 1), np.uint8))).save(path)
        paths.append(str(path))
    args = ["predict", *paths, "--model", str(tiny_model_dir), "--same-spot"]
    assert main([*args, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in records] == [*paths, "All photos together"]
    assert main([*args, "--report", str(tmp_path / "reports")]) == 0
    assert "All photos together" in capsys.readouterr().out
    reports = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert reports == ["combined-report.png", "view0-report.png", "view1-report.png"]
    with Image.open(tmp_path / "reports" / "view0-report.png") as page:
        second_panel = np.asarray(page.convert("RGB"))[140:660, 640:1140]
    assert (second_panel != 255).any(axis=2).mean() > 0.5  # in domain: its Grad-CAM is drawn


@pytest.fixture
def paired_ham(synthetic_ham, tmp_path):
    """The synthetic images with every two of a class sharing one lesion id."""
    table = pd.read_csv(synthetic_ham.metadata)
    table["lesion_id"] = [f"{lesion}-{i // 2}" for i, lesion in enumerate(table["dx"])]
    metadata = tmp_path / "paired.csv"
    table.to_csv(metadata, index=False)
    return synthetic_ham.images, metadata


def test_same_spot_check_updates_the_card(paired_ham, tiny_model_dir, tmp_path, capsys) -> None:
    images, metadata = paired_ham
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    card = ModelCard.load(model_dir)
    card.training = {"recipe": {"val_fraction": 0.4, "split_seed": 3}}  # 8 of the 21 lesions
    card.save(model_dir)
    args = ["same-spot-check", "--model", str(model_dir), "--images", str(images)]
    assert main([*args, "--metadata", str(metadata), "--update-card"]) == 0
    assert "validation lesions with several images" in capsys.readouterr().out
    card = ModelCard.load(model_dir)
    figures = card.metrics["validation"]["same_spot"]
    assert figures["n_images"] == 2 * figures["n_lesions"] > 0
    assert same_spot_sentence(card.metrics) in render_markdown(card)
    assert "skindx same-spot-check" in render_markdown(card)


def test_same_spot_check_needs_lesions_with_several_images(synthetic_ham, tiny_model_dir, capsys):
    args = ["same-spot-check", "--model", str(tiny_model_dir), "--images"]
    assert main([*args, str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata)]) == 1
    assert "No validation lesion has several images" in capsys.readouterr().err
