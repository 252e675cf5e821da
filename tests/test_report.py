"""skindx.reports.results, .figures and .png: the batch table and its CSV, the plotly figures
and the PNG report."""

from __future__ import annotations

import dataclasses
import datetime
import io
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from contrast import contrast
from PIL import Image

from skindx.diagnosis.predict import Prediction
from skindx.reports.figures import (
    confusion_figure,
    context_figure,
    history_figure,
    per_class_table,
    reliability_figure,
    roc_figure,
)
from skindx.reports.png import combined_report_png, report_png, report_rows, report_subtitle
from skindx.reports.results import (
    CONTEXT_NOTE,
    NOT_ANALYSED,
    OUT_OF_DOMAIN_NOTE,
    SHORT_ADVICE,
    SIGNS_NOTE,
    TABLE_COLUMNS,
    results_csv,
    results_table,
    short_advice,
)
from skindx.taxonomy import CODES

PROBABILITIES = dict(zip(CODES, (0.05, 0.1, 0.05, 0.02, 0.5, 0.25, 0.03), strict=True))


def prediction(
    in_domain: bool = True, concern: str = "see_doctor", context_used: bool = False
) -> Prediction:
    return Prediction(
        probabilities=MappingProxyType(PROBABILITIES),
        malignant_probability=0.65,
        concern=concern if in_domain else "not_assessed",
        in_domain=in_domain,
        domain_score=1.0,
        context_used=context_used,
    )


@pytest.fixture(scope="module")
def metrics() -> dict:
    from skindx.evaluation.evaluate import metrics_from_probabilities

    rng = np.random.default_rng(0)
    labels = np.arange(140) % 7
    logits = rng.normal(size=(140, 7)) + 2.0 * np.eye(7)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return metrics_from_probabilities(
        labels, probabilities, {"see_doctor": 0.3, "see_doctor_soon": 0.6}
    )


def test_results_table_rows() -> None:
    table = results_table(
        [
            ("a.jpg", prediction()),
            ("b.jpg", prediction(in_domain=False)),
            ("c.jpg", "This file is not an image we can read."),
            ("d.jpg", prediction(context_used=True)),
        ]
    )
    assert list(table.columns) == list(TABLE_COLUMNS)
    first, second, third, fourth = table.to_dict("records")
    assert first["note"] == "" and fourth["note"] == CONTEXT_NOTE
    assert first["top_diagnosis"] == "Melanoma"
    assert first["probability"] == 0.5 and first["malignant_probability"] == 0.65
    assert first["advice"] == "Show it to a doctor in the next few weeks"
    assert pd.isna(second["top_diagnosis"])
    assert second["advice"] == "Not assessed: see a doctor if it worries you"
    assert third["advice"] == NOT_ANALYSED
    assert third["note"].startswith("This file")


def test_results_table_with_warning_signs() -> None:
    from skindx.diagnosis.signs import with_signs

    table = results_table(
        [
            ("a.jpg", with_signs(prediction(concern="low"), ["size", "colour"])),
            ("b.jpg", with_signs(prediction(in_domain=False, context_used=True), ["oozing"])),
        ]
    )
    first, second = table.to_dict("records")
    assert first["advice"] == "See a doctor soon, within two weeks"
    assert first["note"] == SIGNS_NOTE
    assert pd.isna(second["top_diagnosis"])
    assert second["advice"] == "Show it to a doctor in the next few weeks"
    # no diagnosis took the age, sex and site into account; the signs set the advice
    assert second["note"] == ". ".join((OUT_OF_DOMAIN_NOTE, SIGNS_NOTE))


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("=cmd|' /C calc'!A0.png", "'=cmd|' /C calc'!A0.png"),
        ("+1.png", "'+1.png"),
        ("-1.png", "'-1.png"),
        ("@SUM(A1).png", "'@SUM(A1).png"),
        ("mole, left arm.png", "mole, left arm.png"),
    ],
)
def test_results_csv_defuses_formulas(name, written) -> None:
    csv = results_csv(results_table([(name, prediction())]))
    assert pd.read_csv(io.BytesIO(csv))["file"][0] == written


def test_evaluation_figures_come_from_the_metrics(metrics) -> None:
    confusion = confusion_figure(metrics)
    assert np.allclose(np.asarray(confusion.data[0].z).sum(axis=1), 1.0)
    roc = roc_figure(metrics)
    names = [trace.name for trace in roc.data]
    auc = metrics["per_class"]["mel"]["auc"]
    assert f"Melanoma (AUC {auc:.3f})" in names and "chance" in names
    reliability = reliability_figure(metrics)
    used = [b for b in metrics["reliability"] if b["count"]]
    assert list(reliability.data[0].y) == [b["accuracy"] for b in used]
    table = per_class_table(metrics)
    assert list(table["sensitivity"]) == [metrics["per_class"][c]["sensitivity"] for c in CODES]
    assert table.set_index("diagnosis").loc["Melanoma", "malignant"]


