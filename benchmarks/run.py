"""Latency, throughput, saliency cost, cold start and the compute floor, as ratios.

    python benchmarks/run.py [--quick] [--model DIR] [--out FILE] [--no-browser] [--only PARTS]

Every figure is printed next to a baseline measured in the same run and as a ratio to it: the
machine is shared and noisy, so absolute times move between runs while ratios hold. Timed
functions are interleaved round by round (each round runs every contender, in rotating order)
and each ratio is the median of the per-round ratios, so a burst of load from another process
hits both sides of a ratio alike.

The model is ``--model DIR``, else ``models/default`` when it holds a ``model.keras``, else a
stand-in with the architecture of `skindx train`'s default recipe (a compact VGG, see
``skindx/training/recipe.py``) and random weights, saved to a temporary directory so that the cold
start loads it from disk like a real one. Inputs are ISIC 2018 test JPEGs from
``../shared/data/isic2018_test`` when present, else synthetic 600×450 JPEGs.

Results: a table on stdout and ``benchmarks/results.json``; ``docs/benchmarks.md`` explains them.
``--only saliency,single`` runs just those parts (of :data:`PARTS`) and updates their figures in
the existing results file, leaving the others as they were (the run is listed under ``updates``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402  (after the path and log-level setup above)
from common import model_directory  # noqa: E402  (benchmarks/ is on the path: run as a script)

TEST_IMAGES = REPO.parent / "shared" / "data" / "isic2018_test" / "images"
RESULTS = REPO / "benchmarks" / "results.json"
CAM_METHODS = ("gradcam", "gradcam++", "scorecam", "layercam", "smoothgrad")
# Issue #27: the gradient CAMs cost one forward and one backward pass (≤ 2.5 forward passes in
# all, decoding included); Score-CAM one pass plus SCORECAM_MAX_N masked copies in a batch.
CAM_TARGETS = {"gradcam": 2.5, "gradcam++": 2.5, "layercam": 2.5, "scorecam": 12.0}
SINGLE_TARGET = 1.2
NAIVE_SHARE_TARGET = 0.33
PARTS = ("single", "batch", "saliency", "compute", "cold", "browser")
BATCH = 32

# --------------------------------------------------------------------------- models and inputs


def resolve_model(path: str | None, scratch: Path) -> tuple[Any, Path, str]:
    """(SkinModel, its directory, a description for the report)."""
    from skindx.model.bundle import load_model

    directory, description = model_directory(path, scratch)
    model = load_model(directory)
    if directory != scratch / "stand_in":
        description = f"{description} ({model.card.name})"
    return model, directory, description


def benchmark_images(count: int) -> tuple[list[bytes], str]:
    """``count`` JPEG uploads: ISIC 2018 test images when present, else synthetic ones."""
    if TEST_IMAGES.is_dir():
        paths = sorted(TEST_IMAGES.glob("*.jpg"))[:count]
        if len(paths) == count:
            return [p.read_bytes() for p in paths], f"ISIC 2018 test JPEGs ({TEST_IMAGES.name})"
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        y, x = np.mgrid[0:450, 0:600].astype(np.float32)
        base = np.stack([180 + 40 * x / 600, 120 + 60 * y / 450, 90 + 20 * np.sin(x / 40)], -1)
        blob = (x - 300 - 5 * i) ** 2 + (y - 225) ** 2 < 120**2
        base[blob] *= 0.55
        pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        images.append(buffer.getvalue())
    return images, "synthetic 600×450 JPEGs (shared ISIC data not found)"


# --------------------------------------------------------------------------- timing


def interleaved(
    contenders: dict[str, Callable[[], Any]], rounds: int, calls: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one figure per round; contenders alternate within
    every round (rotating which goes first) so that background load hits them alike."""
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            run = contenders[name]
            start = time.perf_counter()
            for _ in range(calls):
                run()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def median_ratio(top: list[float], bottom: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(top, bottom, strict=True))


def figure(
    name: str,
    value: float,
    unit: str,
    baseline_name: str,
    baseline: float,
    ratio: float,
    target: str | None = None,
    passed: bool | None = None,
) -> dict[str, Any]:
    return {
        "figure": name,
        "value": value,
        "unit": unit,
        "baseline": baseline_name,
        "baseline_value": baseline,
        "ratio": ratio,
        "target": target,
        "pass": passed,
    }


# --------------------------------------------------------------------------- compute floor


