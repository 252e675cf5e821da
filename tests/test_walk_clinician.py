"""What a dermatologist walking the Saliency explorer and the Model card met: the method box
named five methods and explained none, the faithfulness help described colours the figure does
not use, overlays of one image from different layers downloaded under one name; the card page
left out the limitations its own figures show, put how often the triage advice is right after
the age/sex/site charts, and never said how many real dermoscopy images the out-of-domain check
turns away."""

from __future__ import annotations

import re

import pytest
from test_app_pages import (  # noqa: F401 (fixtures)
    PAGES,
    app_test,
    evaluated_model_dir,
    example_folder,
    explorer,
    lesion_png,
    model,
    run,
    texts,
)

from skindx.config import DEFAULT_MODEL_DIR
from skindx.explain.explainer import METHODS
from skindx.explain.faithfulness import Faithfulness
from skindx.images.loading import inspect_image
from skindx.model.card import ModelCard
from skindx.reports import card_view, saliency_view
from skindx.reports.model_card import render_markdown
from skindx.reports.results import diagnosis_label

pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")

# ----------------------------------------------------------------------------- the explorer


def test_the_method_box_says_what_each_method_does(explorer) -> None:  # noqa: F811
    help_text = explorer.selectbox(key="sal_method").help
    for name in METHODS.values():
        assert f"**{name}**:" in help_text, name


def test_a_new_image_shows_the_class_its_map_explains(explorer) -> None:  # noqa: F811
    """The box kept showing the last image's choice ("43% · Melanoma") while the map explained
    the new image's top class: the value must reach the browser, not only the server."""
    at = explorer
    chosen = next(code for code in _codes(at) if code != at.selectbox(key="sal_target").value)
    run(at.selectbox(key="sal_target").set_value(chosen))
    assert not at.selectbox(key="sal_target").proto.set_value  # the person's choice: no echo
    pixels = inspect_image(lesion_png(11)).pixels
    at.session_state["sal_image"] = {"id": "another", "name": "another.png", "pixels": pixels}
    run(at)
    box, top = at.selectbox(key="sal_target"), _codes(at)[0]
    assert box.value == top and box.proto.set_value  # sent to the browser with its value
    assert box.proto.raw_value == box.proto.options[0]
    caption = next(c.value for c in at.caption if " · why “" in c.value)
    assert f"why “{diagnosis_label(top)}”" in caption


def _codes(at) -> list[str]:
    """The class box's codes, most probable first (the options are their labels)."""
    prediction = at.session_state["sal_image"]["prediction"]
    return [code for code, _ in prediction.top_k(len(prediction.probabilities))]


@pytest.mark.parametrize(("salient", "random"), [(0.4, 0.1), (0.05, 0.3)])
def test_the_faithfulness_help_names_the_colour_the_figure_shows(salient, random) -> None:
    """The help promised a green or red arrow; the figure has no arrow and is green or orange."""
    colour = saliency_view.faithfulness_words(Faithfulness(salient, random, 0.2), "mel").colour
    assert colour in saliency_view.FAITHFULNESS_HELP
    assert not re.search(r"\b(arrow|red)\b", saliency_view.FAITHFULNESS_HELP)


def test_the_downloaded_overlay_is_named_after_its_layer(explorer, monkeypatch) -> None:  # noqa: F811
    names, named = [], saliency_view.overlay_file_name

    def recorded(*args):
        names.append(named(*args))
        return names[-1]

    monkeypatch.setattr(saliency_view, "overlay_file_name", recorded)
    run(explorer.selectbox(key="sal_layer").set_value("block1_conv1"))
    assert names[-1].endswith("-block1_conv1.png")
    run(explorer.selectbox(key="sal_method").set_value("smoothgrad"))  # no layer: none named
    assert names[-1] == f"saliency-smoothgrad-{explorer.selectbox(key='sal_target').value}.png"


# ----------------------------------------------------------------------------- the model card


@pytest.fixture
def shipped_card_page(monkeypatch):
    """The Model card page on the shipped card (the page reads card.json only)."""
    monkeypatch.setenv("SKINDX_MODEL", str(DEFAULT_MODEL_DIR))
    return run(app_test(PAGES / "model_card.py"))


def test_the_page_lists_the_limitations_the_markdown_card_lists(shipped_card_page) -> None:
    at = shipped_card_page
    card = ModelCard.load(DEFAULT_MODEL_DIR)
    listed = [m.value for m in at.markdown if m.value.startswith("- Trained on dermoscopic")]
    assert len(listed) == 1
    page_items = listed[0].split("\n")
    markdown = render_markdown(card)
    cannot = markdown[markdown.index("## What it cannot do") :].split("\n## ")[0]
    assert len(page_items) == cannot.count("\n- ") - 1  # all but the markdown's out-of-scope line
    assert any(
        item.startswith("- Balanced accuracy is 69.8% on the validation split")
        for item in page_items
    )
    assert any(item.startswith("- Lowest sensitivity, test set: Benign") for item in page_items)


