"""The app under AppTest: every page, the Diagnose flows, the explorer, the model card, the
shared model, privacy (no files written, nothing shared or logged) and the hardened config.

A tiny random model (tests/conftest.py) stands in for the shipped one; its card is extended
with figures computed by ``skindx.evaluation`` on synthetic labelled images, so the model card
page has something real to draw.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import struct
import sys
import tomllib
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import add_test_context
from PIL import Image
from streamlit.testing.v1 import AppTest

from skindx.config import Settings
from skindx.images.loading import ImageRejected, inspect_image
from skindx.images.rejection import UNREADABLE
from skindx.reports.numbers import probability
from skindx.reports.results import (
    NOT_ANALYSED,
    PHOTO_NOTE,
    SHORT_ADVICE,
)
from streamlit_app import ui

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "streamlit_app" / "app.py"
PAGES = REPO / "pages"
TIMEOUT = 120
OUT_OF_DOMAIN = "does not look like a close-up skin-lesion photo"

# tf-keras-vis feeds a list to our single-input graph; keras warns (skindx.explain filters it,
# but pytest resets warning filters per test).
pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")


# ----------------------------------------------------------------------------- helpers


def lesion_png(seed: int = 0, block: int = 8) -> bytes:
    """A blocky noise picture the tiny model (fitted on 32-px noise) calls in-domain."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    pixels = np.kron(pixels, np.ones((block, block, 1), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(side: int = 30_000) -> bytes:
    """A tiny PNG whose header claims side×side pixels (a decompression bomb)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", side, side)  # IHDR width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def write_evaluation(directory: Path, seed: int = 0) -> dict:
    """Add test and validation figures to a model directory's card, measured on synthetic
    labelled images with the real evaluation code; return the card as a dict."""
    from skindx.diagnosis.context import Context
    from skindx.diagnosis.predict import Predictor
    from skindx.evaluation.evaluate import metrics_from_probabilities, subgroup_metrics
    from skindx.model.bundle import load_model
    from skindx.model.card import ModelCard
    from skindx.taxonomy import CODES

    skin_model = load_model(directory)
    predictor = Predictor(skin_model)
    rng = np.random.default_rng(seed)
    card = ModelCard.load(directory)
    for split, n in (("test", 84), ("validation", 70)):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = np.arange(n) % len(CODES)
        predictions = predictor.predict_batch(list(images))
        probabilities = np.array([[p.probabilities[c] for c in CODES] for p in predictions])
        metrics = metrics_from_probabilities(labels, probabilities, card.thresholds)
        metrics["dataset"] = f"synthetic {split} images"
        if split == "test":  # figures by age, sex and site, from made-up records
            woman = Context(50, "female")
            people = [woman, woman, Context(70, "male", "back"), None]
            contexts = [people[i % 4] for i in range(n)]
            see_doctor = card.thresholds["see_doctor"]
            metrics["subgroups"] = subgroup_metrics(labels, probabilities, contexts, see_doctor)
        card.metrics[split] = metrics
    card.training = {
        "data": "Synthetic noise images (test fixture)",
        "recipe": {"epochs": 0, "batch_size": 8},
        "train_images_per_class": dict.fromkeys(CODES, 10),
        "best_epoch": 1,
        "epochs_run": 2,
        "history": {"loss": [2.0, 1.9], "val_loss": [2.1, 2.0]},
    }
    card.saliency = {"method": "gradcam", "n": 5, "energy_in_lesion": 0.41, "uniform_baseline": 0.3}
    card.save(directory)
    return card.to_dict()


def app_test(page: str | Path = APP) -> AppTest:
    return AppTest.from_file(str(page), default_timeout=TIMEOUT)


def run(target) -> AppTest:
    """Run an AppTest (or the AppTest behind a widget) and assert no exception."""
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    value = [(name, data, "image/png") for name, data in files]
    at.file_uploader(key="dx_upload").set_value(value[0] if len(value) == 1 else value)
    return run(at)


def probability_lists(at: AppTest) -> list[dict[str, tuple[float, str]]]:
    """Every result's probability bars, likeliest first: code → (probability, as written)."""
    pattern = r"data-code='(\w+)' data-value='([^']+)'.*?<span[^>]*>([^<]*)</span></li>"
    bodies = [e.proto.body for e in at.get("html") if "skindx-probabilities" in e.proto.body]
    return [
        {code: (float(value), written) for code, value, written in re.findall(pattern, body)}
        for body in bodies
    ]


def chart_values(at: AppTest) -> list[list[float]]:
    """The bar values, in percent, of every result's probability bars."""
    return [[100 * value for value, _ in bars.values()] for bars in probability_lists(at)]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in (at.info, at.warning, at.error, at.success) for e in kind]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def evaluated_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("evaluated_model")
    shutil.copytree(tiny_model_dir, directory, dirs_exist_ok=True)
    write_evaluation(directory)
    return directory