def analytic_macs(model) -> dict[str, int]:
    """Multiply-accumulates of the conv and dense layers for one image (exact for a VGG: every
    conv is 'same'-padded, stride 1; pooling, batch norm and ReLU are per-element and small)."""
    from skindx.model.networks import import_keras

    conv_class = import_keras().layers.Conv2D  # and its float16-kernel subclass
    conv = dense = elementwise = 0
    for layer in model.layers:
        kind = layer.__class__.__name__
        if isinstance(layer, conv_class):
            _, height, width, out_channels = layer.output.shape
            kh, kw, in_channels, _ = layer.kernel.shape
            conv += height * width * kh * kw * in_channels * out_channels
        elif kind == "Dense":
            in_features, out_features = layer.kernel.shape
            dense += in_features * out_features
        elif kind in ("BatchNormalization", "Activation", "MaxPooling2D", "Rescaling"):
            elementwise += int(np.prod(layer.output.shape[1:]))
    return {"conv": int(conv), "dense": int(dense), "elementwise": int(elementwise)}


def profiler_flops(model, *input_shapes: tuple[int, ...]) -> int | None:
    """TensorFlow's own count of float operations for one example (None when unavailable).

    One shape per model input, without the batch axis.
    """
    try:
        import tensorflow as tf
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2,
        )

        specs = [tf.TensorSpec((1, *shape), tf.float32) for shape in input_shapes]
        if len(specs) == 1:
            function = tf.function(lambda x: model(x, training=False))
        else:
            function = tf.function(lambda *x: model(list(x), training=False))
        frozen = convert_variables_to_constants_v2(function.get_concrete_function(*specs))
        tf.get_logger().setLevel("ERROR")  # the v1 profiler warns that it is a v1 API
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        info = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options)
        return int(info.total_float_ops)
    except Exception as error:  # profiler internals move between TF releases
        print(f"  (tf profiler unavailable: {type(error).__name__}: {error})", file=sys.stderr)
        return None


MATMUL_N = 2048


def matmul_step() -> Callable[[], Any]:
    """One compiled ``MATMUL_N``² float32 matmul: the rate this CPU gives TensorFlow's best
    kernel right now, the yardstick for the model's attained GFLOP/s."""
    import tensorflow as tf

    a = tf.random.normal((MATMUL_N, MATMUL_N))
    b = tf.random.normal((MATMUL_N, MATMUL_N))
    step = tf.function(lambda: tf.matmul(a, b))
    return lambda: step().numpy()


# --------------------------------------------------------------------------- cold start

_COLD = """
import json, sys, time
t0 = time.perf_counter()
from skindx.model.networks import import_keras
import_keras()
import skindx.diagnosis.predict
t1 = time.perf_counter()
from skindx import load_model
model = load_model(sys.argv[1])
t2 = time.perf_counter()
prediction = skindx.diagnosis.predict.Predictor(model).predict(open(sys.argv[2], "rb").read())
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_prediction_s": t3 - t2}))
"""
_IMPORT_ONLY = "from skindx.model.networks import import_keras; import_keras()"


def _subprocess_seconds(args: list[str]) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"cold-start subprocess failed: {out.stderr[-1500:]}")
    return elapsed, out.stdout


def cold_start(model_dir: Path, image: bytes, scratch: Path, repeats: int) -> dict[str, Any]:
    """Fresh interpreter → import → load → first Prediction, against a fresh interpreter that
    only imports keras (the floor any Keras app pays)."""
    image_path = scratch / "cold.jpg"
    image_path.write_bytes(image)
    totals, baselines, parts = [], [], []
    for _ in range(repeats):
        baselines.append(_subprocess_seconds(["-c", _IMPORT_ONLY])[0])
        total, stdout = _subprocess_seconds(["-c", _COLD, str(model_dir), str(image_path)])
        totals.append(total)
        parts.append(json.loads(stdout.strip().splitlines()[-1]))
    return {
        "total_s": statistics.median(totals),
        "import_keras_s": statistics.median(baselines),
        "ratio": median_ratio(totals, baselines),
        "parts_s": {key: statistics.median(p[key] for p in parts) for key in parts[0]},
    }


# --------------------------------------------------------------------------- browser


