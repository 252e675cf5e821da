"""Predictor and Explainer on the tiny in-code model."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from skindx.diagnosis.predict import CONCERN_MESSAGES, Prediction, Predictor
from skindx.explain.explainer import METHODS, Saliency
from skindx.explain.faithfulness import lesion_energy_share
from skindx.explain.overlay import colorize, overlay
from skindx.images.loading import ImageRejected, load_image
from skindx.taxonomy import CODES


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_prediction_contract(predictor, lesion_image):
    prediction = predictor.predict(lesion_image)
    assert isinstance(prediction, Prediction)
    assert list(prediction.probabilities) == list(CODES)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert prediction.label == prediction.top_k(1)[0][0]
    assert [p for _, p in prediction.top_k(7)] == sorted(
        prediction.probabilities.values(), reverse=True
    )
    assert len(prediction.top_k(3)) == 3
    expected = sum(prediction.probabilities[c] for c in ("mel", "bcc", "akiec"))
    assert prediction.malignant_probability == pytest.approx(expected)
    assert prediction.concern in CONCERN_MESSAGES
    with pytest.raises(AttributeError):
        prediction.concern = "low"  # frozen
    with pytest.raises(TypeError):
        prediction.probabilities["mel"] = 1.0  # read-only mapping


def test_golden_probabilities(predictor, lesion_image):
    """Same image, same tiny seeded model: stable to 4 decimals (bytes, array, PIL alike)."""
    from_array = predictor.predict(lesion_image)
    from_bytes = predictor.predict(_png(lesion_image))
    from_pil = predictor.predict(Image.fromarray(lesion_image))
    for other in (from_bytes, from_pil):
        for code in CODES:
            assert round(other.probabilities[code], 4) == round(from_array.probabilities[code], 4)


def test_temperature_applied(tiny_model, predictor, lesion_image):
    from skindx.training.finishing import logits_and_features

    x = predictor.preprocess(lesion_image)
    logits, _ = logits_and_features(tiny_model.model, x)
    scaled = np.exp(logits[0] / tiny_model.card.temperature)
    expected = scaled / scaled.sum()
    got = predictor.predict(lesion_image).probabilities
    np.testing.assert_allclose([got[c] for c in CODES], expected, rtol=1e-4, atol=1e-6)


def test_batch_equals_single(predictor, lesion_image):
    """Arrays and encoded files (decoded on the predictor's thread pool) keep their order."""
    import io

    from PIL import Image

    rng = np.random.default_rng(1)
    encoded = []
    for fmt, image in (("JPEG", lesion_image), ("PNG", lesion_image[::-1])):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, fmt)
        encoded.append(buffer.getvalue())
    images = [
        lesion_image,
        rng.integers(0, 255, (60, 90, 3), dtype=np.uint8),
        *encoded,
        lesion_image[:, ::-1],
    ] * 3
    batch = predictor.predict_batch(images, batch_size=4)
    for image, result in zip(images, batch, strict=True):
        single = predictor.predict(image)
        for code in CODES:
            assert result.probabilities[code] == pytest.approx(single.probabilities[code], abs=1e-5)