@pytest.fixture(scope="module")
def out_of_domain_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with an out-of-domain threshold nothing passes."""
    directory = tmp_path_factory.mktemp("ood_model")
    shutil.copytree(tiny_model_dir, directory, dirs_exist_ok=True)
    card = json.loads((directory / "card.json").read_text())
    card["ood"]["threshold"] = -1.0
    (directory / "card.json").write_text(json.dumps(card))
    return directory


@pytest.fixture
def model(monkeypatch, evaluated_model_dir) -> Path:
    monkeypatch.setenv("SKINDX_MODEL", str(evaluated_model_dir))
    return evaluated_model_dir


# ----------------------------------------------------------------------------- smoke


@pytest.mark.parametrize(
    "page", ["diagnose", "saliency", "model_card", "about", "lessons", "statistics"]
)
def test_every_page_runs_on_its_own(model, page) -> None:
    at = run(app_test(PAGES / f"{page}.py"))
    assert at.title, page


def test_shell_runs_every_page(model) -> None:
    from streamlit_app import navigation

    at = run(app_test())
    assert at.title[0].value == "Check a skin spot"
    assert "not a medical device" in at.sidebar.caption[0].value
    for specs in navigation.SECTIONS.values():
        for spec in specs:
            run(at.switch_page(f"../pages/{spec.file}"))
            assert at.title, spec.file


def test_every_page_file_is_in_the_menu() -> None:
    from streamlit_app import navigation

    listed = {spec.file for specs in navigation.SECTIONS.values() for spec in specs}
    assert listed == {path.name for path in PAGES.glob("*.py")}


# ----------------------------------------------------------------------------- diagnose


def test_valid_upload_shows_probabilities_summing_to_100(model) -> None:
    at = upload(run(app_test(PAGES / "diagnose.py")), ("lesion.png", lesion_png()))
    (values,) = chart_values(at)
    assert len(values) == 7
    assert sum(values) == pytest.approx(100.0, abs=1e-6)
    shown = texts(at)
    assert "Most likely: " in shown
    assert "Cancer types together" in shown
    assert any("doctor" in box.value for box in [*at.info, *at.warning, *at.error][1:])
    overlays = [i for i in at.get("image") if "Grad-CAM" in str(i.proto)]
    assert overlays, "the Grad-CAM overlay is missing"
    (lesson,) = at.get("page_link")
    assert lesson.proto.page == "lessons" and lesson.proto.query_string.startswith("dx=")
    assert at.button(key="dx_explore_0")
    assert at.download_button(key="dx_report_0")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.png", b"this is not an image at all"),
        ("truncated.png", lesion_png()[:300]),
        ("bomb.png", bomb_png()),
        ("empty.png", b""),
        ("script.png", b"<script>alert(1)</script>"),
    ],
)
def test_bad_upload_shows_the_friendly_message(model, name, data) -> None:
    with pytest.raises(ImageRejected) as expected:
        inspect_image(data)
    at = upload(run(app_test(PAGES / "diagnose.py")), (name, data))
    assert [e.value for e in at.error] == [str(expected.value)]
    assert not chart_values(at)
    upload(at, ("lesion.png", lesion_png()))  # the page keeps working
    assert not at.error and chart_values(at)


def test_too_large_upload_is_refused_by_skindx_too(model, monkeypatch) -> None:
    monkeypatch.setenv("SKINDX_MAX_UPLOAD_MB", "1")
    big = os.urandom(1024 * 1024 + 10)
    at = upload(run(app_test(PAGES / "diagnose.py")), ("big.png", big))
    assert "MB" in at.error[0].value


def test_camera_photo_is_analysed(model) -> None:
    at = run(app_test())
    assert not at.camera_input  # the camera is asked for only on request
    run(at.toggle(key="dx_camera_on").set_value(True))
    buffer = io.BytesIO()
    Image.open(io.BytesIO(lesion_png(11, block=10))).save(buffer, format="JPEG", quality=95)
    run(at.camera_input(key="dx_camera").set_value(("shot.jpg", buffer.getvalue(), "image/jpeg")))
    assert "Camera photo" in texts(at)
    assert chart_values(at) or OUT_OF_DOMAIN in texts(at).lower()
    # another page and back: the first photo is kept, and the next one gets its own name
    run(at.button(key="dx_explore_0").click())
    run(at.switch_page("../pages/diagnose.py"))
    run(at.toggle(key="dx_camera_on").set_value(True))
    run(at.camera_input(key="dx_camera").set_value(("shot.jpg", buffer.getvalue(), "image/jpeg")))
    assert "Still here from earlier" in texts(at)
    names = [label.split(" · ")[0] for label in (e.label for e in at.expander)]
    assert "Camera photo" in names and "Camera photo 2" in names


def batch_table(at: AppTest) -> pd.DataFrame:
    """The Diagnose page's batch table: rows by file name (its note under it), then the top
    diagnosis with its probability, the cancer share and the advice."""
    (table,) = [t.value for t in at.table if list(t.value.columns) == BATCH_COLUMNS]
    return table


def batch_files(at: AppTest) -> list[str]:
    return [cell.split("  \n")[0] for cell in batch_table(at).index]


BATCH_COLUMNS = ["Most likely", "Cancer types", "Advice"]


def test_multi_upload_table_and_csv(model) -> None:
    files = [
        ("a.png", lesion_png(1)),
        ("b.png", lesion_png(2)),
        ("=HYPERLINK(bad).png", b"garbage"),
    ]
    at = upload(run(app_test(PAGES / "diagnose.py")), *files)
    # One static table at every width, which wraps its cells: four columns, and the reason a
    # file failed under its (Markdown-escaped) name, where a six-column grid cut the advice,
    # the diagnosis and the note on a desktop and ran off a phone.
    table = batch_table(at)
    assert batch_files(at) == [ui.escape(name) for name, _ in files]
    assert table["Most likely"].iloc[:2].str.fullmatch(r".+, (<|>)?\d{1,3}%").all()
    assert table["Most likely"].iloc[2] == "—"
    assert table["Advice"].iloc[2] == NOT_ANALYSED
    assert "not an image" in table.index[2].split("  \n")[1]
    # The advice in the table, the CSV and each result's header is the result box's advice in
    # a few words, not a triage level's name ("Low").
    advice = list(table["Advice"].iloc[:2])
    assert set(advice) <= set(SHORT_ADVICE.values())
    headers = [e.label for e in at.expander if e.label.startswith(("a\\.png", "b\\.png"))]
    assert [header.rsplit(" · ", 1)[1] for header in headers] == advice
    assert at.download_button(key="dx_csv")
    assert len(chart_values(at)) == 2 and len(at.error) == 1


def test_the_unreadable_message_names_the_formats_the_uploader_takes() -> None:
    """It said "Upload a JPEG or PNG photo" while the uploader took WebP and HEIC too."""
    assert UNREADABLE.endswith(f"Use a {ui.image_formats()} photo.")
    assert "WebP" in UNREADABLE and "HEIC" in UNREADABLE
    assert {"jpg", "png", "webp", "heic"} <= set(ui.image_types())


def test_one_probability_format_on_the_diagnose_page(model) -> None:
    """Issue #27: one probability read 68.56% in the table, 69% in the heading, 68.6% on the
    chart; now every place writes it as reports.numbers.probability does."""
    at = upload(run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png(1)))
    (bars,) = probability_lists(at)
    written = [text for _, text in bars.values()]
    assert len(written) == 7 and all(re.fullmatch(r"(<|>)?\d{1,3}%", text) for text in written)
    top = written[0]  # likeliest first
    headings = [m.value for m in at.markdown if "Most likely" in m.value]
    assert headings and headings[0].endswith(f", {top}")
    assert not re.search(r"\d\.\d+%", texts(at))


@pytest.fixture
def context_model(monkeypatch, evaluated_model_dir, tmp_path) -> Path:
    """The evaluated tiny model with a context section (tests/conftest.py) and its figures
    repeated as a with-context evaluation (the page only displays them)."""
    directory = add_test_context(tmp_path / "context_model", evaluated_model_dir)
    card = json.loads((directory / "card.json").read_text())
    card["metrics"]["test_with_context"] = card["metrics"]["test"]
    (directory / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("SKINDX_MODEL", str(directory))
    return directory


def melanoma_share(at: AppTest) -> float:
    """The melanoma bar of the one result (bars are ranked, so found by code), in percent."""
    (bars,) = probability_lists(at)
    return 100 * bars["mel"][0]


def test_age_sex_and_site_sharpen_the_diagnosis(context_model) -> None:
    at = upload(run(app_test(PAGES / "diagnose.py")), ("lesion.png", lesion_png()))
    before = melanoma_share(at)
    assert "taken into account" not in texts(at)
    test = json.loads((context_model / "card.json").read_text())["metrics"]["test"]
    with_them = f"it was right {100 * test['balanced_accuracy']:.1f}% of the time with them"
    assert with_them in texts(at)  # in words for the public, not "balanced accuracy"
    at.number_input(key="dx_age").set_value(80)
    at.selectbox(key="dx_sex").set_value("male")
    run(at.selectbox(key="dx_site").set_value("torso"))
    assert "Age, sex and body site were taken into account." in texts(at)
    assert sum(chart_values(at)[0]) == pytest.approx(100.0, abs=1e-6)
    assert melanoma_share(at) > before  # likelier at 80 on the torso, in this card's tables
    at.number_input(key="dx_age").set_value(None)
    at.selectbox(key="dx_sex").set_value(None)
    run(at.selectbox(key="dx_site").set_value(None))
    assert melanoma_share(at) == pytest.approx(before)
    assert "taken into account" not in texts(at)


@pytest.fixture
def forward_passes(monkeypatch) -> list[int]:
    """Grows by one with each forward pass of any Predictor."""
    from skindx.diagnosis.predict import Predictor

    passes: list[int] = []
    forward = Predictor.forward
    monkeypatch.setattr(Predictor, "forward", lambda self, b: passes.append(1) or forward(self, b))
    return passes


def test_a_new_context_reuses_the_network_outputs(context_model, forward_passes) -> None:
    passes = forward_passes
    at = upload(run(app_test(PAGES / "diagnose.py")), ("lesion.png", lesion_png()))
    before, first = melanoma_share(at), len(passes)
    assert first >= 1
    at.number_input(key="dx_age").set_value(80)
    run(at.selectbox(key="dx_site").set_value("torso"))
    assert melanoma_share(at) > before and len(passes) == first


def test_warning_signs_raise_the_advice_without_a_new_forward_pass(model, forward_passes) -> None:
    passes = forward_passes
    at = upload(run(app_test(PAGES / "diagnose.py")), ("lesion.png", lesion_png()))
    charts, first = chart_values(at), len(passes)
    assert "signs you noticed" not in texts(at)
    at.checkbox(key="dx_sign_size").check()
    run(at.checkbox(key="dx_sign_colour").check())
    assert any("score 4 on the weighted 7-point checklist" in box.value for box in at.error)
    assert "The warning signs you ticked were taken into account." in texts(at)
    assert chart_values(at) == charts and len(passes) == first  # the model's figures stand
    run(at.checkbox(key="dx_sign_colour").uncheck())
    assert "signs you noticed" not in texts(at)  # 2 points: under NICE's 3
    run(at.checkbox(key="dx_sign_size").uncheck())
    assert "You noticed" not in texts(at) and "signs you noticed" not in texts(at)


def test_a_growing_lump_beyond_the_checklist_is_urgent(model) -> None:
    at = upload(run(app_test(PAGES / "diagnose.py")), ("lesion.png", lesion_png()))
    run(at.checkbox(key="dx_sign_lump").check())
    assert any("nodular melanoma" in box.value for box in at.error)
    run(at.checkbox(key="dx_sign_lump").uncheck())
    assert not any("nodular melanoma" in box.value for box in at.error)


def test_context_inputs_only_where_the_model_has_a_context(model) -> None:
    at = run(app_test(PAGES / "diagnose.py"))
    assert not at.number_input and not at.selectbox


def test_model_card_shows_the_with_context_evaluation(context_model) -> None:
    at = run(app_test(PAGES / "model_card.py"))
    control = at.segmented_control(key="card_split")
    assert "test_with_context" in control.options or "Test set + age, sex, site" in control.options
    assert "With age, sex or body site given" in texts(at)
    keys = {chart.proto.id for chart in at.get("plotly_chart")}
    assert sum("card_context_" in key for key in keys) == 3, keys  # age, sex, site tables


def test_out_of_domain_image_gets_no_diagnosis(monkeypatch, out_of_domain_model_dir) -> None:
    monkeypatch.setenv("SKINDX_MODEL", str(out_of_domain_model_dir))
    at = upload(run(app_test(PAGES / "diagnose.py")), ("holiday.png", lesion_png()))
    assert OUT_OF_DOMAIN in at.warning[0].value.lower()
    assert "Most likely" not in texts(at)
    assert not [i for i in at.get("image") if "Grad-CAM" in str(i.proto)]
    assert not at.get("page_link")
    run(at.checkbox(key="dx_sign_oozing").check())  # warning signs still call for a doctor
    assert "You noticed that it oozes, crusts or bleeds." in texts(at)
    assert "Most likely" not in texts(at)


def test_missing_model_shows_a_message_not_a_traceback(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SKINDX_MODEL", str(tmp_path / "no-model-here"))
    for page in ("diagnose", "saliency", "model_card"):
        at = run(app_test(PAGES / f"{page}.py"))
        assert "not available on this server" in at.error[0].value, page


def test_results_are_still_there_after_another_page(model, forward_passes) -> None:
    """The walk-through lost the photos, results and ticked signs on coming back from the
    explorer: Streamlit drops a widget's state while its page is not shown."""
    at = run(app_test())
    run(at.checkbox(key="dx_sign_size").check())
    upload(at, ("a.png", lesion_png(1)), ("b.png", lesion_png(2)))
    run(at.toggle(key="dx_same_spot").set_value(True))
    before = texts(at)
    run(at.button(key="dx_explore_0").click())
    assert at.title[0].value == "Saliency explorer"
    assert "dx_upload" not in at.session_state  # what Streamlit forgets

    passes = len(forward_passes)
    run(at.switch_page("../pages/diagnose.py"))
    assert at.title[0].value == "Check a skin spot"
    assert at.checkbox(key="dx_sign_size").value and at.toggle(key="dx_same_spot").value
    assert len(chart_values(at)) == 2 and "### All photos together" in texts(at)
    assert batch_files(at) == ["a\\.png", "b\\.png", "All photos together"]
    assert "Still here from earlier" in texts(at) and "a\\.png" in texts(at)
    assert set(before.splitlines()) <= set(texts(at).splitlines())
    assert len(forward_passes) == passes  # the kept analyses, not new ones

    upload(at, ("c.png", lesion_png(3)))  # a new photo joins them
    assert batch_files(at)[:3] == ["a\\.png", "b\\.png", "c\\.png"]
    upload(at)  # removing it from the uploader leaves the kept ones
    assert len(chart_values(at)) == 2

    run(at.button(key="dx_clear_kept").click())
    assert not chart_values(at) and "Still here" not in texts(at)
    assert "dx_results" not in at.session_state and "dx_kept" not in at.session_state
    assert "sal_image" not in at.session_state  # nor the copy handed to the explorer
    assert at.checkbox(key="dx_sign_size").value  # the signs are the person's, not the photos'
    upload(at, ("d.png", lesion_png(4)))
    assert len(chart_values(at)) == 1 and "Still here" not in texts(at)