@pytest.mark.parametrize(
    "builder",
    [confusion_figure, roc_figure, reliability_figure],
)
def test_missing_figures_are_none(builder) -> None:
    assert builder({}) is None


def test_context_figure_shows_each_diagnosis_as_a_distribution() -> None:
    from skindx.diagnosis.context import fit_tables

    rows = [("a", "A", "mel", 80.0, "male", "torso"), ("b", "B", "nv", 20.0, "female", None)]
    frame = pd.DataFrame(rows, columns=["image_id", "lesion_id", "diagnosis", "age", "sex", "site"])
    context = {"tables": fit_tables(frame)}
    for variable, n_rows in (("age", 6), ("sex", 2), ("site", 6)):
        (heatmap,) = context_figure(context, variable).data
        shares = np.asarray(heatmap.z)
        assert shares.shape == (n_rows, len(CODES)) and len(heatmap.y) == n_rows
        assert np.allclose(shares.sum(axis=0), 1.0, atol=1e-3)
    assert context_figure({}, "age") is None


def test_history_figure() -> None:
    assert history_figure(None) is None
    figure = history_figure({"loss": [2.0, 1.5, 1.2], "val_loss": [2.1, 1.8, 1.7]})
    assert [trace.name for trace in figure.data] == ["loss", "val_loss"]
    assert list(figure.data[0].x) == [1, 2, 3]


@pytest.mark.parametrize(
    ("in_domain", "with_overlay"), [(True, True), (True, False), (False, False)]
)
def test_report_png(in_domain, with_overlay, lesion_image) -> None:
    overlay = np.zeros_like(lesion_image) if with_overlay else None
    data = report_png(
        lesion_image,
        prediction(in_domain),
        overlay,
        file_name="a very long file name " * 10,
        model_name="skindx-test v1",
    )
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.width == 1200
    assert 900 < image.height < 2400
    pixels = np.asarray(image.convert("RGB"))
    assert (pixels != 255).any(axis=2).mean() > 0.05  # something was drawn


def test_report_png_says_context_was_used_without_drawing_it(lesion_image) -> None:
    day = datetime.date(2026, 11, 27)
    plain = report_png(lesion_image, prediction(), date=day)
    with_context = report_png(lesion_image, prediction(context_used=True), date=day)
    assert with_context != plain  # the heading says so; the values are never passed in


def test_report_png_carries_the_photo_warnings(lesion_image) -> None:
    day = datetime.date(2026, 11, 27)
    plain = Image.open(io.BytesIO(report_png(lesion_image, prediction(), date=day)))
    warned = prediction()
    warned = dataclasses.replace(warned, notes=("This photo is darker than 99% " * 8,))
    drawn = Image.open(io.BytesIO(report_png(lesion_image, warned, date=day)))
    assert drawn.height == plain.height + 10 + 30 * 4  # three wrapped lines and a gap


def test_report_png_is_deterministic(lesion_image) -> None:
    day = datetime.date(2026, 11, 27)
    first = report_png(lesion_image, prediction(), lesion_image, date=day)
    assert report_png(lesion_image, prediction(), lesion_image, date=day) == first


def test_combined_report_shows_every_photo(lesion_image) -> None:
    """One page for several photos of one spot: each photo drawn, under the same result."""
    day = datetime.date(2026, 11, 27)
    colours = [(200, 30, 30), (30, 160, 40), (40, 60, 210)]
    photos = [(f"view {i}.jpg", np.full((60, 80, 3), c, np.uint8)) for i, c in enumerate(colours)]
    data = combined_report_png(photos, prediction(), model_name="skindx-test v1", date=day)
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert image.shape[1] == 1200
    for colour in colours:  # each photo appears, as a sizeable block
        assert (image == colour).all(axis=2).sum() > 10_000
    single = Image.open(io.BytesIO(report_png(lesion_image, prediction(), date=day)))
    assert image.shape[0] < single.height  # three smaller panels in one row
    five = combined_report_png(photos + photos[:2], prediction(), date=day)
    assert Image.open(io.BytesIO(five)).height > image.shape[0]  # a second row


