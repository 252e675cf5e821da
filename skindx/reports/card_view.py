"""What the Model card page derives from a ``ModelCard``: its sentences, figures and tables.

Every figure comes from the card; what the card does not hold reads :data:`NOT_MEASURED`, never
filled in. No drawing and no streamlit: the page lays these out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from skindx.evaluation.metrics import ECE_BINS
from skindx.explain.explainer import METHODS
from skindx.images import quality
from skindx.model.card import ModelCard
from skindx.reports.card_sections import (
    EVALUATIONS,
    SUBGROUP_INTERVAL,
    SUBGROUP_RATES,
    subgroup_rows,
)
from skindx.reports.card_training import equal_shares, member_rows
from skindx.reports.figures import per_class_table
from skindx.reports.model_card import architecture_words, measured_limits
from skindx.reports.numbers import percent
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import MALIGNANT_NAMES

NOT_MEASURED = "not measured"
SPLITS = {split: short for split, (_, short) in EVALUATIONS.items()}
OUT_OF_SCOPE = (
    "Diagnosing, ruling out or screening for skin cancer, or deciding whether someone needs "
    "to see a doctor.",
    "Ordinary phone photos, photos of rashes, nails, hair, mucosa or whole body areas: the "
    "model was trained on dermoscopic close-ups of single lesions.",
    "Lesions outside the model's classes ({classes}); it will force any other lesion into one "
    "of them.",
    "Children, and any population the training data does not represent (see the limitations).",
)
PER_CLASS_RATES = ["sensitivity", "specificity"]
PER_CLASS_ORDER = ["diagnosis", "sensitivity", "specificity", "auc", "n", "malignant"]
_TRAINING_SHOWN = {"data", "recipe", "train_images_per_class", "history", "members"}
MEMBER_SCORE = "validation balanced accuracy"
PHOTO_QUALITY_SHARES = ("balanced accuracy", "flagged out of domain")


def value_text(value: Any, kind: str = "share") -> str:
    """A card figure as the page writes it: a share, an AUC or a count; missing: not measured."""
    if value is None:
        return NOT_MEASURED
    if kind == "share":
        return percent(value)
    if kind == "auc":
        return f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def members_sentence(members: list[dict[str, Any]]) -> str:
    """What the ensemble does with its members, above their table."""
    mean = "mean" if equal_shares(members) else "weighted mean (weights under Architecture)"
    return f"The model's logits are the {mean} of those of networks trained on the same split:"


def header_line(card: ModelCard) -> str:
    parts = [f"**{card.name}**", f"version {card.version}"]
    if card.created:
        parts.append(f"created {_day(card.created)}")
    return " · ".join(parts)


def _day(stamp: str) -> str:
    """An ISO time stamp as the lessons write dates (``7 December 2026``); as given where it
    is not one."""
    try:
        day = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return f"{day.day} {day:%B %Y}"


def out_of_scope_markdown(card: ModelCard) -> str:
    classes = ", ".join(diagnosis_label(c).lower() for c in card.classes)
    return "\n".join(f"- {item.format(classes=classes)}" for item in OUT_OF_SCOPE)


def training_facts(training: Mapping[str, Any]) -> dict[str, str]:
    """Training images, and the ensemble's members or the best epoch and epochs run."""
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
    return {name: NOT_MEASURED if value is None else f"{value:,}" for name, value in facts.items()}


