"""The Saliency explorer's first use of a method or layer: one compiled graph per network, not
per layer, and a Score-CAM that traces nothing of its own (benchmarks/saliency_first_call.py
measures the time this saves)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_SIZE

from skindx.explain.cams import gradients_graph
from skindx.explain.explainer import Explainer, _graph_groups

ENSEMBLE = [
    "m1_block1_conv1",
    "m2_block1_conv1",
    "m1_block2_conv1",
    "m2_block2_conv1",
    "ensemble_maps",
]


def test_an_ensembles_layers_are_grouped_by_member_and_the_default_alone():
    groups = _graph_groups(ENSEMBLE)
    assert groups["ensemble_maps"] == ("ensemble_maps",)
    assert groups["m1_block2_conv1"] == ("m1_block1_conv1", "m1_block2_conv1")
    assert groups["m2_block1_conv1"] == ("m2_block1_conv1", "m2_block2_conv1")


def test_a_plain_models_other_layers_share_one_group():
    layers = ["block1_conv1", "block2_conv1", "block3_conv1"]
    groups = _graph_groups(layers)
    assert groups["block3_conv1"] == ("block3_conv1",)
    assert groups["block1_conv1"] is groups["block2_conv1"]
    assert groups["block1_conv1"] == ("block1_conv1", "block2_conv1")


@pytest.fixture(scope="module")
def tiny_ensemble():
    """Two one-conv-per-block 32-px members: two layers each, and their combined maps."""
    import keras

    from skindx.model.bundle import SkinModel
    from skindx.model.card import ModelCard
    from skindx.model.networks import build_compact_vgg
    from skindx.training.ensemble import combine

    members = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        members.append(build_compact_vgg(TINY_SIZE, widths=(8, 16), convs_per_block=1))
    spec = {"name": "compact_vgg", "input_size": TINY_SIZE, "widths": [8, 16]}
    card = ModelCard(
        name="skindx-ensemble2-test",
        architecture={"name": "ensemble", "input_size": TINY_SIZE, "members": [spec, spec]},
        input_size=TINY_SIZE,
    )
    return SkinModel(combine(members), card)


def test_every_layer_of_a_network_is_traced_once_in_all(tiny_ensemble, lesion_image):
    from skindx.diagnosis.predict import Predictor

    predictor = Predictor(tiny_ensemble)
    explainer = Explainer(tiny_ensemble, predictor)
    predictor.predict(lesion_image)  # as the app's load does: the forward pass is traced
    for layer in explainer.layers:
        for method in ("gradcam", "scorecam", "layercam"):
            for target in (None, "mel"):
                explainer.explain(lesion_image, method, target, layer)
    member_1 = ("m1_block1_conv1", "m1_block2_conv1")
    member_2 = ("m2_block1_conv1", "m2_block2_conv1")
    assert set(explainer._graphs) == {member_1, member_2, ("ensemble_maps",)}
    for graph in explainer._graphs.values():
        assert graph.experimental_get_tracing_count() == 1
    # Score-CAM scored its masked copies through the Predictor's graph, without retracing it.
    assert predictor._forward.experimental_get_tracing_count() == 1


def test_a_groups_graph_gives_each_layer_what_its_own_graph_gave(tiny_ensemble, lesion_image):
    """The per-layer graph each layer had before: the same maps and gradients (float32)."""
    explainer = Explainer(tiny_ensemble)
    x = explainer.predictor.preprocess(lesion_image)
    for layer in explainer.layers:
        for index in (-1, 0, 4):
            logits, maps, grads, chosen = explainer._layer_pass(x, index, layer)
            alone = gradients_graph(tiny_ensemble, [layer])(x, np.int32(index))
            np.testing.assert_allclose(np.asarray(logits), np.asarray(alone[0]), atol=1e-5)
            np.testing.assert_allclose(np.asarray(maps), np.asarray(alone[1][0]), atol=1e-5)
            np.testing.assert_allclose(np.asarray(grads), np.asarray(alone[2][0]), atol=1e-6)
            assert int(chosen) == int(alone[3])


def test_the_warm_up_builds_every_graph_a_first_pick_needs(tiny_ensemble, lesion_image):
    """After :meth:`Explainer.warm_up`, each network's gradients graph is built and run once,
    and a clinician's picks of any layer, Grad-CAM or Score-CAM, build nothing more; SmoothGrad
    (left out: 0.4 GB resident) builds its own graph alone."""
    explainer = Explainer(tiny_ensemble)
    steps = explainer.warm_up_steps()
    assert explainer._graphs == {}  # listing the steps builds nothing
    assert not [what for what, _ in steps if "SmoothGrad" in what]
    explainer.warm_up()
    built = dict(explainer._graphs)
    assert set(built) == set(_graph_groups(explainer.layers).values())
    assert all(graph.experimental_get_tracing_count() == 1 for graph in built.values())
    for layer in explainer.layers:
        for method in ("gradcam", "scorecam"):
            explainer.explain(lesion_image, method, "mel", layer)
    assert explainer._graphs == built
    explainer.explain(lesion_image, "smoothgrad", "mel")
    assert set(explainer._graphs) - set(built) == {("input",)}
    assert all(graph.experimental_get_tracing_count() == 1 for graph in built.values())