def test_report_is_dated() -> None:
    day = datetime.date(2026, 3, 5)
    assert report_subtitle("mole.jpg", "skindx-x 1.0", day) == (
        "5 March 2026 · mole.jpg · skindx-x 1.0"
    )
    assert report_subtitle("", "", day) == "5 March 2026"
    image = np.full((40, 40, 3), 128, np.uint8)
    drawn = {report_png(image, prediction(), date=d) for d in (day, day.replace(day=6))}
    assert len(drawn) == 2  # the date is drawn


def test_counted_says_one_photo_and_two_photos() -> None:
    from skindx.reports.numbers import counted

    assert [counted(n, "photo") for n in (0, 1, 2)] == ["0 photos", "1 photo", "2 photos"]
    assert counted(2, "child", "children") == "2 children"


@pytest.mark.parametrize("concern", ["low", "see_doctor", "see_doctor_soon", "not_assessed"])
def test_short_advice_says_what_the_full_message_says(concern) -> None:
    """The batch table said "Low", a triage level's name, where the result said "Keep an eye
    on it": each short advice is the full message's own words, shortened."""
    from skindx.diagnosis.predict import CONCERN_MESSAGES

    short = short_advice(prediction(concern=concern, in_domain=concern != "not_assessed"))
    assert short == SHORT_ADVICE[concern] and len(short) <= 50
    words = {word.strip(".,;:").lower() for word in CONCERN_MESSAGES[concern].split()}
    shortened = {word.strip(".,;:").lower() for word in short.split()} - {"it", "not", "assessed"}
    assert shortened <= words | {"it"}, shortened - words


@pytest.mark.parametrize(
    ("value", "written"),
    [(0.0, "0%"), (0.004, "<1%"), (0.006, "1%"), (0.694, "69%"), (0.996, ">99%"), (1.0, "100%")],
)
def test_probability_is_a_whole_percent_never_a_false_zero_or_hundred(value, written) -> None:
    from skindx.reports.numbers import probability

    assert probability(value) == written


def test_report_writes_probabilities_as_the_page_does() -> None:
    """The walk-through's report said "All cancer types together 0.6%" where the page said
    "Cancer types together: 1%"."""
    from skindx.reports.numbers import probability

    tiny = dataclasses.replace(prediction(), malignant_probability=0.006)
    rows = {label: written for label, _, written, _ in report_rows(tiny)}
    assert rows["All cancer types together"] == "1%"
    assert rows["All non-cancer types together"] == "99%"
    assert rows["Melanoma"] == probability(PROBABILITIES["mel"]) == "50%"


def text_colours(figure) -> list[str | None]:
    """Every colour a figure sets for the text drawn on the page's white: its font, legend,
    axes' tick labels and titles, and bar values (heat map cells contrast with their own)."""
    layout = figure.layout
    axes = [layout[name] for name in layout if name.startswith(("xaxis", "yaxis"))]
    colours = [layout.font.color, layout.legend.font.color]
    colours += [c for axis in axes for c in (axis.tickfont.color, axis.title.font.color)]
    colours += [trace.textfont.color for trace in figure.data if trace.type == "bar"]
    return colours


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_chart_text_meets_wcag_aa_contrast(theme: str, metrics) -> None:
    """The walk-through measured the probability chart's labels at 3.7:1 (Streamlit's theme
    grey, rgb(128,132,149)): every colour is set, and at least 4.5:1 on white (on the dark
    theme's background as the app draws them there)."""

    from skindx.datasets.themes import DARK_BACKGROUND, in_dark

    assert contrast("#808495", "white") < 4.5  # the theme's grey fails, as measured
    background = "white" if theme == "light" else DARK_BACKGROUND
    built = {
        "confusion": confusion_figure(metrics),
        "roc": roc_figure(metrics),
        "reliability": reliability_figure(metrics),
        "history": history_figure({"loss": [2.0, 1.5]}),
    }
    for name, figure in built.items():
        colours = text_colours(in_dark(figure) if theme == "dark" else figure)
        assert None not in colours, name  # unset: Streamlit's theme would choose
        assert min(contrast(c, background) for c in colours) >= 4.5, name


