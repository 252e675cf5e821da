"""The ``skindx`` command as a researcher reproducing results meets it: labels CSVs from
spreadsheets, output paths that are folders or already hold a model, options without help.
Every failure is one line with a non-zero status, and nothing the user had is replaced."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from skindx.cli import main

ONE_HOT = ["image,MEL,NV,BCC,AKIEC,BKL,DF,VASC", "a,1,0,0,0,0,0,0", "b,0,1,0,0,0,0,0"]


@pytest.fixture
def images(tmp_path, lesion_image):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a", "b"):
        Image.fromarray(lesion_image).save(folder / f"{name}.png")
    return folder


def _evaluate(model_dir, images, labels, *extra) -> int:
    args = ["evaluate", "--model", str(model_dir), "--images", str(images)]
    return main([*args, "--labels", str(labels), *extra])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "unexpected error" not in err, err
    return err


def test_evaluate_reads_a_one_hot_ground_truth_saved_with_semicolons(
    tiny_model_dir, images, tmp_path
) -> None:
    """A spreadsheet in a comma-decimal locale saves ';': it failed with a raw KeyError."""
    labels = tmp_path / "truth.csv"
    labels.write_text("\n".join(line.replace(",", ";") for line in ONE_HOT) + "\n")
    out = tmp_path / "report.json"
    assert _evaluate(tiny_model_dir, images, labels, "--json", str(out)) == 0
    assert json.loads(out.read_text())["n"] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the official scorer failed on these after every image had been predicted
        ("\n".join([*ONE_HOT, "a,1,0,0,0,0,0,0"]), "row 4 ('a'): the same image as row 2"),
        (ONE_HOT[0].replace("image", "img") + "\na,1,0,0,0,0,0,0", "needs an 'image' column"),
        (ONE_HOT[0], "has a header but no data rows"),
        ("", "is empty"),
        ("a,b\n1,2", "A one-hot ground truth needs the columns image, AKIEC"),
        ("image_id,dx\na,nv\na,mel", "image id 'a' appears more than once"),
    ],
    ids=["duplicate", "no-image-column", "header-only", "empty", "unknown-columns", "meta-dup"],
)
def test_evaluate_names_what_is_wrong_with_a_labels_csv(
    capsys, tiny_model_dir, images, tmp_path, text, expected
) -> None:
    labels = tmp_path / "truth.csv"
    labels.write_text(text + "\n" if text else "")
    assert _evaluate(tiny_model_dir, images, labels) == 1
    assert expected in _one_line_error(capsys)


def test_evaluate_says_it_resampled_images_when_no_lesion_is_recorded(
    capsys, tiny_model_dir, images, tmp_path
) -> None:
    """A metadata CSV without lesion ids said 'lesions resampled' for a per-image bootstrap."""
    labels = tmp_path / "meta.csv"
    labels.write_text("image_id,dx\na,nv\nb,mel\n")
    assert _evaluate(tiny_model_dir, images, labels) == 0
    assert "images resampled" in capsys.readouterr().out


# --------------------------------------------------------------- outputs: checked, never lost


@pytest.fixture
def keep(tmp_path):
    """A file the user already has, which no failed command may touch."""
    path = tmp_path / "notes.md"
    path.write_text("mine\n")
    return path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model-card", "--out", "{tmp}"], "--out {tmp}: it is a folder"),
        (["model-card", "--out", "{tmp}/no/card.md"], "its folder {tmp}/no does not exist"),
        (["stats", "summarize", "README.md", "--out", "{tmp}"], "--out {tmp}: it is a folder"),
        (["explain", "README.md", "--out", "{tmp}"], "must end in .png"),
        (["explain", "README.md", "--out", "{tmp}/map.jpg"], "must end in .png"),
        (["handout", "--out", "{keep}"], "--out {keep} is a file, not a folder"),
        (["split-ensemble", "{tmp}", "--out", "{keep}"], "is a file, not a folder"),
        (
            ["data", "restructure", "--metadata", "README.md", "--images", ".", "--out", "{keep}"],
            "--out {keep} is a file, not a folder",
        ),
        (
            ["data", "preprocess", "--in", "{tmp}", "--out", "{tmp}/small", "--size", "32"],
            "--out {tmp}/small is inside --in {tmp}",
        ),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else None,
)
def test_an_output_path_that_cannot_be_used_is_refused_first(
    capsys, tmp_path, keep, args, expected
) -> None:
    """These wrote raw '[Errno 21] Is a directory', '[Errno 20] Not a directory' or PIL's
    'unknown file extension', some after minutes of work, or mixed PNGs into the input."""
    fill = {"tmp": str(tmp_path), "keep": str(keep)}
    assert main([arg.format(**fill) for arg in args]) == 2
    assert expected.format(**fill) in _one_line_error(capsys)
    assert keep.read_text() == "mine\n" and sorted(tmp_path.iterdir()) == [keep]


@pytest.mark.parametrize("command", ["train", "ensemble"])
def test_a_trained_model_is_not_written_over_unless_asked(
    capsys, tmp_path, tiny_model_dir, command
) -> None:
    """`skindx train --out` with a finished model's folder silently replaced its weights."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    before = {path.name: path.read_bytes() for path in model.iterdir()}
    data = ["--images", ".", "--metadata", "README.md", "--out", str(model)]
    members = [str(tiny_model_dir)] * (command == "ensemble")
    assert main([command, *members, *data]) == 2
    assert "already holds a model; choose another folder, or add --overwrite" in (
        _one_line_error(capsys)
    )
    assert {path.name: path.read_bytes() for path in model.iterdir()} == before


