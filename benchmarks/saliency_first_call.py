"""The Saliency explorer's first use of each method and layer, cold and warm, against an older
checkout of skindx.

    python benchmarks/saliency_first_call.py [--old DIR] [--rounds N] [--model DIR] [--warmed]

A session of the app loads the model as ``streamlit_app.resources.load_engine`` does (bfloat16
where the CPU has it, one prediction and one default Grad-CAM to warm up), then a clinician
picks Score-CAM, SmoothGrad, a layer of one network, another layer of the same network and a
layer of another network. Each step runs twice on the same image: the first call ("cold")
pays whatever that method or layer needs built, the second ("warm") only the map. Both
checkouts run the same steps in fresh processes, alternating round by round; each figure is
the median over the rounds, and the ratio is new against old in the same round.

With ``--warmed`` each process starts the app's own background warm-up instead
(``streamlit_app.resources.warm_up``, whatever that checkout's does), waits until it is done and
takes the steps through the engine the pages use; it also reports when the model was ready
(the first diagnosis waits for that alone) and the process's RSS then and once the warm-up is
done (and after the steps, where a clinician's first picks take a server either way): what
warming the explorer costs in time and memory. It counts the traces of the compiled graphs
(the Predictor's and the explainer's) once the warm-up is done and after the steps, and gives
each time's new/old ratio within a round.

``--old`` is a checkout of the code to compare with, e.g. ``git worktree add --detach
/tmp/sal_old <commit>``; it must hold ``skindx`` (the model is always ``--model``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def steps(layers: list[str], groups) -> list[tuple[str, str, str | None]]:
    """``(step, method, layer)`` in a clinician's order; the layers from :func:`layer_groups`
    (the default layer's group skipped: load warmed it)."""
    default = layers[-1]
    networks = [g.layers for g in groups if default not in g.layers] or [tuple(layers[:-1])]
    first, last = networks[0], networks[-1]
    chosen = [
        ("Score-CAM, default layer", "scorecam", None),
        ("SmoothGrad", "smoothgrad", None),
        (f"Grad-CAM, new layer {first[-1]}", "gradcam", first[-1]),
        (f"Grad-CAM, same network {first[0]}", "gradcam", first[0]),
        (f"Score-CAM, that layer {first[0]}", "scorecam", first[0]),
    ]
    if last is not first:
        chosen.append((f"Grad-CAM, other network {last[1]}", "gradcam", last[1]))
    return chosen


def _loaded(model: str):
    """The explainer loaded as ``load_engine`` does, and no warm-up information."""
    import numpy as np

    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import Explainer
    from skindx.model.bundle import load_model
    from skindx.model.precision import serve_in_bfloat16

    serve_in_bfloat16()
    skin_model = load_model(model)
    predictor = Predictor(skin_model)
    explainer = Explainer(skin_model, predictor)
    blank = np.full((skin_model.input_size, skin_model.input_size, 3), 128, np.uint8)
    predictor.predict(blank)
    explainer.explain(blank, "gradcam")
    return explainer, explainer.explain, {}


def _warmed(model: str):
    """The app's background warm-up, waited out: its explainer, the engine's ``explain`` and
    when (s after the start) and at what RSS (MB) the model, then everything, was ready."""
    import psutil

    os.environ["SKINDX_MODEL"] = model
    os.environ.pop("SKINDX_EXAMPLES_DIR", None)  # no gallery: the model, then saliency
    from streamlit_app import resources

    process = psutil.Process()
    start = time.perf_counter()
    info = {"idle_mb": process.memory_info().rss / 2**20}
    status = resources.warm_up()
    while status.stage not in ("ready", "failed"):
        if "model_s" not in info and status.stage not in ("waiting", "model"):
            info |= {
                "model_s": time.perf_counter() - start,
                "model_mb": process.memory_info().rss / 2**20,
            }
        time.sleep(0.005)
    if status.stage == "failed":
        raise RuntimeError("the warm-up failed")
    ready = {"ready_s": time.perf_counter() - start, "ready_mb": process.memory_info().rss / 2**20}
    info |= ready
    info.setdefault("model_s", info["ready_s"])
    info.setdefault("model_mb", info["ready_mb"])
    engine = resources.engine()
    info["ready_traces"] = traces(engine.explainer)
    return engine.explainer, engine.explain, info


def traces(explainer) -> float:
    """How many times the compiled graphs were traced (NaN on a checkout older than
    ``Explainer.trace_counts``)."""
    counts = getattr(explainer, "trace_counts", None)
    return sum(counts().values()) if counts else float("nan")


def child(model: str, warmed: bool = False) -> None:
    """One fresh session: load as the app does, then each step cold and warm (JSON on stdout)."""
    from skindx.explain.explainer import layer_groups

    explainer, explain, info = (_warmed if warmed else _loaded)(model)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from explain_photo import scene

    image = scene(600, 450)
    times = {}
    plan = [("Grad-CAM, default layer (warmed at load)", "gradcam", None)]
    plan += steps(explainer.layers, layer_groups(explainer.layers))
    for step, method, layer in plan:
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            explain(image, method, None, layer)
            runs.append(time.perf_counter() - start)
        times[step] = runs
    if warmed:  # once the clinician's steps are done, where either checkout ends up
        import psutil

        info["steps_mb"] = psutil.Process().memory_info().rss / 2**20
        info["steps_traces"] = traces(explainer)
    print(json.dumps({"times": times, "warm_up": info}))


def session(root: Path, model: str, warmed: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), TF_CPP_MIN_LOG_LEVEL="2")
    from common import json_from_child  # here: the child, in another checkout, must not put
    # this one on its path (common does) before that checkout's skindx

    command = [sys.executable, __file__, "--child", "--model", model]
    return json_from_child(command + ["--warmed"] * warmed, root, env, 900)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="/tmp/sal_old", help="older checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default=str(REPO / "models" / "default"))
    parser.add_argument("--warmed", action="store_true", help="through the app's warm-up")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.model, args.warmed)
        return 0
    old = Path(args.old).resolve()
    if not (old / "skindx").is_dir():
        parser.error(f"--old {old} holds no skindx checkout (git worktree add --detach {old})")
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in ("old", "new")[r % 2 :] + ("old", "new")[: r % 2]:
            runs[name].append(session(old if name == "old" else REPO, args.model, args.warmed))
            print(f"round {r + 1}: {name} done", flush=True)
    how = "through the app's warm-up" if args.warmed else "loaded as load_engine does"
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}, "
          f"{args.rounds} rounds, {how}, median ms; extra = cold - warm")  # fmt: skip
    print(f"{'step':46} | {'old cold':>8} {'warm':>6} {'extra':>6} | "
          f"{'new cold':>8} {'warm':>6} {'extra':>6} | {'cold new/old':>12}")  # fmt: skip
    times = {name: [run["times"] for run in runs[name]] for name in runs}
    for step in times["new"][0]:
        row = []
        for name in ("old", "new"):
            cold = statistics.median(run[step][0] for run in times[name]) * 1000
            warm = statistics.median(run[step][1] for run in times[name]) * 1000
            row += [cold, warm, cold - warm]
        ratio = statistics.median(
            n[step][0] / o[step][0] for n, o in zip(times["new"], times["old"], strict=True)
        )
        print(f"{step:46} | {row[0]:8.0f} {row[1]:6.0f} {row[2]:6.0f} | "
              f"{row[3]:8.0f} {row[4]:6.0f} {row[5]:6.0f} | {ratio:12.2f}")  # fmt: skip
    if args.warmed:
        print("\nwarm-up (median s after warm_up() and process RSS in MB):")
        for name in ("old", "new"):
            info = [run["warm_up"] for run in runs[name]]
            m = {key: statistics.median(i[key] for i in info) for key in info[0]}
            grown = statistics.median(i["ready_mb"] - i["model_mb"] for i in info)
            rounds = ", ".join(f"{i['model_s']:.1f}" for i in info)
            print(f"{name}: model ready {m['model_s']:.1f} s ({rounds}), all ready "
                  f"{m['ready_s']:.1f} s; RSS idle {m['idle_mb']:.0f}, model ready "
                  f"{m['model_mb']:.0f}, all ready {m['ready_mb']:.0f} (+{grown:.0f}), "
                  f"after the steps {m['steps_mb']:.0f}; graph traces {m['ready_traces']:.0f} "
                  f"when ready, {m['steps_traces']:.0f} after the steps")  # fmt: skip
        print(warm_up_ratios(runs))
    return 0


def warm_up_ratios(runs: dict[str, list[dict]]) -> str:
    """The warm-up's times, new against old within each round (median over the rounds)."""
    pairs = [(n["warm_up"], o["warm_up"]) for n, o in zip(runs["new"], runs["old"], strict=True)]
    spans = {
        "model ready": lambda i: i["model_s"],
        "saliency stage": lambda i: i["ready_s"] - i["model_s"],
        "all ready": lambda i: i["ready_s"],
    }
    ratios = {
        name: statistics.median(span(new) / span(old) for new, old in pairs)
        for name, span in spans.items()
    }
    return "new/old: " + ", ".join(f"{name} {ratio:.2f}" for name, ratio in ratios.items())


if __name__ == "__main__":
    sys.exit(main())
