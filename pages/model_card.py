"""Model card: what the model is, how it was trained and what was measured, read from card.json.

Every figure on this page comes from the card (written by ``skindx train`` / ``skindx
evaluate``); what the card does not hold is shown as “not measured”, never filled in. Layout
only: the sentences and tables come from ``skindx.reports.card_view`` and
``skindx.reports.chart_text``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import streamlit as st

from skindx.diagnosis.context import VARIABLE_LABELS
from skindx.images import quality
from skindx.model.card import ModelCard
from skindx.reports import card_view, chart_text, figures
from skindx.reports.card_sections import SUBGROUP_HEADING, SUBGROUP_NOTE, same_spot_sentence
from skindx.reports.card_view import NOT_MEASURED, SPLITS
from streamlit_app import card_widgets, resources, ui
from streamlit_app.card_widgets import metric_row


def _header(card: ModelCard) -> None:
    st.title("Model card")
    ui.phone_layout()
    ui.disclaimer()
    st.markdown(card_view.header_line(card))


def _use(card: ModelCard) -> None:
    st.header("Intended use")
    st.markdown(card.intended_use or NOT_MEASURED)
    st.subheader("Out of scope")
    st.markdown(card_view.out_of_scope_markdown(card))


def _training(card: ModelCard) -> None:
    st.header("Training data")
    training = card.training or {}
    if not training:
        st.info("The card does not describe the training run.")
        return
    st.markdown(training.get("data") or "The card does not name the training data.")
    counts = training.get("train_images_per_class") or {}
    members = training.get("members") or []
    metric_row(card_view.training_facts(training))
    if counts:
        frame = card_view.training_counts_frame(counts)
        ui.table(
            frame,
            key="card_train_counts",
            hide_index=True,
            width="content",
            column_config={"training images": st.column_config.NumberColumn(format="localized")},
        )
    if members:
        st.markdown(card_view.members_sentence(members))
        frame = card_view.members_frame(members)
        # Static tables, which wrap their cells: beside the menu the grid cut its last column.
        ui.table(frame, narrow=card_view.members_narrow(frame), key="card_members", static=True)
    history = figures.history_figure(training.get("history"))
    if history is not None:
        with st.expander("Training curves"):
            ui.chart(history, key="card_history")
            text = chart_text.history_text(training.get("history"))
            card_widgets.chart_text(text, "Training curves as a table", "card_history", nested=True)
    recipe = card_view.recorded_recipe(training)
    if recipe:
        with st.expander("Training recipe (as recorded)"):
            st.json(recipe, expanded=True)


def _architecture(card: ModelCard) -> None:
    st.header("Architecture")
    st.markdown(card_view.architecture_markdown(card))


def _evaluation(card: ModelCard) -> dict[str, Any] | None:
    st.header("Evaluation")
    available = [split for split in SPLITS if card.metrics.get(split)]
    if not available:
        st.info(
            "Not measured: this card records no evaluation, so the model's accuracy is unknown."
        )
        return None
    if "test" not in available:
        st.warning(
            "Not measured on a held-out test set: the figures below come from the validation "
            "split, which also chose the calibration and thresholds, so they flatter the model."
        )
    split = st.segmented_control(
        "Evaluation data",
        available,
        default=available[0],
        required=True,
        format_func=SPLITS.get,
        key="card_split",
    )
    metrics = card.metrics[split]
    st.markdown(card_view.evaluation_line(metrics, split))
    if split.startswith("validation") and "test" in available:
        st.caption(card_view.VALIDATION_FLATTERS)
    metric_row(card_view.overall_figures(metrics))
    official = metrics.get("official")
    if official:
        st.caption(card_view.official_caption(official, metrics.get("balanced_accuracy")))
    st.subheader("Per class")
    frames = card_view.per_class_frames(metrics)
    if frames is None:
        st.info("Per-class figures: not measured.")
    else:
        card_widgets.per_class_table(*frames)
    card_widgets.figure(
        "Confusion matrix",
        figures.confusion_figure(metrics),
        "Rows: the true diagnosis; columns: the model's top class; each row adds up to 100%.",
        "card_confusion",
        chart_text.confusion_text(metrics),
    )
    card_widgets.figure(
        "ROC curves",
        figures.roc_figure(metrics),
        "One class against the rest; the dotted diagonal is guessing.",
        "card_roc",
        chart_text.roc_text(metrics),
    )
    _subgroups(metrics)
    return metrics


def _subgroups(metrics: Mapping[str, Any]) -> None:
    table = card_view.subgroup_frame(metrics)
    if table is None:
        return
    st.subheader(SUBGROUP_HEADING)
    card_widgets.subgroup_table(table, card_view.subgroup_narrow(table))
    st.caption(SUBGROUP_NOTE + " A dash: too few images to say.")


def _calibration(card: ModelCard, metrics: Mapping[str, Any] | None) -> None:
    st.header("Calibration and triage")
    metrics = metrics or {}
    metric_row(card_view.calibration_figures(card, metrics))
    card_widgets.figure(
        "Reliability diagram",
        figures.reliability_figure(metrics) if metrics else None,
        "Bars: how often the top class was right among images with that confidence. "
        "Bars on the diagonal mean the stated probabilities can be taken at face value.",
        "card_reliability",
        chart_text.reliability_text(metrics),
    )
    st.subheader("Triage messages")
    thresholds = card.thresholds or {}
    if not thresholds:
        st.info("Triage thresholds: not measured (the card holds none).")
    else:
        st.markdown(card_view.triage_sentence(thresholds))
    # How often the advice is right, next to the cut-offs it uses (not after the expander).
    triage = metrics.get("triage")
    if triage:
        st.markdown(card_view.triage_result_sentence(triage))
    elif thresholds:
        st.caption("How often these messages are right: not measured on this evaluation data.")
    if card.context:
        st.markdown(card_view.context_sentence(card.context))
        with st.expander("What the age, sex and site adjustment knows"):
            tabs = st.tabs(list(VARIABLE_LABELS.values()))
            for tab, variable in zip(tabs, VARIABLE_LABELS, strict=True):
                with tab:
                    card_widgets.figure(
                        f"Training lesions by {variable}",
                        figures.context_figure(card.context, variable),
                        "Each column: one diagnosis's training lesions, adding up to 100% "
                        "(counted once per lesion, with one extra count per cell).",
                        f"card_context_{variable}",
                        chart_text.context_text(card.context, variable),
                        nested=True,
                    )


def _safety(card: ModelCard) -> None:
    st.header("Out-of-domain check")
    ood = card_view.ood_sentence(card.ood or {})
    if ood is None:
        st.info("Not measured: this model has no out-of-domain detector.")
    else:
        st.markdown(ood)
        flagged = card_view.flagged_sentence(card.metrics.get("test") or {})
        if flagged:
            st.markdown(flagged)
    st.header("Saliency check")
    saliency = card_view.saliency_sentence(card.saliency or {})
    if saliency is None:
        st.info("Not measured: the card records no check of the saliency maps against lesions.")
    else:
        st.markdown(saliency)


def _same_spot(card: ModelCard) -> None:
    st.header("Several photos of one spot")
    sentence = same_spot_sentence(card.metrics)
    if sentence:
        st.markdown(sentence)
    else:
        st.info("Not measured: the card holds no check of combined photos.")


def _photo_quality(card: ModelCard) -> None:
    st.header("Photo quality")
    limits = card.photo_quality or {}
    if not limits:
        st.info("Not measured: the card holds no brightness or sharpness limits for photos.")
        return
    st.markdown(quality.limits_summary(limits))
    frames = card_view.photo_quality_frames(limits)
    if frames is not None:
        st.caption(quality.effects_caption(limits))
        card_widgets.photo_quality_table(*frames)


def _limitations(card: ModelCard) -> None:
    st.header("Known limitations")
    limitations = card_view.known_limitations(card)
    if limitations:
        st.markdown(card_view.limitations_markdown(limitations))
    else:
        st.info("The card lists no limitations, which does not mean there are none.")


def main() -> None:
    loaded = resources.card()
    if loaded is None:
        st.title("Model card")
        ui.disclaimer()
        return
    card, raw = loaded
    _header(card)
    _use(card)
    _training(card)
    _architecture(card)
    metrics = _evaluation(card)
    _calibration(card, metrics)
    _safety(card)
    _same_spot(card)
    _photo_quality(card)
    _limitations(card)
    with st.expander("The card as JSON"):
        st.download_button(
            "Download card.json",
            data=json.dumps(raw, indent=2),
            file_name="card.json",
            mime="application/json",
            key="card_download",
            on_click="ignore",
        )


main()
