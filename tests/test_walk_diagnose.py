"""The Diagnose and About pages as the public meets them: what a walk with real phone photos
turned up (a black-and-white photo diagnosed as harmless, the model's limits told nowhere a
person checking a spot would read them)."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_app_pages import (
    PAGES,
    app_test,
    batch_table,
    chart_values,
    evaluated_model_dir,  # noqa: F401 (a fixture)
    lesion_png,
    model,  # noqa: F401 (a fixture)
    run,
    texts,
    upload,
)

from skindx.diagnosis.predict import with_photo_warnings
from skindx.images import quality
from skindx.images.loading import inspect_image
from skindx.reports import png, results
from streamlit_app import ui

pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")


def black_and_white(data: bytes, image_format: str = "PNG") -> bytes:
    """The photo as a phone's black-and-white filter saves it."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("L").save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.fixture
def passing_model(monkeypatch, tiny_model_dir, tmp_path) -> Path:
    """The tiny model with an out-of-domain check that passes every photo, as the shipped
    model's passed 41% of black-and-white test images."""
    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    card = json.loads((directory / "card.json").read_text())
    card["ood"]["threshold"] = 1e9
    (directory / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("SKINDX_MODEL", str(directory))
    return directory


# ----------------------------------------------------------------------------- colour


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_a_black_and_white_photo_has_no_colour(image_format) -> None:
    colour = inspect_image(lesion_png(3)).pixels
    grey = inspect_image(black_and_white(lesion_png(3), image_format)).pixels
    assert quality.in_colour(colour) and not quality.in_colour(grey)
    assert quality.colour_spread(grey) < 1.0
    assert quality.refusal(colour) is None and quality.refusal(grey) == quality.NO_COLOUR


@pytest.mark.parametrize(("shape", "refused"), [((63, 400), True), ((64, 64), False)])
def test_a_thumbnail_is_too_small_to_read(shape, refused) -> None:
    """On validation images shrunk to 24 px the shipped model's out-of-domain check passed
    nearly all, and a quarter of the malignant ones got its mildest advice
    (docs/training_logs/photo_refusal_check.log)."""
    pixels = np.kron(inspect_image(lesion_png(3)).pixels, np.ones((2, 2, 1), np.uint8))
    small = np.ascontiguousarray(pixels[: shape[0], : shape[1]])
    assert quality.refusal(small) == (quality.TOO_SMALL if refused else None)


def test_the_least_colourful_isic_images_are_in_colour(shared_data) -> None:
    """ISIC_0025456 is the least colourful of HAM10000's and the ISIC 2018 test set's images."""
    for name in ("ISIC_0025456", "ISIC_0033249"):
        path = shared_data / "ham10000" / "images" / f"{name}.jpg"
        assert quality.in_colour(inspect_image(path.read_bytes()).pixels), name


@pytest.mark.parametrize(
    ("refusal", "note"),
    [(quality.NO_COLOUR, results.NO_COLOUR_NOTE), (quality.TOO_SMALL, results.TOO_SMALL_NOTE)],
)
def test_a_refused_photo_is_not_assessed(predictor, refusal, note) -> None:
    prediction = replace(predictor.predict(inspect_image(lesion_png()).pixels), in_domain=True)
    warned = ("This photo is darker than …",)
    refused = with_photo_warnings(prediction, warned, refusal)
    assert not refused.in_domain and refused.concern == "not_assessed"
    assert refused.notes == (refusal,)  # why, not a warning on an answer not given
    (row,) = results.results_table([("photo.jpg", refused)]).to_dict("records")
    assert row["top_diagnosis"] is None and row["note"] == note
    assert row["advice"] == results.SHORT_ADVICE["not_assessed"]
    assert with_photo_warnings(prediction, warned).notes == warned  # no refusal: as before
    # with no diagnosis given, the note does not say age, sex and site were taken into account
    (row,) = results.results_table([("photo.jpg", replace(refused, context_used=True))]).to_dict(
        "records"
    )
    assert row["note"] == note
    report = png.report_png(np.full((60, 80, 3), 128, np.uint8), refused, None, file_name="x")
    assert Image.open(io.BytesIO(report)).format == "PNG"


def test_the_page_gives_a_black_and_white_photo_no_diagnosis(passing_model) -> None:
    """The shipped model called a melanoma photo 'Benign keratosis-like lesion, 70%: keep an
    eye on it' once it was black and white."""
    photos = ("colour.png", lesion_png(1)), ("bw.jpg", black_and_white(lesion_png(1), "JPEG"))
    at = upload(run(app_test(PAGES / "diagnose.py")), *photos)
    table = batch_table(at)
    assert table["Most likely"].iloc[0] != "—" and table["Most likely"].iloc[1] == "—"
    assert table.index[1].endswith(f"*{ui.escape(results.NO_COLOUR_NOTE)}*")
    assert [w.value for w in at.warning if "black and white" in w.value] == [
        f"{quality.NO_COLOUR} If a spot on your skin worries you, see a doctor."
    ]
    assert not [w for w in at.warning if "does not look like" in w.value]  # the reason is known
    assert "it could assess 1 photo of these" in texts(at)  # nothing to combine it with
    # nor its scores, which the reason says are often wrong (the colour photo's chart only)
    assert len(chart_values(at)) == 1
    assert "The model's scores anyway (not a diagnosis)" not in [e.label for e in at.expander]


def test_the_page_gives_a_thumbnail_no_diagnosis(passing_model) -> None:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(lesion_png(1))).resize((40, 30)).save(buffer, format="PNG")
    at = upload(run(app_test(PAGES / "diagnose.py")), ("thumb.png", buffer.getvalue()))
    assert not [m for m in at.markdown if m.value.startswith("## Most likely")]
    assert [w.value for w in at.warning if "too small" in w.value] == [
        f"{quality.TOO_SMALL} If a spot on your skin worries you, see a doctor."
    ]


