"""Render a ModelCard as Markdown (docs/model_card.md is written by this, never by hand)."""

from __future__ import annotations

from typing import Any

from skindx import quality
from skindx.calibration import TRIAGE_SOON_SPECIFICITY
from skindx.card import ModelCard
from skindx.context import VARIABLE_LABELS
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


def _subgroups_section(metrics: dict[str, Any]) -> list[str]:
    rows = subgroup_rows(metrics)
    if not rows:
        return []
    lines = [f"#### {SUBGROUP_HEADING}", "", SUBGROUP_NOTE, ""]
    lines.append("| " + " | ".join(SUBGROUP_COLUMNS.values()) + " |")
    lines.append("|---" * len(SUBGROUP_COLUMNS) + "|")
    for row in rows:
        cells = [row["group"], str(row["images"]), str(row["malignant"])]
        cells += [_num(row[rate]) for rate in SUBGROUP_RATES]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _metrics_section(title: str, metrics: dict[str, Any]) -> list[str]:
    lines = [f"### {title}", ""]
    official = metrics.get("official", {})
    lines += [
        f"Dataset: {metrics.get('dataset', 'unknown')}, {metrics.get('n', 0)} images"
        + (", flip test-time augmentation" if metrics.get("tta") else "")
        + ".",
        "",
        "| figure | value |",
        "|---|---|",
        f"| balanced multiclass accuracy | {_num(metrics.get('balanced_accuracy'))} |",
    ]
    if official:
        score = _num(official.get("balanced_accuracy"))
        lines.append(f"| balanced accuracy, official `isic-challenge-scoring` | {score} |")
        lines.append(f"| macro AUC, official scorer | {_num(official.get('macro_auc'))} |")
    lines += [
        f"| accuracy | {_num(metrics.get('accuracy'))} |",
        f"| melanoma sensitivity (top-1) | {_num(metrics.get('melanoma_sensitivity'))} |",
        f"| malignant vs benign AUC | {_num(metrics.get('malignant_auc'))} |",
        f"| expected calibration error (15 bins) | {_num(metrics.get('ece'))} |",
    ]
    if "ece_uncalibrated" in metrics:
        lines.append(f"| ECE before temperature scaling | {_num(metrics['ece_uncalibrated'])} |")
    triage = metrics.get("triage")
    if triage:
        lines += [
            f"| 'see a doctor' threshold on p(malignant) | {_num(triage['threshold'])} |",
            f"| … sensitivity, malignant lesions | {_num(triage['malignant_sensitivity'])} |",
            f"| … sensitivity, melanoma | {_num(triage['melanoma_sensitivity'])} |",
            f"| … specificity, benign lesions | {_num(triage['benign_specificity'])} |",
        ]
    if "in_domain_share" in metrics:
        lines.append(f"| images judged in domain | {_pct(metrics['in_domain_share'])} |")
    if "context_given_share" in metrics:
        share = _pct(metrics["context_given_share"])
        lines.append(f"| images with age, sex or site given | {share} |")
    lines += ["", "| class | n | sensitivity | specificity | AUC |", "|---|---|---|---|---|"]
    for code, row in metrics.get("per_class", {}).items():
        lines.append(
            f"| {code} — {BY_CODE[code].name} | {row['n']} | {_num(row['sensitivity'])} | "
            f"{_num(row['specificity'])} | {_num(row['auc'])} |"
        )
    return [*lines, "", *_subgroups_section(metrics)]


# The project's targets for the held-out test set (docs: issue "From ISIC download to a
# shipped model"); the reached values are read from the card.
TARGETS = (
    ("balanced multiclass accuracy", ("balanced_accuracy",), 0.65, "≥"),
    ("melanoma sensitivity at the triage threshold", ("triage", "melanoma_sensitivity"), 0.85, "≥"),
    ("expected calibration error", ("ece",), 0.05, "≤"),
)


def _targets_section(test: dict[str, Any], title: str) -> tuple[list[str], bool]:
    """The target table for one test evaluation, and whether any target was missed."""
    lines = [f"### {title}", "", "| target | reached | verdict |", "|---|---|---|"]
    missed = False
    for label, path, goal, sense in TARGETS:
        value: Any = test
        for key in path:
            value = (value or {}).get(key)
        if value is None:
            lines.append(f"| {label} {sense} {goal} | not measured | — |")
            continue
        met = value >= goal if sense == "≥" else value <= goal
        missed = missed or not met
        verdict = "met" if met else f"missed by {abs(value - goal):.3f}"
        lines.append(f"| {label} {sense} {goal} | {value:.3f} | {verdict} |")
    lines.append("")
    return lines, missed


