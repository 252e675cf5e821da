"""What the ``skindx`` command leaves on disk, as a researcher meets it: an output file is
written whole or not at all (a full disk mid-write used to leave a truncated file where a good
one was), ``data restructure`` copies no text file named .jpg into a class folder, and
``stats summarize`` says what a file gives for none of its images, as the Statistics page does."""

from __future__ import annotations

import contextlib
import json
import resource
import signal
from pathlib import Path

import pytest
from PIL import Image

from skindx.cli import main
from skindx.files import write_atomic

OLD = b"the figures of last week's run\n"


@contextlib.contextmanager
def disk_full_after(limit: int):
    """Writes past ``limit`` bytes into any file fail as on a full disk (EFBIG, from the
    file-size limit, its signal ignored): a real failure mid-write, no writer mocked."""
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*partial*"))


def _cut_short_keeps_the_old_file(capsys, argv: list[str], out: Path) -> None:
    """``argv`` wrote ``out`` whole a moment ago; with the disk full halfway through it, the
    command fails in one line naming ``out`` and the file there before is left as it was."""
    size = out.stat().st_size
    out.write_bytes(OLD)
    capsys.readouterr()
    with disk_full_after(size // 2):
        status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 1, err
    assert out.read_bytes() == OLD
    assert _partials(out.parent) == []
    assert "\n" not in err and "Traceback" not in err, err
    assert str(out) in err and "partial" not in err  # the file asked for, not its temporary


@pytest.fixture
def image_file(tmp_path, lesion_image) -> Path:
    path = tmp_path / "lesion.png"
    Image.fromarray(lesion_image).save(path)
    return path


def test_write_atomic_leaves_the_old_file_when_the_disk_fills(tmp_path) -> None:
    path = tmp_path / "card.json"
    assert write_atomic(path, "é" * 3000) == path
    assert path.read_text(encoding="utf-8") == "é" * 3000
    path.write_bytes(OLD)
    with disk_full_after(1000), pytest.raises(OSError) as raised:
        write_atomic(path, b"x" * 5000)
    assert path.read_bytes() == OLD and _partials(tmp_path) == []
    assert raised.value.filename == str(path)  # a message names the file asked for


def test_explain_out_is_whole_or_untouched(capsys, tiny_model_dir, image_file, tmp_path):
    out = tmp_path / "overlay.png"
    argv = ["explain", str(image_file), "--model", str(tiny_model_dir), "--out", str(out)]
    assert main(argv) == 0
    with Image.open(out) as overlay:
        assert overlay.format == "PNG" and overlay.size == (200, 150)
    assert _partials(tmp_path) == []
    _cut_short_keeps_the_old_file(capsys, argv, out)


def test_predict_report_is_whole_or_untouched(capsys, tiny_model_dir, image_file, tmp_path):
    reports = tmp_path / "reports"
    argv = ["predict", str(image_file), "--model", str(tiny_model_dir), "--report", str(reports)]
    assert main(argv) == 0
    out = reports / "lesion-report.png"
    with Image.open(out) as page:
        assert page.format == "PNG" and page.width == 1200
    _cut_short_keeps_the_old_file(capsys, argv, out)


@pytest.mark.parametrize("option", ["--json", "--predictions-csv"])
def test_evaluate_outputs_are_whole_or_untouched(
    capsys, tiny_model_dir, tmp_path, lesion_image, option
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a", "b"):
        Image.fromarray(lesion_image).save(images / f"{name}.png")
    labels = tmp_path / "meta.csv"
    labels.write_text("image_id,dx\na,nv\nb,mel\n")
    out = tmp_path / ("report.json" if option == "--json" else "predictions.csv")
    argv = ["evaluate", "--model", str(tiny_model_dir), "--images", str(images)]
    argv += ["--labels", str(labels), option, str(out)]
    assert main(argv) == 0
    if option == "--json":
        assert json.loads(out.read_text())["n"] == 2
    else:
        lines = out.read_text().splitlines()
        assert lines[0] == "image,AKIEC,BCC,BKL,DF,MEL,NV,VASC"
        assert [row.split(",")[0] for row in lines[1:]] == ["a", "b"]
    _cut_short_keeps_the_old_file(capsys, argv, out)


def test_model_card_out_is_whole_or_untouched(capsys, tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "card.md"
    argv = ["model-card", "--model", str(tiny_model_dir), "--out", str(out)]
    assert main(argv) == 0
    assert out.read_text(encoding="utf-8").startswith("#")
    _cut_short_keeps_the_old_file(capsys, argv, out)


# ------------------------------------------------------- data restructure: images only


def _download(tmp_path: Path, lesion_image, texts: dict[str, bytes]) -> list[str]:
    images = tmp_path / "download"
    images.mkdir()
    Image.fromarray(lesion_image).save(images / "ISIC_1.jpg")
    for name, data in texts.items():
        (images / f"{name}.jpg").write_bytes(data)
    rows = "".join(f"HAM_{i},{name},nv,histo,50,male,back,x\n" for i, name in enumerate(texts))
    csv = tmp_path / "meta.csv"
    csv.write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization,dataset\n"
        f"HAM_X,ISIC_1,mel,histo,50,male,back,x\n{rows}"
    )
    return ["data", "restructure", "--metadata", str(csv), "--images", str(images)]


def test_restructure_skips_files_that_are_not_images(capsys, tmp_path, lesion_image) -> None:
    """A text file saved as .jpg was copied into nv/, for preprocess to refuse later."""
    texts = {
        "ISIC_2": b"image_id,dx\nISIC_2,nv\n",
        "ISIC_3": b"<!doctype html><html>Access denied</html>",
        "ISIC_4": b"",
    }
    out = tmp_path / "by_class"
    argv = [*_download(tmp_path, lesion_image, texts), "--out", str(out)]
    assert main([*argv, "--link"]) == 0
    printed = capsys.readouterr().out
    assert "3 skipped (not readable images): ISIC_2.jpg, ISIC_3.jpg, ISIC_4.jpg" in printed
    assert "1 images in" in printed or "1 image in" in printed
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "mel",
        "mel/ISIC_1.jpg",
    ]
    assert main(argv) == 0  # run again: the same files skipped, named again
    assert "3 skipped (not readable images)" in capsys.readouterr().out


def test_restructure_with_no_image_readable_fails(capsys, tmp_path, lesion_image) -> None:
    argv = _download(tmp_path, lesion_image, {"ISIC_2": b"hello"})
    (tmp_path / "download" / "ISIC_1.jpg").write_bytes(b"not a jpeg")
    assert main([*argv, "--out", str(tmp_path / "out")]) == 1
    assert "2 skipped (not readable images): ISIC_1.jpg, ISIC_2.jpg" in capsys.readouterr().out


# ------------------------------------------------ stats summarize: what a file does not give


def test_stats_summarize_says_what_no_image_in_a_file_has(capsys, tmp_path) -> None:
    """The page noted a file without ages or sites; the command wrote the charts' "unknown"
    without a word."""
    csv = tmp_path / "mine.csv"
    csv.write_text("image_id,dx,sex\nI1,nv,male\nI2,mel,female\n")
    out = tmp_path / "summary.json"
    assert main(["stats", "summarize", str(csv), "--out", str(out)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: mine.csv: No image in this file has an age or a body site, so the charts "
        "count all its images as “unknown”."
    ]
    full = tmp_path / "full.csv"
    full.write_text("image_id,dx,age,sex,localization\nI1,nv,40,male,back\n")
    assert main(["stats", "summarize", str(full), "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""


def test_stats_summarize_notes_a_file_without_diagnoses_once(capsys, tmp_path) -> None:
    """An ISIC 2019 metadata CSV alone has no diagnosis (its ground truth has them); a site it
    holds that skindx does not know is warned of as such, not as absent too."""
    csv = tmp_path / "ISIC_2019_Test_Metadata.csv"
    csv.write_text("image,age_approx,anatom_site_general,lesion_id,sex\nI1,40,moon,L1,male\n")
    out = tmp_path / "summary.json"
    assert main(["stats", "summarize", str(csv), "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "warning: ISIC_2019_Test_Metadata.csv: No image in this file has a diagnosis, so the "
        "charts count all its images as “unknown”."
    )
    assert len(err) == 2 and "body site skindx does not know (moon)" in err[0]


def test_stats_summarize_names_a_researchers_own_file(tmp_path, capsys) -> None:
    """A clinic's own CSV in HAM10000's format was summarised as "HAM10000: 2 images";
    ``--name`` names it, and a blank name is refused before anything is read."""
    mine = tmp_path / "mine.csv"
    mine.write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
        "L1,I1,nv,histo,40,male,back\nL2,I2,mel,histo,60,female,face\n"
    )
    out = tmp_path / "summary.json"
    assert main(["stats", "summarize", str(mine), "--name", " My clinic ", "--out", str(out)]) == 0
    assert "My clinic: 2 images" in capsys.readouterr().out
    assert list(json.loads(out.read_text())["datasets"]) == ["My clinic"]
    with pytest.raises(SystemExit) as exit_:
        main(["stats", "summarize", str(mine), "--name", " ", "--out", str(tmp_path / "b.json")])
    assert exit_.value.code == 2 and "expected a name" in capsys.readouterr().err


def test_stats_summarize_still_makes_the_out_folder(tmp_path) -> None:
    """The early output check refused ``--out new/sub/s.json``, whose folders the summary's
    writer makes (and did before the check)."""
    mine = tmp_path / "mine.csv"
    mine.write_text("image_id,dx,age,sex,localization\nI1,nv,40,male,back\n")
    out = tmp_path / "new" / "sub" / "summary.json"
    assert main(["stats", "summarize", str(mine), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["datasets"]
