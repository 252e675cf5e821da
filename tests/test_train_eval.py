"""Data split, calibration fits, metrics, official scorer agreement, and a training smoke run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skindx.datasets.labelled import split_by_lesion
from skindx.evaluation.evaluate import (
    ISIC2018_COLUMNS,
    expected_calibration_error,
    metrics_from_probabilities,
    official_isic2018_scores,
)
from skindx.model.calibration import (
    calibrated_probabilities,
    fit_mahalanobis,
    fit_temperature,
    fit_triage,
    mahalanobis_score,
    threshold_for_sensitivity,
)
from skindx.taxonomy import CODES

TOOLS = Path(__file__).resolve().parents[1] / "docs" / "training_logs"


def tool(name: str):
    """A probe script of docs/training_logs/ imported as a module (the scripts import skindx
    from the repo)."""
    import importlib
    import sys

    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    return importlib.import_module(name)


def test_split_keeps_lesions_on_one_side_and_is_seeded():
    rng = np.random.default_rng(0)
    rows = []
    for lesion in range(400):
        code = CODES[lesion % 7]
        rows += [(f"img{lesion}_{k}", f"L{lesion}", code) for k in range(rng.integers(1, 4))]
    table = pd.DataFrame(rows, columns=["image_id", "lesion_id", "diagnosis"])
    train, val = split_by_lesion(table, 0.2, seed=3)
    assert not set(train["lesion_id"]) & set(val["lesion_id"])
    assert len(train) + len(val) == len(table)
    assert set(val["diagnosis"]) == set(CODES)  # stratified: every class validated
    again_train, _ = split_by_lesion(table, 0.2, seed=3)
    assert again_train.equals(train)


def test_metrics_by_hand():
    # 3 classes used out of 7; rows = true akiec, akiec, bcc, bcc, mel
    labels = np.array([0, 0, 1, 1, 4])
    probs = np.full((5, 7), 0.01)
    for i, j in enumerate([0, 1, 1, 1, 4]):
        probs[i, j] = 0.94
    metrics = metrics_from_probabilities(labels, probs, {"see_doctor": 0.5})
    assert metrics["accuracy"] == 0.8
    assert metrics["balanced_accuracy"] == pytest.approx((0.5 + 1 + 1) / 3, abs=1e-4)
    assert metrics["per_class"]["akiec"]["sensitivity"] == 0.5
    assert metrics["per_class"]["bcc"]["specificity"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["per_class"]["df"]["sensitivity"] is None
    assert metrics["confusion_matrix"][0][1] == 1
    assert metrics["melanoma_sensitivity"] == 1.0
    assert metrics["triage"]["malignant_sensitivity"] == 1.0


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    ece, bins = expected_calibration_error(labels, probs, n_bins=10)
    # bin 0.9: acc 0.5 conf 0.9 (weight .5); bin 0.6: acc 1.0 conf 0.6 (weight .5)
    assert ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert [b["count"] for b in bins] == [2, 2]


def test_our_balanced_accuracy_matches_official_scorer():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 7, 300)
    probs = rng.dirichlet(np.ones(7), 300)
    probs[np.arange(300), labels] += rng.uniform(0, 0.8, 300)
    probs /= probs.sum(axis=1, keepdims=True)
    ours = metrics_from_probabilities(labels, probs, None)
    official = official_isic2018_scores([f"ISIC_{i:07d}" for i in range(300)], labels, probs)
    assert official["balanced_accuracy"] == pytest.approx(ours["balanced_accuracy"], abs=1e-4)
    for code in CODES:
        assert official["per_category"][code]["auc"] == pytest.approx(
            ours["per_class"][code]["auc"], abs=1e-3
        )


def test_temperature_fit_recovers_a_known_temperature():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (4000, 7))
    true_t = 2.5
    probs = calibrated_probabilities(logits, true_t)
    labels = np.array([rng.choice(7, p=p) for p in probs])
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)


def test_triage_threshold_meets_sensitivity():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 7, 500)
    probs = rng.dirichlet(np.ones(7), 500)
    thresholds = fit_triage(probs, labels)
    p_mal = probs[:, [0, 1, 4]].sum(axis=1)
    malignant = np.isin(labels, [0, 1, 4])
    assert (p_mal[malignant] >= thresholds["see_doctor"]).mean() >= 0.90
    assert (p_mal[labels == 4] >= thresholds["see_doctor"]).mean() >= 0.95
    assert thresholds["see_doctor_soon"] >= thresholds["see_doctor"]
    assert threshold_for_sensitivity(np.array([0.1, 0.2]), np.array([False, False]), 0.9) == 0.5


def test_mahalanobis_flags_far_points():
    rng = np.random.default_rng(3)
    features = rng.normal(0, 1, (700, 16))
    labels = np.arange(700) % 7
    reference = fit_mahalanobis(features, labels)
    inside = mahalanobis_score(features, reference)
    outside = mahalanobis_score(rng.normal(8, 1, (50, 16)), reference)
    assert np.quantile(inside, 0.95) < outside.min()


@pytest.mark.data
def test_out_of_fold_threshold_keeps_its_share_of_new_images():
    from skindx.model.calibration import out_of_fold_scores

    rng = np.random.default_rng(4)
    centres = rng.normal(0, 2, (7, 64))

    def sample(n):
        labels = np.arange(n) % 7
        return centres[labels] + rng.normal(0, 1, (n, 64)), labels

    features, labels = sample(300)
    fresh, _ = sample(3000)
    reference = fit_mahalanobis(features, labels)
    fresh_scores = mahalanobis_score(fresh, reference)
    in_sample = np.quantile(mahalanobis_score(features, reference), 0.95)
    out_of_fold = np.quantile(out_of_fold_scores(features, labels), 0.95)
    assert np.mean(fresh_scores <= in_sample) < 0.8  # the bias the out-of-fold scores remove
    assert 0.9 <= np.mean(fresh_scores <= out_of_fold) <= 0.99


def test_training_smoke_on_real_images(shared_data, tmp_path):
    from skindx.model.bundle import load_model
    from skindx.training.train import TrainConfig, train

    config = TrainConfig(
        images=str(shared_data / "ham10000" / "images"),
        metadata=str(shared_data / "ham10000" / "HAM10000_metadata.csv"),
        out=str(tmp_path / "model"),
        input_size=32,
        widths=(8, 16),
        convs_per_block=1,
        epochs=1,
        batch_size=16,
        max_per_class=4,
        val_fraction=0.02,
    )
    trained = train(config, progress=False)
    loaded = load_model(tmp_path / "model")
    card = loaded.card
    assert card.weights_sha256 == trained.card.weights_sha256
    assert (
        card.temperature > 0 and card.thresholds["see_doctor"] <= card.thresholds["see_doctor_soon"]
    )
    assert card.ood["method"] == "mahalanobis" and card.ood["threshold"] > 0
    validation = card.metrics["validation"]
    assert {"balanced_accuracy", "per_class", "ece", "confusion_matrix"} <= set(validation)
    assert sum(card.training["train_images_per_class"].values()) == 28
    assert set(loaded.ood_reference) == {"means", "precision", "present"}
    assert card.preprocessing["tta"] == card.training["tta_selected_on_validation"]["use"]
    # HAM10000 metadata gives age, sex and site: the context is fitted on the same split
    assert card.context["weight"] >= 0 and set(card.context["tables"]) == {"age", "sex", "site"}
    assert card.metrics["validation_with_context"]["n"] == validation["n"]
    # both validation figures carry a bootstrap interval over whole lesions, as the test's do
    for split in ("validation", "validation_with_context"):
        figures = card.metrics[split]
        interval = figures["balanced_accuracy_interval"]
        assert interval["resampled"] == "lesions"
        assert 0 <= interval["low"] <= interval["high"] <= 1


def test_training_with_a_teacher_on_synthetic_images(synthetic_ham, tmp_path):
    """The whole `skindx train` path (CLI → model bundle) without the shared data."""
    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.reports.model_card import render_markdown

    images, metadata, teacher = synthetic_ham.images, synthetic_ham.metadata, synthetic_ham.teacher
    code = main(
        ["train", "--images", str(images), "--metadata", str(metadata), "--out",
         str(tmp_path / "model"), "--input-size", "32", "--widths", "8,16",
         "--convs-per-block", "1", "--epochs", "2", "--batch-size", "8", "--val-fraction", "0.3",
         "--teacher", str(teacher), "--distill-weight", "0.4", "--workers", "2",
         "--weight-decay", "0.01", "--exposure", "0.3", "--quiet"]
    )  # fmt: skip
    assert code == 0
    card = load_model(tmp_path / "model").card
    recipe = card.training["recipe"]
    assert recipe["teacher"].endswith("teacher.csv") and recipe["distill_weight"] == 0.4
    assert recipe["exposure"] == 0.3
    assert recipe["weight_decay"] == 0.01 and card.training["epochs_run"] == 2
    assert card.training["backend"] == "tensorflow"
    assert isinstance(card.preprocessing["tta"], bool)
    reproduce = render_markdown(card)
    assert "--teacher" in reproduce and "--weight-decay 0.01" in reproduce
    assert "--exposure 0.3" in reproduce
    # the metadata records age, sex and site: both validation evaluations are disaggregated
    for split in ("validation", "validation_with_context"):
        groups = card.metrics[split]["subgroups"]
        assert {"age", "sex", "site"} == set(groups)
        assert [row["group"] for row in groups["sex"]] == ["Male"]  # every synthetic image
        assert groups["sex"][0]["n"] == card.metrics[split]["n"]


def test_fine_tuning_starts_from_a_trained_model(synthetic_ham, tmp_path, capsys):
    """--init-from: the trained weights are the start (a vanishing learning rate keeps them),
    recorded in the recipe; an ensemble or another network is refused before any image loads."""
    import json
    import shutil

    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.reports.model_card import render_markdown

    common = [
        "train", "--images", str(synthetic_ham.images), "--metadata", str(synthetic_ham.metadata),
        "--input-size", "32", "--widths", "8,16", "--convs-per-block", "1", "--epochs", "1",
        "--batch-size", "8", "--val-fraction", "0.3", "--quiet",
    ]  # fmt: skip
    first = tmp_path / "first"
    assert main([*common, "--out", str(first)]) == 0
    tuned = tmp_path / "tuned"
    assert main([*common, "--out", str(tuned), "--init-from", str(first), "--seed", "7",
                 "--learning-rate", "1e-9", "--weight-decay", "0"]) == 0  # fmt: skip

    def kernel(directory):
        return load_model(directory).model.get_layer("block2_conv1").get_weights()[0]

    np.testing.assert_allclose(kernel(tuned), kernel(first), atol=1e-5)
    card = load_model(tuned).card
    assert card.training["recipe"]["init_from"] == str(first)
    assert f"--init-from {first}" in render_markdown(card)
    capsys.readouterr()

    assert main([*common, "--out", str(tmp_path / "wider"), "--init-from", str(first),
                 "--widths", "8,32"]) == 1  # fmt: skip
    assert "is a different network" in capsys.readouterr().err
    ensemble = tmp_path / "ensemble"
    shutil.copytree(first, ensemble)
    data = json.loads((ensemble / "card.json").read_text())
    data["architecture"]["name"] = "ensemble"
    (ensemble / "card.json").write_text(json.dumps(data))
    assert main([*common, "--out", str(tmp_path / "x"), "--init-from", str(ensemble)]) == 1
    assert "split-ensemble" in capsys.readouterr().err
    assert not (tmp_path / "wider").exists()  # refused before anything was written


@pytest.mark.data
def test_evaluate_model_on_real_test_images(shared_data, tiny_model, tmp_path):
    from skindx.evaluation.evaluate import evaluate_model

    truth = pd.read_csv(shared_data / "isic2018_test" / "ISIC2018_Task3_Test_GroundTruth.csv")
    subset = truth.groupby("dx").head(3)
    labels_csv = tmp_path / "labels.csv"
    subset.to_csv(labels_csv, index=False)
    predictions_csv = tmp_path / "predictions.csv"
    report = evaluate_model(
        tiny_model,
        shared_data / "isic2018_test" / "images",
        labels_csv,
        predictions_csv=predictions_csv,
    )
    assert report["n"] == 21 and report["missing"] == 0
    assert report["official"]["balanced_accuracy"] == pytest.approx(
        report["balanced_accuracy"], abs=1e-4
    )
    written = pd.read_csv(predictions_csv)
    assert list(written.columns) == ["image"] + [ISIC2018_COLUMNS[c] for c in CODES]
    assert np.allclose(written.iloc[:, 1:].sum(axis=1), 1.0, atol=1e-6)
    # the official one-hot ground truth format gives the same report
    one_hot = tmp_path / "one_hot.csv"
    columns = {ISIC2018_COLUMNS[c]: (subset["dx"] == c).astype(float) for c in CODES}
    pd.DataFrame({"image": subset["image_id"], **columns}).to_csv(one_hot, index=False)
    same = evaluate_model(tiny_model, shared_data / "isic2018_test" / "images", one_hot)
    assert same["balanced_accuracy"] == report["balanced_accuracy"] and same["n"] == 21
    assert "subgroups" in report and "subgroups" not in same  # the one-hot file has no ages
    # the headline figure's bootstrap interval: lesions resampled where the CSV names them
    interval = report["balanced_accuracy_interval"]
    assert interval["resampled"] == "lesions" and interval["level"] == 0.95
    assert interval["low"] <= report["balanced_accuracy"] <= interval["high"]
    assert same["balanced_accuracy_interval"]["resampled"] == "images"
    # the triage target's melanoma sensitivity gets one too, over melanoma lesions
    triage = report["triage"]
    low, high = (triage["melanoma_sensitivity_interval"][k] for k in ("low", "high"))
    assert low <= triage["melanoma_sensitivity"] <= high
    # classes without images: our figures, the official scorer (which needs all) skipped
    partial = tmp_path / "partial.csv"
    subset[subset["dx"].isin(["nv", "mel"])].to_csv(partial, index=False)
    some = evaluate_model(tiny_model, shared_data / "isic2018_test" / "images", partial)
    assert some["n"] == 6 and some["official"] == {}
    assert some["official_skipped"].startswith("no image of akiec, bcc, bkl, df, vasc")


def test_augmentation_keeps_colour():
    """Colour carries diagnosis (vascular lesions are red): jitter it, never erase it."""
    from skindx.model.networks import import_keras
    from skindx.training.keras_engine import _augmenter

    keras = import_keras()
    x = np.zeros((64, 16, 16, 3), dtype="float32")
    x[..., 0], x[..., 1], x[..., 2] = 200.0, 100.0, 60.0
    y = x
    for layer in _augmenter(keras, seed=0):
        y = layer(y, training=True)
    y = np.asarray(y)
    spread = (y.max(axis=-1) - y.min(axis=-1)).mean(axis=(1, 2))
    assert np.median(spread) == pytest.approx(140.0, rel=0.3)
    assert spread.min() > 50.0


def test_random_exposure_scales_each_image_within_its_range():
    """A darker or brighter copy of each image: one factor per image, within [e^-x, e^x]."""
    from skindx.training.augment import random_exposure

    images = np.full((200, 4, 4, 3), 100.0, dtype="float32")
    out = random_exposure(images.copy(), np.random.default_rng(0), 0.4)
    factors = out[:, 0, 0, 0] / 100.0
    assert np.allclose(out, factors[:, None, None, None] * 100.0)  # uniform within an image
    assert factors.min() >= np.exp(-0.4) - 1e-6 and factors.max() <= np.exp(0.4) + 1e-6
    assert factors.min() < 0.75 and factors.max() > 1.35  # the range is used, both ways
    bright = random_exposure(np.full((50, 2, 2, 3), 250.0, "float32"), np.random.default_rng(1), 1)
    assert bright.max() == 255.0  # clipped like a saturated photo
    same = images.copy()
    assert random_exposure(same, np.random.default_rng(0), 0.0) is same and (same == 100).all()


def test_random_geometry_is_seeded_and_keeps_the_image():
    """Loader augmentation: same seed, same batch; content moved, never blanked or recoloured."""
    from skindx.training.augment import random_geometry

    rng = np.random.default_rng(0)
    images = np.zeros((8, 32, 32, 3), dtype="uint8")
    images[:, 8:24, 8:24] = (200, 80, 40)  # a lesion-like square on black skin
    first = random_geometry(images, np.random.default_rng(5))
    assert first.shape == images.shape and first.dtype == np.float32
    assert np.array_equal(first, random_geometry(images, np.random.default_rng(5)))
    assert not np.array_equal(first, random_geometry(images, rng))
    lit = first.max(axis=-1) > 100
    assert (lit.mean(axis=(1, 2)) > 0.1).all()  # the square is still there after zoom/rotate
    assert np.allclose(first[lit].mean(axis=0), (200, 80, 40), atol=25)


def test_training_targets_mix_teacher_probabilities(tmp_path):
    from skindx.training.train import read_teacher, training_targets

    labels = np.array([0, 5])
    ids = ["ISIC_1", "ISIC_2"]
    assert np.array_equal(training_targets(labels, ids, None, 0.5), np.eye(7)[labels])
    teacher = pd.DataFrame(np.full((3, 7), 1 / 7), columns=[ISIC2018_COLUMNS[c] for c in CODES])
    teacher.insert(0, "image", ["ISIC_2", "ISIC_1", "ISIC_9"])  # any order, extra rows ignored
    path = tmp_path / "teacher.csv"
    teacher.to_csv(path, index=False, sep=";")  # as a spreadsheet in many locales saves it
    mixed = training_targets(labels, ids, read_teacher(str(path)), 0.3)
    assert np.allclose(mixed.sum(axis=1), 1.0)
    assert mixed[0, 0] == pytest.approx(0.7 + 0.3 / 7)
    assert mixed[1, 0] == pytest.approx(0.3 / 7)

    with pytest.raises(ValueError, match="no probabilities for 1 training images"):
        training_targets(labels, ["ISIC_1", "ISIC_404"], read_teacher(str(path)), 0.3)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda t: t.drop(columns="DF"), "lacks the columns"),
        (lambda t: pd.concat([t, t.head(1)]), "lists ISIC_2 more than once"),
        (lambda t: t.assign(MEL=-0.5), "the row of ISIC_2 is not a probability"),
        (lambda t: t.assign(**{c: 0.0 for c in t.columns[1:]}), "not all 0"),
        (lambda t: t.assign(NV="high"), "is not a probability"),
    ],
)
def test_a_bad_teacher_csv_stops_training_before_any_image_is_read(tmp_path, spoil, message):
    from skindx.training.train import TrainConfig, train

    teacher = pd.DataFrame(np.full((2, 7), 1 / 7), columns=[ISIC2018_COLUMNS[c] for c in CODES])
    teacher.insert(0, "image", ["ISIC_2", "ISIC_1"])
    path = tmp_path / "teacher.csv"
    spoil(teacher).to_csv(path, index=False)
    config = TrainConfig(
        images=str(tmp_path / "no images here"),  # reading them would fail in other words
        metadata=str(tmp_path / "no metadata.csv"),
        out=str(tmp_path / "model"),
        teacher=str(path),
    )
    with pytest.raises(ValueError, match=message):
        train(config, progress=False)


@pytest.mark.data
def test_teacher_labels_tool_writes_what_training_reads(shared_data, tmp_path):
    pytest.importorskip("sklesion")
    from benchmarks.teacher_labels import main
    from skindx.training.train import read_teacher, training_targets

    table = pd.read_csv(shared_data / "ham10000" / "HAM10000_metadata.csv").head(3)
    metadata = tmp_path / "metadata.csv"
    table.to_csv(metadata, index=False)
    out = tmp_path / "teacher.csv"
    images = shared_data / "ham10000" / "images"
    assert main(["--metadata", str(metadata), "--images", str(images), "--out", str(out)]) == 0
    written = pd.read_csv(out)
    assert list(written["image"]) == list(table["image_id"])
    assert np.allclose(written.iloc[:, 1:].sum(axis=1), 1.0, atol=1e-4)
    labels = np.array([CODES.index(dx) for dx in table["dx"]])
    targets = training_targets(labels, list(table["image_id"]), read_teacher(str(out)), 0.5)
    assert targets[np.arange(3), labels].min() >= 0.5  # the true class keeps at least its half


def test_input_size_tool_keeps_the_weights_at_any_size(tiny_model, lesion_image):
    """docs/training_logs/input_size_check.py: the same network at another input size."""
    at_size = tool("input_size_check").at_size

    from skindx.images.preprocess import preprocess_pixels
    from skindx.training.finishing import logits_and_features

    same = at_size(tiny_model.model, tiny_model.input_size)
    bigger = at_size(tiny_model.model, 48)
    assert bigger.input_shape == (None, 48, 48, 3)
    x = preprocess_pixels(lesion_image, tiny_model.input_size)[None].astype("float32")
    original = logits_and_features(tiny_model.model, x)[0]
    assert np.allclose(logits_and_features(same, x)[0], original, atol=1e-5)
    x48 = preprocess_pixels(lesion_image, 48)[None].astype("float32")
    assert logits_and_features(bigger, x48)[0].shape == original.shape


def test_input_size_tool_scores_each_size_and_their_mean(tiny_model, tmp_path, lesion_image):
    """The multi-scale mean of one size repeated is that size's own score."""
    from PIL import Image

    size_scores = tool("input_size_check").size_scores
    paths = []
    for i, shade in enumerate((0, 60, 120)):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray((lesion_image.astype(int) - shade).clip(0, 255).astype("uint8")).save(
            paths[-1]
        )
    labels = np.array([0, 4, 5])
    size = tiny_model.input_size
    scores = size_scores(tiny_model, paths, labels, [size, size])
    assert set(scores) == {f"{size} px", "mean"}
    assert scores["mean"] == pytest.approx(scores[f"{size} px"])
    assert 0.0 <= scores["mean"] <= 1.0


