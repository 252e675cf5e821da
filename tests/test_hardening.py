"""Issue #28: bounded memory per upload, arrays too small to be images, the decode budget."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from skindx import imaging
from skindx.imaging import ImageRejected, load_image


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
    slots = imaging._heavy_slots()
    with imaging.heavy_work(), imaging.heavy_work():  # nested in one thread: one slot
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