def browser_first_result(model_dir: Path) -> dict[str, Any]:
    """Time to the first diagnosis in headless Chromium against a fresh server (load_test.py)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from load_test import can_run, run_load

    reason = can_run()
    if reason:
        return {"skipped": reason}
    return run_load(sessions=1, model_dir=model_dir, warmup=False, session_timeout_s=240)


# --------------------------------------------------------------------------- the run


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line
        ]
        info["cpu"] = names[0] if names else platform.processor()
        flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
        info["simd"] = [
            f
            for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
            if f" {f}" in flags
        ]
        meminfo = Path("/proc/meminfo").read_text().split()
        info["ram_gb"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1)
        info["load_average"] = os.getloadavg()
    except (OSError, ValueError, StopIteration):
        pass
    try:
        import keras
        import tensorflow as tf

        info["tensorflow"], info["keras"] = tf.__version__, keras.__version__
    except ImportError:
        pass
    return info


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="skindx-bench-") as scratch:
        return measure(args, Path(scratch))


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    import tensorflow as tf

    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import Explainer

    quick = args.quick
    rounds = 5 if quick else 15
    skin_model, model_dir, description = resolve_model(args.model, scratch)
    model = skin_model.model
    size = skin_model.input_size
    uploads, source = benchmark_images(BATCH)
    print(f"model: {description}; input {size} px; images: {source}", flush=True)

    predictor = Predictor(skin_model)
    explainer = Explainer(skin_model, predictor)
    upload = uploads[0]
    x1 = predictor.preprocess(upload)
    x_batch = np.concatenate([predictor.preprocess(u) for u in uploads[:BATCH]])
    floor_1 = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((1, size, size, 3), tf.float32)],
    )
    floor_n = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((BATCH, size, size, 3), tf.float32)],
    )

    def naive() -> int:
        from PIL import Image

        image = Image.open(io.BytesIO(upload)).convert("RGB").resize((size, size))
        probabilities = model.predict(np.asarray(image, np.float32)[None], verbose=0)
        return int(probabilities.argmax())

    figures: list[dict[str, Any]] = []
    wanted = set(args.only.split(",")) if args.only else set(PARTS)
    if args.no_browser:
        wanted.discard("browser")
    floor_s = None
    if "single" in wanted:
        floor_s = single_image(figures, predictor, floor_1, x1, upload, naive, quick, rounds)
    if "batch" in wanted:
        batch_throughput(figures, predictor, floor_n, x_batch, uploads, rounds)
    if "saliency" in wanted:
        saliency(figures, explainer, floor_1, x1, upload, quick, rounds)
    compute: dict[str, Any] = {}
    if "compute" in wanted:
        compute = compute_floor(figures, model, size, floor_1, floor_n, x1, x_batch, quick, rounds)
        compute["floor_ms_batch1"] = None if floor_s is None else floor_s * 1e3
    cold: dict[str, Any] = {}
    if "cold" in wanted:
        print("cold start (fresh interpreters) ...", flush=True)
        cold = cold_start(model_dir, upload, scratch, repeats=1 if quick else 3)
        figures.append(
            figure(
                "cold start: import + load + first prediction",
                cold["total_s"],
                "s",
                "fresh interpreter importing keras",
                cold["import_keras_s"],
                cold["ratio"],
            )
        )
    browser: dict[str, Any] = {"skipped": "--no-browser" if args.no_browser else "--only"}
    if "browser" in wanted:
        browser = browser_part(figures, model_dir, cold)

    return {
        "command": "python benchmarks/run.py"
        + (" --quick" if quick else "")
        + (f" --only {args.only}" if args.only else ""),
        "parts": sorted(wanted, key=PARTS.index),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(),
        "model": {
            "description": description,
            "directory": "(temporary)" if model_dir.is_relative_to(scratch) else str(model_dir),
            "input_size": size,
            "parameters": int(model.count_params()),
            "file_mb": round((model_dir / "model.keras").stat().st_size / 1e6, 2),
        },
        "images": source,
        "compute": compute,
        "cold_start": cold,
        "browser": browser,
        "figures": figures,
    }


def single_image(figures, predictor, floor_1, x1, upload, naive, quick, rounds) -> float:
    """Bytes → Prediction against the compiled forward pass; returns the floor in seconds."""
    print("single image ...", flush=True)
    single = interleaved(
        {
            "floor": lambda: floor_1(x1).numpy(),
            "ours": lambda: predictor.predict(upload),
            "naive": naive,
            "preprocess": lambda: predictor.preprocess(upload),
            "forward": lambda: predictor.forward(x1),
        },
        rounds,
        calls=5 if quick else 10,
    )
    floor_s = statistics.median(single["floor"])
    ours_s = statistics.median(single["ours"])
    overhead = median_ratio(single["ours"], single["floor"])
    figures.append(
        figure(
            "single image, bytes → Prediction",
            ours_s * 1e3,
            "ms",
            "compiled forward, batch 1",
            floor_s * 1e3,
            overhead,
            f"≤ {SINGLE_TARGET}",
            overhead <= SINGLE_TARGET,
        )
    )
    # What each path adds beyond the forward pass: a ratio of whole times (the target "≥ 3"
    # until 2026-12) falls as the network grows, though neither path's overhead changes.
    added = {name: [t - f for t, f in zip(single[name], single["floor"], strict=True)]
             for name in ("ours", "naive")}  # fmt: skip
    share = median_ratio(added["ours"], added["naive"])
    figures.append(
        figure(
            "time added beyond the forward pass: ours",
            statistics.median(added["ours"]) * 1e3,
            "ms",
            "naive (PIL + model.predict per image)",
            statistics.median(added["naive"]) * 1e3,
            share,
            f"≤ {NAIVE_SHARE_TARGET:g} (a third of naive's at most)",
            share <= NAIVE_SHARE_TARGET,
        )
    )
    for part in ("preprocess", "forward"):
        figures.append(
            figure(
                f"  of which Predictor.{part}",
                statistics.median(single[part]) * 1e3,
                "ms",
                "compiled forward, batch 1",
                floor_s * 1e3,
                median_ratio(single[part], single["floor"]),
            )
        )

    return floor_s


def batch_throughput(figures, predictor, floor_n, x_batch, uploads, rounds) -> None:
    print("batch throughput ...", flush=True)
    batch = interleaved(
        {
            "raw": lambda: floor_n(x_batch).numpy(),
            "ours": lambda: predictor.predict_batch(uploads[:BATCH], batch_size=BATCH),
        },
        rounds,
        calls=1,
    )
    raw_ips = BATCH / statistics.median(batch["raw"])
    ours_ips = BATCH / statistics.median(batch["ours"])
    throughput = median_ratio(batch["raw"], batch["ours"])  # time ratio inverted = ips ratio
    figures.append(
        figure(
            f"predict_batch throughput ({BATCH} JPEGs)",
            ours_ips,
            "images/s",
            f"compiled forward, batch {BATCH}",
            raw_ips,
            throughput,
            "≥ 0.8",
            throughput >= 0.8,
        )
    )


def saliency(figures, explainer, floor_1, x1, upload, quick, rounds) -> None:
    """Each CAM method on one JPEG upload (decode to heatmap) in forward passes."""
    print("saliency ...", flush=True)
    cams = interleaved(
        {"floor": lambda: floor_1(x1).numpy()}
        | {m: (lambda m=m: explainer.explain(upload, m)) for m in CAM_METHODS},
        max(3, rounds // 3),
        calls=1 if quick else 2,
    )
    for method in CAM_METHODS:
        ratio = median_ratio(cams[method], cams["floor"])
        figures.append(
            figure(
                f"explain {method}",
                statistics.median(cams[method]) * 1e3,
                "ms",
                "compiled forward, batch 1",
                statistics.median(cams["floor"]) * 1e3,
                ratio,
                f"≤ {CAM_TARGETS[method]:g}" if method in CAM_TARGETS else None,
                ratio <= CAM_TARGETS[method] if method in CAM_TARGETS else None,
            )
        )


def compute_floor(
    figures, model, size, floor_1, floor_n, x1, x_batch, quick, rounds
) -> dict[str, Any]:
    """Attained GFLOP/s of the forward pass against a compiled matmul on this CPU."""
    print("compute floor ...", flush=True)
    macs = analytic_macs(model)
    flops = 2 * (macs["conv"] + macs["dense"])
    profiled = profiler_flops(model, (size, size, 3))
    rates = interleaved(
        {
            "matmul": matmul_step(),
            "batch 1": lambda: floor_1(x1).numpy(),
            f"batch {BATCH}": lambda: floor_n(x_batch).numpy(),
        },
        max(3, rounds // 2),
        calls=1 if quick else 3,
    )
    matmul_flops = 2 * MATMUL_N**3
    peak = matmul_flops / statistics.median(rates["matmul"]) / 1e9
    for name, work in (("batch 1", flops), (f"batch {BATCH}", BATCH * flops)):
        attained = work / statistics.median(rates[name]) / 1e9
        # GFLOP/s ratio = (work / t_model) / (matmul / t_matmul), per round
        share = (work / matmul_flops) / median_ratio(rates[name], rates["matmul"])
        figures.append(
            figure(
                f"forward attained, {name}",
                attained,
                "GFLOP/s",
                f"{MATMUL_N}² float32 matmul",
                peak,
                share,
            )
        )

    return {
        "macs": macs,
        "flops_analytic": flops,
        "flops_tf_profiler": profiled,
        "matmul_gflops": peak,
    }


def browser_part(figures, model_dir: Path, cold: dict[str, Any]) -> dict[str, Any]:
    """Server start → first diagnosis in Chromium (compared with the library cold start)."""
    print("browser time-to-first-result ...", flush=True)
    browser = browser_first_result(model_dir)
    if "first_result_s" in browser and cold:
        figures.append(
            figure(
                "app: server start → first diagnosis in Chromium",
                browser["server_ready_s"] + browser["first_result_s"],
                "s",
                "library cold start",
                cold["total_s"],
                (browser["server_ready_s"] + browser["first_result_s"]) / cold["total_s"],
            )
        )
        figures.append(
            figure(
                "app: page open → first diagnosis (fresh server)",
                browser["first_result_s"],
                "s",
                "library cold start",
                cold["total_s"],
                browser["first_result_s"] / cold["total_s"],
            )
        )
    return browser


def merge(previous: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``previous`` results with the figures and sections of a partial run replaced."""
    merged = dict(previous)
    names = {f["figure"]: f for f in update["figures"]}
    kept = [names.pop(f["figure"], f) for f in previous.get("figures", [])]
    merged["figures"] = kept + list(names.values())
    sections = {"compute": "compute", "cold": "cold_start", "browser": "browser"}
    for part, key in sections.items():
        if part in update["parts"]:
            merged[key] = update[key]
    merged["updates"] = [
        *previous.get("updates", []),
        {key: update[key] for key in ("command", "parts", "when", "machine", "model", "images")},
    ]
    return merged