def test_validation_checks_tool(capsys):
    """docs/training_logs/validation_checks.py: the test-like path's shape, and tau 0 is the
    plain argmax."""
    checks = tool("validation_checks")
    check_prior, sharpened, test_like = checks.check_prior, checks.sharpened, checks.test_like

    from skindx.evaluation.evaluate import balanced_accuracy

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)
    assert test_like(pixels).shape == (224, 224, 3)
    assert sharpened(pixels).dtype == np.uint8
    labels = np.repeat(np.arange(7), 6)
    logits = rng.normal(size=(42, 7)) + 2.0 * np.eye(7)[labels]
    check_prior(logits, labels, np.array([1, 1, 1, 1, 1, 50, 1], float))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    plain = balanced_accuracy(labels, logits.argmax(axis=1))
    assert lines[0].startswith(f"prior tau 0.00: balanced accuracy {plain:.4f}")


def test_classifier_retrain_tool():
    """docs/training_logs/classifier_retrain.py: tau-normalised columns have norm ** (1 - tau),
    and the class-balanced refit, folded back to raw features, separates the classes it was
    fitted on and never predicts a class absent from training."""
    retrain = tool("classifier_retrain")
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5, 3)) * np.array([1.0, 2.0, 4.0])
    norms = np.linalg.norm(kernel, axis=0)
    assert np.linalg.norm(retrain.tau_normalised(kernel, 1.0), axis=0) == pytest.approx(1.0)
    assert np.linalg.norm(retrain.tau_normalised(kernel, 0.5), axis=0) == pytest.approx(norms**0.5)
    labels = np.repeat([0, 1, 3], [40, 10, 5])
    features = rng.normal(size=(55, 4)) * 2.0 + 10.0 + 8.0 * np.eye(4)[labels]
    k, b = retrain.balanced_head(features, labels, 1.0, 4)
    assert k.shape == (4, 4) and b.shape == (4,)
    predicted = (features @ k + b).argmax(axis=1)
    assert 2 not in predicted
    assert (predicted == labels).mean() > 0.9