def _large_jpeg(lesion_image: np.ndarray) -> bytes:
    """The lesion as a 1600×1200 phone-sized JPEG, with sensor noise."""
    import cv2

    large = cv2.resize(lesion_image, (1600, 1200), interpolation=cv2.INTER_LINEAR)
    noise = np.random.default_rng(3).normal(0, 4, large.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(large + noise, 0, 255).astype(np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_jpeg_bytes_are_draft_decoded_to_nearly_the_same_input(predictor, lesion_image):
    data = _large_jpeg(lesion_image)
    assert predictor.decode_side == predictor.skin_model.input_size
    drafted = predictor.preprocess(data)
    full = predictor.preprocess(load_image(data))  # arrays are used as given: full decode
    assert drafted.shape == full.shape
    assert np.abs(drafted - full).mean() < 3
    np.testing.assert_array_equal(
        predictor.preprocess(load_image(data, min_side=predictor.decode_side)), drafted
    )


def test_hair_removal_keeps_full_resolution_decoding(tiny_model, lesion_image):
    preprocessing = {**tiny_model.card.preprocessing, "hair_removal": True}
    card = dataclasses.replace(tiny_model.card, preprocessing=preprocessing)
    predictor = Predictor(dataclasses.replace(tiny_model, card=card))
    assert predictor.decode_side is None
    data = _large_jpeg(lesion_image)
    np.testing.assert_array_equal(
        predictor.preprocess(data), predictor.preprocess(load_image(data))
    )


def test_no_retrace_across_input_sizes(predictor):
    rng = np.random.default_rng(2)
    for shape in [(40, 40, 3), (150, 200, 3), (333, 97, 3), (64, 64, 3)]:
        predictor.predict(rng.integers(0, 255, shape, dtype=np.uint8))
    predictor.predict_batch([rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)] * 3)
    assert predictor._forward.experimental_get_tracing_count() == 1


def test_tta_changes_nothing_on_symmetric_image(tiny_model):
    symmetric = np.full((64, 64, 3), 120, dtype=np.uint8)
    plain = Predictor(tiny_model).predict(symmetric)
    flipped = Predictor(tiny_model, tta=True).predict(symmetric)
    for code in CODES:
        assert flipped.probabilities[code] == pytest.approx(plain.probabilities[code], abs=1e-5)


def test_out_of_domain_gets_no_triage(tiny_model, predictor):
    reference_threshold = tiny_model.card.ood["threshold"]
    extreme = np.zeros((64, 64, 3), dtype=np.uint8)
    extreme[::2] = 255
    prediction = predictor.predict(extreme)
    assert (prediction.domain_score > reference_threshold) == (not prediction.in_domain)
    if not prediction.in_domain:
        assert prediction.concern == "not_assessed"


def test_photo_warnings_only_qualify_an_answer(predictor):
    """A dark photo's warning says its answer is less reliable; a photo judged not to be a
    lesion close-up gets no answer, so no warning that would contradict the verdict."""
    from dataclasses import replace

    from skindx.diagnosis.predict import with_photo_warnings

    dark_brown = np.full((64, 64, 3), (50, 40, 30), dtype=np.uint8)  # in colour: not refused
    prediction = predictor.predict(dark_brown)
    warnings = ("This photo is darker than …",)
    inside, outside = (replace(prediction, in_domain=flag) for flag in (True, False))
    assert with_photo_warnings(inside, warnings).notes == warnings
    assert with_photo_warnings(outside, warnings).notes == ()
    if not prediction.in_domain:  # the tiny model judges a flat dark square out of domain
        assert prediction.notes == ()


def test_bad_input_raises_image_rejected(predictor):
    with pytest.raises(ImageRejected):
        predictor.predict(b"%PDF-1.4 not an image")


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_a_normalised_map_at_image_size(explainer, lesion_image, method):
    saliency = explainer.explain(lesion_image, method=method, target="mel")
    assert isinstance(saliency, Saliency)
    assert saliency.heatmap.shape == lesion_image.shape[:2]
    assert saliency.heatmap.dtype == np.float32
    assert saliency.heatmap.min() >= 0.0 and saliency.heatmap.max() <= 1.0
    assert saliency.target == "mel" and saliency.method == method


def test_explain_defaults_to_predicted_class_and_last_conv(explainer, predictor, lesion_image):
    saliency = explainer.explain(lesion_image)
    assert saliency.target == predictor.predict(lesion_image).label
    assert saliency.layer == explainer.layers[-1]
    first = explainer.explain(lesion_image, layer=explainer.layers[0])
    assert first.layer == explainer.layers[0]


def test_explainer_never_changes_the_model(tiny_model, predictor, explainer, lesion_image):
    before = predictor.predict(lesion_image)
    weights = [w.copy() for w in tiny_model.model.get_weights()]
    for method in METHODS:
        explainer.explain(lesion_image, method=method)
    after = predictor.predict(lesion_image)
    assert dict(before.probabilities) == dict(after.probabilities)  # bit-identical
    for a, b in zip(weights, tiny_model.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert tiny_model.model.get_layer("predictions").activation.__name__ == "softmax"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "magic"}, "method must be one of"),
        ({"target": "xyz"}, "target must be one of"),
        ({"layer": "nope"}, "layer must be one of"),
    ],
)
def test_explain_argument_errors(explainer, lesion_image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explainer.explain(lesion_image, **kwargs)


def test_faithfulness_and_overlay(explainer, lesion_image):
    saliency = explainer.explain(lesion_image)
    faith = explainer.faithfulness(lesion_image, saliency)
    assert faith.fraction == 0.2
    assert -1.0 <= faith.salient_drop <= 1.0 and -1.0 <= faith.random_drop <= 1.0
    blended = overlay(lesion_image, saliency, alpha=0.5)
    assert blended.shape == lesion_image.shape and blended.dtype == np.uint8
    assert np.array_equal(overlay(lesion_image, saliency, alpha=0.0), lesion_image)
    with pytest.raises(ValueError, match="alpha"):
        overlay(lesion_image, saliency, alpha=2.0)
    with pytest.raises(ValueError, match="colormap"):
        colorize(saliency.heatmap, "rainbow-unicorn")


def test_lesion_energy_share():
    heat = np.zeros((10, 10), dtype=np.float32)
    heat[:5] = 1.0
    mask = np.zeros((10, 10), dtype=bool)
    mask[:5, :5] = True
    assert lesion_energy_share(heat, mask) == pytest.approx(0.5)
    assert lesion_energy_share(np.zeros((3, 3)), mask[:3, :3]) == 0.0


def test_layer_labels_read_as_block_conv_and_member():
    from skindx.explain.explainer import layer_label
    from skindx.model.networks import ENSEMBLE_MAPS_LAYER

    assert layer_label("block3_conv2") == "block 3 conv 2"
    assert layer_label("m2_block5_conv1") == "member 2 · block 5 conv 1"
    assert layer_label(ENSEMBLE_MAPS_LAYER) == "all members · last block"
    assert layer_label("custom_layer") == "custom_layer"  # other models' names pass through
    # with the card's members, each member says what kind of network it is
    members = [{"recipe": {"architecture": "compact_vgg"}}, {"recipe": {"architecture": "vgg16"}}]
    assert layer_label("m2_block5_conv3", members) == "member 2 (VGG16) · block 5 conv 3"
    assert layer_label("m1_block1_conv1", members) == "member 1 (compact VGG) · block 1 conv 1"
    assert layer_label("m3_block1_conv1", members) == "member 3 · block 1 conv 1"  # unknown