def print_table(results: dict[str, Any]) -> None:
    rows = [("figure", "value", "baseline", "ratio", "target", "ok")]
    for f in results["figures"]:
        ok = {True: "pass", False: "FAIL", None: ""}[f["pass"]]
        rows.append(
            (
                f["figure"],
                f"{f['value']:.3g} {f['unit']}",
                f"{f['baseline']}: {f['baseline_value']:.3g}",
                f"{f['ratio']:.2f}",
                f["target"] or "",
                ok,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("-+-".join("-" * width for width in widths))
    compute = results["compute"]
    if compute:
        print_compute(compute)
    if results["cold_start"]:
        parts = results["cold_start"]["parts_s"]
        print("cold start parts (s): " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    if "skipped" in results["browser"]:
        print(f"browser: skipped ({results['browser']['skipped']})")


def print_compute(compute: dict[str, Any]) -> None:
    macs = compute["macs"]
    print(
        f"\ncompute floor: {compute['flops_analytic'] / 1e9:.3f} GFLOP per image "
        f"(conv {macs['conv'] / 1e6:.1f} M MACs, dense {macs['dense'] / 1e3:.1f} k MACs, "
        f"{macs['elementwise'] / 1e6:.1f} M per-element ops not counted); "
        f"tf profiler: {(compute['flops_tf_profiler'] or 0) / 1e9:.3f} GFLOP; "
        f"matmul {compute['matmul_gflops']:.0f} GFLOP/s → at best "
        f"{compute['flops_analytic'] / compute['matmul_gflops'] / 1e6:.1f} ms per image here"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about a minute)")
    parser.add_argument("--model", help="model directory (default: models/default or stand-in)")
    parser.add_argument("--out", default=str(RESULTS), help="results JSON (default: %(default)s)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium figure")
    parser.add_argument(
        "--only",
        help=f"comma-separated parts to run ({','.join(PARTS)}); their figures replace those "
        "in --out, the rest are kept",
    )
    args = parser.parse_args(argv)
    if args.only and not set(args.only.split(",")) <= set(PARTS):
        parser.error(f"--only takes parts from {','.join(PARTS)}. Received: {args.only}")
    results = run(args)
    print()
    print_table(results)
    out = Path(args.out)
    written = results
    if args.only and out.is_file():
        written = merge(json.loads(out.read_text()), results)
    out.write_text(json.dumps(written, indent=2, default=float) + "\n")
    print(f"\nwrote {args.out}" + (" (updated the parts run)" if written is not results else ""))
    failed = [f["figure"] for f in results["figures"] if f["pass"] is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
