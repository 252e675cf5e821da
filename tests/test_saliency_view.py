"""The Saliency explorer's drawing and words without the app: the colour scale under each map,
the layer pickers' groups, labels, order and help, and its probabilities written as the
Diagnose page writes them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from skindx.explain.explainer import (
    ALL_MEMBERS,
    LayerGroup,
    layer_groups,
    layer_label,
    member_kinds,
    reading_order,
    short_layer_label,
    uses_layer,
)
from skindx.explain.overlay import COLORMAPS, colorize, legend, overlay
from skindx.model.networks import ENSEMBLE_MAPS_LAYER
from skindx.reports import saliency_view

MEMBERS = [
    {"recipe": {"architecture": "compact_vgg"}},
    {"recipe": {"architecture": "compact_vgg"}},
    {"recipe": {"architecture": "vgg16"}},
    {"recipe": {}},
]


@pytest.mark.parametrize("colormap", list(COLORMAPS))
def test_legend_is_the_overlays_own_colour_scale(colormap):
    strip = legend(colormap, width=300, height=10)
    assert strip.shape == (10, 300, 3) and strip.dtype == np.uint8
    assert (strip == strip[:1]).all()  # every row the same: a horizontal scale
    ends = colorize(np.array([[0.0, 1.0]]), colormap)[0]
    assert np.array_equal(strip[0, 0], ends[0]) and np.array_equal(strip[0, -1], ends[1])
    # Left to right it is what an opaque overlay paints for a heat map rising from 0 to 1.
    ramp = np.linspace(0.0, 1.0, 300, dtype=np.float32)[None]
    photo = np.zeros((1, 300, 3), np.uint8)
    assert np.array_equal(strip[:1], overlay(photo, ramp, alpha=1.0, colormap=colormap))
    low, high = saliency_view.COLOUR_ENDS[colormap]
    assert low in saliency_view.legend_alt(colormap) and high in saliency_view.legend_alt(colormap)


def test_legend_fades_with_the_overlay_over_the_photos_colour():
    """An opaque strip under a map drawn at 20% opacity promised colours the map never showed:
    the strip is blended as the map is, over the photo's mean colour."""
    photo = np.zeros((40, 60, 3), np.uint8)
    photo[..., 0], photo[..., 2] = 200, 100  # mean colour (200, 0, 100)
    for alpha in (0.0, 0.2, 0.45, 1.0):
        strip = legend("viridis", width=50, height=4, alpha=alpha, photo=photo)
        ramp = np.tile(np.linspace(0.0, 1.0, 50, dtype=np.float32), (4, 1))
        under = np.broadcast_to(np.array([200, 0, 100], np.uint8), (4, 50, 3))
        assert np.array_equal(strip, overlay(under, ramp, alpha, "viridis"))
    faint = legend("viridis", alpha=0.0, photo=photo)
    assert (faint == [200, 0, 100]).all()  # no map: the strip is the photo's colour alone


def test_legend_rejects_unknown_maps_and_sizes():
    with pytest.raises(ValueError, match="colormap"):
        legend("rainbow-unicorn")
    with pytest.raises(ValueError, match="width"):
        legend("viridis", width=1)


def test_every_offered_colour_map_has_named_ends():
    assert set(saliency_view.COLOUR_ENDS) == set(COLORMAPS)


def test_layer_labels_are_short_and_name_the_member():
    assert layer_label("block3_conv2") == "block 3 conv 2"
    assert layer_label("m2_block5_conv1") == "member 2 · block 5 conv 1"
    assert layer_label(ENSEMBLE_MAPS_LAYER) == "all members · last block"
    assert layer_label("custom_layer") == "custom_layer"  # other models' names pass through
    # With the card's members (the map's caption), each member says what kind of network it is.
    assert layer_label("m3_block5_conv3", MEMBERS) == "member 3 (VGG16) · block 5 conv 3"
    assert layer_label("m1_block1_conv1", MEMBERS) == "member 1 (compact VGG) · block 1 conv 1"
    assert layer_label("m4_block1_conv1", MEMBERS) == "member 4 · block 1 conv 1"  # unknown kind
    # The select box's longest label for a 4-member ensemble fits its narrow column (~25 chars).
    assert max(len(layer_label(f"m4_block5_conv{k}")) for k in (1, 2, 3)) <= 25