def test_coming_back_keeps_age_sex_and_site(context_model) -> None:
    at = run(app_test())
    run(at.number_input(key="dx_age").set_value(62))
    run(at.selectbox(key="dx_sex").set_value("female"))
    upload(at, ("a.png", lesion_png(1)))
    run(at.switch_page("../pages/about.py"))
    run(at.switch_page("../pages/diagnose.py"))
    assert at.number_input(key="dx_age").value == 62
    assert at.selectbox(key="dx_sex").value == "female"
    assert "Age, sex and body site were taken into account." in texts(at)


# ----------------------------------------------------------------------------- explorer


def test_explore_button_hands_the_image_to_the_explorer(model) -> None:
    at = upload(run(app_test()), ("mole.png", lesion_png(3)))
    run(at.button(key="dx_explore_0").click())
    assert at.title[0].value == "Saliency explorer"
    assert "mole\\.png" in texts(at)
    assert len(at.metric) == 1 and at.download_button(key="sal_download_0")


@pytest.fixture
def explorer(model) -> AppTest:
    at = app_test(PAGES / "saliency.py")
    pixels = inspect_image(lesion_png(4)).pixels
    at.session_state["sal_image"] = {"id": "fixture", "name": "fixture.png", "pixels": pixels}
    return run(at)