def members_frame(members: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per ensemble member, its validation balanced accuracy as a percentage in text
    (as every other share on the page), for a static table; a dash for what a member's
    record lacks."""
    frame = pd.DataFrame(member_rows(members))
    frame[MEMBER_SCORE] = frame[MEMBER_SCORE].map("{:.1%}".format, na_action="ignore")
    return frame.astype(object).where(frame.notna(), "—")


def members_narrow(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`members_frame` for a phone, where six columns ran past its edge: no seed or
    training loop."""
    return frame.drop(columns=["seed", "training loop"])


def training_counts_frame(counts: Mapping[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "diagnosis": [diagnosis_label(code) for code in counts],
            "training images": list(counts.values()),
        }
    )


def recorded_recipe(training: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe and whatever else the training section holds that the page shows nowhere else."""
    other = {k: v for k, v in training.items() if k not in _TRAINING_SHOWN}
    return {**(training.get("recipe") or {}), **other}


def architecture_markdown(card: ModelCard) -> str:
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
    return "\n".join(lines)


def _setting(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


VALIDATION_FLATTERS = (
    "The validation split also chose the temperature, the triage cut-offs and the "
    "out-of-domain threshold, and comes from the training clinics: its figures flatter the "
    "model. The held-out test set's are the ones to go by."
)


def evaluation_line(metrics: Mapping[str, Any], split: str) -> str:
    line = (
        f"{metrics.get('dataset') or SPLITS[split]} · "
        f"**{value_text(metrics.get('n'), 'count')}** images"
    )
    if interval := metrics.get("balanced_accuracy_interval"):
        # how far another draw of as many lesions could move the headline figure
        line += (
            f" · balanced accuracy {interval['level']:.0%} interval "
            f"{percent_span(interval)} ({interval['resampled']} resampled)"
        )
    return line


# What each headline figure means, for a reader who has not met the term (the metrics' help).
FIGURE_HELP = {
    "Balanced accuracy": "The mean of the seven diagnoses' sensitivities, so a rare diagnosis "
    "counts as much as a common one (the ISIC 2018 challenge's headline figure).",
    "Accuracy": "The share of images whose top class is their diagnosis; most images are "
    "melanocytic nevi, so it mostly measures those.",
    "Melanoma sensitivity": "The share of melanomas whose top class is melanoma. The “see a "
    "doctor” advice adds up the cancer types' probabilities and flags more melanomas: see "
    "Calibration and triage.",
    "Cancer vs not: AUC": "How well p(cancer), the cancer types' probabilities added up, ranks "
    "a cancer above a non-cancer: 0.5 is guessing, 1 is perfect.",
    "Temperature": "The number the network's scores are divided by before they become "
    "probabilities, fitted on the validation split so they match how often it is right.",
    "Calibration error (ECE)": "Expected calibration error: the average gap between the "
    f"stated confidence and how often the top class was right ({ECE_BINS} bins); 0 is perfect.",
}


def overall_figures(metrics: Mapping[str, Any]) -> dict[str, str]:
    overall = {
        "Balanced accuracy": (metrics.get("balanced_accuracy"), "share"),
        "Accuracy": (metrics.get("accuracy"), "share"),
        "Melanoma sensitivity": (metrics.get("melanoma_sensitivity"), "share"),
        "Cancer vs not: AUC": (metrics.get("malignant_auc"), "auc"),
    }
    return {name: value_text(value, kind) for name, (value, kind) in overall.items()}


def official_caption(official: Mapping[str, Any], ours: float | None = None) -> str:
    """The official scorer's figures under the headline ``ours``. Where its balanced accuracy
    is ours to within 0.1 points it says so: the scorer reads the probabilities as written to
    the submission file, and a 0.01-point difference must not show as 65.9% beside 66.0%."""
    scored = official.get("balanced_accuracy")
    auc = value_text(official.get("macro_auc"), "auc")
    if scored is not None and ours is not None and abs(scored - ours) < 0.001:
        return f"Official ISIC 2018 scorer: the same balanced accuracy, macro AUC {auc}."
    return f"Official ISIC 2018 scorer: balanced accuracy {value_text(scored)}, macro AUC {auc}."


def per_class_frames(metrics: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The per-class table with its rates in percent, and a copy formatted for a phone (short
    headings, text cells that wrap); ``None`` when the card holds no per-class figures."""
    table = per_class_table(metrics)
    if table.empty:
        return None
    rates = PER_CLASS_RATES
    table[rates] = table[rates] * 100  # "%.1f%%": one decimal in every row
    narrow = table[PER_CLASS_ORDER].copy()
    for rate in rates:
        narrow[rate] = narrow[rate].map(lambda v: "—" if pd.isna(v) else f"{v:.1f}%")
    narrow["auc"] = narrow["auc"].map(lambda v: "—" if pd.isna(v) else f"{v:.3f}")
    narrow["n"] = narrow["n"].map(lambda v: "—" if pd.isna(v) else f"{int(v):,}")
    narrow["malignant"] = narrow["malignant"].map({True: "yes", False: "no"})
    narrow = narrow.rename(columns={"auc": "AUC", "malignant": "cancer type"})
    return table, narrow


SUBGROUP_ACCURACY = "balanced accuracy (95% interval)"


def subgroup_frame(metrics: Mapping[str, Any]) -> pd.DataFrame | None:
    """The subgroup rows with their shares as text and balanced accuracy's interval in its
    cell, for a static table; ``None`` when the evaluation has none."""
    rows = subgroup_rows(metrics)
    if not rows:
        return None
    rates = list(SUBGROUP_RATES)
    table = pd.DataFrame(rows)
    # Text cells, so a group too small to judge shows a dash rather than "None".
    table[rates] = table[rates].map(lambda v: "—" if v is None or pd.isna(v) else f"{100 * v:.1f}%")
    spans = table.pop(SUBGROUP_INTERVAL).map(percent_span)
    accuracy = [
        value if span == "—" else f"{value} ({span})"
        for value, span in zip(table["balanced accuracy"], spans, strict=True)
    ]
    table["balanced accuracy"] = accuracy
    return table.rename(columns={"balanced accuracy": SUBGROUP_ACCURACY})


def subgroup_narrow(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`subgroup_frame`'s table for a phone: the group, its size, balanced accuracy with
    its interval, and the triage shares; the rest stays on wide screens."""
    shown = ["group", "images", SUBGROUP_ACCURACY, "malignant flagged", "benign cleared"]
    return table[shown]


def percent_span(interval: Any) -> str:
    """A bootstrap interval record as ``58.3–67.1%``; a dash where none was measured."""
    if not isinstance(interval, Mapping):
        return "—"
    return f"{100 * interval['low']:.1f}–{100 * interval['high']:.1f}%"


def calibration_figures(card: ModelCard, metrics: Mapping[str, Any]) -> dict[str, str]:
    return {
        "Temperature": f"{card.temperature:.3f}" if card.temperature else NOT_MEASURED,
        "Calibration error (ECE)": value_text(metrics.get("ece")),
        "ECE before calibration": value_text(metrics.get("ece_uncalibrated")),
    }


def triage_sentence(thresholds: Mapping[str, Any]) -> str:
    return (
        f"The app adds up the probabilities of the cancer types ({MALIGNANT_NAMES}) and "
        f"advises “see a doctor” from **{percent(thresholds.get('see_doctor'))}** and "
        f"“see a doctor soon” from **{percent(thresholds.get('see_doctor_soon'))}**."
    )


def context_sentence(context: Mapping[str, Any]) -> str:
    cuts = context["thresholds"]
    return (
        "With age, sex or body site given, the image's probabilities are multiplied by how "
        "common each diagnosis is at that age, sex and site in the training data (weight "
        f"{context['weight']:.2f}, fitted on the validation split), and the advice "
        f"uses cut-offs fitted for that: **{percent(cuts['see_doctor'])}** and "
        f"**{percent(cuts['see_doctor_soon'])}**."
    )


def triage_result_sentence(triage: Mapping[str, Any]) -> str:
    """How often the “see a doctor” advice was right on one evaluation: at that evaluation's own
    cut-off (with age, sex and site given, the context's), melanoma with its interval."""
    cut = triage.get("threshold")
    at = f" of {percent(cut)}" if cut is not None else ""
    interval = triage.get("melanoma_sensitivity_interval")
    within = f" (95% interval {percent_span(interval)})" if interval else ""
    return (
        f"On this evaluation data, at its “see a doctor” threshold{at}: cancers flagged "
        f"**{value_text(triage.get('malignant_sensitivity'))}**, melanomas flagged "
        f"**{value_text(triage.get('melanoma_sensitivity'))}**{within}, non-cancers left "
        f"unflagged **{value_text(triage.get('benign_specificity'))}**."
    )


_OOD_METHODS = {"mahalanobis": "Mahalanobis distance"}  # the card's name → a reader's


def ood_sentence(ood: Mapping[str, Any]) -> str | None:
    """The out-of-domain detector in words; ``None`` when the model has none."""
    if "threshold" not in ood:
        return None
    quantile = ood.get("quantile")
    flagged = (
        f" It is set so that about {percent(1 - quantile, 0)} of validation images, each "
        "scored by a reference fitted without it, fall above it: about as many new "
        "dermoscopy images will too."
        if isinstance(quantile, int | float)
        else ""
    )
    method = ood.get("method", NOT_MEASURED)
    return (
        f"Method: **{_OOD_METHODS.get(method, method)}** of the network's features (its "
        f"`{ood.get('layer', 'features')}` layer). Images whose distance score is above "
        f"**{ood['threshold']:.4g}** get “this does not look like a close-up skin-lesion "
        f"photo” instead of a diagnosis.{flagged}"
    )


def flagged_sentence(test: Mapping[str, Any]) -> str | None:
    """How many held-out dermoscopy images the out-of-domain check flagged, which the
    evaluation figures still count; ``None`` when the test evaluation did not record it."""
    share = test.get("in_domain_share")
    if share is None:
        return None
    return (
        f"On the held-out test set ({test.get('dataset') or 'test set'}, "
        f"{value_text(test.get('n'), 'count')} dermoscopy images), it flagged "
        f"**{percent(1 - share)}**; the evaluation figures above count those images too."
    )


def saliency_sentence(saliency: Mapping[str, Any]) -> str | None:
    """The check of saliency maps against lesion masks; ``None`` when not measured."""
    if not saliency.get("n"):
        return None
    inside = saliency.get("energy_in_lesion")
    # What the two shares mean for reading a map: above the baseline, yet mostly outside.
    reading = (
        f" The maps lean towards the lesion, but most of their weight "
        f"({percent(1 - inside)}) falls outside it: read a map as a rough area, not an outline."
        if isinstance(inside, int | float) and inside < 0.5
        else ""
    )
    return (
        f"On **{saliency['n']}** validation images with lesion masks, "
        f"{METHODS.get(saliency.get('method'), saliency.get('method'))} put "
        f"**{percent(inside)}** of its weight inside the lesion, against "
        f"**{percent(saliency.get('uniform_baseline'))}** for a map that is the same "
        f"everywhere (the lesions' share of their images).{reading}"
    )


def photo_quality_frames(limits: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """What darker, brighter or blurred photos cost, and a copy with its shares as text for a
    phone; ``None`` when nothing was measured."""
    rows = quality.effect_rows(limits)
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    narrow = frame.copy()
    for column in PHOTO_QUALITY_SHARES:
        if column in narrow:
            narrow[column] = narrow[column].map(lambda v: "—" if pd.isna(v) else f"{v:.1%}")
            frame[column] = frame[column] * 100  # "%.1f%%": one decimal in every row
    return frame, narrow


def known_limitations(card: ModelCard) -> list[str]:
    """The card's limitations, then those its figures show (the weakest diagnoses, the drop
    from the validation split to the test set), as docs/model_card.md lists them."""
    return [*card.limitations, *measured_limits(card, share=percent, name=diagnosis_label)]


def limitations_markdown(limitations: list[str]) -> str:
    return "\n".join(f"- {item}" for item in limitations)
