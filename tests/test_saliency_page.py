"""The Saliency explorer page in Streamlit's AppTest: the two-step layer picker (network, then
layer) on an ensemble, and the explorer's copy of an upload going with the upload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_SIZE
from test_app_pages import (  # noqa: F401 (fixtures)
    PAGES,
    app_test,
    evaluated_model_dir,
    explorer,
    lesion_png,
    model,
    run,
    texts,
    upload,
)

from skindx.explain.explainer import ALL_MEMBERS
from skindx.images.loading import inspect_image
from skindx.reports.saliency_view import LAYERLESS

pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")


def build_tiny_ensemble(directory: Path, source: Path) -> Path:
    """Two 32-px two-block compact VGGs combined, with the tiny model's card (its members named
    as compact VGGs) and an out-of-domain reference fitted on the ensemble's own features."""
    import keras

    from skindx.model.bundle import SkinModel
    from skindx.model.calibration import fit_mahalanobis, mahalanobis_score
    from skindx.model.card import ModelCard
    from skindx.model.networks import build_compact_vgg
    from skindx.training.ensemble import combine
    from skindx.training.finishing import logits_and_features

    members = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        members.append(build_compact_vgg(input_size=TINY_SIZE, widths=(8, 16), convs_per_block=1))
    ensemble = combine(members)
    x = np.random.default_rng(0).uniform(0, 255, (70, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    _, features = logits_and_features(ensemble, x)
    reference = fit_mahalanobis(features, np.arange(70) % 7)
    card = ModelCard.load(source)
    card.architecture = {
        "name": "ensemble",
        "input_size": TINY_SIZE,
        "members": [card.architecture, card.architecture],
    }
    recipe = {"architecture": "compact_vgg"}
    card.training = {"members": [{"name": f"net{k}", "recipe": recipe} for k in (1, 2)]}
    card.ood = {
        "method": "mahalanobis",
        "threshold": float(np.quantile(mahalanobis_score(features, reference), 0.95) * 3),
    }
    SkinModel(ensemble, card, reference).save(directory)
    return directory


@pytest.fixture(scope="module")
def ensemble_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return build_tiny_ensemble(tmp_path_factory.mktemp("tiny_ensemble"), tiny_model_dir)


@pytest.fixture
def ensemble_explorer(monkeypatch, ensemble_model_dir):
    monkeypatch.setenv("SKINDX_MODEL", str(ensemble_model_dir))
    at = app_test(PAGES / "saliency.py")
    pixels = inspect_image(lesion_png(4)).pixels
    at.session_state["sal_image"] = {"id": "fixture", "name": "fixture.png", "pixels": pixels}
    return run(at)


def map_captions(at) -> list[str]:
    return [caption.value for caption in at.caption if " · why “" in caption.value]


# ----------------------------------------------------------------------------- layer picker


def test_an_ensemble_picks_its_network_then_a_layer_within_it(ensemble_explorer) -> None:
    at = ensemble_explorer
    network = at.selectbox(key="sal_network")
    assert network.options == [ALL_MEMBERS, "Member 1: compact VGG", "Member 2: compact VGG"]
    assert network.value == ALL_MEMBERS  # the default: the whole ensemble at once
    assert at.selectbox(key="sal_layer").options == ["last block of each"]
    assert map_captions(at)[0].endswith(" · all members · last block")

    run(at.selectbox(key="sal_network").set_value("Member 2: compact VGG"))
    layer = at.selectbox(key="sal_layer")
    assert layer.options == ["block 1 conv 1", "block 2 conv 1"]  # short: the member is above
    assert layer.value == "m2_block2_conv1"  # the deepest first
    assert map_captions(at)[0].endswith(" · member 2 (compact VGG) · block 2 conv 1")
    run(at.selectbox(key="sal_layer").set_value("m2_block1_conv1"))
    assert map_captions(at)[0].endswith(" · member 2 (compact VGG) · block 1 conv 1")

    # SmoothGrad needs no layer: both boxes grey out and keep the choice.
    run(at.selectbox(key="sal_method").set_value("smoothgrad"))
    network, layer = at.selectbox(key="sal_network"), at.selectbox(key="sal_layer")
    assert network.disabled and layer.disabled and LAYERLESS in texts(at)
    assert (network.value, layer.value) == ("Member 2: compact VGG", "m2_block1_conv1")
    run(at.segmented_control(key="sal_compare").set_value("Two methods"))  # the second needs one
    assert not at.selectbox(key="sal_network").disabled
    assert not at.selectbox(key="sal_layer").disabled
    assert map_captions(at)[1].endswith(" · member 2 (compact VGG) · block 1 conv 1")
    run(at.segmented_control(key="sal_compare").set_value("Off"))
    run(at.selectbox(key="sal_method").set_value("gradcam"))
    assert at.selectbox(key="sal_layer").value == "m2_block1_conv1"

    # Another network: its own layers, the deepest again.
    run(at.selectbox(key="sal_network").set_value("Member 1: compact VGG"))
    assert at.selectbox(key="sal_layer").value == "m1_block2_conv1"
    assert map_captions(at)[0].endswith(" · member 1 (compact VGG) · block 2 conv 1")


def test_a_single_network_asks_only_for_the_layer(explorer) -> None:  # noqa: F811
    at = explorer
    assert not [box for box in at.selectbox if box.key == "sal_network"]
    layer = at.selectbox(key="sal_layer")
    assert layer.options == ["block 1 conv 1", "block 2 conv 1"] and layer.value == "block2_conv1"


# ----------------------------------------------------------------------------- the upload


def test_removing_the_upload_drops_the_explorers_copy(model) -> None:  # noqa: F811
    """The photo and its maps stayed on the page after the person removed it from the
    uploader (the privacy note promises an upload is gone when they remove it)."""
    at = run(app_test(PAGES / "saliency.py"))
    run(at.file_uploader(key="sal_upload").set_value(("b.png", lesion_png(6), "image/png")))
    image_id = at.session_state["sal_image"]["id"]
    assert map_captions(at) and any(key[0] == image_id for key in at.session_state["sal_maps"])

    run(at.file_uploader(key="sal_upload").set_value(None))
    assert "sal_image" not in at.session_state and not map_captions(at)
    assert not any(key[0] == image_id for key in at.session_state["sal_maps"])
    assert "Upload an image" in texts(at)


def test_the_upload_survives_a_visit_to_another_page(model) -> None:  # noqa: F811
    """Streamlit empties the uploader while its page is not shown: that is not the person
    removing their file, so coming back shows their image and maps as they left them."""
    at = run(app_test())
    run(at.switch_page("../pages/saliency.py"))
    run(at.file_uploader(key="sal_upload").set_value(("b.png", lesion_png(6), "image/png")))
    shown = map_captions(at)
    run(at.switch_page("../pages/diagnose.py"))
    assert "sal_upload" not in at.session_state  # what Streamlit forgets
    run(at.switch_page("../pages/saliency.py"))
    assert at.session_state["sal_image"]["name"] == "b.png" and map_captions(at) == shown
