"""Issue #28: bounded memory per upload, arrays too small to be images, the decode budget."""

from __future__ import annotations

import io
import json
import os
import threading

import numpy as np
import pytest
from PIL import Image

from skindx.images import budget
from skindx.images import loading as imaging
from skindx.images.loading import ImageRejected, load_image


def test_large_images_in_tiny_files_cost_less_than_400_mb(tmp_path) -> None:
    """The 40 MP WebP (refused from its header) and the 40 MP 16-bit PNG (decoded, shrunk band
    by band) through ``Predictor(load_model()).predict(bytes)`` in a fresh interpreter."""
    from benchmarks.upload_memory import build_cases, measure

    cases = build_cases(tmp_path, everything=False)
    assert all(path.stat().st_size < 200_000 for path in cases.values())
    outcomes = {}
    for name, path in cases.items():
        figures = measure([path])
        assert figures["growth_mb"] < 400, (name, figures)
        outcomes[name] = figures["outcomes"][0][1]
    assert outcomes["40 MP WebP"].startswith("refused: This image has too many pixels")
    assert outcomes["40 MP 16-bit grey PNG"].startswith("predicted")


def test_the_budget_refuses_from_the_header_with_one_sentence() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1500), (180, 120, 100)).save(buffer, format="PNG")
    data = buffer.getvalue()
    with pytest.raises(ImageRejected) as refused:
        load_image(data, decode_budget=4 * 1024 * 1024)
    message = str(refused.value)
    assert "2000×1500" in message and "megapixels or less" in message
    assert message.count(". ") == 0 and "\n" not in message
    assert load_image(data, decode_budget=64 * 1024 * 1024).shape == (1500, 2000, 3)


def test_the_budget_has_an_environment_override(monkeypatch) -> None:
    from skindx.config import settings

    monkeypatch.setenv("SKINDX_DECODE_BUDGET_MB", "1")
    assert settings().decode_budget_bytes == 1024 * 1024
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 1000)).save(buffer, format="PNG")
    with pytest.raises(ImageRejected, match="too many pixels"):
        load_image(buffer.getvalue())


def test_heavy_work_is_reentrant_and_bounded() -> None:
    slots = budget._heavy_slots()
    with budget.heavy_work(), budget.heavy_work():  # nested in one thread: one slot
        inside = []
        worker = threading.Thread(target=lambda: inside.append(slots.acquire(timeout=5)))
        worker.start()
        worker.join()
        if inside[0]:
            slots.release()
    assert inside == [True]  # with 2 slots, another thread still gets one


def test_large_non_jpegs_shrink_by_a_whole_factor_keeping_orientation_and_scaling() -> None:
    grey = np.tile(np.linspace(0, 65535, 4000, dtype=np.uint16), (2500, 1))  # 10 MP, 16-bit
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[274] = 6  # turned 90° clockwise on display
    Image.fromarray(grey).save(buffer, format="PNG", exif=exif)
    full = load_image(buffer.getvalue())
    small = load_image(buffer.getvalue(), min_side=500)
    assert full.shape == (4000, 2500, 3) and small.shape == (800, 500, 3)  # 1/5, turned
    assert abs(int(small[0, 0, 0]) - int(full[0, 0, 0])) <= 2
    assert abs(int(small[-1, 0, 0]) - int(full[-1, 0, 0])) <= 2
    expected = full[::5, ::5].astype(int)
    assert np.abs(small.astype(int) - expected).mean() < 1.5


def test_small_non_jpegs_stay_whole_with_min_side() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), (10, 200, 30)).save(buffer, format="PNG")
    assert load_image(buffer.getvalue(), min_side=112).shape == (1200, 1600, 3)


@pytest.mark.parametrize("shape", [(0, 0, 3), (1, 1, 3), (3, 50000, 3), (50000, 3, 3)])
def test_arrays_too_small_to_be_images_are_rejected_by_predict_and_explain(
    predictor, explainer, shape
) -> None:
    pixels = np.zeros(shape, np.uint8)
    with pytest.raises(ImageRejected) as by_predict:
        predictor.predict(pixels)
    with pytest.raises(ImageRejected) as by_explain:
        explainer.explain(pixels)
    with pytest.raises(ImageRejected):
        predictor.predict_batch([pixels])
    assert str(by_predict.value) == str(by_explain.value)


