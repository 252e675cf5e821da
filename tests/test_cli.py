"""The skindx command: exit codes, messages, outputs (run in-process through main())."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skindx.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def image_file(tmp_path, lesion_image) -> Path:
    path = tmp_path / "lesion.png"
    Image.fromarray(lesion_image).save(path)
    return path


def test_predict_table(capsys, tiny_model_dir, image_file):
    assert main(["predict", str(image_file), "--model", str(tiny_model_dir), "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "lesion.png" in out and "malignant (mel+bcc+akiec)" in out
    assert out.count("%") >= 3


def test_predict_refuses_a_black_and_white_photo_as_the_app_does(
    capsys, tiny_model_dir, tmp_path, lesion_image
):
    """quality.refusal: the command line gives such a photo no diagnosis either, and says why."""
    from skindx.images.quality import NO_COLOUR

    grey = tmp_path / "grey.png"
    Image.fromarray(lesion_image).convert("L").convert("RGB").save(grey)
    assert main(["predict", str(grey), "--model", str(tiny_model_dir)]) == 0
    out = capsys.readouterr().out
    assert NO_COLOUR in out
    assert "%" not in out and "does not look like a dermoscopic" not in out
    assert main(["predict", str(grey), "--model", str(tiny_model_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["concern"] == "not_assessed" and record["notes"] == [NO_COLOUR]
    # its advice says why, not that it is no lesion close-up (the out-of-domain message)
    assert record["concern_message"].startswith(NO_COLOUR)


def test_predict_json_lines(capsys, tiny_model_dir, image_file, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"<html>not an image</html>")
    code = main(["predict", str(image_file), str(bad), "--model", str(tiny_model_dir), "--json"])
    assert code == 0  # one image failed, one succeeded
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["label"] in lines[0]["probabilities"]
    assert sum(lines[0]["probabilities"].values()) == pytest.approx(1.0)
    assert len(lines[0]["top_k"]) == 3
    assert "error" in lines[1] and "HTML" in lines[1]["error"]


def test_predict_with_warning_signs(capsys, tiny_model_dir, image_file):
    args = ["predict", str(image_file), "--model", str(tiny_model_dir), "--json"]
    assert main([*args, "--signs", "size,color"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["signs"] == ["size", "colour"] and record["concern"] == "see_doctor_soon"
    assert "score 4 on the weighted 7-point checklist" in record["concern_message"]
    assert main([*args, "--signs", "nodule"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["signs"] == ["lump"] and record["concern"] == "see_doctor_soon"


def test_predict_writes_png_reports(capsys, tiny_model_dir, image_file, tmp_path):
    """--report DIR: a report per image, named after it (the combined one: test_same_spot)."""
    other = tmp_path / "more" / "lesion.png"  # the same name in another folder
    other.parent.mkdir()
    other.write_bytes(image_file.read_bytes())
    out = tmp_path / "reports"
    args = ["predict", str(image_file), str(other), "--model", str(tiny_model_dir)]
    assert main([*args, "--report", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["lesion-report-2.png", "lesion-report.png"]
    for name in written:
        with Image.open(out / name) as page:
            assert page.format == "PNG" and page.width == 1200
    assert "report written to" in capsys.readouterr().err
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert main([*args, "--report", str(blocked)]) == 1
    assert "a-file: not a folder" in capsys.readouterr().err


def test_predict_all_failed_exits_1(capsys, tiny_model_dir, tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"")
    assert main(["predict", str(bad), "--model", str(tiny_model_dir)]) == 1
    assert "x.jpg" in capsys.readouterr().err


def test_explain_writes_png(capsys, tiny_model_dir, image_file, tmp_path):
    out = tmp_path / "overlay.png"
    args = ["explain", str(image_file), "--model", str(tiny_model_dir), "--method", "gradcam++"]
    assert main([*args, "--target", "mel", "--out", str(out)]) == 0
    with Image.open(out) as overlay:
        assert overlay.size == (200, 150)
    printed = capsys.readouterr().out
    assert "gradcam++ for mel" in printed
    # A change in p(mel), signed as it reads: negative when blurring lowers it.
    assert re.search(r"changes p\(mel\) by [+-]\d\.\d{3} \([+-]\d\.\d{3} for random", printed)


def test_similar_lists_the_nearest_labelled_lesions(capsys, tiny_model_dir, tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        folder = tmp_path / "examples" / ("MEL" if i < 3 else "NV")  # one folder per diagnosis
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((8, 8, 1)))
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"ISIC_{i}.png")
    image = tmp_path / "examples" / "MEL" / "ISIC_0.png"
    args = ["similar", str(image), "--examples", str(tmp_path / "examples")]
    assert main([*args, "--model", str(tiny_model_dir), "--neighbours", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    names = [Path(n["image"]).name for n in result["neighbours"]]
    assert len(names) == 3 and "ISIC_0.png" not in names  # the image is not its own neighbour
    similarities = [n["similarity"] for n in result["neighbours"]]
    assert similarities == sorted(similarities, reverse=True)
    assert sum(result["votes"].values()) == 3 and set(result["votes"]) <= {"mel", "nv"}
    assert result["gallery"]["n"] == 6 and result["gallery"]["k"] == 10
    assert main([*args, "--model", str(tiny_model_dir)]) == 0
    assert "ISIC_0.png: the 5 most similar of 6 lesions:" in capsys.readouterr().out  # 5 others
    (tmp_path / "empty").mkdir()
    empty = ["--examples", str(tmp_path / "empty"), "--model", str(tiny_model_dir)]
    assert main(["similar", str(image), *empty]) == 1
    assert capsys.readouterr().err.startswith("skindx: error: --examples")


TRAIN = ["train", "--images", ".", "--metadata", "README.md", "--out", "o"]  # valid so far


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["predict"],
        ["predict", "x.jpg", "--top-k", "0"],
        ["predict", "x.jpg", "--top-k", "two"],
        ["predict", "x.jpg", "--model", "/no/such/dir"],
        ["predict", "x.jpg", "--signs", "freckles"],
        ["explain", "/no/such/image.jpg"],
        ["explain", "x.jpg", "--method", "magic"],
        ["explain", "x.jpg", "--alpha", "3"],
        ["evaluate", "--images", "/no/such"],
        ["train", "--images", ".", "--metadata", "/missing.csv", "--out", "o"],
        [*TRAIN, "--warmup-epochs", "-1"],
        ["ensemble", "/no/such/model", "--images", ".", "--metadata", "README.md", "--out", "o"],
        ["data", "preprocess", "--in", ".", "--out", "o", "--size", "-3"],
        ["stats", "summarize", "--out", "x.json"],
        [*TRAIN, "--mixed-precision", "x"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_train_defaults_are_the_recipe_defaults():
    """One set of defaults: `skindx train` with no options trains TrainConfig's recipe."""
    from dataclasses import fields

    from skindx.cli import build_parser
    from skindx.training.recipe import TrainConfig

    args = build_parser().parse_args(TRAIN)
    for field in fields(TrainConfig):
        skipped = {"images", "metadata", "out", "mixed_precision"}
        if hasattr(args, field.name) and field.name not in skipped:
            assert getattr(args, field.name) == field.default, field.name
    assert args.mixed_precision == "auto"  # resolved per machine (tests/test_precision.py)