def test_scaled_exposure():
    """docs/training_logs/validation_checks.py's exposure normalisation: to a target grey,
    half-way, and only outside a band (to its nearer edge)."""
    scaled_exposure = tool("validation_checks").scaled_exposure

    from skindx.images.quality import measure

    dim = np.full((30, 40, 3), 80, np.uint8)
    assert measure(scaled_exposure(dim, 160.0)).brightness == pytest.approx(160, abs=1)
    assert measure(scaled_exposure(dim, 160.0, 0.5)).brightness == pytest.approx(113, abs=1)
    assert scaled_exposure(dim, None, band=(60, 200)) is dim
    assert measure(scaled_exposure(dim, None, band=(100, 200))).brightness == pytest.approx(
        100, abs=1
    )
    bright = np.full((30, 40, 3), 250, np.uint8)
    assert measure(scaled_exposure(bright, None, band=(100, 200))).brightness == pytest.approx(
        200, abs=1
    )


def test_subgroup_metrics_by_hand():
    """35 women aged 50 (25 nevi, 10 melanomas) and 5 images with nothing recorded."""
    from skindx.diagnosis.context import Context
    from skindx.evaluation.evaluate import subgroup_metrics

    nv, mel = CODES.index("nv"), CODES.index("mel")
    labels = np.array([nv] * 25 + [mel] * 10 + [nv] * 5)
    predicted = np.array([nv] * 20 + [mel] * 5 + [mel] * 6 + [nv] * 4 + [nv] * 5)
    probabilities = np.full((40, 7), 0.1 / 6)
    probabilities[np.arange(40), predicted] = 0.9
    contexts = [Context(age=50, sex="F")] * 35 + [None] * 5
    groups = subgroup_metrics(labels, probabilities, contexts, see_doctor=0.5)

    (women, unrecorded) = groups["sex"]
    interval = women.pop("balanced_accuracy_interval")  # small groups: wide intervals
    assert interval["resampled"] == "images" and interval["low"] < 0.7 < interval["high"]
    assert women == {
        "group": "Female",
        "n": 35,
        "n_malignant": 10,
        "accuracy": round(26 / 35, 4),
        "balanced_accuracy": 0.7,  # (20/25 + 6/10) / 2
        "classes_present": 2,
        "malignant_sensitivity": 0.6,  # the 6 melanomas called melanoma are flagged
        "benign_specificity": 0.8,  # 5 of 25 nevi flagged
    }
    assert unrecorded == {"group": "not recorded", "n": 5, "n_malignant": 0}  # too few
    assert [row["group"] for row in groups["age"]] == ["45–59", "not recorded"]
    (everyone,) = groups["site"]  # no site recorded: one group of all 40
    assert everyone["n"] == 40 and everyone["benign_specificity"] == round(25 / 30, 4)
    assert "in_domain_share" not in everyone  # not given
    # the out-of-domain check rejected 7 of the women's images and all 5 unrecorded ones
    in_domain = np.array([False] * 7 + [True] * 28 + [False] * 5)
    checked = subgroup_metrics(labels, probabilities, contexts, 0.5, in_domain)
    assert checked["sex"][0]["in_domain_share"] == 0.8  # 28 / 35
    assert checked["site"][0]["in_domain_share"] == 0.7  # 28 / 40
    assert "in_domain_share" not in checked["sex"][1]  # 5 images: a count only
    assert "source" not in checked  # no collections given
    sources = ["vidir_modern"] * 5 + ["external"] * 30 + [None] * 5
    by_source = subgroup_metrics(labels, probabilities, contexts, 0.5, sources=sources)["source"]
    assert [(row["group"], row["n"]) for row in by_source] == [
        ("external", 30),  # the largest collection first
        ("vidir_modern", 5),
        ("not recorded", 5),
    ]
    assert by_source[0]["accuracy"] == round(21 / 30, 4)  # images 5-34: 15 + 6 right of 30
    # the women's images as 7 lesions of 5 photos each: resampled whole, a wider interval
    lesions = np.repeat(np.arange(8), 5)
    by_lesion = subgroup_metrics(labels, probabilities, contexts, 0.5, lesions=lesions)
    whole = by_lesion["sex"][0]["balanced_accuracy_interval"]
    assert whole["resampled"] == "lesions"
    assert whole["high"] - whole["low"] > interval["high"] - interval["low"]