# --------------------------------------------------------------- evaluate: labels first

ONE_HOT = "image,MEL,NV,BCC,AKIEC,BKL,DF,VASC\n"


@pytest.fixture
def eval_folder(tmp_path, lesion_image):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(lesion_image).save(images / f"{name}.png")
    return images


def _evaluate(tiny_model_dir, images, labels, *extra):
    from skindx.cli import main

    args = ["evaluate", "--model", str(tiny_model_dir), "--images", str(images)]
    return main([*args, "--labels", str(labels), *extra])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("a,1,0,0,0,0,0,0\nb,,,,,,,\n", "row 3 ('b'): the class columns are blank"),
        ("a,1,0,0,0,0,0,0\nb,yes,0,0,0,0,0,0\n", "row 3 ('b'): 'yes' is not a number"),
        ("a,0,0,0,0,0,0,0\n", "row 2 ('a'): not exactly one class is marked"),
        ("a,1,0,0,0,0,0,0\n../../..,1,0,0,0,0,0,0\n", "points outside --images"),
    ],
)
def test_evaluate_rejects_bad_one_hot_rows_before_reading_images(
    capsys, monkeypatch, tiny_model_dir, eval_folder, tmp_path, rows, expected
) -> None:
    labels = tmp_path / "truth.csv"
    labels.write_text(ONE_HOT + rows)
    monkeypatch.setattr(imaging, "_from_bytes", _no_image_read)
    assert _evaluate(tiny_model_dir, eval_folder, labels) == 1
    err = _one_line_error(capsys)
    assert expected in err and "cannot be scored" in err


def _no_image_read(*args):
    raise AssertionError("an image was read before the labels were checked")


def test_evaluate_names_unknown_codes_and_counts_rows_left_out(
    capsys, tiny_model_dir, eval_folder, tmp_path
) -> None:
    header = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
    labels = tmp_path / "meta.csv"
    labels.write_text(header + "L1,a,nv,histo,40,male,back\nL2,b,xyz,histo,50,male,back\n")
    assert _evaluate(tiny_model_dir, eval_folder, labels) == 1
    assert "row 3 ('b'): unknown diagnosis 'xyz'" in _one_line_error(capsys)

    rows = "L1,a,nv,histo,40,male,back\nL2,b,mel,histo,50,male,back\n"
    rows += "L3,c,scc,histo,60,male,back\nL4,d,,histo,60,male,back\n"
    labels.write_text(header + rows)
    out_json = tmp_path / "report.json"
    assert _evaluate(tiny_model_dir, eval_folder, labels, "--json", str(out_json)) == 0
    assert "left out 2 rows outside the seven classes (scc 1, unknown 1)" in (
        capsys.readouterr().out
    )
    report = json.loads(out_json.read_text())
    assert report["n"] == 2 and report["left_out"] == {"scc": 1, "unknown": 1}


def test_evaluate_prints_both_melanoma_sensitivities_in_words(
    capsys, tiny_model_dir, eval_folder, tmp_path
) -> None:
    """It printed 'melanoma sensitivity None' for a set without melanoma and the top class's
    raw float (0.5730994152046783) where the card's target is the triage's."""
    labels = tmp_path / "truth.csv"
    labels.write_text(ONE_HOT + "a,0,1,0,0,0,0,0\nb,0,1,0,0,0,0,0\n")
    assert _evaluate(tiny_model_dir, eval_folder, labels) == 0
    assert "melanoma sensitivity not measured (no melanoma among the images)" in (
        capsys.readouterr().out
    )
    labels.write_text(ONE_HOT + "a,1,0,0,0,0,0,0\nb,0,1,0,0,0,0,0\nc,1,0,0,0,0,0,0\n")
    assert _evaluate(tiny_model_dir, eval_folder, labels, "--json", str(tmp_path / "r.json")) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    top, triage = report["melanoma_sensitivity"], report["triage"]["melanoma_sensitivity"]
    assert (
        f"melanoma sensitivity {top:.3f} as the top class, {triage:.3f} at the triage threshold"
        in capsys.readouterr().out
    )