def test_explorer_offers_every_method_and_layer(explorer) -> None:
    from skindx.explain.explainer import METHODS

    at = explorer
    assert at.selectbox(key="sal_method").options == list(METHODS.values())
    from skindx.explain.explainer import layer_label

    layers = at.selectbox(key="sal_layer").options  # as shown: readable names, deepest last
    assert layers[-1] == layer_label(at.selectbox(key="sal_layer").value)
    assert layers[0] == "block 1 conv 1"
    for method in METHODS:
        run(at.selectbox(key="sal_method").set_value(method))
        assert len(at.metric) == 1, method
    run(at.selectbox(key="sal_method").set_value("gradcam"))  # SmoothGrad greys the layer out
    run(at.selectbox(key="sal_layer").set_value("block1_conv1"))  # chosen by its real name
    assert at.selectbox(key="sal_layer").value == "block1_conv1" and not at.exception
    run(at.slider(key="sal_alpha").set_value(0.8))
    run(at.selectbox(key="sal_colormap").set_value("magma"))
    assert "Faithfulness" in at.metric[0].label
    # The figure is a change in probability: its sign and the caption's verb agree.
    value = at.metric[0].value
    caption = next(c.value for c in at.caption if c.value.startswith("Probability of"))
    rose, fell = value.startswith("+"), value.startswith("−")
    assert rose or fell, value
    points = value[1:].split()[0]
    verb = "hardly changes" if points == "0.0" else f"{'rises' if rose else 'falls'} by {points}"
    assert verb in caption.split(" when ")[0]


def test_explorer_compares_two_classes_and_two_methods(explorer) -> None:
    at = explorer
    predicted = at.selectbox(key="sal_target").value
    run(at.segmented_control(key="sal_compare").set_value("Two classes"))
    assert at.selectbox(key="sal_target_b").value != predicted
    assert len(at.metric) == 2 and at.download_button(key="sal_download_1")
    run(at.segmented_control(key="sal_compare").set_value("Two methods"))
    assert at.selectbox(key="sal_method_b").value != at.selectbox(key="sal_method").value
    assert len(at.metric) == 2