# --------------------------------------------------------------- help


def _options(parser, name="skindx"):
    """``(command, action)`` for every argument of every (sub-)command."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _options(sub, f"{name} {command}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield name, action


def test_every_option_is_explained_and_says_its_default() -> None:
    """70 options had no help at all, and train's defaults (epochs, learning rate, seeds …)
    could only be found in the code: a run is reproduced from its options."""
    from skindx.cli import build_parser
    from skindx.cli.common import HelpFormatter

    formatter = HelpFormatter("skindx")
    unexplained, unsaid = [], []
    for command, action in _options(build_parser()):
        name = action.option_strings[0] if action.option_strings else action.dest
        default = action.default
        has_default = not (default is None or default is False or default == ())
        if not action.help:
            unexplained.append(f"{command} {name}")
        elif has_default and "default" not in formatter._get_help_string(action):
            unsaid.append(f"{command} {name}")
    assert unexplained == [] and unsaid == []


def test_help_shows_the_training_recipe_defaults(capsys) -> None:
    from skindx.training.recipe import default

    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {default('epochs')})" in text
    assert "(default: 16,32,64,128,256)" in text and "(default: 0)" in text  # freeze-blocks


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--val-fraction", "0"], "--val-fraction: expected a value above 0 and below 1"),
        (["--input-size", "100000"], "--input-size: expected 2048 or less"),
        (["--widths", "8,16"], "--widths 8,16 has 2 blocks but --convs-per-block 1,1,2,2,2"),
    ],
)
def test_train_refuses_a_recipe_it_cannot_run_before_reading_images(
    capsys, tmp_path, args, expected
) -> None:
    """These failed with scikit-learn's or the network builder's words after every image had
    been read."""
    base = ["train", "--images", ".", "--metadata", "README.md", "--out", str(tmp_path / "m")]
    try:
        status = main([*base, *args])
    except SystemExit as exit_:  # argparse's own refusals
        status = exit_.code
    assert status == 2
    assert expected in capsys.readouterr().err


# --------------------------------------------------------------- the held-out test set


TEST_SET_ROWS = "lesion_id,image_id,dx\nHAMTEST_0000000,ISIC_0034524,nv\n"


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--images", "."],
        ["ensemble", "{model}", "--images", "."],
        ["context", "--model", "{model}", "--images", "."],
        ["photo-quality", "--model", "{model}", "--images", "."],
        ["same-spot-check", "--model", "{model}", "--images", "."],
        ["saliency-check", "--model", "{model}", "--images", ".", "--masks", "."],
    ],
    ids=lambda command: command[0],
)
def test_the_isic_2018_test_set_is_refused_as_training_or_validation_data(
    capsys, monkeypatch, tmp_path, tiny_model_dir, command
) -> None:
    """same-spot-check happily printed 'validation' figures from a split of the test set, and
    train would have trained on it: the data's one rule is that it stays held out."""
    import skindx.model.bundle

    monkeypatch.setattr(skindx.model.bundle, "load_model", _no_model_load)
    metadata = tmp_path / "ISIC2018_Task3_Test_GroundTruth.csv"
    metadata.write_text(TEST_SET_ROWS)
    args = [arg.format(model=tiny_model_dir) for arg in command]
    args += ["--metadata", str(metadata)] + ["--out", str(tmp_path / "m")] * (
        command[0] in ("train", "ensemble")
    )
    assert main(args) == 2
    assert "is the ISIC 2018 test set, the held-out benchmark" in _one_line_error(capsys)


def _no_model_load(*args):
    raise AssertionError("the model was loaded before --metadata was checked")


# --------------------------------------------------------------- unreadable or empty inputs


@pytest.mark.parametrize("command", ["explain", "similar"])
def test_an_unreadable_image_is_named_in_the_error(
    capsys, tmp_path, tiny_model_dir, images, command
) -> None:
    """'skindx: error: This is a text file, not an image.' left the user to guess which."""
    text = tmp_path / "lesion.jpg"
    text.write_text("not a photo")
    extra = ["--examples", str(images)] if command == "similar" else []
    assert main([command, str(text), "--model", str(tiny_model_dir), *extra]) == 1
    assert _one_line_error(capsys).startswith(f"skindx: error: {text}: This is a text file")


def test_preprocess_of_a_folder_without_images_says_so(capsys, tmp_path) -> None:
    """It printed '0 images written to …' and exited 1, as if it had worked on nothing."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "preprocess", "--in", str(empty), "--out", str(tmp_path / "o"),
                 "--size", "32"]) == 1  # fmt: skip
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert last == f"skindx: error: no images (JPEG, PNG …) under --in {empty}"
