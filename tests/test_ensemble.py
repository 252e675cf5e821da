"""Ensembles: one flat Keras model whose logits are the members' mean, built by the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_SIZE


def _tiny(seed: int, widths=(8, 16)):
    import keras

    from skindx.modeling import build_compact_vgg

    keras.utils.set_random_seed(seed)
    return build_compact_vgg(input_size=TINY_SIZE, widths=widths, convs_per_block=1)


def test_combined_logits_are_the_members_mean():
    from skindx.ensemble import combine
    from skindx.modeling import ENSEMBLE_MAPS_LAYER, LOGITS_LAYER, conv_layer_names, layer_probe

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


def test_combine_rejects_what_it_cannot_average():
    import keras

    from skindx.ensemble import combine
    from skindx.modeling import build_compact_vgg

    with pytest.raises(ValueError, match="at least 2"):
        combine([_tiny(1)])
    keras.utils.set_random_seed(0)
    other = build_compact_vgg(input_size=TINY_SIZE * 2, widths=(8, 16), convs_per_block=1)
    with pytest.raises(ValueError, match="input shape"):
        combine([_tiny(1), other])


def _train_member(synthetic_ham, out, seed: int, split_seed: int = 5) -> None:
    from skindx.cli import main

    code = main(
        ["train", "--images", str(synthetic_ham.images), "--metadata",
         str(synthetic_ham.metadata), "--out", str(out), "--input-size", str(TINY_SIZE),
         "--widths", "8,16", "--convs-per-block", "1", "--epochs", "1", "--batch-size", "8",
         "--val-fraction", "0.3", "--seed", str(seed), "--split-seed", str(split_seed),
         "--quiet"]
    )  # fmt: skip
    assert code == 0


def test_ensemble_command_builds_a_usable_model(synthetic_ham, tmp_path, lesion_image, capsys):
    from skindx.card_markdown import render_markdown
    from skindx.cli import main
    from skindx.explain import Explainer
    from skindx.modeling import ENSEMBLE_MAPS_LAYER, load_model
    from skindx.predict import Predictor

    members = [tmp_path / "a", tmp_path / "b"]
    for seed, out in enumerate(members, start=1):
        _train_member(synthetic_ham, out, seed)
    data = ["--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata)]
    out = tmp_path / "ensemble"
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
    from skindx.recipe import validation_split

    assert validation_split({"recipe": {"val_fraction": 0.2, "seed": 3}}) == (0.2, 3)
    member = {"recipe": {"val_fraction": 0.1, "seed": 1, "split_seed": 9}}
    assert validation_split({"members": [member, member]}) == (0.1, 9)
    assert validation_split({}) == (0.15, 42)  # cards from before recipes were recorded