@pytest.mark.parametrize("colormap", ["viridis", "jet"])
def test_overlay_png_carries_its_colour_scale(colormap: str) -> None:
    """The explorer's downloaded map: the overlay as it is, then its colour scale (the
    overlay's own, as on the page) with its words; a small map enlarged so they stay legible."""
    from PIL import Image

    from skindx.explain.overlay import legend
    from skindx.reports.png import overlay_png

    overlay = np.random.default_rng(0).integers(0, 256, (450, 600, 3), dtype=np.uint8)
    saved = np.asarray(Image.open(io.BytesIO(overlay_png(overlay, colormap))).convert("RGB"))
    assert saved.shape[1] == 600 and saved.shape[0] > 450 + 12 + 18
    assert np.array_equal(saved[:450], overlay)
    strip_top = 450 + 6  # the gap a 600 px map gets
    assert np.array_equal(saved[strip_top : strip_top + 12], legend(colormap, 600, 12))
    words = (saved[strip_top + 12 :] < 128).any(axis=2)
    columns = np.flatnonzero(words.any(axis=0))
    # three words: at the left end, in the middle and at the right end
    assert columns.min() < 20 and columns.max() > 580 and words[:, 290:310].any()
    small = overlay_png(overlay[:224, :224], colormap)  # a test-set image's size
    assert Image.open(io.BytesIO(small)).width == 480
    # At the page's opacity, over the photo: the scale the page showed under the map.
    photo = np.full((450, 600, 3), 120, np.uint8)
    faint = overlay_png(overlay, colormap, alpha=0.3, photo=photo)
    saved = np.asarray(Image.open(io.BytesIO(faint)).convert("RGB"))
    scale = legend(colormap, 600, 12, alpha=0.3, photo=photo)
    assert np.array_equal(saved[strip_top : strip_top + 12], scale)


def test_overlay_png_says_what_the_map_shows_under_its_scale() -> None:
    """A saved map leaves the page's caption behind unless the PNG carries it: the image's
    name, the method, the class and the layer are written under the colour scale, wrapped to
    the map's width."""
    from PIL import Image

    from skindx.reports.png import overlay_png

    overlay = np.random.default_rng(0).integers(0, 256, (450, 600, 3), dtype=np.uint8)
    bare = Image.open(io.BytesIO(overlay_png(overlay, "viridis")))
    caption = "mole.jpg · Grad-CAM · why “Melanoma” · block 5 conv 3 " * 3  # three lines' worth
    titled = np.asarray(Image.open(io.BytesIO(overlay_png(overlay, "viridis", caption=caption))))
    assert titled.shape[1] == 600 and titled.shape[0] > bare.height + 2 * 18
    assert np.array_equal(titled[: bare.height - 6], np.asarray(bare.convert("RGB"))[:-6])
    written = (titled[bare.height :] < 160).any(axis=2)
    rows = np.flatnonzero(written.any(axis=1))
    assert rows.size and np.flatnonzero(written.any(axis=0)).max() < 600 - 6  # within the map


def test_the_combined_report_lists_the_warning_signs_as_the_single_one_does(lesion_image) -> None:
    """The combined report left out the warning signs the person ticked; both reports now list
    them, in the words the person ticked, whether or not they changed the advice."""
    from skindx.diagnosis.signs import with_signs
    from skindx.reports.png import SIGNS_HEADING, report_signs

    day = datetime.date(2026, 11, 27)
    ticked = with_signs(prediction(concern="see_doctor"), ["oozing", "sore"])  # advice stands
    assert ticked.advice is None
    assert report_signs(ticked) == [
        "- It oozes, crusts or bleeds",
        "- It is a sore, scab or scaly patch that has not healed within four weeks",
    ]
    assert report_signs(prediction()) == [] and SIGNS_HEADING
    photos = [("a.jpg", lesion_image), ("b.jpg", lesion_image)]
    extra = 40 + 30 * 2 + 20  # the heading, two lines and a gap
    for draw in (
        lambda p: report_png(lesion_image, p, date=day),
        lambda p: combined_report_png(photos, p, date=day),
    ):
        plain, drawn = (Image.open(io.BytesIO(draw(p))) for p in (prediction(), ticked))
        assert drawn.height == plain.height + extra


def test_answer_is_the_tables_wording() -> None:
    from skindx.reports.results import answer

    assert answer("Melanocytic nevus", 0.9712) == "Melanocytic nevus, 97%"
    assert answer("Melanoma", 0.004) == "Melanoma, <1%"


def test_results_csv_writes_probabilities_as_the_page_does() -> None:
    """The CSV said 0.5 and 0.0042 where the page and the PNG report said 50% and <1%."""
    tiny = dataclasses.replace(prediction(), malignant_probability=0.0042)
    csv = pd.read_csv(io.BytesIO(results_csv(results_table([("a.jpg", tiny), ("b.jpg", "no")]))))
    assert list(csv["probability"].fillna("")) == ["50%", ""]
    assert list(csv["malignant_probability"].fillna("")) == ["<1%", ""]
    rows = {label: written for label, _, written, _ in report_rows(tiny)}
    assert rows["All cancer types together"] == "<1%"  # as in the PNG
