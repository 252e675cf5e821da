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