def test_triage_results_sit_under_the_cut_offs_they_measure(shipped_card_page) -> None:
    at = shipped_card_page
    shown = [m.value for m in at.markdown]
    cut_offs = next(k for k, text in enumerate(shown) if text.startswith("The app adds up"))
    result = shown[cut_offs + 1]
    assert result.startswith("On this evaluation data, at its “see a doctor” threshold of 26.3%")
    assert "melanomas flagged **93.6%** (95% interval 89.5–97.1%)" in result
    # with age, sex and site given, the threshold the figures were measured at is the context's
    run(at.segmented_control(key="card_split").set_value("test_with_context"))
    assert "threshold of 18.9%:" in texts(at)


def test_the_out_of_domain_section_says_how_many_test_images_it_flags(shipped_card_page) -> None:
    assert "it flagged **6.1%**; the evaluation figures above count those images too." in texts(
        shipped_card_page
    )
    assert card_view.flagged_sentence({}) is None


def test_headline_figures_say_what_they_measure(shipped_card_page) -> None:
    helps = {metric.label: metric.help for metric in shipped_card_page.metric}
    assert "top class is melanoma" in helps["Melanoma sensitivity"]
    assert "rare diagnosis" in helps["Balanced accuracy"]
    assert "0.5 is guessing" in helps["Cancer vs not: AUC"]
    assert helps["Calibration error (ECE)"].startswith("Expected calibration error")


def test_similar_lesions_read_most_similar_first_when_stacked(model, monkeypatch, tmp_path) -> None:  # noqa: F811
    """On a phone the columns stack: one set of three columns read 1st, 4th, 2nd, 5th, 3rd."""
    example_folder(tmp_path, ["mel", "nv", "nv", "bkl", "df", "vasc", "bcc"], monkeypatch)
    at = run(app_test(PAGES / "saliency.py"))
    run(at.selectbox(key="sal_example").set_value(at.selectbox(key="sal_example").options[0]))
    run(at.toggle(key="sal_similar").set_value(True))
    captions = [image.proto.imgs[0].caption for image in at.image]
    similarities = [float(c.rsplit("similarity ", 1)[1]) for c in captions if "similarity" in c]
    assert len(similarities) == 6 and similarities == sorted(similarities, reverse=True)


def test_the_saliency_check_says_what_its_shares_mean_for_reading_a_map() -> None:
    """33% inside the lesion against 23.8% for a flat map: above chance, but two thirds of a
    map's weight lies outside the lesion, which the page did not say."""
    check = {"n": 100, "method": "gradcam", "energy_in_lesion": 0.33, "uniform_baseline": 0.238}
    sentence = card_view.saliency_sentence(check)
    assert "On **100** validation images" in sentence
    assert "most of their weight (67.0%) falls outside it" in sentence
    focused = card_view.saliency_sentence({**check, "energy_in_lesion": 0.7})
    assert "outside" not in focused


def test_validation_figures_say_they_flatter_the_model(shipped_card_page) -> None:
    at = shipped_card_page
    assert card_view.VALIDATION_FLATTERS not in texts(at)  # the test set, as the page opens
    run(at.segmented_control(key="card_split").set_value("validation"))
    assert card_view.VALIDATION_FLATTERS in texts(at)


def test_the_downloaded_overlay_says_what_it_shows(explorer, monkeypatch) -> None:  # noqa: F811
    """A saved map carried only its colour scale: it now carries the image's name and the
    page's caption (method, class, layer) too. The PNG is made on the click, so the test reads
    what the button was given."""
    import streamlit as st

    given, button = {}, st.download_button

    def recorded(label, data, **kwargs):
        given[kwargs["key"]] = data
        return button(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", recorded)
    run(explorer)
    shown = next(c.value for c in explorer.caption if " · why “" in c.value)
    name = explorer.session_state["sal_image"]["name"]
    assert given["sal_download_0"].keywords["caption"] == f"{name} · {shown}"


def test_a_black_and_white_image_warns_that_its_maps_explain_untrusted_scores(model) -> None:  # noqa: F811
    """The Diagnose page gives a black-and-white photo no diagnosis (quality.refusal); the
    explorer still draws its maps, but says why their scores are not to be trusted."""
    from skindx.images.quality import NO_COLOUR

    at = app_test(PAGES / "saliency.py")
    grey = inspect_image(lesion_png(4)).pixels.mean(axis=2, keepdims=True).repeat(3, axis=2)
    pixels = grey.astype("uint8")
    at.session_state["sal_image"] = {"id": "grey", "name": "grey.png", "pixels": pixels}
    run(at)
    (warning,) = [w.value for w in at.warning if saliency_view.UNTRUSTED_MAPS in w.value]
    assert warning.startswith(NO_COLOUR)
    assert at.download_button(key="sal_download_0")  # the maps are still drawn
