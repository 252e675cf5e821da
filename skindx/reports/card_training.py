"""The model card's training part: the training section with its ensemble members' table,
the commands that reproduce the model, and the pointer to what was tried."""

from __future__ import annotations

from typing import Any

from skindx.model.card import ModelCard
from skindx.reports.card_sections import same_spot_sentence
from skindx.training.probe import FIXED_PROBE_C

_VALUED_FLAGS = (
    "architecture", "weights", "input_size", "widths", "convs_per_block", "epochs", "batch_size",
    "learning_rate", "weight_decay", "warmup_epochs", "dropout", "patience", "label_smoothing",
    "class_weight_power", "val_fraction", "seed", "split_seed", "max_minutes", "teacher",
    "distill_weight", "exposure", "init_from", "max_per_class", "epoch_class_cap", "engine",
    "freeze_blocks", "lock_blocks", "blocks", "head", "probe_c",
)  # fmt: skip
_SWITCHES = ("color_constancy", "hair_removal", "mixed_precision", "refit_head")


def _train_arguments(recipe: dict[str, Any], used_probe_c: float | None = None) -> str:
    """The `skindx train` flags that rebuild ``recipe`` (unset options left out).
    ``used_probe_c``: the C the training record says the probe was fitted at."""
    words = []
    for name in _VALUED_FLAGS:
        value = recipe.get(name)
        if name == "probe_c" and name not in recipe and recipe.get("weights"):
            # a recipe from before the flag: the C its record names, else the fixed one then
            value = used_probe_c or FIXED_PROBE_C
        if value is None or (name == "distill_weight" and not recipe.get("teacher")):
            continue
        # off; unknown to older recipes
        if name in ("exposure", "freeze_blocks", "lock_blocks") and not value:
            continue
        if name == "blocks" and (value == 5 or recipe.get("architecture") != "vgg16"):
            continue
        if name == "head" and value == "gap":  # the default
            continue
        if isinstance(value, list):
            value = ",".join(map(str, value))
        words.append(f"--{name.replace('_', '-')} {value}")
    words += [f"--{name.replace('_', '-')}" for name in _SWITCHES if recipe.get(name)]
    if recipe.get("mixed_precision") is False:  # the default, auto, may choose bfloat16
        words.append("--mixed-precision off")
    return " ".join(words)


_DATA_FLAGS = (
    "--images ../shared/data/ham10000/images \\",
    "  --metadata ../shared/data/ham10000/HAM10000_metadata.csv",
)


def _train_command(record: dict[str, Any], out: str) -> list[str]:
    """`skindx train` for a training ``record`` (the card's, or an ensemble member's)."""
    backend = record.get("backend", "tensorflow")
    command = "skindx train" if backend == "tensorflow" else f"KERAS_BACKEND={backend} skindx train"
    return [
        f"{command} {_DATA_FLAGS[0]}",
        f"{_DATA_FLAGS[1]} --out {out} \\",
        f"  {_train_arguments(record['recipe'], record.get('probe_c'))}",
    ]


# a rebuild replaces the shipped model, which `skindx train` and `ensemble` do only when told
SHIPPED_OUT = "models/default --overwrite"


def _training_commands(card: ModelCard) -> list[str]:
    """`skindx train` for a single model; one per member, then `skindx ensemble`."""
    members = card.training.get("members")
    if not members:
        return _train_command(card.training, SHIPPED_OUT)
    outs = [f"runs/member{k}" for k in range(1, len(members) + 1)]
    lines = []
    for member, out in zip(members, outs, strict=True):
        lines += _train_command(member, out)
    shares = [member.get("weight") for member in members]
    weights = "" if len(set(shares)) == 1 else f" --weights {' '.join(map(str, shares))}"
    half = " --float16-kernels" if card.training.get("kernel_storage") else ""
    return [
        *lines,
        f"skindx ensemble {' '.join(outs)} \\",
        f"  {_DATA_FLAGS[0]}",
        f"{_DATA_FLAGS[1]} --out {SHIPPED_OUT}{weights}{half}",
    ]


def _recipes(card: ModelCard) -> list[dict[str, Any]]:
    members = card.training.get("members")
    if members:
        return [member.get("recipe") or {} for member in members]
    return [card.training.get("recipe") or {}]


def reproduce(card: ModelCard) -> list[str]:
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


def training_section(training: dict[str, Any]) -> list[str]:
    per_class = training.get("train_images_per_class") or {}
    counts = ", ".join(f"{code} {n:,}" for code, n in per_class.items()) or "—"
    members = training.get("members")
    if not members:
        return [
            f"{training.get('data', '—')}. Training images per class: {counts}. "
            f"{_epochs(training).capitalize()} (validation balanced "
            f"accuracy {training.get('val_balanced_accuracy_best')}).",
            "",
        ]
    mean = "mean" if equal_shares(members) else "weighted mean"
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


def _epochs(record: dict[str, Any]) -> str:
    """``best epoch 12 of 30``; a network whose head alone was fitted, on frozen features,
    ran no epochs."""
    if record.get("epochs_run") == 0:
        return "linear probe on frozen features, no epochs"
    return f"best epoch {record.get('best_epoch')} of {record.get('epochs_run')}"


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
                "best epoch": _epochs(member).removeprefix("best epoch "),
                "validation balanced accuracy": member.get("val_balanced_accuracy_best"),
            }
        )
    return rows


def equal_shares(members: list[dict[str, Any]]) -> bool:
    return len({member.get("weight") for member in members}) <= 1


TRAINING_LOG_INDEX = "docs/training_logs/README.md"


def what_was_tried(training: dict[str, Any]) -> list[str]:
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