def test_evaluate_names_the_images_it_left_out(
    capsys, tiny_model_dir, eval_folder, tmp_path
) -> None:
    """'2 listed images were not found or could not be read' left a person to find which: a
    test set that silently lost images is another test set."""
    (eval_folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # truncated
    labels = tmp_path / "truth.csv"
    rows = "".join(f"{name},1,0,0,0,0,0,0\n" for name in ("a", "b", "c", "gone", "lost"))
    labels.write_text(ONE_HOT + rows)
    out_json = tmp_path / "report.json"
    assert _evaluate(tiny_model_dir, eval_folder, labels, "--json", str(out_json)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "2 listed images not found in --images, left out: gone, lost",
        "1 listed image unreadable, left out: c",
    ]
    report = json.loads(out_json.read_text())
    assert report["n"] == 2 and report["missing"] == 3
    assert report["not_found"] == ["gone", "lost"] and report["unreadable"] == ["c"]


@pytest.mark.parametrize("where", ["folder", "missing", "readonly"])
def test_evaluate_checks_the_json_path_first(
    capsys, monkeypatch, tiny_model_dir, eval_folder, tmp_path, where
) -> None:
    labels = tmp_path / "truth.csv"
    labels.write_text(ONE_HOT + "a,1,0,0,0,0,0,0\n")
    target = {
        "folder": tmp_path,
        "missing": tmp_path / "no" / "such" / "report.json",
        "readonly": tmp_path / "locked" / "report.json",
    }[where]
    if where == "readonly":
        target.parent.mkdir()
        target.parent.chmod(0o500)
        if os.access(target.parent, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: permissions are not enforced")
    monkeypatch.setattr(imaging, "_from_bytes", _no_image_read)
    assert _evaluate(tiny_model_dir, eval_folder, labels, "--json", str(target)) == 2
    assert "--json" in _one_line_error(capsys)


# --------------------------------------------------------------- broken model directories


@pytest.fixture
def broken_model(tmp_path, tiny_model_dir):
    import shutil

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    return directory


@pytest.mark.parametrize(
    ("file", "content", "expected"),
    [
        ("card.json", "[]", "card.json is not a model card: it holds a JSON list"),
        ("card.json", "null", "card.json is not a model card: it holds a JSON null"),
        ("card.json", '{"ood": [], "classes": "nv"}', "its field 'ood' holds a JSON list"),
        ("card.json", '{"input_size": "big"}', "its field 'input_size' holds a JSON string"),
        ("ood.npz", "PK\x03\x04 not a zip", "ood.npz is damaged"),
    ],
)
def test_broken_model_directories_give_one_line_with_the_file_and_the_fix(
    capsys, broken_model, image_file_for_cli, file, content, expected
) -> None:
    from skindx.cli import main
    from skindx.model.bundle import load_model
    from skindx.model.networks import ModelLoadError

    (broken_model / file).write_text(content)
    with pytest.raises(ModelLoadError, match="Restore") as error:
        load_model(broken_model)
    assert expected in str(error.value) and "pickle" not in str(error.value)
    assert main(["predict", str(image_file_for_cli), "--model", str(broken_model)]) == 1
    err = _one_line_error(capsys)
    assert expected in err and "unexpected error" not in err


def test_a_pickled_ood_file_is_refused(broken_model) -> None:
    from skindx.model.bundle import load_model
    from skindx.model.networks import ModelLoadError

    np.savez(broken_model / "ood.npz", mean=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ModelLoadError, match=r"ood\.npz is damaged"):
        load_model(broken_model)


@pytest.fixture
def image_file_for_cli(tmp_path, lesion_image):
    path = tmp_path / "lesion.png"
    Image.fromarray(lesion_image).save(path)
    return path