def test_member_kinds_come_from_the_card():
    assert member_kinds(MEMBERS) == {1: "compact VGG", 2: "compact VGG", 3: "VGG16"}
    assert member_kinds(None) == {}


def test_an_ensembles_layers_are_grouped_by_network_for_a_two_step_picker():
    """The shipped ensemble has over 40 layers: the picker asks for the network, then the layer
    within it, each network's layers input side first and the whole ensemble first."""
    layers = [f"m{m}_block{b}_conv1" for m in (1, 2, 3, 4) for b in (1, 2)]
    groups = layer_groups([*reversed(layers[:4]), *layers[4:], ENSEMBLE_MAPS_LAYER], MEMBERS)
    assert [group.label for group in groups] == [
        ALL_MEMBERS,
        "Member 1: compact VGG",
        "Member 2: compact VGG",
        "Member 3: VGG16",
        "Member 4",  # a member of an unknown kind
    ]
    assert groups[0].layers == (ENSEMBLE_MAPS_LAYER,)
    # depth order within a member kept from the model (the input side first)
    assert groups[1].layers == ("m1_block2_conv1", "m1_block1_conv1")
    assert groups[3].layers == ("m3_block1_conv1", "m3_block2_conv1")
    assert sum(len(group.layers) for group in groups) == len(layers) + 1  # none lost
    # Within its network a layer needs no member: short labels for a narrow box.
    assert [short_layer_label(name) for name in groups[3].layers] == [
        "block 1 conv 1",
        "block 2 conv 1",
    ]
    assert short_layer_label(ENSEMBLE_MAPS_LAYER) == "last block of each"
    assert short_layer_label("custom_layer") == "custom_layer"


def test_a_single_networks_layers_are_one_group():
    plain = ["block1_conv1", "block1_conv2", "block2_conv1"]
    assert layer_groups(plain) == [LayerGroup("Network", tuple(plain))]
    assert [short_layer_label(name) for name in plain][-1] == "block 2 conv 1"


def test_the_pickers_help_says_what_a_network_and_a_layer_are():
    assert "block 1 sees edges" in saliency_view.LAYER_HELP
    assert "All members (the default)" in saliency_view.NETWORK_HELP


def test_layers_are_listed_member_by_member_with_the_combined_maps_last():
    layers = ["m2_block1_conv1", "m1_block1_conv1", "m1_block2_conv1", ENSEMBLE_MAPS_LAYER]
    layers.insert(2, "m2_block2_conv1")
    assert reading_order(layers) == [
        "m1_block1_conv1",
        "m1_block2_conv1",
        "m2_block1_conv1",
        "m2_block2_conv1",
        ENSEMBLE_MAPS_LAYER,
    ]
    plain = ["block1_conv1", "block1_conv2", "block2_conv1"]
    assert reading_order(plain) == plain


def test_only_smoothgrad_needs_no_layer():
    assert not uses_layer("smoothgrad")
    assert all(uses_layer(m) for m in ("gradcam", "gradcam++", "scorecam", "layercam"))


def test_probabilities_are_written_as_the_diagnose_page_writes_them():
    """reports.numbers.probability, the Diagnose page's and the PNG report's one formatter."""
    probabilities = {"bkl": 0.647, "vasc": 0.001, "nv": 0.9991}
    label = saliency_view.target_label(probabilities)
    assert label("bkl") == "65% · Benign keratosis-like lesion"
    assert label("vasc") == "<1% · Vascular lesion"  # not "0%"
    assert label("nv").startswith(">99% · ")  # not "100%"
    prediction = SimpleNamespace(
        label="bkl", label_name="Benign keratosis-like lesion", probabilities=probabilities
    )
    sentence = saliency_view.top_class_sentence("x\\.jpg", prediction)
    assert sentence.endswith("**Benign keratosis-like lesion** (65%).")
