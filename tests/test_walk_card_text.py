"""The Model card's charts without sight of the screen: the confusion matrix, ROC curves,
reliability diagram and the age, sex and site charts were plotly pictures only, so a screen
reader (a blind clinician or student) got nothing from them. Each now has its numbers as a
table (a closed expander a keyboard opens; inside an expander already, straight under the
chart) and, where it helps, a sentence, all read from the card the charts draw."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from test_app_pages import PAGES, app_test, run, texts
from test_browser import (  # noqa: F401  (browser: a fixture)
    PHONE,
    UI_TIMEOUT_MS,
    assert_fits,
    browser,
    open_phone,
    settled,
    streamlit_server,
    wcag_violations,
)

from skindx.config import DEFAULT_MODEL_DIR
from skindx.diagnosis.context import VARIABLE_LABELS
from skindx.reports import card_view, chart_text
from skindx.reports.chart_text import PREDICTED, ROC_POINT
from skindx.reports.numbers import percent
from skindx.reports.results import diagnosis_label

CALLED = "the model's top class: images (the rest none)"
CARD = json.loads((DEFAULT_MODEL_DIR / "card.json").read_text())
AT_POINT = f"{ROC_POINT:.0%}"


@pytest.fixture
def shipped_card_page(monkeypatch):
    """The Model card page on the shipped card (the page reads card.json only)."""
    monkeypatch.setenv("SKINDX_MODEL", str(DEFAULT_MODEL_DIR))
    return run(app_test(PAGES / "model_card.py"))


def _table(at, heading: str, *columns: str):
    """The static table whose row headings are headed ``heading`` and that has ``columns``."""
    (table,) = [
        t.value
        for t in at.table
        if t.value.index.name == heading and set(columns) <= set(t.value.columns)
    ]
    return table


def _expanders(at) -> list[str]:
    return [e.label for e in at.expander]


# ----------------------------------------------------------------------------- the page


def test_each_chart_has_its_numbers_in_a_closed_expander(shipped_card_page) -> None:
    at = shipped_card_page
    for title in ("Confusion matrix", "ROC curves", "Reliability diagram"):
        (box,) = [e for e in at.expander if e.label == f"{title} as a table"]
        assert not box.proto.expanded  # closed: the chart stays the page's first reading
        assert box.table, title


@pytest.mark.parametrize("split", ["test", "validation"])
def test_the_confusion_table_holds_the_cards_counts(shipped_card_page, split) -> None:
    at = shipped_card_page
    if split != "test":
        run(at.segmented_control(key="card_split").set_value(split))
    metrics = CARD["metrics"][split]
    names = [diagnosis_label(code) for code in metrics["classes"]]
    table = _table(at, "true diagnosis", "images", PREDICTED + "Melanoma")
    assert list(table.index) == names  # full names, true diagnosis per row
    assert list(table.columns) == [*(PREDICTED + name for name in names), "images"]
    counts = table.drop(columns="images").to_numpy()
    assert counts.tolist() == metrics["confusion_matrix"]
    assert list(table["images"]) == [metrics["per_class"][c]["n"] for c in metrics["classes"]]
    # a phone's copy: what the model called each diagnosis's images, commonest first
    (called,) = _table(at, "true diagnosis", CALLED)[CALLED].iloc[[names.index("Melanoma")]]
    row = metrics["confusion_matrix"][names.index("Melanoma")]
    ranked = sorted(zip(names, row, strict=True), key=lambda pair: -pair[1])
    assert called == "; ".join(f"{name}: {count}" for name, count in ranked if count)


def test_the_page_names_the_commonest_mistake(shipped_card_page) -> None:
    matrix = np.array(CARD["metrics"]["test"]["confusion_matrix"])
    nv, mel = CARD["metrics"]["test"]["classes"].index("nv"), 4
    assert matrix[nv, mel] == (matrix * (1 - np.eye(7, dtype=int))).max()  # the card's own
    sentence = (
        f"The commonest mistake: melanocytic nevus taken for melanoma ({matrix[nv, mel]} of "
        f"{matrix[nv].sum()} images, {percent(matrix[nv, mel] / matrix[nv].sum())})"
    )
    assert sentence in texts(shipped_card_page)


def test_the_roc_table_holds_each_class_auc_and_operating_point(shipped_card_page) -> None:
    at = shipped_card_page
    test = CARD["metrics"]["test"]
    table = _table(at, "diagnosis", "sensitivity as top class")
    codes = [code for code in test["classes"] if code in test["roc"]]
    assert list(table.index) == [diagnosis_label(code) for code in codes]
    for code in codes:
        row, figures = table.loc[diagnosis_label(code)], test["per_class"][code]
        assert row["AUC"] == f"{figures['auc']:.3f}"
        assert row["sensitivity as top class"] == percent(figures["sensitivity"])
        assert row["specificity as top class"] == percent(figures["specificity"])
        # read off the curve the chart draws: between the card's points either side
        curve = test["roc"][code]
        fpr, tpr = np.array(curve["fpr"]), np.array(curve["tpr"])
        sensitivity = float(row[f"sensitivity at {AT_POINT} specificity"].rstrip("%")) / 100
        assert tpr[fpr <= 1 - ROC_POINT].max() - 5e-4 <= sensitivity
        assert sensitivity <= tpr[fpr > 1 - ROC_POINT].min() + 5e-4
    narrow = _table(at, "diagnosis", "as top class").loc[diagnosis_label("mel")]
    mel = test["per_class"]["mel"]
    assert narrow["as top class"] == (
        f"sensitivity {percent(mel['sensitivity'])}, specificity {percent(mel['specificity'])}"
    )
    assert narrow[f"read off the curve at {AT_POINT}"] == (
        f"sensitivity {table.loc['Melanoma', f'sensitivity at {AT_POINT} specificity']} at "
        f"{AT_POINT} specificity; specificity "
        f"{table.loc['Melanoma', f'specificity at {AT_POINT} sensitivity']} at {AT_POINT} "
        "sensitivity"
    )
    best = max(codes, key=lambda c: test["per_class"][c]["auc"])
    assert f"best: {diagnosis_label(best).lower()} (AUC" in texts(at)


def test_the_reliability_table_holds_each_bins_figures(shipped_card_page) -> None:
    table = _table(shipped_card_page, "confidence range")
    bins = [b for b in CARD["metrics"]["test"]["reliability"] if b["count"]]
    assert list(table["mean confidence"]) == [percent(b["confidence"]) for b in bins]
    assert list(table["top class right"]) == [percent(b["accuracy"]) for b in bins]
    assert list(table["images"]) == [f"{b['count']:,}" for b in bins]
    assert table.index[-1] == f"{100 * bins[-1]['lower']:.1f}–100.0%"
    over = sum(b["accuracy"] < b["confidence"] for b in bins)
    assert f"In {over} of the {len(bins)} confidence ranges with images" in texts(shipped_card_page)


@pytest.mark.parametrize("variable", list(VARIABLE_LABELS))
def test_the_age_sex_and_site_charts_have_their_shares_under_them(
    shipped_card_page, variable
) -> None:
    """Inside the "What the age, sex and site adjustment knows" expander (which cannot hold
    another), the table sits straight under its chart."""
    table = _table(shipped_card_page, VARIABLE_LABELS[variable])
    shares = np.exp(np.array(CARD["context"]["tables"][variable]))
    assert table.to_numpy().tolist() == [[f"{100 * v:.0f}%" for v in row] for row in shares]
    assert list(table.columns) == [diagnosis_label(code) for code in CARD["classes"]]
    heading = f"its training lesions by {VARIABLE_LABELS[variable].lower()}"
    narrow = _table(shipped_card_page, "diagnosis", heading)[heading]
    assert list(narrow) == [
        "; ".join(f"{value}: {table.loc[value, name]}" for value in table.index)
        for name in table.columns
    ]  # a diagnosis per row, as the chart's columns
    assert f"**Training lesions by {variable} as a table**" in texts(shipped_card_page)


def test_an_unevaluated_card_shows_no_chart_tables(monkeypatch, tiny_model_dir) -> None:
    monkeypatch.setenv("SKINDX_MODEL", str(tiny_model_dir))
    at = run(app_test(PAGES / "model_card.py"))
    assert not [label for label in _expanders(at) if label.endswith(" as a table")]


# ----------------------------------------------------------------------------- the functions


def test_the_members_phone_table_keeps_four_columns() -> None:
    """The shipped ensemble's six columns ran 8 px past a phone's edge."""
    members = CARD["training"]["members"]
    narrow = card_view.members_narrow(card_view.members_frame(members))
    assert list(narrow.columns) == ["member", "teacher", "best epoch", card_view.MEMBER_SCORE]
    assert list(narrow[card_view.MEMBER_SCORE]) == [
        f"{100 * m['val_balanced_accuracy_best']:.1f}%" for m in members
    ]


def test_the_mistakes_sentence_gives_the_commonest_and_the_largest_share() -> None:
    metrics = {"classes": ["mel", "nv"], "confusion_matrix": [[8, 2], [30, 170]]}
    text = chart_text.confusion_text(metrics)
    assert text.table.to_dict("list") == {
        "true diagnosis": ["Melanoma", "Melanocytic nevus"],
        "predicted: Melanoma": [8, 30],
        "predicted: Melanocytic nevus": [2, 170],
        "images": [10, 200],
    }
    assert text.summary == (
        "The commonest mistake: melanocytic nevus taken for melanoma (30 of 200 images, 15.0%);"
        " the largest share of one diagnosis: melanoma taken for melanocytic nevus (2 of 10 "
        "images, 20.0%)."
    )
    right = chart_text.confusion_text({**metrics, "confusion_matrix": [[10, 0], [0, 200]]})
    assert right.summary == "The model's top class was the true diagnosis for every image."
    assert chart_text.confusion_text({}) is None


def test_the_roc_points_are_read_off_the_curve_as_drawn() -> None:
    curve = {"fpr": [0.0, 0.0, 0.05, 0.2, 1.0], "tpr": [0.0, 0.5, 0.6, 0.9, 1.0]}
    metrics = {
        "classes": ["mel"],
        "roc": {"mel": curve},
        "per_class": {"mel": {"auc": 0.91234, "sensitivity": 0.5, "specificity": 0.95}},
    }
    (row,) = chart_text.roc_text(metrics).table.to_dict("records")
    assert row == {
        "diagnosis": "Melanoma",
        "AUC": "0.912",
        "sensitivity as top class": "50.0%",
        "specificity as top class": "95.0%",
        # at 10% false positives: a third of the way from (5%, 60%) to (20%, 90%)
        "sensitivity at 90% specificity": "70.0%",
        "specificity at 90% sensitivity": "80.0%",  # the curve reaches 90% at 20%
    }
    assert chart_text.roc_text({"roc": {}}) is None


def test_the_roc_summary_names_the_best_and_worst_class() -> None:
    line = {"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]}
    metrics = {
        "classes": ["mel", "nv", "bkl"],
        "roc": {"mel": line, "nv": line, "bkl": line},
        "per_class": {"mel": {"auc": 0.8}, "nv": {"auc": 0.95}, "bkl": {"auc": 0.9}},
    }
    text = chart_text.roc_text(metrics)
    assert text.summary.startswith(
        "Told apart from the other diagnoses best: melanocytic nevus (AUC 0.950); worst: "
        "melanoma (AUC 0.800)."
    )
    assert list(text.table["sensitivity as top class"]) == ["—"] * 3  # not recorded: a dash


def test_the_reliability_text_skips_empty_bins_and_counts_the_over_confident() -> None:
    bins = [
        {"lower": 0.0, "upper": 0.5, "confidence": 0.4, "accuracy": 0.0, "count": 0},
        {"lower": 0.5, "upper": 0.75, "confidence": 0.6, "accuracy": 0.5, "count": 1200},
        {"lower": 0.75, "upper": 1.0, "confidence": 0.9, "accuracy": 0.95, "count": 30},
    ]
    text = chart_text.reliability_text({"reliability": bins})
    assert text.table.to_dict("list") == {
        "confidence range": ["50.0–75.0%", "75.0–100.0%"],
        "mean confidence": ["60.0%", "90.0%"],
        "top class right": ["50.0%", "95.0%"],
        "images": ["1,200", "30"],
    }
    assert text.summary.startswith("In 1 of the 2 confidence ranges with images")
    assert text.summary.endswith("(over-confident), in 1 more often.")
    assert chart_text.reliability_text({}) is None


def test_the_training_curves_table_has_a_row_per_epoch() -> None:
    text = chart_text.history_text({"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7], "lr": 0.1})
    assert text.table.to_dict("list") == {
        "epoch": [1, 2, 3],
        "loss": ["1", "0.5", "0.25"],
        "val_loss": ["1.1", "0.7", ""],
    }
    assert chart_text.history_text(None) is None and chart_text.history_text({"loss": []}) is None


def test_the_context_text_has_a_row_per_value() -> None:
    table = np.log([[0.25, 0.5], [0.75, 0.5]]).tolist()
    text = chart_text.context_text({"tables": {"sex": table}}, "sex")
    assert text.table.to_dict("list") == {
        "Sex": ["Female", "Male"],
        diagnosis_label("akiec"): ["25%", "75%"],
        diagnosis_label("bcc"): ["50%", "50%"],
    }
    assert chart_text.context_text({"tables": {}}, "age") is None


# ----------------------------------------------------------------------------- in a browser


def test_a_keyboard_opens_each_table_and_a_phone_fits_it(browser, tmp_path) -> None:  # noqa: F811
    """Enter on a focused expander opens it; on a phone the opened tables are the narrow copies
    that fit its width, and on a desktop the full confusion matrix fits the page."""
    errors: list[str] = []
    keys = {"Confusion matrix": "card_confusion", "ROC curves": "card_roc"}
    keys["Reliability diagram"] = "card_reliability"
    with streamlit_server(DEFAULT_MODEL_DIR, tmp_path / "streamlit.log") as url:
        page = open_phone(browser, f"{url}/model_card", errors)
        settled(page)
        for label, key in keys.items():
            summary = page.locator("summary", has_text=f"{label} as a table")
            summary.focus()
            page.keyboard.press("Enter")
            page.locator(f".st-key-{key}_text table:visible").wait_for(timeout=UI_TIMEOUT_MS)
        page.locator("summary", has_text="What the age, sex and site").click()
        page.locator(".st-key-card_context_age_text table:visible").wait_for(timeout=UI_TIMEOUT_MS)
        shown = page.locator(".st-key-card_confusion_text table:visible th")
        assert shown.filter(has_text=CALLED).count() == 1  # the phone's copy, not the grid
        settled(page)
        assert page.viewport_size == PHONE
        assert_fits(page, "the model card's chart tables, open on a phone")
        page = browser.new_page(viewport={"width": 1366, "height": 900})  # as the desktop test
        page.goto(f"{url}/model_card", wait_until="domcontentloaded")
        settled(page)
        page.locator("summary", has_text="Confusion matrix as a table").click()
        wide = page.locator(".st-key-card_confusion_text table:visible")
        wide.locator("th", has_text="predicted: Melanoma").wait_for(timeout=UI_TIMEOUT_MS)
        settled(page)
        assert_fits(page, "the model card's confusion matrix table on a desktop")
        if importlib.util.find_spec("axe_playwright_python"):  # as test_browser's WCAG check
            assert wcag_violations(page) == []
        assert not errors, errors