def test_explorer_draws_the_colour_scale_of_each_colour_map(model, monkeypatch) -> None:
    """Under every map, a strip of the colour map the overlay uses, at the overlay's opacity
    over the photo's mean colour (an opaque strip under a faint map promised colours the map
    never showed), its ends named."""
    import importlib

    from skindx.explain.overlay import COLORMAPS
    from skindx.reports.saliency_view import legend_alt

    drawing = importlib.import_module("skindx.explain.overlay")  # the package's overlay: a function
    drawn: list[tuple[str, np.ndarray]] = []
    plain = drawing.legend

    def spy(colormap: str = "viridis", *args, **kwargs) -> np.ndarray:
        drawn.append((colormap, strip := plain(colormap, *args, **kwargs)))
        return strip

    monkeypatch.setattr(drawing, "legend", spy)  # the page imports it on each run
    at = app_test(PAGES / "saliency.py")
    pixels = inspect_image(lesion_png(4)).pixels
    at.session_state["sal_image"] = {"id": "fixture", "name": "fixture.png", "pixels": pixels}
    at = run(at)
    mean = np.full((1, 2, 3), pixels.reshape(-1, 3).mean(axis=0).round(), np.uint8)
    for colormap, alpha in zip(COLORMAPS, (0.45, 0.2, 1.0, 0.45, 0.0), strict=True):
        run(at.slider(key="sal_alpha").set_value(alpha))
        drawn.clear()
        run(at.selectbox(key="sal_colormap").set_value(colormap))
        assert [name for name, _ in drawn] == [colormap], colormap
        ends = drawing.overlay(mean, np.array([[0.0, 1.0]]), alpha, colormap)[0]
        strip = drawn[0][1]
        assert np.array_equal(strip[0, 0], ends[0]) and np.array_equal(strip[0, -1], ends[1])
        alts = [img.alt for image in at.image for img in image.proto.imgs]
        assert alts.count(legend_alt(colormap)) == 1, colormap
        captions = [c.value for c in at.caption]
        assert "← weaker" in captions and "stronger →" in captions
    drawn.clear()
    run(at.segmented_control(key="sal_compare").set_value("Two methods"))
    assert len(drawn) == 2  # each map has its own scale


def map_captions(at: AppTest) -> list[str]:
    """The captions of the explorer's maps (under each map and its colour scale)."""
    return [caption.value for caption in at.caption if " · why “" in caption.value]


def test_explorer_greys_out_the_layer_while_smoothgrad_needs_none(explorer) -> None:
    from skindx.reports.saliency_view import LAYERLESS

    at = explorer
    run(at.selectbox(key="sal_layer").set_value("block1_conv1"))
    assert not at.selectbox(key="sal_layer").disabled
    run(at.selectbox(key="sal_method").set_value("smoothgrad"))
    box = at.selectbox(key="sal_layer")
    assert box.disabled and LAYERLESS in texts(at)
    assert box.value == "block1_conv1"  # kept for when a layer method returns
    assert map_captions(at)[0].endswith(" · input pixels")  # what SmoothGrad explains from
    run(at.segmented_control(key="sal_compare").set_value("Two methods"))
    assert not at.selectbox(key="sal_layer").disabled  # the second method uses the layer
    assert LAYERLESS not in texts(at)
    run(at.segmented_control(key="sal_compare").set_value("Off"))
    run(at.selectbox(key="sal_method").set_value("gradcam"))
    box = at.selectbox(key="sal_layer")
    assert not box.disabled and box.value == "block1_conv1" and LAYERLESS not in texts(at)
    assert map_captions(at)[0].endswith(" · block 1 conv 1")  # drawn from the kept layer


def test_explorer_writes_probabilities_as_the_diagnose_page_does(explorer) -> None:
    at = explorer
    prediction = at.session_state["sal_image"]["prediction"]
    from skindx.reports.results import diagnosis_label

    shown = prediction.probabilities
    ranked = [code for code, _ in prediction.top_k(len(shown))]
    # "<1%", never "0%"; ">99%", never "100%", as the Diagnose page writes them
    expected = [f"{probability(shown[code])} · {diagnosis_label(code)}" for code in ranked]
    assert at.selectbox(key="sal_target").options == expected
    top = probability(shown[prediction.label])
    assert f"**{prediction.label_name}** ({top})." in texts(at)  # the sentence agrees


def test_explorer_rejects_a_bad_upload(model) -> None:
    at = run(app_test(PAGES / "saliency.py"))
    run(at.file_uploader(key="sal_upload").set_value(("x.png", b"nope", "image/png")))
    assert at.error and not at.metric


# ----------------------------------------------------------------------------- model card


def test_model_card_figures_come_from_the_card(model) -> None:
    card = json.loads((model / "card.json").read_text())
    at = run(app_test(PAGES / "model_card.py"))
    metrics = {m.label: m.value for m in at.metric}
    test = card["metrics"]["test"]
    assert metrics["Balanced accuracy"] == f"{100 * test['balanced_accuracy']:.1f}%"
    assert metrics["Calibration error (ECE)"] == f"{100 * test['ece']:.1f}%"
    assert len(at.get("plotly_chart")) >= 3  # confusion, ROC, reliability (+ history)
    (table,) = [d.value for d in at.dataframe if "sensitivity" in d.value.columns]
    assert list(table["sensitivity"]) == pytest.approx(
        [100 * test["per_class"][code]["sensitivity"] for code in test["classes"]]
    )  # shown in percent with one decimal
    # static tables (the first column heads each row); the wide one has every column
    (groups,) = [
        t.value for t in at.table if t.value.index.name == "group" and "accuracy" in t.value
    ]
    women = test["subgroups"]["sex"][0]
    assert groups.loc["Sex: Female", "images"] == women["n"] == 42
    assert groups.loc["Sex: Female", "accuracy"] == f"{100 * women['accuracy']:.1f}%"
    assert groups.loc["Sex: not recorded", "accuracy"] == "—"  # 21 images: too few to say
    assert groups.loc["Body site: not recorded", "images"] == 63
    run(at.segmented_control(key="card_split").set_value("validation"))
    validation = card["metrics"]["validation"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Balanced accuracy"] == f"{100 * validation['balanced_accuracy']:.1f}%"
    shown = texts(at)
    for limitation in card["limitations"]:
        assert limitation in shown


def test_model_card_says_what_is_not_measured(monkeypatch, tiny_model_dir) -> None:
    monkeypatch.setenv("SKINDX_MODEL", str(tiny_model_dir))
    at = run(app_test(PAGES / "model_card.py"))
    shown = texts(at)
    assert "Not measured: this card records no evaluation" in shown
    assert not at.get("plotly_chart")


def test_model_card_lists_ensemble_members(monkeypatch, tiny_model_dir, tmp_path) -> None:
    from skindx.model.bundle import load_model
    from skindx.model.card import ModelCard
    from skindx.training.ensemble import _member_summary

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    member = load_model(tiny_model_dir)
    card = ModelCard.load(directory)
    card.training = {"members": [_member_summary(member, "a"), _member_summary(member, "b")]}
    card.architecture = {
        "name": "ensemble",
        "input_size": card.input_size,
        "members": [member.card.architecture, member.card.architecture],
    }
    card.save(directory)
    monkeypatch.setenv("SKINDX_MODEL", str(directory))
    at = run(app_test(PAGES / "model_card.py"))
    assert {m.label: m.value for m in at.metric}["Ensemble members"] == "2"
    (members,) = [t.value for t in at.table if "training loop" in t.value]  # the wide table
    assert [m.split(".")[0] for m in members.index] == ["1", "2"]
    assert list(members["training loop"]) == ["keras", "keras"]  # recipes without an engine
    shown = texts(at)
    assert "ensemble of 2" in shown and "Member 2: **compact_vgg**" in shown


# ----------------------------------------------------------------------------- shared model


def test_model_loads_once_across_reruns_and_sessions(model, monkeypatch) -> None:
    import skindx.model.bundle
    from streamlit_app import resources

    calls = []
    real = skindx.model.bundle.load_model
    monkeypatch.setattr(skindx.model.bundle, "load_model", lambda *a: calls.append(a) or real(*a))
    resources.load_engine.clear()
    first = upload(run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png(5)))
    run(first)
    explorer = run(app_test(PAGES / "saliency.py"))
    run(explorer.file_uploader(key="sal_upload").set_value(("b.png", lesion_png(6), "image/png")))
    assert explorer.metric
    assert len(calls) == 1


