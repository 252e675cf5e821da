"""Server start traces each compiled graph once: TensorFlow's "N out of the last N calls to
<function gradients_graph.<locals>.gradients> triggered tf.function retracing" counts traces
per Python function across the graphs made from it (one per network), not retraces of one."""

from __future__ import annotations

import numpy as np
import pytest

from skindx.explain.explainer import METHODS, Explainer


def _loaded(skin_model, tta: bool | None = None) -> Explainer:
    """A predictor and explainer readied as ``streamlit_app.resources.load_engine`` does."""
    from skindx.diagnosis.predict import Predictor

    predictor = Predictor(skin_model, tta=tta)
    explainer = Explainer(skin_model, predictor)
    blank = np.full((skin_model.input_size,) * 2 + (3,), 128, np.uint8)
    predictor.predict(blank)
    explainer.explain(blank, "gradcam")
    return explainer


def test_the_warm_up_builds_only_what_the_load_left_and_traces_each_graph_once(tiny_model):
    explainer = _loaded(tiny_model)
    default = (explainer.default_layer,)
    assert explainer.trace_counts() == {default: 1, "forward": 1}
    steps = explainer.warm_up_steps()
    # The load built and ran the default layer's graph: the warm-up does not run it again.
    assert [what for what, _ in steps] == [f"gradients graph of {explainer.layers[0]}"]
    explainer.warm_up()
    assert set(explainer._graphs) == {default, tuple(explainer.layers[:-1])}
    assert set(explainer.trace_counts().values()) == {1}
    assert explainer.warm_up_steps() == []


@pytest.mark.parametrize("tta", [False, True])
def test_diagnoses_and_maps_after_the_warm_up_trace_nothing(tiny_model, lesion_image, tta):
    """Any image size, batch size, method, layer and target reuses the traced graphs; only
    SmoothGrad's own graph (left out of the warm-up) is traced, once."""
    explainer = _loaded(tiny_model, tta)
    explainer.warm_up()
    warmed = explainer.trace_counts()
    predictor = explainer.predictor
    wide = np.ascontiguousarray(np.concatenate([lesion_image, lesion_image], axis=1))
    for image in (lesion_image, wide):
        predictor.predict(image)
        for method in METHODS:
            for layer in explainer.layers:
                for target in (None, "mel"):
                    explainer.explain(image, method, target, layer)
    predictor.predict_batch([lesion_image] * 5, batch_size=3)
    assert explainer.trace_counts() == warmed | {("input",): 1}