CLOSING_THE_GAPS = (
    "What would close the gaps: better image models, not post-hoc changes. Full 100-epoch "
    "schedules at 160 px on a GPU matched this model on validation without beating it, and "
    "exposure jitter made distilled members far steadier on darker and brighter photos but "
    "cost 0.022 on validation as they are (four epochs of it as fine-tuning of the shipped "
    "members on a CPU cost 0.061); untried are exposure jitter without the teacher or as "
    "fine-tuning with a warm-up and a longer schedule on a GPU, a pretrained backbone (VGG16 "
    "with ImageNet weights, whose conv layers alone outweigh the 25 MB limit, so it would be "
    "distilled into a smaller model), larger inputs and wider members, and choosing members "
    "by cross-validation over all of HAM10000 rather than one split; see 'What was tried'."
)


_VALUED_FLAGS = (
    "architecture", "weights", "input_size", "widths", "convs_per_block", "epochs", "batch_size",
    "learning_rate", "weight_decay", "warmup_epochs", "dropout", "patience", "label_smoothing",
    "class_weight_power", "val_fraction", "seed", "split_seed", "max_minutes", "teacher",
    "distill_weight", "exposure", "init_from", "max_per_class", "engine", "freeze_blocks",
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
        f"python tools/teacher_labels.py {_DATA_FLAGS[0]}",
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
    counts = training.get("train_images_per_class", {})
    members = training.get("members")
    if not members:
        return [
            f"{training.get('data', '—')}. Training images per class: {counts}. Best epoch "
            f"{training.get('best_epoch')} of {training.get('epochs_run')} (validation balanced "
            f"accuracy {training.get('val_balanced_accuracy_best')}).",
            "",
        ]
    lines = [
        f"{training.get('data', '—')}. Training images per class: {counts}. An ensemble of "
        f"{len(members)} networks trained on the same split; its logits are the mean of "
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


def render_markdown(card: ModelCard) -> str:
    """The whole model card as Markdown, every figure read from ``card``."""
    training = card.training
    lines = [
        f"# Model card: {card.name} {card.version}",
        "",
        "*Generated from `models/default/card.json` by `skindx model-card`; do not edit by hand.*",
        "",
        "## Intended use",
        "",
        card.intended_use,
        "",
        "Out of scope: diagnosing a person, deciding on treatment, screening without a clinician, "
        "ordinary phone photos (the model saw only dermoscopic images), lesions outside the "
        "seven classes.",
        "",
        "## Model",
        "",
        f"- Architecture: `{card.architecture}`",
        f"- Input: {card.input_size}×{card.input_size} RGB, preprocessing `{card.preprocessing}`",
        f"- Classes: {', '.join(card.classes)}",
        f"- Weights sha256: `{card.weights_sha256}`",
        f"- Created: {card.created}",
        "",
        "## Training data",
        "",
        *_training_section(training),
        "## Calibration, out-of-domain detection and triage",
        "",
        f"- Softmax temperature (fitted on validation NLL): {_num(card.temperature)}",
        f"- Out-of-domain: {card.ood.get('method', '—')} distance on the "
        f"`{card.ood.get('layer', '—')}` layer, threshold {_num(card.ood.get('threshold'))} "
        f"(keeps {_pct(card.ood.get('quantile'))} of validation images in domain"
        + (", scored out of fold)" if card.ood.get("threshold_from") else ")"),
        f"- Triage on p(malignant) = p(mel) + p(bcc) + p(akiec): 'see a doctor' from "
        f"{_num(card.thresholds.get('see_doctor'))}{_triage_targets(card.thresholds)}, "
        f"'see a doctor soon' from {_num(card.thresholds.get('see_doctor_soon'))} "
        f"(validation specificity {TRIAGE_SOON_SPECIFICITY:.2f})",
        *_context_line(card.context),
        "",
        "## Evaluation",
        "",
    ]
    present = [(split, title) for split, (title, _) in EVALUATIONS.items() if split in card.metrics]
    missed = False
    for split, title in present:  # test evaluations first, each with its targets
        if split.startswith("test"):
            targets, missed_here = _targets_section(card.metrics[split], f"{title}: targets")
            lines += [*_metrics_section(title, card.metrics[split]), *targets]
            missed = missed or missed_here
    if missed:
        lines += [CLOSING_THE_GAPS, ""]
    for split, title in present:
        if not split.startswith("test"):
            lines += _metrics_section(title, card.metrics[split])
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
    lines += ["## Limitations", "", *[f"- {item}" for item in card.limitations], ""]
    lines += _reproduce(card)
    notes = training.get("notes")
    if notes:
        lines += ["## What was tried", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)
