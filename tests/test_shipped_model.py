"""The shipped default model: loads, is complete, matches its card, and knows its domain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skindx.config import DEFAULT_MODEL_DIR
from skindx.diagnosis.predict import Predictor
from skindx.model.bundle import MODEL_FILE, load_model, sha256_file
from skindx.reports.model_card import render_markdown

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shipped():
    return load_model(DEFAULT_MODEL_DIR)


@pytest.fixture(scope="module")
def predictor(shipped):
    return Predictor(shipped)


def test_default_is_loaded_without_arguments(monkeypatch, shipped):
    import skindx

    monkeypatch.delenv("SKINDX_MODEL", raising=False)
    assert skindx.load_model().card.weights_sha256 == shipped.card.weights_sha256


def test_weights_match_card_and_size_budget(shipped):
    model_file = DEFAULT_MODEL_DIR / MODEL_FILE
    assert sha256_file(model_file) == shipped.card.weights_sha256
    total = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir())
    assert total <= 64 * 1024 * 1024  # the model directory's limit (issue #25)


def test_card_is_complete(shipped):
    card = shipped.card
    assert card.temperature > 0
    assert 0 < card.thresholds["see_doctor"] <= card.thresholds["see_doctor_soon"] < 1
    assert card.ood["method"] == "mahalanobis" and card.ood["threshold"] > 0
    for split in ("validation", "test", "validation_with_context", "test_with_context"):
        metrics = card.metrics[split]
        assert {"n", "accuracy", "balanced_accuracy", "per_class", "ece"} <= set(metrics)
        for code in card.classes:
            assert {"sensitivity", "specificity", "auc"} <= set(metrics["per_class"][code])
    assert card.metrics["test"]["n"] == 1512
    assert card.saliency.get("n", 0) > 0
    cuts = card.context["thresholds"]
    assert card.context["weight"] > 0 and 0 < cuts["see_doctor"] <= cuts["see_doctor_soon"] < 1


def test_model_card_doc_is_generated_from_the_card(shipped):
    assert (REPO / "docs" / "model_card.md").read_text() == render_markdown(shipped.card)


@pytest.mark.data
@pytest.mark.parametrize("split", ["test", "test_with_context"])
def test_scores_the_test_set_at_the_cards_figure(shipped, shared_data, split):
    from skindx.evaluation.evaluate import evaluate_model

    test = shared_data / "isic2018_test"
    report = evaluate_model(
        shipped,
        test / "images",
        test / "ISIC2018_Task3_Test_GroundTruth.csv",
        with_context=split == "test_with_context",
    )  # TTA follows the card, as it did when the figure was recorded
    recorded = shipped.card.metrics[split]
    assert report["n"] == recorded["n"] == 1512
    assert report["balanced_accuracy"] == pytest.approx(recorded["balanced_accuracy"], abs=2e-3)
    assert report["official"]["balanced_accuracy"] == pytest.approx(
        recorded["official"]["balanced_accuracy"], abs=2e-3
    )

    def sizes(groups):
        return {(v, row["group"]): row["n"] for v, rows in groups.items() for row in rows}

    # the card's groups by age, sex and site come from this run
    assert sizes(report["subgroups"]) == sizes(recorded["subgroups"])
    women = report["subgroups"]["sex"][0]
    assert women["accuracy"] == pytest.approx(recorded["subgroups"]["sex"][0]["accuracy"], abs=2e-3)
    unsited = report["subgroups"]["site"][-1]  # "not recorded": mostly other acquisitions
    assert unsited["in_domain_share"] == pytest.approx(
        recorded["subgroups"]["site"][-1]["in_domain_share"], abs=5e-3
    )


def test_natural_photos_are_flagged_out_of_domain(predictor):
    """scikit-image's sample photographs are not dermoscopic lesion images."""
    from skimage import data

    names = [
        "astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "hubble_deep_field",
        "page", "immunohistochemistry", "retina", "logo", "colorwheel", "moon", "text",
        "clock", "grass", "gravel", "brick",
    ]  # fmt: skip
    photos = [getattr(data, name)() for name in names]
    flagged = [not predictor.predict(photo).in_domain for photo in photos]
    assert np.mean(flagged) >= 0.75, dict(zip(names, flagged, strict=True))


@pytest.mark.data
def test_real_lesions_are_mostly_in_domain(predictor, shared_data):
    images = sorted((shared_data / "isic2018_test" / "images").glob("*.jpg"))[:60]
    in_domain = [predictor.predict(path).in_domain for path in images]
    assert np.mean(in_domain) >= 0.8


def test_the_explainer_names_each_members_kind(shipped):
    """The saliency explorer's layer picker says which network a member is, not just its number."""
    from skindx.explain import Explainer

    explainer = Explainer(shipped)
    labels = [explainer.layer_label(layer) for layer in explainer.layers]
    assert explainer.layer_label(None) == "input pixels"
    if shipped.card.training.get("members"):
        assert any(" (VGG16) · block" in label for label in labels)
        assert any(" (compact VGG) · block" in label for label in labels)
