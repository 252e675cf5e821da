"""The app's warm-up: model and similar-lesions gallery loaded in the background once per
process, then the Saliency explorer's graphs, and a page icon that ships with the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: the warm-up is once per process, and other tests' AppTests
# would already have started it in this one.
_SCRIPT = """
import gc, json, threading, time
from skindx.explain.explainer import Explainer, _graph_groups
from streamlit_app import resources

order = []  # what the warm-up thread finished or began, in turn
load_engine, warm_up_steps = resources.load_engine, Explainer.warm_up_steps
def loaded(*args, **kwargs):
    engine = load_engine(*args, **kwargs)
    order.append("model")
    return engine
def steps(self):
    order.append("saliency")
    return warm_up_steps(self)
resources.load_engine, Explainer.warm_up_steps = loaded, steps

status = resources.warm_up()
again = resources.warm_up()
deadline = time.monotonic() + 240
while status.stage not in ("ready", "failed") and time.monotonic() < deadline:
    time.sleep(0.05)
threads = [t.name for t in threading.enumerate()]
warmed = list(order)
start = time.perf_counter()
engine = resources.engine()
engine_s = time.perf_counter() - start
start = time.perf_counter()
gallery = resources.gallery(engine)
gallery_s = time.perf_counter() - start
explainer = engine.explainer
groups = set(_graph_groups(explainer.layers).values())
print(json.dumps({
    "order": warmed,
    "graphs_built": set(explainer._graphs) == groups and len(groups) >= 2,
    "traced": [g.experimental_get_tracing_count() for g in explainer._graphs.values()],
    "same": status is again, "stage": status.stage, "images_read": status.images_read,
    "engine_s": engine_s, "gallery_s": gallery_s, "gallery": len(gallery.examples),
    "warm_threads_left": sum(name == "skindx-warm-up" for name in threads),
    "frozen": gc.get_freeze_count(),
}))
"""


def test_model_and_gallery_are_ready_before_a_page_asks(tiny_model_dir, tmp_path):
    rows = ["lesion_id,image_id,dx,dx_type"]
    for i, dx in enumerate(["mel", "mel", "nv", "nv", "df", "bkl"]):
        rows.append(f"HAM_{i},ISIC_{i:07d},{dx},histo")
        pixels = np.random.default_rng(i).integers(0, 256, (40, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"ISIC_{i:07d}.png")
    (tmp_path / "metadata.csv").write_text("\n".join(rows) + "\n")
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        SKINDX_MODEL=str(tiny_model_dir),
        SKINDX_EXAMPLES_DIR=str(tmp_path),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same"] and result["stage"] == "ready"
    # The model (what a diagnosis needs) first; then every graph a clinician's first pick of a
    # network's layer needs, each traced and run once.
    assert result["order"] == ["model", "saliency"]
    assert result["graphs_built"] and set(result["traced"]) == {1}
    assert result["warm_threads_left"] == 0
    assert result["gallery"] == 6 and result["images_read"] == 6
    # Both come from the caches the warm-up filled: no second load, no second gallery.
    assert result["engine_s"] < 0.5 and result["gallery_s"] < 0.5
    assert "missing ScriptRunContext" not in done.stderr
    # What the load left alive (TensorFlow, the model, its graphs) is out of the full
    # collection Streamlit runs after every script run, which stalled the server.
    assert result["frozen"] > 100_000


def test_the_saliency_warm_up_waits_for_a_visitors_diagnosis():
    """Each saliency step starts once no diagnosis or map is in flight, so a visitor's first
    upload does not share the CPU with building the explorer's graphs."""
    import threading

    from streamlit_app.resources import Engine

    release, inside = threading.Event(), threading.Event()

    class Predictor:
        def preprocess(self, pixels):
            return pixels

        def forward(self, x):
            inside.set()
            release.wait(30)
            return x, x

    engine = Engine(skin_model=None, predictor=Predictor(), explainer=None)
    engine.wait_idle()  # nothing in flight: returns at once
    visitor = threading.Thread(target=engine.forward, args=(np.zeros(1),))
    visitor.start()
    assert inside.wait(30)
    waited = threading.Thread(target=engine.wait_idle)
    waited.start()
    waited.join(0.3)
    assert waited.is_alive()  # still waiting while the diagnosis runs
    release.set()
    visitor.join(30)
    waited.join(30)
    assert not waited.is_alive()


def test_the_first_page_is_out_before_the_warm_up_starts(tiny_model_dir, monkeypatch):
    """The entry script starts the warm-up after the page has run, so TensorFlow's import
    does not compete with the first visitor's page; a page that ends early still starts it."""
    from streamlit.testing.v1 import AppTest

    from streamlit_app import resources

    seen: list[bool] = []

    def record() -> resources.WarmUp:
        import streamlit as st

        seen.append("dx_upload" in st.session_state)
        return resources.WARM_UP

    monkeypatch.setenv("SKINDX_MODEL", str(tiny_model_dir))
    monkeypatch.setattr(resources, "warm_up", record)
    at = AppTest.from_file(str(REPO / "streamlit_app" / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.file_uploader(key="dx_upload") is not None
    assert seen == [True]  # once, and the Diagnose page's uploader was already there
    monkeypatch.setenv("SKINDX_MODEL", str(REPO / "no-model-here"))  # the page ends early
    AppTest.from_file(str(REPO / "streamlit_app" / "app.py"), default_timeout=120).run()
    assert len(seen) == 2


def test_page_icon_is_a_local_file_not_a_material_icon():
    source = (REPO / "streamlit_app" / "app.py").read_text()
    assert "page_icon=str(ICON)" in source
    assert 'ICON = Path(__file__).resolve().parent / "icon.png"' in source
    with Image.open(REPO / "streamlit_app" / "icon.png") as icon:
        assert icon.format == "PNG" and min(icon.size) >= 32
