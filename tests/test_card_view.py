"""The Model card page's and Saliency explorer's words and tables, without streamlit (#26)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skindx.datasets.examples import ExampleImage
from skindx.diagnosis.similar import Neighbour
from skindx.explain.faithfulness import Faithfulness
from skindx.model.card import ModelCard
from skindx.reports import card_view, saliency_view
from skindx.reports.numbers import percent


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (None, "share", "not measured"),
        (0.4567, "share", "45.7%"),
        (0.91234, "auc", "0.912"),
        (12345, "count", "12,345"),
        (0.000123456, "count", "0.0001235"),
    ],
)
def test_value_text(value, kind, expected):
    assert card_view.value_text(value, kind) == expected


def test_percent():
    assert percent(None) == "—"
    assert percent(0.5) == "50.0%"
    assert percent(0.956, 0) == "96%"


def test_header_and_scope():
    card = ModelCard(name="m", version="1.2", created="2024-01-02T03:04", classes=["mel", "nv"])
    assert card_view.header_line(card) == "**m** · version 1.2 · created 2 January 2024"
    undated = ModelCard(name="m", version="1", created="last week", classes=["mel"])
    assert card_view.header_line(undated).endswith("created last week")  # not a time stamp
    scope = card_view.out_of_scope_markdown(card)
    assert "(melanoma, melanocytic nevus)" in scope.lower() and scope.count("\n- ") == 3


def test_training_facts_single_model_and_ensemble():
    single = {"train_images_per_class": {"mel": 1000, "nv": 2500}, "best_epoch": 7}
    assert card_view.training_facts(single) == {
        "Training images": "3,500",
        "Best epoch": "7",
        "Epochs run": "not measured",
    }
    assert card_view.training_facts({"members": [{}, {}]}) == {
        "Training images": "not measured",
        "Ensemble members": "2",
    }
    frame = card_view.training_counts_frame(single["train_images_per_class"])
    assert list(frame["training images"]) == [1000, 2500]
    members = [
        {"name": "vgg16", "val_balanced_accuracy_best": 0.6452, "recipe": {"seed": 4}},
        {"name": "older", "recipe": {}},  # a record without a score or a seed: dashes
    ]
    frame = card_view.members_frame(members)
    assert frame[card_view.MEMBER_SCORE].tolist() == ["64.5%", "—"]
    assert frame["seed"].tolist() == [4, "—"]
    recorded = card_view.recorded_recipe({"data": "x", "recipe": {"lr": 1}, "seed": 3})
    assert recorded == {"lr": 1, "seed": 3}


def test_architecture_markdown():
    card = ModelCard(
        architecture={"name": "compact_vgg", "filters": 32},
        input_size=112,
        classes=["mel"],
        preprocessing={"resize": "squash", "hair_removal": False},
    )
    assert card_view.architecture_markdown(card).splitlines() == [
        "- Network: **compact_vgg**",
        "- Input: **112×112** RGB pixels",
        "- Classes: Melanoma",
        "- filters: `32`",
        "- Preprocessing: resize: squash, hair removal: off",
    ]


def test_evaluation_figures():
    metrics = {"n": 1512, "balanced_accuracy": 0.7, "malignant_auc": 0.9, "dataset": "ISIC"}
    assert card_view.evaluation_line(metrics, "test") == "ISIC · **1,512** images"
    interval = {"level": 0.95, "low": 0.65, "high": 0.75, "resampled": "lesions"}
    line = card_view.evaluation_line({**metrics, "balanced_accuracy_interval": interval}, "test")
    assert line == (
        "ISIC · **1,512** images · balanced accuracy 95% interval 65.0–75.0% (lesions resampled)"
    )
    figures = card_view.overall_figures(metrics)
    assert figures["Balanced accuracy"] == "70.0%" and figures["Accuracy"] == "not measured"
    assert figures["Cancer vs not: AUC"] == "0.900"
    caption = card_view.official_caption({"balanced_accuracy": 0.5})
    assert caption == "Official ISIC 2018 scorer: balanced accuracy 50.0%, macro AUC not measured."
    # the scorer reads rounded probabilities: a hair's difference is not a second figure
    official = {"balanced_accuracy": 0.6595, "macro_auc": 0.937}
    caption = card_view.official_caption(official, ours=0.6594)
    assert caption == "Official ISIC 2018 scorer: the same balanced accuracy, macro AUC 0.937."
    assert "60.0%" in card_view.official_caption({"balanced_accuracy": 0.6}, ours=0.6594)


def test_per_class_frames():
    assert card_view.per_class_frames({}) is None
    metrics = {
        "classes": ["mel", "nv"],
        "per_class": {
            "mel": {"n": 1113, "sensitivity": 0.5, "specificity": 0.9, "auc": 0.8},
            "nv": {"n": 6705, "sensitivity": 0.95, "specificity": None, "auc": None},
        },
    }
    table, narrow = card_view.per_class_frames(metrics)
    assert list(table["sensitivity"]) == [50.0, 95.0]
    assert list(narrow.columns) == [
        "diagnosis", "sensitivity", "specificity", "AUC", "n", "cancer type"
    ]  # fmt: skip
    assert narrow.iloc[0].tolist() == ["Melanoma", "50.0%", "90.0%", "0.800", "1,113", "yes"]
    assert narrow.iloc[1].tolist()[2:] == ["—", "—", "6,705", "no"]


def test_subgroup_frame_writes_shares_as_text():
    assert card_view.subgroup_frame({}) is None
    group = {"group": "female", "n": 40, "accuracy": 0.75, "balanced_accuracy": None}
    table = card_view.subgroup_frame({"subgroups": {"sex": [group]}})
    row = table.iloc[0]
    assert row["group"] == "Sex: female" and row["accuracy"] == "75.0%"
    assert row["balanced accuracy (95% interval)"] == "—"
    # the interval in the cell of the figure it qualifies: no column of its own to scroll to
    assert not any("interval" in column and "balanced" not in column for column in table)
    interval = {"low": 0.5, "high": 0.7, "resampled": "lesions"}
    measured = {**group, "balanced_accuracy": 0.6, "balanced_accuracy_interval": interval}
    row = card_view.subgroup_frame({"subgroups": {"sex": [measured]}}).iloc[0]
    assert row["balanced accuracy (95% interval)"] == "60.0% (50.0–70.0%)"
    # a phone gets five columns
    table = card_view.subgroup_frame({"subgroups": {"sex": [measured, group]}})
    narrow = card_view.subgroup_narrow(table)
    assert len(narrow.columns) == 5
    assert list(narrow["balanced accuracy (95% interval)"]) == ["60.0% (50.0–70.0%)", "—"]


def test_calibration_and_safety_sentences():
    card = ModelCard(temperature=1.5)
    figures = card_view.calibration_figures(card, {"ece": 0.031})
    assert figures == {
        "Temperature": "1.500",
        "Calibration error (ECE)": "3.1%",
        "ECE before calibration": "not measured",
    }
    triage = card_view.triage_sentence({"see_doctor": 0.2, "see_doctor_soon": 0.5})
    assert "from **20.0%**" in triage and "from **50.0%**" in triage
    context = {"weight": 0.5, "thresholds": {"see_doctor": 0.1, "see_doctor_soon": 0.4}}
    assert "(weight 0.50," in card_view.context_sentence(context)
    assert "melanomas flagged **not measured**" in card_view.triage_result_sentence({})
    assert card_view.ood_sentence({}) is None
    ood = card_view.ood_sentence({"threshold": 12.5, "quantile": 0.95, "method": "mahalanobis"})
    assert "**Mahalanobis distance** of the network's features (its `features` layer)" in ood
    assert "about 5% of" in ood
    assert card_view.saliency_sentence({"n": 0}) is None
    saliency = {"n": 5, "method": "gradcam", "energy_in_lesion": 0.41, "uniform_baseline": 0.3}
    assert "**41.0%** of its weight" in card_view.saliency_sentence(saliency)
    assert card_view.limitations_markdown(["a", "b"]) == "- a\n- b"


@pytest.mark.parametrize(
    ("salient", "random", "value", "beyond", "colour", "caption"),
    [
        (0.3, 0.1, "−30.0 points", "20.0 points lower than", "green", "falls by 30.0 points"),
        (0.1, 0.3, "−10.0 points", "20.0 points higher than", "orange", "falls by 10.0 points"),
        (-0.0002, 0.0, "+0.0 points", "the same as", "gray", "hardly changes"),
        (-0.05, 0.0, "+5.0 points", "5.0 points higher than", "orange", "rises by 5.0 points"),
    ],
)
def test_faithfulness_words(salient, random, value, beyond, colour, caption):
    words = saliency_view.faithfulness_words(Faithfulness(salient, random, 0.2), "mel")
    assert words.label == "Faithfulness: blur the top 20% salient pixels"
    assert words.value == value and words.colour == colour
    assert words.beyond == f"{beyond} blurring 20% random pixels"
    assert words.caption.startswith(f"Probability of Melanoma {caption} when the 20% most")


def test_saliency_explorer_words():
    truth = ExampleImage("mel", Path("ISIC_1.jpg"), "ISIC_1, melanoma", held_out=True)
    assert saliency_view.known_diagnosis_sentence(truth, "nv").endswith("top class is different.")
    assert "validation split" in saliency_view.known_diagnosis_caption(truth)
    assert saliency_view.target_label({"mel": 0.123})("mel") == "12% · Melanoma"
    assert saliency_view.overlay_file_name("gradcam++", "mel") == "saliency-gradcamplusplus-mel.png"
    neighbours = [Neighbour(truth, 0.91), Neighbour(truth, 0.8)]
    assert saliency_view.neighbours_sentence(neighbours) == (
        "Known diagnoses of the 2 most similar lesions: 2 × Melanoma."
    )
    assert saliency_view.neighbour_caption(neighbours[0]) == "ISIC_1, melanoma · similarity 0.91"
    figures = {"n": 50, "k": 5, "accuracy": 0.6, "balanced_accuracy": 0.5}
    assert "was its own for 60% of them (balanced accuracy 50%)" in saliency_view.gallery_caption(
        figures
    )


def test_members_sentence_says_mean_or_weighted_mean():
    equal = [{"weight": 0.5}, {"weight": 0.5}]
    assert "logits are the mean of" in card_view.members_sentence(equal)
    unequal = [{"weight": 0.2}, {"weight": 0.8}]
    assert "logits are the weighted mean" in card_view.members_sentence(unequal)
