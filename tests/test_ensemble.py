"""Ensembles: one flat Keras model whose logits are the members' mean, built by the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_SIZE


def _tiny(seed: int, widths=(8, 16)):
    import keras

    from skindx.model.networks import build_compact_vgg

    keras.utils.set_random_seed(seed)
    return build_compact_vgg(input_size=TINY_SIZE, widths=widths, convs_per_block=1)


def test_combined_logits_are_the_members_mean():
    from skindx.model.networks import (
        ENSEMBLE_MAPS_LAYER,
        LOGITS_LAYER,
        conv_layer_names,
        layer_probe,
    )
    from skindx.training.ensemble import combine

    members = [_tiny(1), _tiny(2, widths=(8, 24))]
    ensemble = combine(members)
    x = np.random.default_rng(0).uniform(0, 255, (4, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    expected = np.mean([np.asarray(layer_probe(m, LOGITS_LAYER)(x)) for m in members], axis=0)
    np.testing.assert_allclose(
        np.asarray(layer_probe(ensemble, LOGITS_LAYER)(x)), expected, atol=1e-5
    )
    names = conv_layer_names(ensemble)
    assert names[0] == "m1_block1_conv1" and "m2_block2_conv1" in names
    assert names[-1] == ENSEMBLE_MAPS_LAYER
    assert not any(hasattr(layer, "layers") for layer in ensemble.layers)  # flat for CAMs


def test_weighted_logits_and_their_split_back(tmp_path):
    """``weights`` give each member a share of the logits; ``split`` divides it back out."""
    from skindx.model.bundle import SkinModel
    from skindx.model.networks import LOGITS_LAYER, layer_probe
    from skindx.training.ensemble import combine, split

    members = [_tiny(5), _tiny(6, widths=(8, 24))]
    ensemble = combine(members, weights=[3, 1])
    x = np.random.default_rng(1).uniform(0, 255, (3, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    logits = [np.asarray(layer_probe(m, LOGITS_LAYER)(x)) for m in members]
    np.testing.assert_allclose(
        np.asarray(layer_probe(ensemble, LOGITS_LAYER)(x)),
        0.75 * logits[0] + 0.25 * logits[1],
        atol=1e-5,
    )
    card = _ensemble_card([16, 24], [TINY_SIZE, TINY_SIZE])
    for summary, share in zip(card.training["members"], (0.75, 0.25), strict=True):
        summary["weight"] = share
    for original, member in zip(members, split(SkinModel(ensemble, card)), strict=True):
        np.testing.assert_allclose(  # zero biases: an exact round trip
            np.asarray(layer_probe(member.model, LOGITS_LAYER)(x)),
            np.asarray(layer_probe(original, LOGITS_LAYER)(x)),
            atol=1e-4,
        )
    for bad in ([1.0], [1.0, 0.0], [1.0, float("nan")]):
        with pytest.raises(ValueError, match="2 positive numbers"):
            combine(members, weights=bad)


def test_split_gives_each_member_its_own_bias_where_the_card_recorded_it():
    """The graph keeps only the members' mean bias, which moved each split member's arg-max
    (the shipped ensemble's members scored about 0.50 alone): with the card's record of each
    member's bias a split member gives its own logits; without it (older cards), the mean."""
    from skindx.model.bundle import SkinModel
    from skindx.model.networks import LOGITS_LAYER, layer_probe
    from skindx.training.ensemble import combine, split

    members = [_tiny(7), _tiny(8, widths=(8, 24))]
    for k, member in enumerate(members):
        kernel, bias = member.get_layer(LOGITS_LAYER).get_weights()
        member.get_layer(LOGITS_LAYER).set_weights(
            [kernel, bias + np.arange(len(bias)) * (k - 0.5)]
        )
    ensemble = combine(members, weights=[3, 1])
    x = np.random.default_rng(2).uniform(0, 255, (3, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    own = [np.asarray(layer_probe(m, LOGITS_LAYER)(x)) for m in members]
    card = _ensemble_card([16, 24], [TINY_SIZE, TINY_SIZE])
    for summary, share, member in zip(card.training["members"], (0.75, 0.25), members, strict=True):
        summary["weight"] = share
        summary["logit_bias"] = member.get_layer(LOGITS_LAYER).get_weights()[1].tolist()
    for logits, member in zip(own, split(SkinModel(ensemble, card)), strict=True):
        np.testing.assert_allclose(
            np.asarray(layer_probe(member.model, LOGITS_LAYER)(x)), logits, atol=1e-4
        )
        assert member.card.training["split_from"]["logit_bias"] == "its own"
    for summary in card.training["members"]:
        del summary["logit_bias"]
    mean = 0.75 * members[0].get_layer(LOGITS_LAYER).get_weights()[1]
    mean += 0.25 * members[1].get_layer(LOGITS_LAYER).get_weights()[1]
    for member in split(SkinModel(ensemble, card)):
        np.testing.assert_allclose(
            member.model.get_layer(LOGITS_LAYER).get_weights()[1], mean, atol=1e-6
        )


def test_combine_rejects_what_it_cannot_average():
    import keras

    from skindx.training.ensemble import combine

    with pytest.raises(ValueError, match="at least 2"):
        combine([_tiny(1)])
    inputs = keras.Input((TINY_SIZE, TINY_SIZE + 8, 3))
    oblong = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(ValueError, match="square RGB"):
        combine([_tiny(1), oblong])


def _ensemble_card(members, sizes) -> object:
    from skindx.model.card import ModelCard

    specs = [
        {"name": "compact_vgg", "input_size": size, "widths": [8, w], "convs_per_block": 1}
        for size, w in zip(sizes, members, strict=True)
    ]
    return ModelCard(
        name="skindx-ensemble2-test",
        architecture={"name": "ensemble", "input_size": max(sizes), "members": specs},
        input_size=max(sizes),
        training={"members": [{"name": f"net{k}", "recipe": {"seed": k}} for k in (1, 2)]},
    )


def test_members_of_other_sizes_see_the_image_at_their_own_and_split_back(tmp_path):
    import keras

    from skindx.model.bundle import SkinModel, load_model
    from skindx.model.networks import (
        ENSEMBLE_MAPS_LAYER,
        LOGITS_LAYER,
        build_compact_vgg,
        layer_probe,
    )
    from skindx.training.ensemble import combine, split

    keras.utils.set_random_seed(3)
    large = build_compact_vgg(input_size=TINY_SIZE * 2, widths=(8, 16), convs_per_block=1)
    small = _tiny(4, widths=(8, 24))
    ensemble = combine([large, small])
    assert ensemble.input_shape[1:] == (TINY_SIZE * 2, TINY_SIZE * 2, 3)
    assert {"m2_input_resize", "m2_maps_resize"} <= {layer.name for layer in ensemble.layers}
    x = np.random.default_rng(0).uniform(0, 255, (2, TINY_SIZE * 2, TINY_SIZE * 2, 3))
    before = [w.copy() for w in ensemble.get_weights()]
    maps = np.asarray(layer_probe(ensemble, ENSEMBLE_MAPS_LAYER)(x.astype("float32")))
    assert maps.shape == (2, TINY_SIZE, TINY_SIZE, 16 + 24)  # the large member's grid
    ensemble(x.astype("float32"))
    for old, new in zip(before, ensemble.get_weights(), strict=True):  # a plain call: inference
        np.testing.assert_array_equal(old, new)  # (Keras' Resizing would update batch norms)

    card = _ensemble_card([16, 24], [TINY_SIZE * 2, TINY_SIZE])
    SkinModel(ensemble, card).save(tmp_path / "mixed")
    loaded = load_model(tmp_path / "mixed")  # safe mode: the resize layer is registered
    np.testing.assert_allclose(loaded.model.predict(x, verbose=0), ensemble.predict(x, verbose=0))
    members = split(loaded)
    for original, member in zip([large, small], members, strict=True):
        size = original.input_shape[1]
        assert member.card.input_size == size == member.model.input_shape[1]
        x = np.random.default_rng(size).uniform(0, 255, (2, size, size, 3)).astype("float32")
        np.testing.assert_allclose(  # the builders' biases start at zero: an exact round trip
            np.asarray(layer_probe(member.model, LOGITS_LAYER)(x)),
            np.asarray(layer_probe(original, LOGITS_LAYER)(x)),
            atol=1e-5,
        )
    assert members[1].card.training["recipe"] == {"seed": 2}
    assert members[1].card.training["split_from"]["member"] == 2
    with pytest.raises(ValueError, match="not an ensemble"):
        split(members[0])


def _train_member(synthetic_ham, out, seed: int, split_seed: int = 5, *extra: str) -> None:
    from skindx.cli import main

    code = main(
        ["train", "--images", str(synthetic_ham.images), "--metadata",
         str(synthetic_ham.metadata), "--out", str(out), "--input-size", str(TINY_SIZE),
         "--widths", "8,16", "--convs-per-block", "1", "--epochs", "1", "--batch-size", "8",
         "--val-fraction", "0.3", "--seed", str(seed), "--split-seed", str(split_seed),
         "--quiet", *extra]
    )  # fmt: skip
    assert code == 0


def test_ensemble_command_builds_a_usable_model(synthetic_ham, tmp_path, lesion_image, capsys):
    from skindx.cli import main
    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import Explainer
    from skindx.model.bundle import load_model
    from skindx.model.networks import ENSEMBLE_MAPS_LAYER, LOGITS_LAYER, layer_probe
    from skindx.reports.model_card import render_markdown
    from skindx.training.ensemble import combine

    members = [tmp_path / "a", tmp_path / "b"]
    for seed, out in enumerate(members, start=1):
        _train_member(synthetic_ham, out, seed)
    data = ["--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata)]
    out = tmp_path / "ensemble"
    assert main(["ensemble", *map(str, members), *data, "--out", str(out), "--weights", "1"]) == 2
    assert "--weights needs one number per member (2)" in capsys.readouterr().err
    assert main(["ensemble", *map(str, members), *data, "--out", str(out)]) == 0
    assert "ensemble of 2 written" in capsys.readouterr().out

    bundle = load_model(out)
    card = bundle.card
    assert card.architecture["name"] == "ensemble" and len(card.architecture["members"]) == 2
    assert [m["recipe"]["seed"] for m in card.training["members"]] == [1, 2]
    assert card.temperature > 0 and card.ood["threshold"] > 0
    assert card.thresholds["target_melanoma_sensitivity"] == 0.95
    member_validation = load_model(members[0]).card.metrics["validation"]
    assert card.metrics["validation"]["n"] == member_validation["n"]  # the same split
    prediction = Predictor(bundle).predict(lesion_image)
    assert abs(sum(prediction.probabilities.values()) - 1.0) < 1e-5
    explainer = Explainer(bundle)
    saliency = explainer.explain(lesion_image)
    assert saliency.layer == ENSEMBLE_MAPS_LAYER
    assert saliency.heatmap.shape == lesion_image.shape[:2]
    for method in ("gradcam", "scorecam"):  # the combined maps, not the last member's conv
        combined = explainer.explain(lesion_image, method, layer=ENSEMBLE_MAPS_LAYER).heatmap
        member = explainer.explain(lesion_image, method, layer="m2_block2_conv1").heatmap
        assert not np.allclose(combined, member)
    markdown = render_markdown(card)
    assert "skindx ensemble runs/member1 runs/member2" in markdown
    assert markdown.count("skindx train") == 2 and "--split-seed 5" in markdown

    # split back into members (each with the ensemble's mean bias): recombined, exactly it
    assert main(["split-ensemble", str(out), "--out", str(tmp_path / "split")]) == 0
    parts = [load_model(tmp_path / "split" / f"member{k}") for k in (1, 2)]
    assert [p.card.training["recipe"]["seed"] for p in parts] == [1, 2]
    x = np.random.default_rng(1).uniform(0, 255, (2, *bundle.model.input_shape[1:]))
    np.testing.assert_allclose(
        np.asarray(layer_probe(combine([p.model for p in parts]), LOGITS_LAYER)(x)),
        np.asarray(layer_probe(bundle.model, LOGITS_LAYER)(x)),
        atol=1e-5,
    )
    assert main(["split-ensemble", str(members[0]), "--out", str(tmp_path / "no")]) == 1
    assert "is not an ensemble" in capsys.readouterr().err


def test_shades_of_gray_layer_is_the_pixel_pipelines():
    from skindx.images.preprocess import shades_of_gray
    from skindx.model.networks import shades_of_gray_layer

    rng = np.random.default_rng(0)
    tinted = (rng.uniform(0, 255, (2, 24, 24, 3)) * [1.0, 0.7, 0.5]).astype("uint8")  # warm
    layer = np.asarray(shades_of_gray_layer()()(tinted.astype("float32")))
    for image, corrected in zip(tinted, layer, strict=True):
        # the pipeline rounds to 8 bits; the layer keeps float32
        assert np.abs(shades_of_gray(image).astype(float) - corrected).max() <= 1.0


def test_members_with_and_without_colour_constancy_share_one_input(
    synthetic_ham, tmp_path, lesion_image
):
    """A member trained on colour-corrected images gets the correction inside the ensemble's
    graph; the ensemble's own input is not corrected, and a split gives the member it back."""
    from skindx.cli import main
    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import Explainer
    from skindx.model.bundle import load_model
    from skindx.model.networks import LOGITS_LAYER, layer_probe, shades_of_gray_layer

    plain, corrected = tmp_path / "plain", tmp_path / "corrected"
    _train_member(synthetic_ham, plain, 1)
    _train_member(synthetic_ham, corrected, 2, 5, "--color-constancy")
    data = ["--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata)]
    out = tmp_path / "ensemble"
    command = ["ensemble", str(plain), str(corrected), *data, "--out", str(out)]
    assert main([*command, "--float16-kernels"]) == 0

    bundle = load_model(out)  # safe mode: the layer is registered
    assert not bundle.card.preprocessing["color_constancy"]
    assert [m.get("color_constancy") for m in bundle.card.training["members"]] == [None, True]
    x = np.random.default_rng(2).uniform(0, 255, (2, TINY_SIZE, TINY_SIZE, 3)) * [1, 0.8, 0.6]
    x = x.astype("float32")
    members = [load_model(path).model for path in (plain, corrected)]
    expected = 0.5 * np.asarray(layer_probe(members[0], LOGITS_LAYER)(x)) + 0.5 * np.asarray(
        layer_probe(members[1], LOGITS_LAYER)(shades_of_gray_layer()()(x))
    )
    np.testing.assert_allclose(  # up to the float16 kernels' rounding
        np.asarray(layer_probe(bundle.model, LOGITS_LAYER)(x)),
        expected,
        atol=2e-3 * np.abs(expected).max(),
    )
    assert Predictor(bundle).predict(lesion_image).probabilities
    heatmap = Explainer(bundle).explain(lesion_image).heatmap
    assert heatmap.shape == lesion_image.shape[:2] and np.isfinite(heatmap).all()

    assert main(["split-ensemble", str(out), "--out", str(tmp_path / "split")]) == 0
    parts = [load_model(tmp_path / "split" / f"member{k}").card for k in (1, 2)]
    assert [bool(p.preprocessing.get("color_constancy")) for p in parts] == [False, True]


def test_ensemble_refuses_members_on_different_splits(synthetic_ham, tmp_path, capsys):
    from skindx.cli import main

    _train_member(synthetic_ham, tmp_path / "a", seed=1, split_seed=5)
    _train_member(synthetic_ham, tmp_path / "b", seed=2, split_seed=6)
    data = ["--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata)]
    code = main(["ensemble", str(tmp_path / "a"), str(tmp_path / "b"), *data, "--out",
                 str(tmp_path / "out")])  # fmt: skip
    assert code == 1
    assert "differs from member 1 in ['split_seed']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_ensemble_cards_validation_split_is_its_members():
    from skindx.datasets.splits import validation_split

    assert validation_split({"recipe": {"val_fraction": 0.2, "seed": 3}}) == (0.2, 3)
    member = {"recipe": {"val_fraction": 0.1, "seed": 1, "split_seed": 9}}
    assert validation_split({"members": [member, member]}) == (0.1, 9)
    assert validation_split({}) == (0.15, 42)  # cards from before recipes were recorded


def test_half_kernels_halve_the_file_and_keep_the_answers(tmp_path):
    """Conv kernels stored in float16 and computed in float32: same layers for saliency, same
    logits up to the kernels' rounding, a smaller file that loads in safe mode."""
    from skindx.model.bundle import SkinModel, load_model
    from skindx.model.card import ModelCard
    from skindx.model.networks import LOGITS_LAYER, conv_layer_names, layer_probe, with_half_kernels
    from skindx.training.ensemble import combine

    ensemble = combine([_tiny(7, widths=(16, 64)), _tiny(8, widths=(16, 64))])
    half = with_half_kernels(ensemble)
    assert conv_layer_names(half) == conv_layer_names(ensemble)
    card = ModelCard(name="half", input_size=TINY_SIZE)
    SkinModel(ensemble, card).save(tmp_path / "full")
    SkinModel(half, ModelCard(name="half", input_size=TINY_SIZE)).save(tmp_path / "half")
    sizes = [(tmp_path / d / "model.keras").stat().st_size for d in ("full", "half")]
    assert sizes[1] < 0.8 * sizes[0]  # the tiny nets' batch norms and metadata stay as they were
    loaded = load_model(tmp_path / "half").model
    assert loaded.get_layer("m1_block2_conv1").kernel.dtype == "float16"
    x = np.random.default_rng(3).uniform(0, 255, (3, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    full_logits = np.asarray(layer_probe(ensemble, LOGITS_LAYER)(x))
    np.testing.assert_allclose(
        np.asarray(layer_probe(loaded, LOGITS_LAYER)(x)),
        full_logits,
        atol=2e-3 * np.abs(full_logits).max(),
    )


def test_a_pooled_features_member_joins_the_logits_not_the_maps(tmp_path):
    """A VGG16 with the multiblock head beside compact members: the logits are the weighted
    mean, the out-of-domain features stay the compact members', and it splits back."""
    from skindx.model.bundle import SkinModel
    from skindx.model.card import ModelCard
    from skindx.model.networks import FEATURES_LAYER, LOGITS_LAYER, build_vgg16, layer_probe
    from skindx.training.ensemble import combine, split

    vgg = build_vgg16(TINY_SIZE, weights=None, head="multiblock")
    kernel, bias = vgg.get_layer(LOGITS_LAYER).get_weights()
    vgg.get_layer(LOGITS_LAYER).set_weights([kernel / 50, bias])  # logits of the same scale
    members = [_tiny(3), vgg]
    ensemble = combine(members, weights=[0.8, 0.2])
    x = np.random.default_rng(4).uniform(0, 255, (2, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
    expected = 0.8 * np.asarray(layer_probe(members[0], LOGITS_LAYER)(x)) + 0.2 * np.asarray(
        layer_probe(vgg, LOGITS_LAYER)(x)
    )
    got = np.asarray(layer_probe(ensemble, LOGITS_LAYER)(x))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert layer_probe(ensemble, FEATURES_LAYER).output.shape[-1] == 16
    assert ensemble.get_layer("m2_block5_conv3") is not None
    with pytest.raises(ValueError, match="must come after the others"):
        combine([vgg, _tiny(3)])
    card = ModelCard(
        name="skindx-ensemble2-test",
        architecture={"name": "ensemble", "input_size": 32,
                      "members": [{"name": "compact_vgg", "input_size": TINY_SIZE,
                                   "widths": [8, 16], "convs_per_block": 1},
                                  {"name": "vgg16", "input_size": 32, "head": "multiblock"}]},
        input_size=32,
        training={"members": [{"name": "a", "weight": 0.8}, {"name": "b", "weight": 0.2}]},
    )  # fmt: skip
    back = split(SkinModel(ensemble, card))[1].model
    np.testing.assert_allclose(
        np.asarray(layer_probe(back, LOGITS_LAYER)(x)),
        np.asarray(layer_probe(vgg, LOGITS_LAYER)(x)),
        atol=1e-3,
    )


def test_a_pooled_member_sees_the_image_resized_and_colour_corrected():
    from skindx.model.networks import (
        LOGITS_LAYER,
        build_compact_vgg,
        build_vgg16,
        layer_probe,
        resize_layer,
        shades_of_gray_layer,
    )
    from skindx.training.ensemble import combine

    vgg = build_vgg16(TINY_SIZE, weights=None, head="multiblock")
    large = build_compact_vgg(input_size=TINY_SIZE * 2, widths=(8, 16), convs_per_block=1)
    ensemble = combine([large, vgg], weights=[0.8, 0.2], colour_constancy=[False, True])
    x = np.random.default_rng(5).uniform(0, 255, (2, TINY_SIZE * 2, TINY_SIZE * 2, 3))
    x = x.astype("float32")
    seen = shades_of_gray_layer()()(resize_layer()(TINY_SIZE)(x))
    expected = 0.8 * np.asarray(layer_probe(large, LOGITS_LAYER)(x)) + 0.2 * np.asarray(
        layer_probe(vgg, LOGITS_LAYER)(seen)
    )
    np.testing.assert_allclose(
        np.asarray(layer_probe(ensemble, LOGITS_LAYER)(x)), expected, atol=1e-5
    )
    assert not any(hasattr(layer, "layers") for layer in ensemble.layers)  # still flat


def test_a_member_summary_keeps_its_probe_regularisation():
    from skindx.model.bundle import SkinModel
    from skindx.model.card import ModelCard
    from skindx.training.ensemble import _member_summary

    card = ModelCard(name="skindx-vgg16-224", training={"probe_c": 0.001, "best_epoch": 0})
    summary = _member_summary(SkinModel(None, card), "runs/vgg16")
    assert summary["probe_c"] == 0.001 and summary["best_epoch"] == 0
    assert "probe_c" not in _member_summary(SkinModel(None, ModelCard(name="x")), "runs/x")
