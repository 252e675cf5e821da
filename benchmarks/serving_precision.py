"""Serving in bfloat16 against float32: the shipped model's forward pass, bytes → Prediction
and Grad-CAM, in each precision.

    python benchmarks/serving_precision.py [--model DIR] [--rounds 3]

TensorFlow's bfloat16 rewrite (:func:`skindx.model.precision.serve_in_bfloat16`) is
process-wide, so each precision runs in its own process; the two alternate for ``--rounds``
rounds, each process timing every step over many calls, and each ratio is the median of the
rounds' ratios (bfloat16 over float32: under 1 is faster). Also prints the largest difference
in any probability over the images and what ``SKINDX_BFLOAT16=auto`` picks here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np
from common import REPO, json_from_child, median_seconds, model_directory
from run import benchmark_images

STEPS = ("compiled forward, batch 1", "bytes → Prediction", "explain gradcam")


def _median_ms(run, calls: int) -> float:
    return 1e3 * median_seconds(run, calls, warm_ups=2)


def child(mode: str, model: str | None, calls: int) -> None:
    """One process in one precision: prints its times and probabilities as JSON."""
    import tempfile
    from pathlib import Path

    from skindx.model.precision import serve_in_bfloat16

    chosen, _ = serve_in_bfloat16(mode)
    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import Explainer
    from skindx.model.bundle import load_model

    with tempfile.TemporaryDirectory() as scratch:
        skin_model = load_model(model_directory(model, Path(scratch))[0])
    predictor = Predictor(skin_model, tta=False)
    explainer = Explainer(skin_model, predictor)
    uploads, _ = benchmark_images(8)
    x1 = predictor.preprocess(uploads[0])
    times = {
        STEPS[0]: _median_ms(lambda: predictor.forward(x1), calls),
        STEPS[1]: _median_ms(lambda: predictor.predict(uploads[0]), calls),
        STEPS[2]: _median_ms(lambda: explainer.explain(uploads[0], "gradcam"), calls // 2),
    }
    probabilities = [list(predictor.predict(u).probabilities.values()) for u in uploads]
    print(json.dumps({"bfloat16": chosen, "ms": times, "probabilities": probabilities}))


def _run_child(mode: str, args) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--calls", str(args.calls)]
    command += ["--model", args.model] if args.model else []
    return json_from_child(command, REPO)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.model, args.calls)
        return 0
    from skindx.model.precision import serving_choice

    runs = {"off": [], "on": []}
    for r in range(args.rounds):  # alternate which goes first, so drifting load hits both
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            runs[mode].append(_run_child(mode, args))
    if not runs["on"][0]["bfloat16"]:
        print("bfloat16 was not applied (not the TensorFlow backend)")
        return 1
    print(f"{'step':<28}{'float32':>12}{'bfloat16':>12}{'ratio':>8}")
    for step in STEPS:
        f32 = [run["ms"][step] for run in runs["off"]]
        bf16 = [run["ms"][step] for run in runs["on"]]
        ratio = statistics.median(b / f for b, f in zip(bf16, f32, strict=True))
        print(
            f"{step:<28}{statistics.median(f32):>9.1f} ms{statistics.median(bf16):>9.1f} ms"
            f"{ratio:>7.2f}x"
        )
    gap = np.abs(
        np.asarray(runs["on"][0]["probabilities"]) - np.asarray(runs["off"][0]["probabilities"])
    ).max()
    print(f"largest difference in a probability over 8 images: {gap:.4f} (tolerance 0.02)")
    print(
        f"SKINDX_BFLOAT16=auto here: {'bfloat16' if serving_choice('auto')[0] else 'float32'} "
        f"({serving_choice('auto')[1]})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