def test_failures_are_one_line_exit_1(capsys, tmp_path, image_file):
    empty = tmp_path / "empty_model"
    empty.mkdir()
    assert main(["predict", str(image_file), "--model", str(empty)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("skindx: error:") and "card.json" in err and "\n" not in err


def test_explain_bad_target_is_refused_before_the_model_loads(capsys, image_file, tmp_path):
    args = ["explain", str(image_file), "--model", str(tmp_path), "--target", "zzz"]
    with pytest.raises(SystemExit) as exit_:  # tmp_path holds no model: never loaded
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --target: invalid choice: 'zzz'" in err and "vasc" in err


def test_python_dash_m_and_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "skindx",
            "predict",
            str(tmp_path / "x.png"),
            "--model",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[-1]]


def test_stats_summarize(tmp_path, capsys):
    csv = tmp_path / "meta.csv"
    csv.write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization,dataset\n"
        "HAM_1,ISIC_1,mel,histo,50,male,back,x\nHAM_1,ISIC_2,mel,histo,50,male,back,x\n"
        "HAM_2,ISIC_3,nv,follow_up,30,female,face,x\n"
    )
    out = tmp_path / "summary.json"
    assert main(["stats", "summarize", str(csv), "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    (part,) = summary["datasets"].values()
    assert part["n_images"] == 3 and part["diagnosis_counts"]["mel"] == 2
    assert "ISIC_1" not in out.read_text()  # aggregated: no per-image rows


def test_stats_summarize_warns_of_values_it_does_not_know(tmp_path, capsys):
    """The page warned of a sex "robot"; the CLI counted it as unknown without a word."""
    known = tmp_path / "known.csv"
    known.write_text("image_id,dx,age,sex,localization\nI1,nv,40,male,back\n")
    odd = tmp_path / "odd.csv"
    odd.write_text(
        "image_id,dx,age,sex,localization\n"
        + "".join(f"J{i},{'foo' if i == 0 else 'mel'},forty,robot,back\n" for i in range(3))
    )
    out = tmp_path / "summary.json"
    assert main(["stats", "summarize", str(known), str(odd), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "warning: odd.csv: 1 row has a diagnosis skindx does not know (foo); it is counted as "
        "unknown.",
        "warning: odd.csv: 3 rows have an age that is not a number from 0 to 120 (forty); they "
        "are counted as unknown.",
        "warning: odd.csv: 3 rows have a sex skindx does not know (robot); they are counted as "
        "unknown.",
    ]
    assert captured.out.splitlines() == [
        "HAM10000: 4 images",
        f"summary written to {out}",
    ]
    (part,) = json.loads(out.read_text())["datasets"].values()
    # As the warnings say: counted, as unknown ("foo" is not a diagnosis of its own).
    assert part["diagnosis_counts"] == {"nv": 1, "mel": 2, "unknown": 1}
    assert part["sex_by_diagnosis"]["mel"] == {"unknown": 2}
    assert main(["stats", "summarize", str(known), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # nothing to warn of, nothing said
    assert captured.out.startswith("HAM10000: 1 image\n")  # not "1 images"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_stats_summarize_reads_unicode_text(tmp_path, encoding):
    """Spreadsheets save "Unicode text" as UTF-16 (with or without a byte order mark)."""
    csv = tmp_path / "meta.csv"
    csv.write_bytes(
        "lesion_id,image_id,dx,age,sex,localization\nHAM_1,ISIC_1,mel,50,male,back\n".encode(
            encoding
        )
    )
    out = tmp_path / "summary.json"
    assert main(["stats", "summarize", str(csv), "--out", str(out)]) == 0
    (part,) = json.loads(out.read_text())["datasets"].values()
    assert part["diagnosis_counts"]["mel"] == 1


def test_data_restructure_and_preprocess(tmp_path, capsys, lesion_image):
    images = tmp_path / "download"
    images.mkdir()
    for name in ("ISIC_1", "ISIC_2", "ISIC_3"):
        Image.fromarray(lesion_image).save(images / f"{name}.jpg")
    csv = tmp_path / "meta.csv"
    csv.write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization,dataset\n"
        "HAM_1,ISIC_1,mel,histo,50,male,back,x\nHAM_2,ISIC_2,nv,histo,50,male,back,x\n"
        "HAM_3,ISIC_3,nv,histo,50,male,back,x\nHAM_4,ISIC_404,bcc,histo,50,male,back,x\n"
    )
    out = tmp_path / "by_class"
    args = [
        "data",
        "restructure",
        "--metadata",
        str(csv),
        "--images",
        str(images),
        "--out",
        str(out),
    ]
    assert main([*args, "--link"]) == 0
    text = capsys.readouterr().out
    assert "1 missing: ISIC_404" in text
    assert sorted(p.name for p in (out / "nv").iterdir()) == ["ISIC_2.jpg", "ISIC_3.jpg"]
    assert (out / "mel" / "ISIC_1.jpg").stat().st_ino == (images / "ISIC_1.jpg").stat().st_ino
    assert main(args) == 0  # idempotent
    assert "(3 already there)" in capsys.readouterr().out
    assert not list(out.rglob("*.partial"))
    small = tmp_path / "small"
    args = ["data", "preprocess", "--in", str(out), "--out", str(small), "--size", "24"]
    assert main([*args, "--color-constancy", "--hair-removal"]) == 0
    written = sorted(small.rglob("*.png"))
    assert len(written) == 3
    with Image.open(written[0]) as image:
        assert image.size == (24, 24)
    assert np.asarray(Image.open(written[0])).dtype == np.uint8


def test_a_prediction_writes_nothing_to_stderr(tiny_model_dir, image_file):
    """TensorFlow's C++ log ("failed call to cuInit" on machines without a GPU) stays out of
    what a user reads."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "skindx", "predict", str(image_file)]
    result = subprocess.run(
        [*command, "--model", str(tiny_model_dir)],
        capture_output=True, text=True, cwd=REPO, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
