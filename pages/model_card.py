"""Model card: what the model is, how it was trained and what was measured, read from card.json.

Every figure on this page comes from the card (written by ``skindx train`` / ``skindx
evaluate``); what the card does not hold is shown as “not measured”, never filled in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from skindx.diagnosis.context import VARIABLE_LABELS
from skindx.explain.explainer import METHODS
from skindx.images import quality
from skindx.model.card import ModelCard
from skindx.reports.card_sections import (
    EVALUATIONS,
    SUBGROUP_HEADING,
    SUBGROUP_NOTE,
    SUBGROUP_RATES,
    same_spot_sentence,
    subgroup_rows,
)
from skindx.reports.figures import (
    confusion_figure,
    context_figure,
    history_figure,
    members_frame,
    per_class_table,
    reliability_figure,
    roc_figure,
)
from skindx.reports.model_card import architecture_words
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import MALIGNANT_NAMES
from streamlit_app import resources, ui

NOT_MEASURED = "not measured"
SPLITS = {split: short for split, (_, short) in EVALUATIONS.items()}
CHART_CONFIG = {"displayModeBar": False}
OUT_OF_SCOPE = (
    "Diagnosing, ruling out or screening for skin cancer, or deciding whether someone needs "
    "to see a doctor.",
    "Ordinary phone photos, photos of rashes, nails, hair, mucosa or whole body areas: the "
    "model was trained on dermoscopic close-ups of single lesions.",
    "Lesions outside the model's classes ({classes}); it will force any other lesion into one "
    "of them.",
    "Children, and any population the training data does not represent (see the limitations).",
)


def _value(value: Any, kind: str = "share") -> str:
    if value is None:
        return NOT_MEASURED
    if kind == "share":
        return ui.percent(value)
    if kind == "auc":
        return f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _header(card: ModelCard) -> None:
    st.title("Model card")
    ui.phone_layout()
    ui.disclaimer()
    parts = [f"**{card.name}**", f"version {card.version}"]
    if card.created:
        parts.append(f"created {card.created.replace('T', ' ')}")
    st.markdown(" · ".join(parts))


def _use(card: ModelCard) -> None:
    st.header("Intended use")
    st.markdown(card.intended_use or NOT_MEASURED)
    st.subheader("Out of scope")
    classes = ", ".join(diagnosis_label(c).lower() for c in card.classes)
    st.markdown("\n".join(f"- {item.format(classes=classes)}" for item in OUT_OF_SCOPE))


def _training(card: ModelCard) -> None:
    st.header("Training data")
    training = card.training or {}
    if not training:
        st.info("The card does not describe the training run.")
        return
    st.markdown(training.get("data") or "The card does not name the training data.")
    counts = training.get("train_images_per_class") or {}
    members = training.get("members") or []
    facts = {
        "Training images": sum(counts.values()) if counts else None,
        **(
            {"Ensemble members": len(members)}
            if members
            else {
                "Best epoch": training.get("best_epoch"),
                "Epochs run": training.get("epochs_run"),
            }
        ),
    }
    columns = st.columns(len(facts))
    for column, (name, value) in zip(columns, facts.items(), strict=True):
        column.metric(name, NOT_MEASURED if value is None else f"{value:,}")
    if counts:
        frame = pd.DataFrame(
            {
                "diagnosis": [diagnosis_label(code) for code in counts],
                "training images": list(counts.values()),
            }
        )
        ui.table(frame, key="card_train_counts", hide_index=True, width="content")
    if members:
        st.markdown(
            "The model averages the logits of networks trained on the same split; each one:"
        )
        ui.table(members_frame(members), key="card_members", hide_index=True)
    shown = {"data", "recipe", "train_images_per_class", "history", "members"}
    other = {k: v for k, v in training.items() if k not in shown}
    history = history_figure(training.get("history"))
    if history is not None:
        with st.expander("Training curves"):
            st.plotly_chart(history, key="card_history", config=CHART_CONFIG)
    recipe = training.get("recipe")
    if recipe or other:
        with st.expander("Training recipe (as recorded)"):
            st.json({**(recipe or {}), **other}, expanded=True)


def _architecture(card: ModelCard) -> None:
    st.header("Architecture")
    arch = dict(card.architecture or {})
    name = arch.pop("name", None)
    lines = [
        f"- Network: **{name or NOT_MEASURED}**",
        f"- Input: **{card.input_size}×{card.input_size}** RGB pixels",
        f"- Classes: {', '.join(diagnosis_label(c) for c in card.classes)}",
    ]
    members = arch.pop("members", None) or []
    if members:
        lines[0] = f"- Network: {architecture_words(card)}"
        arch.pop("input_size", None)
    lines += [f"- {key.replace('_', ' ')}: `{value}`" for key, value in arch.items()]
    for k, member in enumerate(members, start=1):
        member = dict(member)
        details = ", ".join(
            f"{key.replace('_', ' ')} `{value}`"
            for key, value in member.items()
            if key not in {"name", "input_size"}
        )
        lines.append(f"- Member {k}: **{member.get('name', NOT_MEASURED)}**, {details}")
    prep = card.preprocessing or {}
    if prep:
        settings = ", ".join(f"{k.replace('_', ' ')}: {_setting(v)}" for k, v in prep.items())
        lines.append(f"- Preprocessing: {settings}")
    st.markdown("\n".join(lines))


def _setting(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


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
    st.markdown(
        f"{metrics.get('dataset') or SPLITS[split]} · "
        f"**{_value(metrics.get('n'), 'count')}** images"
    )
    overall = {
        "Balanced accuracy": (metrics.get("balanced_accuracy"), "share"),
        "Accuracy": (metrics.get("accuracy"), "share"),
        "Melanoma sensitivity": (metrics.get("melanoma_sensitivity"), "share"),
        "Cancer vs not: AUC": (metrics.get("malignant_auc"), "auc"),
    }
    for column, (name, (value, kind)) in zip(
        st.columns(len(overall)), overall.items(), strict=True
    ):
        column.metric(name, _value(value, kind))
    official = metrics.get("official")
    if official:
        st.caption(
            "Official ISIC 2018 scorer: balanced accuracy "
            f"{_value(official.get('balanced_accuracy'))}, macro AUC "
            f"{_value(official.get('macro_auc'), 'auc')}."
        )
    st.subheader("Per class")
    table = per_class_table(metrics)
    if table.empty:
        st.info("Per-class figures: not measured.")
    else:
        rates = ["sensitivity", "specificity"]
        table[rates] = table[rates] * 100  # "%.1f%%": one decimal in every row
        order = ["diagnosis", "sensitivity", "specificity", "auc", "n", "malignant"]
        narrow = table[order].copy()  # for a phone: formatted, short headings, cells that wrap
        for rate in rates:
            narrow[rate] = narrow[rate].map(lambda v: "—" if pd.isna(v) else f"{v:.1f}%")
        narrow["auc"] = narrow["auc"].map(lambda v: "—" if pd.isna(v) else f"{v:.3f}")
        narrow["n"] = narrow["n"].map(lambda v: "—" if pd.isna(v) else f"{int(v):,}")
        narrow["malignant"] = narrow["malignant"].map({True: "yes", False: "no"})
        narrow = narrow.rename(columns={"auc": "AUC", "malignant": "cancer type"})
        ui.table(
            table,
            narrow=narrow,
            hide_index=True,
            key="card_per_class",
            column_order=order,
            column_config={
                "diagnosis": st.column_config.TextColumn(width="medium", pinned=True),
                "sensitivity": st.column_config.NumberColumn(format="%.1f%%"),
                "specificity": st.column_config.NumberColumn(format="%.1f%%"),
                "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
                "malignant": st.column_config.CheckboxColumn("cancer type"),
            },
        )
    _figure(
        "Confusion matrix",
        confusion_figure(metrics),
        "Rows: the true diagnosis; columns: the model's top class; each row adds up to 100%.",
        "card_confusion",
    )
    _figure(
        "ROC curves",
        roc_figure(metrics),
        "One class against the rest; the dotted diagonal is guessing.",
        "card_roc",
    )
    _subgroups(metrics)
    return metrics


def _subgroups(metrics: Mapping[str, Any]) -> None:
    rows = subgroup_rows(metrics)
    if not rows:
        return
    st.subheader(SUBGROUP_HEADING)
    rates = list(SUBGROUP_RATES)
    table = pd.DataFrame(rows)
    # Text cells, so a group too small to judge shows a dash rather than "None".
    table[rates] = table[rates].map(lambda v: "—" if v is None or pd.isna(v) else f"{100 * v:.1f}%")
    right = st.column_config.TextColumn(alignment="right")
    ui.table(
        table,
        hide_index=True,
        key="card_subgroups",
        height=35 * (len(table) + 1) + 3,  # every group at once, no inner scrolling
        column_config={
            "group": st.column_config.TextColumn(width="medium", pinned=True),
            **dict.fromkeys(rates, right),
        },
    )
    st.caption(SUBGROUP_NOTE + " A dash: too few images to say.")


def _figure(title: str, figure, caption: str, key: str) -> None:
    st.subheader(title)
    if figure is None:
        st.info(f"{title}: not measured.")
        return
    st.plotly_chart(figure, key=key, config=CHART_CONFIG)
    st.caption(caption)


def _calibration(card: ModelCard, metrics: Mapping[str, Any] | None) -> None:
    st.header("Calibration and triage")
    metrics = metrics or {}
    figures = {
        "Temperature": f"{card.temperature:.3f}" if card.temperature else NOT_MEASURED,
        "Calibration error (ECE)": _value(metrics.get("ece")),
        "ECE before calibration": _value(metrics.get("ece_uncalibrated")),
    }
    for column, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        column.metric(name, value)
    _figure(
        "Reliability diagram",
        reliability_figure(metrics) if metrics else None,
        "Bars: how often the top class was right among images with that confidence. "
        "Bars on the diagonal mean the stated probabilities can be taken at face value.",
        "card_reliability",
    )
    st.subheader("Triage messages")
    thresholds = card.thresholds or {}
    if not thresholds:
        st.info("Triage thresholds: not measured (the card holds none).")
    else:
        st.markdown(
            f"The app adds up the probabilities of the cancer types ({MALIGNANT_NAMES}) and "
            f"advises “see a doctor” from **{ui.percent(thresholds.get('see_doctor'))}** and "
            f"“see a doctor soon” from **{ui.percent(thresholds.get('see_doctor_soon'))}**."
        )
    if card.context:
        cuts = card.context["thresholds"]
        st.markdown(
            "With age, sex or body site given, the image's probabilities are multiplied by how "
            "common each diagnosis is at that age, sex and site in the training data (weight "
            f"{card.context['weight']:.2f}, fitted on the validation split), and the advice "
            f"uses cut-offs fitted for that: **{ui.percent(cuts['see_doctor'])}** and "
            f"**{ui.percent(cuts['see_doctor_soon'])}**."
        )
        with st.expander("What the age, sex and site adjustment knows"):
            tabs = st.tabs(list(VARIABLE_LABELS.values()))
            for tab, variable in zip(tabs, VARIABLE_LABELS, strict=True):
                with tab:
                    _figure(
                        f"Training lesions by {variable}",
                        context_figure(card.context, variable),
                        "Each column: one diagnosis's training lesions, adding up to 100% "
                        "(counted once per lesion, with one extra count per cell).",
                        f"card_context_{variable}",
                    )
    triage = metrics.get("triage")
    if triage:
        st.markdown(
            f"At the “see a doctor” threshold, on this evaluation data: cancers flagged "
            f"**{_value(triage.get('malignant_sensitivity'))}**, melanomas flagged "
            f"**{_value(triage.get('melanoma_sensitivity'))}**, non-cancers left unflagged "
            f"**{_value(triage.get('benign_specificity'))}**."
        )
    elif thresholds:
        st.caption("How often these messages are right: not measured on this evaluation data.")


def _safety(card: ModelCard) -> None:
    st.header("Out-of-domain check")
    ood = card.ood or {}
    if "threshold" not in ood:
        st.info("Not measured: this model has no out-of-domain detector.")
    else:
        quantile = ood.get("quantile")
        flagged = (
            f" By construction about {ui.percent(1 - quantile, 0)} of the validation images "
            "score above it too."
            if isinstance(quantile, int | float)
            else ""
        )
        st.markdown(
            f"Method: **{ood.get('method', NOT_MEASURED)}** on the "
            f"`{ood.get('layer', 'features')}` layer. Images whose distance score is above "
            f"**{ood['threshold']:.4g}** get “this does not look like a close-up skin-lesion "
            f"photo” instead of a diagnosis.{flagged}"
        )
    st.header("Saliency check")
    saliency = card.saliency or {}
    if not saliency.get("n"):
        st.info("Not measured: the card records no check of the saliency maps against lesions.")
    else:
        st.markdown(
            f"On **{saliency['n']}** images with lesion masks, "
            f"{METHODS.get(saliency.get('method'), saliency.get('method'))} put "
            f"**{ui.percent(saliency.get('energy_in_lesion'))}** of its weight inside the "
            f"lesion, against **{ui.percent(saliency.get('uniform_baseline'))}** for a map "
            "that is the same everywhere."
        )


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
    rows = quality.effect_rows(limits)
    if rows:
        st.caption(quality.effects_caption(limits))
        share = st.column_config.NumberColumn(format="percent")
        frame = pd.DataFrame(rows)
        narrow = frame.copy()
        for column in ("balanced accuracy", "flagged out of domain"):
            if column in narrow:
                narrow[column] = narrow[column].map(lambda v: "—" if pd.isna(v) else f"{v:.1%}")
        ui.table(
            frame,
            narrow=narrow,
            hide_index=True,
            key="card_photo_quality",
            column_config={"balanced accuracy": share, "flagged out of domain": share},
        )


def _limitations(card: ModelCard) -> None:
    st.header("Known limitations")
    if card.limitations:
        st.markdown("\n".join(f"- {item}" for item in card.limitations))
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