def test_reruns_keep_the_compiled_graphs(model, monkeypatch) -> None:
    """Streamlit clears the Keras session after every script run; in the app that must not
    empty TensorFlow's kernel cache, or each run instantiates the model's graphs again."""
    from tensorflow.python.eager import context

    from streamlit_app import resources

    cleared = []
    real = context.Context.clear_kernel_cache
    monkeypatch.setattr(
        context.Context, "clear_kernel_cache", lambda self: cleared.append(1) or real(self)
    )
    resources.load_engine.clear()
    at = upload(run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png(5)))
    run(at)
    explorer = run(app_test(PAGES / "saliency.py"))
    run(explorer.file_uploader(key="sal_upload").set_value(("b.png", lesion_png(6), "image/png")))
    assert explorer.metric and not cleared


def test_a_dropped_model_is_collected_at_the_next_load() -> None:
    """The heap frozen at each model load is thawed at the next, so cycles of a model the
    cache dropped do not live as long as the process."""
    import weakref

    from streamlit_app import resources

    class Held:  # stands in for a loaded model: objects in reference cycles
        pass

    held = Held()
    held.cycle = held
    gone = weakref.ref(held)
    resources._freeze_long_lived()
    del held
    resources._freeze_long_lived()
    assert gone() is None


def test_concurrent_sessions_get_identical_answers(model) -> None:
    from streamlit_app import resources

    directory = resources.model_dir()
    engine = resources.load_engine(str(directory), resources._stamp(directory))
    images = [inspect_image(lesion_png(seed)).pixels for seed in range(4)]
    expected = [(engine.predict(p).probabilities, engine.explain(p).heatmap) for p in images]

    def work(i: int):
        pixels = images[i % len(images)]
        return i % len(images), engine.predict(pixels).probabilities, engine.explain(pixels).heatmap

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(24)))
    for i, probabilities, heatmap in results:
        assert dict(probabilities) == dict(expected[i][0])
        np.testing.assert_array_equal(heatmap, expected[i][1])


# ----------------------------------------------------------------------------- privacy


class _WriteWatch:
    """Records every open-for-writing, rename, removal and directory creation in the process
    (Python audit events), while active. Hooks cannot be removed, so one is installed."""

    active = False
    seen: list[tuple[str, str]] = []  # noqa: RUF012 - one shared recorder for the process
    installed = False
    _WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            sys.addaudithook(cls._hook)
            cls.installed = True

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & cls._WRITE_FLAGS
            )
            if writes and path is not None:
                cls.seen.append((event, str(path)))
        elif event in {
            "os.rename",
            "os.remove",
            "os.mkdir",
            "os.rmdir",
            "os.truncate",
            "shutil.copyfile",
            "shutil.move",
        }:
            cls.seen.append((event, str(args[0])))


def _listing(*roots: Path) -> set[tuple[str, int]]:
    found = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in {"__pycache__", ".pytest_cache"}]
            for name in filenames:
                path = Path(dirpath, name)
                found.add((str(path), path.stat().st_size))
    return found


def test_a_session_writes_no_files_and_logs_no_upload(model, monkeypatch, tmp_path, caplog):
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.chdir(tmp_path)  # a relative path written anywhere would land here
    secret = "patient-4711-left-shoulder.png"
    at = run(app_test())  # model loaded and pages imported before watching
    _WriteWatch.install()
    before = _listing(tmp_path)
    caplog.set_level(logging.DEBUG)
    _WriteWatch.seen.clear()
    _WriteWatch.active = True
    try:
        upload(at, (secret, lesion_png(7)), ("second.png", lesion_png(8)))
        run(at.button(key="dx_explore_0").click())
        run(at.segmented_control(key="sal_compare").set_value("Two classes"))
    finally:
        _WriteWatch.active = False
    written = [(e, p) for e, p in _WriteWatch.seen if "__pycache__" not in p]
    assert not written, written
    assert _listing(tmp_path) == before
    assert secret not in caplog.text


def test_the_write_watch_sees_writes(tmp_path) -> None:
    """The check above cannot pass by seeing nothing."""
    _WriteWatch.install()
    _WriteWatch.seen.clear()
    _WriteWatch.active = True
    try:
        (tmp_path / "a.txt").write_text("x")
        Image.new("RGB", (4, 4)).save(tmp_path / "b.png")
        os.rename(tmp_path / "a.txt", tmp_path / "c.txt")
    finally:
        _WriteWatch.active = False
    paths = [path for _, path in _WriteWatch.seen]
    assert str(tmp_path / "a.txt") in paths and str(tmp_path / "b.png") in paths
    assert ("os.rename", str(tmp_path / "a.txt")) in _WriteWatch.seen


