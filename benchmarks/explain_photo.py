"""`skindx explain` on a 12 MP phone-sized JPEG against the same command on a 600×450 JPEG.

    python benchmarks/explain_photo.py [--rounds N] [--model DIR] [--out FILE]

Issue #28: the command took 24.5 s on a 12 MP photo, because the faithfulness check blurred at
full resolution. The target is a ratio, ≤ 3, of the whole command's wall time (a fresh
interpreter each time, as a person runs it) on a 4000×3000 JPEG to the same scene at 600×450.
Both are drawn here (a brown lesion on skin with sensor noise), so no photo ships with the
repository. The two commands alternate, round by round, so background load hits both alike; the
ratio is the median of the per-round ratios.

Then, in this process, where the 12 MP photo's time goes (decode, map, overlay, PNG,
faithfulness), decoded at full resolution as ``skindx explain`` does and at the model's
``decode_side`` as prediction does. The figures are printed and merged into
``benchmarks/results.json`` (``run.py``'s file), with the run listed under ``updates``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from run import RESULTS, figure, machine, merge  # noqa: E402  (after the path setup)

FIGURE = "skindx explain: 12 MP JPEG vs 600×450 JPEG"
TARGET = 3.0
SIZES = {"12 MP": (4000, 3000), "600×450": (600, 450)}


def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A lesion-like picture at any size: the same scene, so only the resolution differs."""
    import cv2

    small = np.empty((450, 600, 3), np.uint8)
    small[:] = (214, 160, 150)
    cv2.ellipse(small, (300, 225), (150, 110), 15, 0, 360, (110, 72, 55), -1)
    cv2.ellipse(small, (320, 215), (60, 45), 0, 0, 360, (70, 45, 40), -1)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    noise = np.random.default_rng(seed).normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def write_jpeg(path: Path, width: int, height: int) -> Path:
    from PIL import Image

    Image.fromarray(scene(width, height)).save(path, "JPEG", quality=88)
    return path


def command_seconds(image: Path, out: Path, model: str | None) -> float:
    args = [sys.executable, "-m", "skindx", "explain", str(image), "--out", str(out)]
    if model:
        args += ["--model", model]
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"skindx explain {image.name} failed: {done.stderr[-1500:]}")
    return elapsed


def in_process_parts(image: Path, model: str | None) -> dict[str, dict[str, float]]:
    """Seconds per step of the command on ``image``, by decoding mode (after one warm-up)."""
    import io

    from PIL import Image

    from skindx.explain.explainer import Explainer
    from skindx.explain.overlay import overlay
    from skindx.images.loading import load_image
    from skindx.model.bundle import load_model

    explainer = Explainer(load_model(model))
    data = image.read_bytes()
    explainer.explain(load_image(data, min_side=explainer.predictor.decode_side))
    parts: dict[str, dict[str, float]] = {}
    for mode, side in (("full resolution", None), ("decode_side", explainer.predictor.decode_side)):
        steps: dict[str, float] = {}

        def timed(step: str, run, steps=steps):
            start = time.perf_counter()
            value = run()
            steps[step] = time.perf_counter() - start
            return value

        pixels = timed("decode", lambda side=side: load_image(data, min_side=side))
        saliency = timed("explain", lambda p=pixels: explainer.explain(p))
        drawn = timed("overlay", lambda p=pixels, s=saliency: overlay(p, s))
        timed("png", lambda d=drawn: Image.fromarray(d).save(io.BytesIO(), "PNG"))
        timed("faithfulness", lambda p=pixels, s=saliency: explainer.faithfulness(p, s))
        steps["pixels"] = pixels.shape[0] * pixels.shape[1]
        parts[mode] = steps
        print(
            f"{mode} ({pixels.shape[1]}×{pixels.shape[0]}): "
            + ", ".join(
                f"{step} {seconds:.2f} s" for step, seconds in steps.items() if step != "pixels"
            ),
            flush=True,
        )
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--out", default=str(RESULTS), help="results JSON to update")
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {name: [] for name in SIZES}
    with tempfile.TemporaryDirectory(prefix="skindx-explain-") as scratch:
        folder = Path(scratch)
        images = {
            name: write_jpeg(folder / f"{name.replace(' ', '_')}.jpg", *size)
            for name, size in SIZES.items()
        }
        megabytes = {name: round(path.stat().st_size / 1e6, 2) for name, path in images.items()}
        names = list(SIZES)
        for r in range(args.rounds):
            for name in names[r % 2 :] + names[: r % 2]:
                seconds = command_seconds(images[name], folder / "overlay.png", args.model)
                times[name].append(seconds)
                print(f"round {r + 1}: {name} {seconds:.2f} s", flush=True)
        print("\nthe 12 MP photo in one process, by step:")
        parts = in_process_parts(images["12 MP"], args.model)
    ratio = statistics.median(a / b for a, b in zip(times["12 MP"], times["600×450"], strict=True))
    result = figure(
        FIGURE,
        statistics.median(times["12 MP"]),
        "s",
        "same command, 600×450 JPEG",
        statistics.median(times["600×450"]),
        ratio,
        f"≤ {TARGET:g}",
        ratio <= TARGET,
    )
    print(
        f"\n{FIGURE}: {result['value']:.2f} s vs {result['baseline_value']:.2f} s, "
        f"ratio {ratio:.2f} (target ≤ {TARGET:g}: {'pass' if result['pass'] else 'FAIL'}); "
        f"files {megabytes['12 MP']} MB and {megabytes['600×450']} MB"
    )
    out = Path(args.out)
    update = {
        "command": " ".join(["python benchmarks/explain_photo.py", *(argv or sys.argv[1:])]),
        "parts": [],
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(),
        "model": {"directory": args.model or "models/default"},
        "images": f"synthetic JPEGs, 4000×3000 ({megabytes['12 MP']} MB) and 600×450",
        "figures": [result],
        "steps_12mp_s": parts,
    }
    previous = json.loads(out.read_text()) if out.is_file() else {"figures": []}
    out.write_text(json.dumps(merge(previous, update), indent=2, default=float) + "\n")
    print(f"updated {out}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
