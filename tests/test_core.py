"""Taxonomy, model bundle (build, save/load, error cases) and the import boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skindx.model.bundle import MODEL_FILE, load_model
from skindx.model.card import ModelCard
from skindx.model.networks import ModelLoadError, build_compact_vgg, build_model, conv_layer_names
from skindx.taxonomy import CODES, MALIGNANT_CODES, is_malignant, normalize_diagnosis

REPO = Path(__file__).resolve().parent.parent


def test_import_skindx_leaves_streamlit_out():
    """Every module of the library imports without Streamlit (the app's pages are the only
    place it belongs)."""
    code = (
        "import importlib, pkgutil, sys, skindx\n"
        "for module in pkgutil.walk_packages(skindx.__path__, 'skindx.'):\n"
        "    if not module.name.endswith('__main__'):\n"
        "        importlib.import_module(module.name)\n"
        "print(len(sys.modules), 'streamlit' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.split()[-1] == "False"


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("mel", "mel"),
        ("MEL", "mel"),
        ("AK", "akiec"),
        ("AKIEC", "akiec"),
        ("SCC", "scc"),
        ("UNK", "unknown"),
        ("seborrheic keratosis", "bkl"),
        ("lentigo NOS", "bkl"),
        ("nevus", "nv"),
        ("melanoma", "mel"),
        ("cafe-au-lait macule", "cafe-au-lait macule"),
        (None, "unknown"),
        (float("nan"), "unknown"),
        ("  ", "unknown"),
    ],
)
def test_normalize_diagnosis(label, code):
    assert normalize_diagnosis(label) == code


def test_malignant_classes():
    assert set(MALIGNANT_CODES) == {"mel", "bcc", "akiec"}
    assert is_malignant("scc") is True
    assert is_malignant("nv") is False
    assert is_malignant("unknown") is None
    assert CODES == ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")


def test_compact_vgg_is_flat_and_named():
    model = build_compact_vgg(input_size=32, widths=(8, 16), convs_per_block=(1, 2))
    assert conv_layer_names(model) == ["block1_conv1", "block2_conv1", "block2_conv2"]
    assert not any(hasattr(layer, "layers") for layer in model.layers)  # no nested models
    assert model.output_shape == (None, 7)
    assert model.get_layer("logits").output.shape[-1] == 7


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        ({"name": "resnet"}, "Unknown architecture"),
        ({"name": "compact_vgg", "input_size": 8, "widths": (8, 8, 8, 8)}, "input_size"),
        (
            {"name": "compact_vgg", "input_size": 32, "widths": (8, 8), "convs_per_block": (1,)},
            "one count per block",
        ),
    ],
)
def test_bad_architectures(architecture, message):
    with pytest.raises(ValueError, match=message):
        build_model(architecture)


def test_vgg16_topology_without_download():
    model = build_model({"name": "vgg16", "input_size": 32, "weights": None})
    names = conv_layer_names(model)
    assert len(names) == 13 and names[-1] == "block5_conv3"
    assert not any(hasattr(layer, "layers") for layer in model.layers)
    # why the shipped VGG16 stores its kernels in float16: in float32 its conv layers alone
    # would take most of the 64 MB shipped-model limit beside the compact members
    conv_weights = sum(layer.count_params() for layer in model.layers if layer.name in names)
    assert conv_weights * 4 > 56 * 1024 * 1024 > conv_weights * 2


def test_round_trip_keeps_weights_card_and_ood(tiny_model, tiny_model_dir):
    again = load_model(tiny_model_dir)
    for a, b in zip(tiny_model.model.get_weights(), again.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.card.to_dict() == tiny_model.card.to_dict()
    assert set(again.ood_reference) == {"means", "precision", "present"}
    assert len(again.card.weights_sha256) == 64


def test_skindx_model_env_override(monkeypatch, tiny_model_dir):
    import skindx

    monkeypatch.setenv("SKINDX_MODEL", str(tiny_model_dir))
    assert skindx.load_model().card.name == "tiny-test-model"


def _copy_model(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no_dir", "does not exist"),
        ("no_card", "card.json"),
        ("bad_card", "not valid JSON"),
        ("no_model", "is missing"),
        ("lfs", "Git LFS pointer"),
        ("truncated", "does not match the sha256"),
        ("mismatch", "does not match its card.json"),
    ],
)
def test_load_errors_name_the_file_and_the_fix(tmp_path, tiny_model_dir, damage, message):
    directory = _copy_model(tiny_model_dir, tmp_path / "m")
    model_file = directory / MODEL_FILE
    if damage == "no_dir":
        directory = tmp_path / "absent"
    elif damage == "no_card":
        (directory / "card.json").unlink()
    elif damage == "bad_card":
        (directory / "card.json").write_text("{not json")
    elif damage == "no_model":
        model_file.unlink()
    elif damage == "lfs":
        model_file.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n")
    elif damage == "truncated":
        model_file.write_bytes(model_file.read_bytes()[:1000])
    elif damage == "mismatch":
        card = json.loads((directory / "card.json").read_text())
        card["input_size"] = 64
        (directory / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match=message):
        load_model(directory)


def test_unreadable_model_without_checksum(tmp_path, tiny_model_dir):
    directory = _copy_model(tiny_model_dir, tmp_path / "m")
    card = ModelCard.load(directory)
    card.weights_sha256 = ""
    card.save(directory)
    (directory / MODEL_FILE).write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ModelLoadError, match="could not be read"):
        load_model(directory)