def test_sessions_do_not_share_uploads(model) -> None:
    first = upload(run(app_test(PAGES / "diagnose.py")), ("mine.png", lesion_png(9)))
    assert chart_values(first)
    second = run(app_test(PAGES / "diagnose.py"))
    assert not chart_values(second) and "mine" not in texts(second)
    explorer = run(app_test(PAGES / "saliency.py"))
    assert not explorer.metric


# ----------------------------------------------------------------------------- config


def test_streamlit_config_is_hardened() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Settings().max_upload_mb
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True
    assert config["server"]["enableStaticServing"] is False
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"


def test_uploaders_use_the_skindx_cap(model, monkeypatch) -> None:
    monkeypatch.setenv("SKINDX_MAX_UPLOAD_MB", "3")
    at = run(app_test(PAGES / "diagnose.py"))
    assert at.file_uploader(key="dx_upload").proto.max_upload_size_mb == 3


def test_working_copy_decodes_big_photos_at_reduced_scale():
    """A phone-sized JPEG becomes one ≤768 px working copy, decoded at reduced scale."""
    from streamlit_app import ui

    photo = Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (3024, 4032, 3), dtype=np.uint8)
    )
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=80)
    loaded = ui.working_copy(buffer.getvalue())
    assert loaded.pixels.shape == (576, 768, 3)
    assert loaded.format == "JPEG"
    small = lesion_png()
    assert np.array_equal(ui.working_copy(small).pixels, inspect_image(small).pixels)


# ----------------------------------------------------------------------------- photo quality


@pytest.fixture
def quality_model(monkeypatch, evaluated_model_dir, tmp_path) -> Path:
    """The evaluated tiny model with photo-quality limits and their measured costs, and an
    out-of-domain threshold every photo passes: the tiny model, fitted on bright noise, finds
    dark photos out of domain, and those get no photo warnings (they qualify an answer)."""
    from test_quality import LIMITS

    directory = tmp_path / "quality_model"
    shutil.copytree(evaluated_model_dir, directory)
    card = json.loads((directory / "card.json").read_text())
    card["photo_quality"] = LIMITS
    card["ood"]["threshold"] = 1e9
    (directory / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("SKINDX_MODEL", str(directory))
    return directory


def dark_png() -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(lesion_png())).point(lambda v: v // 8).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_dark_photo_gets_a_photo_warning_and_a_table_note(quality_model) -> None:
    at = upload(run(app_test(PAGES / "diagnose.py")), ("lesion.png", lesion_png()))
    assert not any("99% of the images" in box.value for box in at.warning)
    at = upload(run(app_test(PAGES / "diagnose.py")), ("dark.png", dark_png()))
    (warning,) = [box.value for box in at.warning if "99% of the images" in box.value]
    assert "darker than" in warning and "50 in 100 instead of 70 in 100" in warning
    at = upload(
        run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png()), ("b.png", dark_png())
    )
    notes = list(batch_table(at).index)
    assert notes[1].endswith(f"*{ui.escape(PHOTO_NOTE)}*") and PHOTO_NOTE not in notes[0]


def test_an_out_of_domain_photo_gets_the_verdict_and_no_photo_warning(
    monkeypatch, out_of_domain_model_dir, tmp_path
) -> None:
    """A dark photo judged not to be a lesion close-up used to be told first that its "answer
    is less reliable" and that the skin may be darker than the training images: there is no
    answer, and the verdict comes first."""
    from test_quality import LIMITS

    directory = tmp_path / "ood_quality_model"
    shutil.copytree(out_of_domain_model_dir, directory)
    card = json.loads((directory / "card.json").read_text())
    card["photo_quality"] = LIMITS
    (directory / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("SKINDX_MODEL", str(directory))
    at = upload(run(app_test(PAGES / "diagnose.py")), ("dark.png", dark_png()))
    assert OUT_OF_DOMAIN in at.warning[0].value.lower()
    assert not any("less reliable" in box.value or "99%" in box.value for box in at.warning)
    at = upload(at, ("dark.png", dark_png()), ("dark2.png", dark_png()))
    assert ui.escape(PHOTO_NOTE) not in " ".join(batch_table(at).index)


def test_model_card_shows_the_photo_quality_limits(quality_model) -> None:
    at = run(app_test(PAGES / "model_card.py"))
    assert "its mean grey level is below 60 or above 220" in texts(at)
    (table,) = [d.value for d in at.dataframe if "validation images" in d.value.columns]
    assert list(table["validation images"]) == [
        "as they are",
        "made 30% darker",
        "made 40% brighter",
        "slightly blurred",
    ]
    assert list(table["balanced accuracy"]) == [70.0, 50.0, 60.0, 65.0]  # "%.1f%%" in percent


# ----------------------------------------------------------------------------- same spot


def test_photos_of_one_spot_can_be_combined(model, forward_passes) -> None:
    at = upload(
        run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png(1)), ("b.png", lesion_png(2))
    )
    assert "All photos together" not in texts(at)  # only when the person says so
    passes = len(forward_passes)
    run(at.toggle(key="dx_same_spot").set_value(True))
    (combined,) = [m.value for m in at.markdown if m.value.startswith("### All photos together")]
    assert "over the 2 photos it could assess" in texts(at)
    assert len(forward_passes) == passes  # the photos' outputs are reused
    assert combined.endswith("%")
    assert batch_files(at) == ["a\\.png", "b\\.png", "All photos together"]  # and in the CSV
    assert combined.split(": ")[1].startswith(batch_table(at)["Most likely"].iloc[-1].split(",")[0])
    assert at.download_button(key="dx_report_combined")


def test_a_single_photo_offers_no_combining(model) -> None:
    at = upload(run(app_test(PAGES / "diagnose.py")), ("a.png", lesion_png()))
    assert "dx_same_spot" not in [toggle.key for toggle in at.toggle]


