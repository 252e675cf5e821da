"""The model card's middle sections (calibration and triage settings, subgroups, other
checks) and what every section shares: the evaluations in display order, number formats and
Markdown tables."""

from __future__ import annotations

from typing import Any

from skindx.diagnosis.context import VARIABLE_LABELS
from skindx.explain.explainer import METHODS
from skindx.images import quality
from skindx.model.calibration import TRIAGE_SOON_SPECIFICITY
from skindx.model.card import ModelCard


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def span(interval: dict | None) -> str:
    """A bootstrap interval record (``evaluate.interval_record``) as ``0.601–0.652``; where
    single images were resampled (no lesion ids), it says so."""
    if interval is None:
        return "—"
    text = f"{interval['low']:.3f}–{interval['high']:.3f}"
    return text + (" (images resampled)" if interval["resampled"] == "images" else "")


SUBGROUP_NOTE = (
    "Groups come from the age, sex, body site and source collection recorded with each image "
    "(HAM10000's metadata for validation, the ground truth for the test set, whose 'external' "
    "images come from outside HAM10000's collections). Flagged "
    "and cleared: the shares of malignant lesions that get the 'see a doctor' message and of "
    "benign ones that do not. Groups under 30 images get a count only, and those shares need "
    "10 malignant (benign) lesions. In domain: the share the out-of-domain check accepts "
    "(out-of-fold on validation); a low share marks images unlike the training data. "
    "Balanced accuracy averages only the diagnoses a group has. ISIC records no skin type, so "
    "how the model does on darker skin cannot be measured here."
)
SUBGROUP_COLUMNS = {
    "group": "group",
    "n": "images",
    "n_malignant": "malignant",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "malignant_sensitivity": "malignant flagged",
    "benign_specificity": "benign cleared",
    "in_domain_share": "in domain",
}
SUBGROUP_RATES = tuple(SUBGROUP_COLUMNS.values())[3:]  # the shares, after group and counts
# the balanced accuracy's bootstrap interval record, after the shares: small groups are noisy
SUBGROUP_INTERVAL = "balanced accuracy, 95% interval"
GROUPING_LABELS = {**VARIABLE_LABELS, "source": "Source"}
SUBGROUP_HEADING = "By age, sex, body site and source"


def subgroup_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per age band, sex, body site and source of an evaluation (empty without them), keyed
    by :data:`SUBGROUP_COLUMNS`' labels."""
    rows = []
    for variable, groups in metrics.get("subgroups", {}).items():
        for group in groups:
            row = {label: group.get(key) for key, label in SUBGROUP_COLUMNS.items()}
            row[SUBGROUP_INTERVAL] = group.get("balanced_accuracy_interval")
            row["group"] = f"{GROUPING_LABELS[variable]}: {group['group']}"
            rows.append(row)
    return rows


# The card's evaluations in display order: (heading, short label for the app's split picker).
EVALUATIONS = {
    "test": ("Held-out test set", "Test set"),
    "test_with_context": ("Held-out test set, with age, sex and site", "Test set + age, sex, site"),
    "validation": ("Validation split", "Validation set"),
    "validation_with_context": (
        "Validation split, with age, sex and site",
        "Validation set + age, sex, site",
    ),
}


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def present(card: ModelCard) -> list[str]:
    return [split for split in EVALUATIONS if split in card.metrics]


def _triage_targets(thresholds: dict[str, Any]) -> str:
    malignant = thresholds.get("target_sensitivity")
    if malignant is None:
        return ""
    melanoma = thresholds.get("target_melanoma_sensitivity")
    extra = "" if melanoma is None else f", melanoma ≥ {melanoma:.2f}"
    return f" (validation sensitivity: malignant ≥ {malignant:.2f}{extra})"


def _context_line(context: dict[str, Any]) -> list[str]:
    if not context:
        return []
    cuts = context["thresholds"]
    return [
        f"- Clinical context (optional age, sex, body site): {context['method']}, likelihoods "
        f"counted on the {context['tables_from']}, weight {num(context['weight'])} (fitted on "
        f"{context['weight_from']}); its own triage cut-offs: 'see a doctor' from "
        f"{num(cuts['see_doctor'])}, 'see a doctor soon' from {num(cuts['see_doctor_soon'])}"
    ]