# ----------------------------------------------------------------------------- limits


def test_the_public_pages_say_what_the_model_cannot_do(model) -> None:  # noqa: F811
    """Phone photos, darker skin, the seven diagnoses and the rare ones were told only on the
    model card and in a lesson, nowhere a person checking a spot reads."""
    assert any("phone photo" in limit for limit in results.LIMITS)
    assert any("brown or black skin" in limit for limit in results.LIMITS)
    assert any("only seven" in limit for limit in results.LIMITS)
    assert any("dermatofibroma" in limit for limit in results.LIMITS)

    at = run(app_test(PAGES / "diagnose.py"))
    (limits,) = [e for e in at.expander if e.label == "What this check cannot do"]
    assert [m.value for m in limits.markdown] == [results.LIMITS_MARKDOWN]
    at = upload(at, ("spot.png", lesion_png(1)))
    assert "less reliable on ordinary phone photos and on darker skin" in texts(at)

    assert results.LIMITS_SHORT in " ".join(png.report_footer())  # what a report carries

    about = run(app_test(PAGES / "about.py"))
    assert "What the model cannot do" in [h.value for h in about.header]
    assert results.LIMITS_MARKDOWN in [m.value for m in about.markdown]


def test_the_tips_say_what_to_do_with_a_photo_over_the_cap(model, monkeypatch) -> None:  # noqa: F811
    """A 13 MB phone photo met only Streamlit's 'File must be 10.0MB or smaller'."""
    monkeypatch.setenv("SKINDX_MAX_UPLOAD_MB", "7")
    at = run(app_test(PAGES / "diagnose.py"))
    (tips,) = [e for e in at.expander if e.label == "How to take a good photo"]
    (text,) = [m.value for m in tips.markdown]
    assert "**Up to 7 MB**" in text and "smaller size" in text and "{" not in text


def test_the_mildest_advice_is_no_all_clear() -> None:
    """It said 'most likely harmless', though no answer of the model's can rule cancer out."""
    from skindx.diagnosis.predict import CONCERN_MESSAGES

    low = CONCERN_MESSAGES["low"]
    assert "harmless" not in low and "cannot rule cancer out" in low
    assert "see a doctor if it changes" in low