def plain_png(colour: tuple[int, int, int]) -> bytes:
    """A flat picture: nothing like a lesion close-up (the tiny model's domain check agrees)."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_combining_needs_two_photos_the_model_could_assess(model) -> None:
    """The walk-through combined "over the 1 photos it could assess": one lesion photo, a
    picture the model does not assess and a corrupt file offered the toggle."""
    files = [("a.png", lesion_png(1)), ("sky.png", plain_png((0, 0, 255))), ("bad.png", b"x")]
    at = upload(run(app_test(PAGES / "diagnose.py")), *files)
    assert "dx_same_spot" not in [toggle.key for toggle in at.toggle]
    assert "it could assess 1 photo of these" in texts(at)
    upload(at, *files[1:])
    assert "it could assess none of these" in texts(at)  # not "0 photos"
    upload(at, *files, ("b.png", lesion_png(2)))
    run(at.toggle(key="dx_same_spot").set_value(True))
    assert "over the 2 photos it could assess" in texts(at)
    assert "can be combined once" not in texts(at)


def test_model_card_page_shows_what_combining_is_worth(model, tmp_path, monkeypatch) -> None:
    directory = tmp_path / "same_spot_model"
    shutil.copytree(model, directory)
    card = json.loads((directory / "card.json").read_text())
    card["metrics"]["validation"] = {
        "same_spot": {
            "n_lesions": 290,
            "n_images": 666,
            "one_image_balanced_accuracy": 0.608,
            "combined_balanced_accuracy": 0.685,
            "images_disagree": 0.29,
        }
    }
    (directory / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("SKINDX_MODEL", str(directory))
    at = run(app_test(PAGES / "model_card.py"))
    assert "On the 290 validation lesions with several images (666 images)" in texts(at)
    assert "60.8% from one image per lesion and 68.5% from the mean" in texts(at)


def example_folder(folder: Path, diagnoses: list[str], monkeypatch) -> None:
    """``SKINDX_EXAMPLES_DIR`` as HAM10000 lays it out: one lesion photo per diagnosis given,
    named by its ISIC id, with their metadata.csv."""
    rows = ["lesion_id,image_id,dx,dx_type"]
    for i, dx in enumerate(diagnoses):
        rows.append(f"HAM_{i},ISIC_{i:07d},{dx},histo")
        (folder / f"ISIC_{i:07d}.png").write_bytes(lesion_png(i))
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("SKINDX_EXAMPLES_DIR", str(folder))


def test_explorer_offers_examples_with_their_known_diagnosis(model, monkeypatch, tmp_path) -> None:
    example_folder(tmp_path, ["mel", "mel", "nv", "df"], monkeypatch)
    at = run(app_test(PAGES / "saliency.py"))
    picker = at.selectbox(key="sal_example")
    # One entry per image, grouped by diagnosis in the model's class order.
    assert [option.split(" · ")[:2] for option in picker.options] == [
        ["ISIC_0000003", "Dermatofibroma"],
        ["ISIC_0000000", "Melanoma"],
        ["ISIC_0000001", "Melanoma"],
        ["ISIC_0000002", "Melanocytic nevus"],
    ]
    assert not at.metric
    run(picker.set_value(picker.options[0]))  # as a person picks it: by its caption
    text = texts(at)
    assert "ISIC\\_0000003\\.png" in text and "Known diagnosis: **Dermatofibroma" in text
    assert "confirmed by histopathology" in text
    # The tiny model's card does not count these images, so the page cannot vouch for them.
    assert "does not show whether the model trained on this image" in text
    assert len(at.metric) == 1  # a map with its faithfulness figure
    (tmp_path / "ISIC_0000000.png").write_bytes(b"not an image")  # broken since it was listed
    run(at.selectbox(key="sal_example").set_value(picker.options[1]))
    assert "ISIC_0000000.png could not be read" in at.error[0].value
    assert "ISIC\\_0000003\\.png" in texts(at)  # the last image stays


def test_explorer_shows_the_most_similar_labelled_lesions(model, monkeypatch, tmp_path) -> None:
    example_folder(tmp_path, ["mel", "nv", "nv", "bkl", "df"], monkeypatch)
    at = run(app_test(PAGES / "saliency.py"))
    run(at.selectbox(key="sal_example").set_value(at.selectbox(key="sal_example").options[0]))
    assert [h.value for h in at.header] == ["Similar lesions"] and len(at.image) == 2
    run(at.toggle(key="sal_similar").set_value(True))
    # The picked image is in the gallery: it is left out, so the other four are its neighbours.
    text = texts(at)
    assert "Known diagnoses of the 4 most similar lesions: 2 × Melanocytic nevus" in text
    assert "On the 5 lesions of this server's gallery" in text
    assert len(at.image) == 2 + 4  # the map and its colour scale, then the neighbours


def test_similar_lesions_of_an_out_of_domain_image_are_flagged(
    monkeypatch, out_of_domain_model_dir, tmp_path
) -> None:
    monkeypatch.setenv("SKINDX_MODEL", str(out_of_domain_model_dir))
    for i, dx in enumerate(["mel", "nv", "nv"]):
        (tmp_path / dx).mkdir(exist_ok=True)
        (tmp_path / dx / f"ISIC_{i}.png").write_bytes(lesion_png(i))
    monkeypatch.setenv("SKINDX_EXAMPLES_DIR", str(tmp_path))
    at = app_test(PAGES / "saliency.py")
    at.session_state["sal_image"] = {
        "id": "x",
        "name": "x.png",
        "pixels": inspect_image(lesion_png(9)).pixels,
    }
    run(run(at).toggle(key="sal_similar").set_value(True))
    assert "Known diagnoses of the 3 most similar lesions" in texts(at)
    assert "only the least unlike it" in texts(at)


def test_explorer_without_examples_folder_has_no_picker(model, monkeypatch) -> None:
    monkeypatch.delenv("SKINDX_EXAMPLES_DIR", raising=False)
    at = run(app_test(PAGES / "saliency.py"))
    assert not [box for box in at.selectbox if box.key == "sal_example"]
    at.session_state["sal_image"] = {
        "id": "x",
        "name": "x.png",
        "pixels": inspect_image(lesion_png()).pixels,
    }
    assert not run(at).header  # no similar lesions without labelled images to compare with
