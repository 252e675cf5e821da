"""The compiled CAMs against tf-keras-vis, their one-trace-per-graph promise, a silent
Score-CAM, and a faithfulness check that works at the model's input size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from skindx.explain.explainer import Explainer

FAST = ("gradcam", "gradcam++", "layercam", "scorecam")
ISIC_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "isic2018_test" / "images"


def _agree(fast: np.ndarray, reference: np.ndarray, tolerance: float = 1e-3) -> None:
    assert fast.shape == reference.shape
    if np.ptp(reference) < 1e-6:  # a flat map (no positive evidence): both must be flat
        assert np.ptp(fast) < 1e-3
        return
    assert np.corrcoef(fast.ravel(), reference.ravel())[0, 1] > 0.99
    assert float(np.abs(fast - reference).max()) < tolerance


# Grad-CAM++ sums cubed gradients over a whole layer; tf-keras-vis does it in float32, ours in
# float64. On the shipped model's first layer the reference sits up to 0.053 from ours per
# normalised pixel (the previous default's tolerance, 0.03, failed there): a pixel may differ by
# float32's rounding, the map must not (corr > 0.99).
SHIPPED_TOLERANCE = {"gradcam++": 0.1}


@pytest.mark.parametrize("method", FAST)
def test_compiled_maps_match_tf_keras_vis_on_the_tiny_model(explainer, lesion_image, method):
    x = explainer.predictor.preprocess(lesion_image)
    for layer in explainer.layers:
        for index in (0, 4):
            fast, chosen = explainer.raw_map(method, x, index, layer)
            assert chosen == index
            _agree(fast, explainer.reference_map(method, x, index, layer))


@pytest.fixture(scope="module")
def shipped_explainer():
    import skindx

    return Explainer(skindx.load_model())


def _shipped_image(explainer: Explainer, lesion_image: np.ndarray):
    images = sorted(ISIC_TEST.glob("*.jpg"))[:1] if ISIC_TEST.is_dir() else []
    return images[0].read_bytes() if images else lesion_image


@pytest.mark.parametrize("method", FAST)
def test_compiled_maps_match_tf_keras_vis_on_the_shipped_model(
    shipped_explainer, lesion_image, method
):
    explainer = shipped_explainer
    x = explainer.predictor.preprocess(_shipped_image(explainer, lesion_image))
    label = explainer.skin_model.classes.index(
        explainer.predictor.postprocess(*explainer.predictor.forward(x))[0].label
    )
    # The whole ensemble's maps (the default) and one member's first conv layer.
    for layer in (explainer.default_layer, explainer.layers[0]):
        fast, chosen = explainer.raw_map(method, x, -1, layer)
        assert chosen == label  # -1: the graph's argmax is the predicted label
        reference = explainer.reference_map(method, x, label, layer)
        _agree(fast, reference, SHIPPED_TOLERANCE.get(method, 1e-3))


def test_each_layer_is_traced_once(tiny_model, lesion_image):
    explainer = Explainer(tiny_model)
    rng = np.random.default_rng(0)
    images = [lesion_image, rng.integers(0, 256, (61, 97, 3), dtype=np.uint8)]
    for image in images:
        for method in (*FAST, "smoothgrad"):
            for target in (None, "mel", "nv"):
                explainer.explain(image, method, target)
    assert explainer._graph((explainer.default_layer,)).experimental_get_tracing_count() == 1
    assert explainer._graph(("input",)).experimental_get_tracing_count() == 1


def test_scorecam_is_silent_and_never_calls_predict(tiny_model, lesion_image, monkeypatch, capfd):
    import keras

    def no_predict(*args, **kwargs):
        raise AssertionError("Score-CAM called Model.predict")

    monkeypatch.setattr(keras.Model, "predict", no_predict)
    capfd.readouterr()
    saliency = Explainer(tiny_model).explain(lesion_image, "scorecam")
    captured = capfd.readouterr()
    assert saliency.heatmap.shape == lesion_image.shape[:2]
    assert "step" not in captured.out + captured.err
    assert "━" not in captured.out + captured.err


def test_faithfulness_blurs_at_working_resolution(explainer, lesion_image, monkeypatch):
    size = explainer.skin_model.input_size
    photo = cv2.resize(lesion_image, (3200, 2400), interpolation=cv2.INTER_LINEAR)  # 7.7 MP
    saliency = explainer.explain(photo)
    blurred_shapes = []
    blur = cv2.GaussianBlur

    def recording_blur(image, *args, **kwargs):
        blurred_shapes.append(image.shape[:2])
        return blur(image, *args, **kwargs)

    monkeypatch.setattr(cv2, "GaussianBlur", recording_blur)
    faith = explainer.faithfulness(photo, saliency)
    assert blurred_shapes and all(shape == (size, size) for shape in blurred_shapes)
    assert -1.0 <= faith.salient_drop <= 1.0 and -1.0 <= faith.random_drop <= 1.0


def test_faithfulness_does_not_depend_on_the_photos_resolution(explainer, lesion_image):
    """The same photo at 200×150 and 8× larger: the blur scales with the photo, the masks are
    drawn at the model's size, so the figures agree."""
    large = cv2.resize(lesion_image, (1600, 1200), interpolation=cv2.INTER_LINEAR)
    small_saliency = explainer.explain(lesion_image, "gradcam", "mel")
    large_saliency = explainer.explain(large, "gradcam", "mel")
    small = explainer.faithfulness(lesion_image, small_saliency)
    big = explainer.faithfulness(large, large_saliency)
    assert big.salient_drop == pytest.approx(small.salient_drop, abs=0.01)
    assert big.random_drop == pytest.approx(small.random_drop, abs=0.01)


def test_batched_smoothgrad_matches_tf_keras_vis_with_the_same_noise(explainer, lesion_image):
    """Both draw their noise from NumPy's global generator in the same shape and order, so one
    seed gives both the same noisy copies."""
    x = explainer.predictor.preprocess(lesion_image)
    for index in (0, 4):
        np.random.seed(7)
        fast, chosen = explainer.raw_map("smoothgrad", x, index)
        np.random.seed(7)
        reference = explainer.reference_map("smoothgrad", x, index, explainer.default_layer)
        assert chosen == index
        _agree(fast, reference)


def test_smoothgrad_gives_one_photo_one_map(explainer, lesion_image):
    """Its noise is seeded by the image: the walk-through saw one photo's faithfulness figure
    run from −6 to −17 points across sessions. Another photo draws other noise."""
    first = explainer.explain(lesion_image, "smoothgrad", "mel").heatmap
    np.random.seed(1)  # what the rest of the process draws does not matter
    assert np.array_equal(explainer.explain(lesion_image, "smoothgrad", "mel").heatmap, first)
    other = explainer.explain(np.ascontiguousarray(lesion_image[::-1]), "smoothgrad", "mel")
    assert not np.array_equal(other.heatmap[::-1], first)