def test_image_collections_read_the_metadatas_own_dataset_column(tmp_path):
    from skindx.datasets.metadata import read_metadata
    from skindx.evaluation.evaluate import image_collections as from_frame

    def image_collections(csv):
        return from_frame(read_metadata(csv))

    csv = tmp_path / "truth.csv"
    csv.write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization, Dataset \n"
        "HAMTEST_1,ISIC_1,nv,histo,50,male,back,external\n"
        "HAMTEST_2,ISIC_2,mel,histo,,female,face,\n"
    )
    assert image_collections(csv) == {"ISIC_1": "external"}
    csv.write_text("image_id,dx\nISIC_1,nv\n")
    assert image_collections(csv) is None


def test_bootstrap_resamples_whole_lesions():
    """The interval's resamples are the balanced accuracies of lesions drawn with replacement;
    a second photo of every lesion adds no evidence, so it leaves them unchanged."""
    from skindx.evaluation.metrics import (
        RESAMPLES,
        balanced_accuracy,
        balanced_accuracy_interval,
        balanced_accuracy_resamples,
        share_interval,
    )

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 7, 300)
    predicted = np.where(rng.random(300) < 0.6, labels, rng.integers(0, 7, 300))
    lesions = np.arange(300)
    resamples = balanced_accuracy_resamples(labels, [predicted, labels], lesions)
    assert resamples.shape == (RESAMPLES, 2) and (resamples[:, 1] == 1).all()
    # the first resamples, drawn again and scored image by image
    draws = np.random.default_rng(0).multinomial(300, np.full(300, 1 / 300), size=3)
    for draw, score in zip(draws, resamples[:3, 0], strict=False):
        rows = np.repeat(lesions, draw)
        assert score == pytest.approx(balanced_accuracy(labels[rows], predicted[rows]))
    # each lesion photographed twice: the same resamples when lesions are resampled whole
    twice = [np.tile(a, 2) for a in (labels, predicted, lesions)]
    assert balanced_accuracy_interval(*twice) == pytest.approx(
        balanced_accuracy_interval(labels, predicted, lesions)
    )
    low, high = balanced_accuracy_interval(labels, predicted)
    assert low < balanced_accuracy(labels, predicted) < high and high - low < 0.2
    # a share (a sensitivity) is one class's recall: 30 of 40 hits, two photos per lesion
    hits = np.repeat(np.arange(20) < 15, 2)
    low, high = share_interval(hits, np.repeat(np.arange(20), 2))
    assert low < 0.75 < high and (low, high) == share_interval(hits[::2])
    # resampled as single images instead, the duplicates would fake a narrower interval
    low2, high2 = balanced_accuracy_interval(twice[0], twice[1])
    assert high2 - low2 < 0.8 * (high - low)
