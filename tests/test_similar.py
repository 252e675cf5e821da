"""Similar lesions (skindx.diagnosis.similar): nearest labelled images in feature space."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skindx.datasets.examples import ExampleImage
from skindx.diagnosis.predict import Predictor
from skindx.diagnosis.similar import Gallery, build_gallery, vote


def _examples(*codes: str) -> tuple[ExampleImage, ...]:
    return tuple(ExampleImage(c, Path(f"ISIC_{i}.jpg"), f"ISIC_{i}") for i, c in enumerate(codes))


def _gallery(features: list[list[float]], *codes: str) -> Gallery:
    raw = np.array(features, np.float32)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    return Gallery(_examples(*codes), unit, np.zeros(raw.shape[1], np.float32))


def test_nearest_ranks_by_cosine_and_skips_the_image_itself() -> None:
    gallery = _gallery([[1, 0], [0.9, 0.1], [0, 1], [0.5, 0.5]], "mel", "mel", "nv", "bkl")
    nearest = gallery.nearest(np.array([1.0, 0.0]), k=3)
    assert [n.example.path.name for n in nearest] == ["ISIC_0.jpg", "ISIC_1.jpg", "ISIC_3.jpg"]
    assert nearest[0].similarity == pytest.approx(1.0)
    assert [s.similarity for s in nearest] == sorted((s.similarity for s in nearest), reverse=True)
    skipped = gallery.nearest(np.array([1.0, 0.0]), k=2, skip=Path("ISIC_0.jpg"))
    assert [n.example.path.name for n in skipped] == ["ISIC_1.jpg", "ISIC_3.jpg"]


def test_vote_counts_diagnoses_and_breaks_ties_by_nearness() -> None:
    assert vote(_examples("nv", "mel", "mel", "nv", "df")) == [("nv", 2), ("mel", 2), ("df", 1)]


def test_leave_one_out_scores_each_image_against_the_others() -> None:
    # Two tight clusters: every image's nearest others share its diagnosis, but one melanoma
    # sits inside the nevus cluster, so its vote goes wrong (and only its).
    features = [[1, 0.01 * i] for i in range(4)] + [[0.01 * i, 1] for i in range(3)] + [[1, 0]]
    gallery = _gallery(features, "nv", "nv", "nv", "nv", "mel", "mel", "mel", "mel")
    figures = gallery.leave_one_out(k=3, chunk=3)  # chunks smaller than the gallery
    assert figures == {
        "n": 8,
        "k": 3,
        "accuracy": pytest.approx(7 / 8),
        "balanced_accuracy": pytest.approx((1 + 3 / 4) / 2),
    }


def _png(path: Path, seed: int) -> ExampleImage:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return ExampleImage("nv" if seed % 2 else "mel", path, path.stem)


def test_build_gallery_embeds_readable_images_and_leaves_out_the_rest(tiny_model, tmp_path):
    predictor = Predictor(tiny_model)
    examples = [_png(tmp_path / f"ISIC_{i}.png", i) for i in range(5)]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    broken = ExampleImage("df", tmp_path / "broken.png", "broken")
    gallery = build_gallery(predictor, [*examples, broken], batch=2)
    assert gallery.examples == tuple(examples)
    assert np.allclose(np.linalg.norm(gallery.features, axis=1), 1.0, atol=1e-5)
    assert gallery.figures == gallery.leave_one_out()
    # An image in the gallery is its own nearest neighbour: the same pixels, the same features.
    _, features = predictor.forward(predictor.preprocess(examples[3].path))
    nearest = gallery.nearest(features[0], k=1)[0]
    assert nearest.example == examples[3] and nearest.similarity == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="fewer than two"):
        build_gallery(predictor, [examples[0], broken])


def test_similar_check_tool_compares_centred_and_raw_features(tiny_model_dir, tmp_path, capsys):
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "training_logs"))
    check = importlib.import_module("similar_check")
    for i in range(6):
        _png(tmp_path / ("mel" if i % 2 == 0 else "nv") / f"ISIC_{i}.png", i)
    assert check.main(["--model", str(tiny_model_dir), "--examples", str(tmp_path),
                       "--neighbours", "1,3"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "6 lesions (unknown split): {'mel': 3, 'nv': 3}"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "centred, k=1", "centred, k=3", "as they are, k=1", "as they are, k=3",
    ]  # fmt: skip
