"""Saliency maps served in bfloat16 against float32: every method the Saliency page offers,
on early, middle and last conv layers of each ensemble member and the members' combined maps.

    python benchmarks/saliency_precision.py [--images 10] [--model DIR] [--data DIR]

TensorFlow's bfloat16 rewrite (:func:`skindx.model.precision.serve_in_bfloat16`) is
process-wide and reaches the graphs first run after it, so each precision runs in its own
process (``SKINDX_BFLOAT16=off``, then ``on``), loading the model as the app does and saving
its maps (normalised to 0-1 at the photo's size, as the page shows them) to a scratch
folder. Both explain the same class, float32's prediction, so a different top class does not
count as a different map. Prints, per method and layer, the largest and the 99th-percentile
per-pixel difference over the images; each method's median time per map in each precision
(one process each: a rough guide on a shared machine); and what float32 costs a gradients
pass, the same graph called in bfloat16 and in float32 alternately in the bfloat16 process.
The photos are the first ``--images`` of the ISIC 2018 test set, read only to compare maps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import json_from_child

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "isic2018_test" / "images"
DEPTHS = ("block1_conv1", "block3_conv1")  # early, middle; the last conv is added per member


def layers(all_layers: list[str]) -> list[str]:
    """Early, middle and last conv layer of each network (each member of an ensemble), and
    the default layer (an ensemble's combined maps)."""
    from skindx.explain.explainer import layer_groups

    chosen = []
    for group in layer_groups(all_layers):
        if all_layers[-1] in group.layers and len(group.layers) == 1:
            continue
        picks = [n for n in group.layers if n.endswith(DEPTHS)] + [group.layers[-1]]
        chosen += list(dict.fromkeys(picks))
    return list(dict.fromkeys([*chosen, all_layers[-1]]))


def child(mode: str, model: str, photos: list[str], out: Path, targets: list[str] | None):
    """One process in one precision: every method × layer × photo's map to ``out``."""
    from skindx.model.precision import serve_in_bfloat16

    chosen, _ = serve_in_bfloat16(mode)
    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import METHODS, Explainer, uses_layer
    from skindx.images.loading import load_image
    from skindx.model.bundle import load_model

    skin_model = load_model(model)
    predictor = Predictor(skin_model)
    explainer = Explainer(skin_model, predictor)
    images = [load_image(Path(p).read_bytes()) for p in photos]
    targets = targets or [predictor.predict(image).label for image in images]
    explainer.explain(images[0], "gradcam")  # the app's warm-up at load
    maps, seconds = {}, {}
    for method in METHODS:
        for layer in layers(explainer.layers) if uses_layer(method) else [None]:
            for i, (image, target) in enumerate(zip(images, targets, strict=True)):
                start = time.perf_counter()
                saliency = explainer.explain(image, method, target, layer)
                seconds.setdefault(method, []).append(time.perf_counter() - start)
                maps[f"{method}|{layer}|{i}"] = saliency.heatmap
    np.savez_compressed(out / f"{mode}.npz", **maps)
    median_ms = {m: 1e3 * statistics.median(s[1:] or s) for m, s in seconds.items()}
    costs = float32_cost(explainer, images[0]) if chosen else {}
    print(json.dumps({"bfloat16": chosen, "targets": targets, "ms": median_ms, "cost": costs}))


def float32_cost(explainer, image, calls: int = 6) -> dict[str, list[float]]:
    """What float32 costs a gradients pass under bfloat16 serving: median ms of the same
    compiled graph called plainly (bfloat16) and in :func:`float32_graphs`, alternating in
    this one process so that load on a shared machine hits both."""
    from skindx.explain.cams import SMOOTHGRAD_SAMPLES
    from skindx.model.precision import float32_graphs

    x = explainer.predictor.preprocess(image)
    index = np.int32(0)
    first = explainer.layers[0]
    noisy = np.repeat(x, SMOOTHGRAD_SAMPLES, axis=0)
    passes = {
        "default layer": lambda: explainer._graph((explainer.default_layer,))(x, index),
        f"{first}'s network": lambda: explainer._graph(explainer._groups[first])(x, index),
        "SmoothGrad batch": lambda: explainer._graph(("input",))(noisy, index),
    }
    costs = {}
    for name, run in passes.items():
        times: dict[str, list[float]] = {"bfloat16": [], "float32": []}
        for _ in range(calls + 1):  # the first of each: optimising the graph
            for precision in times:
                start = time.perf_counter()
                if precision == "float32":
                    with float32_graphs():
                        run()
                else:
                    run()
                times[precision].append(time.perf_counter() - start)
        costs[name] = [1e3 * statistics.median(t[1:]) for t in times.values()]
    return costs


def _run_child(mode: str, args, out: Path, targets: list[str] | None = None) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--out", str(out)]
    command += ["--model", args.model, "--images", str(args.images), "--data", args.data]
    command += ["--targets", json.dumps(targets)] if targets else []
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    return json_from_child(command, REPO, env)


def compare(out: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """``(method, layer) → (largest, 99th percentile)`` per-pixel difference over the photos."""
    with np.load(out / "off.npz") as f32, np.load(out / "on.npz") as bf16:
        gaps: dict[tuple[str, str], list[np.ndarray]] = {}
        for key in f32.files:
            method, layer, _ = key.split("|")
            gaps.setdefault((method, layer), []).append(np.abs(bf16[key] - f32[key]).ravel())
    return {
        k: (float(np.max(v)), float(np.percentile(np.concatenate(v), 99))) for k, v in gaps.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--model", default=str(REPO / "models" / "default"))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--targets", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    photos = sorted(str(p) for p in Path(args.data).glob("*.jpg"))[: args.images]
    if args.child:
        targets = json.loads(args.targets) if args.targets else None
        child(args.child, args.model, photos, Path(args.out), targets)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        f32 = _run_child("off", args, out)
        bf16 = _run_child("on", args, out, f32["targets"])
        if not bf16["bfloat16"] or f32["bfloat16"]:
            print("bfloat16 was not applied (not the TensorFlow backend)")
            return 1
        gaps = compare(out)
    print(f"{len(photos)} ISIC 2018 test photos; |bfloat16 - float32| per pixel, maps in 0-1")
    print(f"{'method':<12}{'layer':<18}{'max':>7}{'p99':>7}")
    for (method, layer), (largest, p99) in gaps.items():
        print(f"{method:<12}{layer:<18}{largest:>7.3f}{p99:>7.3f}")
    print(f"\n{'method':<12}{'worst max':>10}{'worst p99':>10}{'f32 ms':>9}{'bf16 ms':>9}")
    for method, ms in f32["ms"].items():
        worst = [v for (m, _), v in gaps.items() if m == method]
        print(
            f"{method:<12}{max(w[0] for w in worst):>10.3f}{max(w[1] for w in worst):>10.3f}"
            f"{ms:>9.0f}{bf16['ms'][method]:>9.0f}"
        )
    print("\ngradients pass under bfloat16 serving, alternating in one process (median ms)")
    print(f"{'pass':<30}{'bfloat16':>9}{'float32':>9}{'ratio':>7}")
    for name, (plain, scoped) in bf16["cost"].items():
        print(f"{name:<30}{plain:>9.0f}{scoped:>9.0f}{scoped / plain:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