def same_spot_sentence(metrics: dict[str, Any]) -> str:
    """What combining photos of one lesion was worth on validation ("" if unmeasured)."""
    figures = metrics.get("validation", {}).get("same_spot", {})
    if not figures.get("n_lesions"):
        return ""
    return (
        f"On the {figures['n_lesions']} validation lesions with several images "
        f"({figures['n_images']} images), balanced accuracy was "
        f"{pct(figures['one_image_balanced_accuracy'])} from one image per lesion and "
        f"{pct(figures['combined_balanced_accuracy'])} from the mean of all its images' "
        f"probabilities; a lesion's images disagreed on the top diagnosis for "
        f"{pct(figures['images_disagree'])} of them."
    )


def _same_spot_section(metrics: dict[str, Any]) -> list[str]:
    sentence = same_spot_sentence(metrics)
    return ["### Several photos of one spot", "", sentence, ""] if sentence else []


def _photo_quality_section(limits: dict[str, Any]) -> list[str]:
    if not limits:
        return []
    lines = ["### Photo quality", "", quality.limits_summary(limits), ""]
    rows = quality.effect_rows(limits)
    if rows:
        lines += [
            quality.effects_caption(limits),
            "",
            "| validation images | balanced accuracy | flagged out of domain |",
            "|---|---|---|",
            *[
                f"| {r['validation images']} | {num(r['balanced accuracy'])} | "
                f"{pct(r['flagged out of domain'])} |"
                for r in rows
            ],
            "",
        ]
    return lines


# --- settings, subgroups, checks ---------------------------------------------------------------


def settings_section(card: ModelCard) -> list[str]:
    ood = card.ood
    return [
        "## Calibration, out-of-domain detection and triage",
        "",
        f"- Softmax temperature (fitted on validation NLL): {num(card.temperature)}",
        f"- Out-of-domain: {ood.get('method', '—')} distance on the `{ood.get('layer', '—')}` "
        f"layer, threshold {num(ood.get('threshold'))} (keeps {pct(ood.get('quantile'))} of "
        "validation images in domain"
        + (", scored out of fold)" if ood.get("threshold_from") else ")"),
        f"- Triage on p(malignant) = p(mel) + p(bcc) + p(akiec): 'see a doctor' from "
        f"{num(card.thresholds.get('see_doctor'))}{_triage_targets(card.thresholds)}, "
        f"'see a doctor soon' from {num(card.thresholds.get('see_doctor_soon'))} "
        f"(validation specificity {TRIAGE_SOON_SPECIFICITY:.2f})",
        *_context_line(card.context),
        "",
    ]


SUBGROUP_MARKDOWN_NOTE = (
    "From the age, sex, body site and source collection recorded with each image ('external': "
    "from outside HAM10000's collections). Malignant flagged, benign cleared: the shares of "
    "malignant lesions that get 'see a doctor' and of benign ones that do not. In domain: the "
    "share the out-of-domain check accepts. ISIC records no skin type, so darker skin cannot "
    "be measured here."
)


def subgroups_section(card: ModelCard) -> list[str]:
    """One evaluation's subgroup table (the test set's, image only, when there is one); groups
    too small for any share are named, not tabled."""
    split = next((s for s in present(card) if card.metrics[s].get("subgroups")), None)
    if split is None:
        return []
    rows = subgroup_rows(card.metrics[split])
    shown = [row for row in rows if any(row[rate] is not None for rate in SUBGROUP_RATES)]
    small = [f"{row['group']} ({row['images']})" for row in rows if row not in shown]
    lines = [f"## {SUBGROUP_HEADING}: {EVALUATIONS[split][1].lower()}", "", SUBGROUP_MARKDOWN_NOTE]
    if small:
        lines[-1] += f" Too few images to say: {', '.join(small)}."
    lines.append("")
    lines += table(
        [*SUBGROUP_COLUMNS.values(), SUBGROUP_INTERVAL],
        [
            [row["group"], str(row["images"]), str(row["malignant"])]
            + [num(row[rate]) for rate in SUBGROUP_RATES]
            + [span(row[SUBGROUP_INTERVAL])]
            for row in shown
        ],
    )
    return lines


def checks_section(card: ModelCard) -> list[str]:
    lines = []
    if card.saliency:
        s = card.saliency
        lines += [
            "### Saliency sanity check",
            "",
            f"On {s.get('n')} validation images, {pct(s.get('energy_in_lesion'))} of the "
            f"{METHODS.get(s.get('method'), s.get('method'))} map's energy falls inside the "
            "HAM10000 lesion masks, against "
            f"{pct(s.get('uniform_baseline'))} for a uniform map.",
            "",
        ]
    lines += _same_spot_section(card.metrics)
    lines += _photo_quality_section(card.photo_quality)
    return ["## Other checks", "", *lines] if lines else []
