"""Serving in bfloat16 where the CPU computes it natively (``skindx.model.precision``): the
choice, and answers that agree with float32.

The switch is process-wide in TensorFlow, so each precision runs in its own process. The
comparison runs only where the CPU has native bfloat16, where ``auto`` serves in it (elsewhere
``on`` is emulated at many times the cost).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skindx.model.precision import cpu_bfloat16_flags, serving_choice

REPO = Path(__file__).resolve().parent.parent
ZEN4 = "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
AVX2 = "flags\t\t: fpu sse2 avx2 fma\n"

# One process's answers: calibrated probabilities, and every method's maps on an early, a middle
# and the default layer (an ensemble's combined maps) on lesion-like images.
_CHILD = """
import sys
import numpy as np
from skindx.model.precision import serve_in_bfloat16
chosen, _ = serve_in_bfloat16(sys.argv[1])
from skindx.config import DEFAULT_MODEL_DIR
from skindx.diagnosis.predict import Predictor
from skindx.explain.explainer import METHODS, Explainer, uses_layer
from skindx.model.bundle import load_model
model = load_model(DEFAULT_MODEL_DIR)
predictor = Predictor(model, tta=False)
explainer = Explainer(model, predictor)
images = np.load(sys.argv[2])
probabilities = [list(predictor.predict(image).probabilities.values()) for image in images]
layers = explainer.layers
spread = (layers[0], layers[len(layers) // 2], layers[-1])
maps = {
    f"{method} {layer}": [explainer.explain(image, method, None, layer).heatmap for image in images]
    for method in METHODS
    for layer in (spread if uses_layer(method) else [None])
}
np.savez(sys.argv[3], chosen=chosen, probabilities=probabilities, **maps)
"""
# bfloat16 maps against float32 ones, per pixel (maps in 0-1; docs/benchmarks.md): the largest
# difference and the 99th percentile. SmoothGrad keeps bfloat16 gradients for its speed: a few
# isolated pixels of its map move by up to 0.18 on ISIC photos.
MAP_TOLERANCE = {"max": 0.15, "p99": 0.05}
SMOOTHGRAD_MAX = 0.25


def _lesions(count: int = 4) -> np.ndarray:
    """Skin-toned photos with a darker, irregular blob: what the model sees in the app."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:240, :320]
    images = []
    for k in range(count):
        skin = np.array([200, 150, 120]) - 25 * k
        radius = 60 + 30 * np.sin(np.arctan2(yy - 120, xx - 160) * (3 + k)) * 0.3
        inside = np.hypot(yy - 120, (xx - 160) * 0.8) < radius
        image = np.where(inside[..., None], skin * [0.45, 0.35, 0.3], skin)
        images.append(np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8))
    return np.stack(images)


def _answers(mode: str, tmp_path: Path) -> dict:
    images, out = tmp_path / "images.npy", tmp_path / f"{mode}.npz"
    np.save(images, _lesions())
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(images), str(out)],
        check=True, env=env, cwd=REPO, timeout=300,
    )  # fmt: skip
    with np.load(out) as answers:
        return {name: answers[name] for name in answers.files}


def test_auto_serves_in_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    monkeypatch.delenv("SKINDX_BFLOAT16", raising=False)
    assert serving_choice(cpuinfo=ZEN4) == (True, "auto: the CPU has avx512_bf16")
    assert serving_choice(cpuinfo=AVX2)[0] is False
    assert serving_choice("off", cpuinfo=ZEN4)[0] is False
    assert serving_choice("on", cpuinfo=AVX2)[0] is True
    monkeypatch.setenv("SKINDX_BFLOAT16", " OFF ")
    assert serving_choice(cpuinfo=ZEN4) == (False, "SKINDX_BFLOAT16=off")


def test_a_bad_setting_is_refused_with_the_choices(monkeypatch, capsys):
    from skindx.cli import main

    monkeypatch.setenv("SKINDX_BFLOAT16", "fast")
    with pytest.raises(ValueError, match="SKINDX_BFLOAT16 takes one of auto, on, off"):
        serving_choice()
    assert main(["predict", str(REPO / "README.md")]) == 1
    assert "skindx: error: SKINDX_BFLOAT16 takes one of" in capsys.readouterr().err


@pytest.mark.skipif(not cpu_bfloat16_flags(), reason="the CPU has no native bfloat16")
def test_bfloat16_answers_agree_with_float32(tmp_path):
    """The tolerances the docs state: each probability within 0.02, the same diagnosis, and
    every method's maps within MAP_TOLERANCE of float32's on each layer (bfloat16 gradients
    once moved Grad-CAM++ maps by up to 1.0 per pixel, LayerCAM's by 0.46)."""
    float32, bfloat16 = _answers("off", tmp_path), _answers("on", tmp_path)
    assert not float32["chosen"] and bfloat16["chosen"]
    np.testing.assert_allclose(bfloat16["probabilities"], float32["probabilities"], atol=0.02)
    # The forward pass stays bfloat16 (float32 maps take no float32 predictions with them).
    assert not np.array_equal(bfloat16["probabilities"], float32["probabilities"])
    assert np.array_equal(bfloat16["probabilities"].argmax(1), float32["probabilities"].argmax(1))
    maps = [name for name in float32 if name not in ("chosen", "probabilities")]
    assert len(maps) == 13  # four layer methods on three layers, and SmoothGrad
    gaps = {name: np.abs(bfloat16[name] - float32[name]) for name in maps}
    worst = {name: (gap.max(), np.percentile(gap, 99)) for name, gap in gaps.items()}
    for name, (largest, p99) in worst.items():
        allowed = SMOOTHGRAD_MAX if name.startswith("smoothgrad") else MAP_TOLERANCE["max"]
        assert largest <= allowed and p99 <= MAP_TOLERANCE["p99"], worst


_OPTIONS = """
import json, threading
from skindx.model.precision import REWRITE, float32_graphs, serve_in_bfloat16
serve_in_bfloat16("on")
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context

def rewrite(options):
    config = config_pb2.ConfigProto.FromString(options.config_proto_serialized)
    return getattr(config.graph_options.rewrite_options, REWRITE)

seen = []
def calls():
    for _ in range(2):
        with float32_graphs():
            seen.append(context.context().function_call_options)
outside = context.context().function_call_options
calls()
thread = threading.Thread(target=calls)
thread.start()
thread.join()
print(json.dumps({
    "outside": rewrite(outside), "inside": [rewrite(o) for o in seen],
    "distinct": len({id(o) for o in seen}),
    "restored": context.context().function_call_options is outside,
}))
"""


def test_float32_graphs_builds_its_call_options_once():
    """The options without the bfloat16 rewrite are made once (the explainer enters the block
    on every map), shared by threads with the same options, and the thread's own restored."""
    import json

    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", _OPTIONS],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    off = 2  # RewriterConfig.OFF
    assert result["outside"] != off and result["inside"] == [off] * 4
    assert result["distinct"] == 1 and result["restored"]
