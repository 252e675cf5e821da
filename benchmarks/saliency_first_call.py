"""The Saliency explorer's first use of each method and layer, cold and warm, against an older
checkout of skindx.

    python benchmarks/saliency_first_call.py [--old DIR] [--rounds N] [--model DIR]

A session of the app loads the model as ``streamlit_app.resources.load_engine`` does (bfloat16
where the CPU has it, one prediction and one default Grad-CAM to warm up), then a clinician
picks Score-CAM, SmoothGrad, a layer of one network, another layer of the same network and a
layer of another network. Each step runs twice on the same image: the first call ("cold")
pays whatever that method or layer needs built, the second ("warm") only the map. Both
checkouts run the same steps in fresh processes, alternating round by round; each figure is
the median over the rounds, and the ratio is new against old in the same round.

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


def child(model: str) -> None:
    """One fresh session: load as the app does, then each step cold and warm (JSON on stdout)."""
    import numpy as np

    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import Explainer, layer_groups
    from skindx.model.bundle import load_model
    from skindx.model.precision import serve_in_bfloat16

    serve_in_bfloat16()
    skin_model = load_model(model)
    predictor = Predictor(skin_model)
    explainer = Explainer(skin_model, predictor)
    blank = np.full((skin_model.input_size, skin_model.input_size, 3), 128, np.uint8)
    predictor.predict(blank)
    explainer.explain(blank, "gradcam")
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
            explainer.explain(image, method, None, layer)
            runs.append(time.perf_counter() - start)
        times[step] = runs
    print(json.dumps(times))


def session(root: Path, model: str) -> dict[str, list[float]]:
    env = dict(os.environ, PYTHONPATH=str(root), TF_CPP_MIN_LOG_LEVEL="2")
    from common import json_from_child  # here: the child, in another checkout, must not put
    # this one on its path (common does) before that checkout's skindx

    return json_from_child([sys.executable, __file__, "--child", "--model", model], root, env, 900)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="/tmp/sal_old", help="older checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default=str(REPO / "models" / "default"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.model)
        return 0
    old = Path(args.old).resolve()
    if not (old / "skindx").is_dir():
        parser.error(f"--old {old} holds no skindx checkout (git worktree add --detach {old})")
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for name in ("old", "new")[r % 2 :] + ("old", "new")[: r % 2]:
            runs[name].append(session(old if name == "old" else REPO, args.model))
            print(f"round {r + 1}: {name} done", flush=True)
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}, "
          f"{args.rounds} rounds, median ms; extra = cold - warm")  # fmt: skip
    print(f"{'step':46} | {'old cold':>8} {'warm':>6} {'extra':>6} | "
          f"{'new cold':>8} {'warm':>6} {'extra':>6} | {'cold new/old':>12}")  # fmt: skip
    for step in runs["new"][0]:
        row = []
        for name in ("old", "new"):
            cold = statistics.median(run[step][0] for run in runs[name]) * 1000
            warm = statistics.median(run[step][1] for run in runs[name]) * 1000
            row += [cold, warm, cold - warm]
        ratio = statistics.median(
            n[step][0] / o[step][0] for n, o in zip(runs["new"], runs["old"], strict=True)
        )
        print(f"{step:46} | {row[0]:8.0f} {row[1]:6.0f} {row[2]:6.0f} | "
              f"{row[3]:8.0f} {row[4]:6.0f} {row[5]:6.0f} | {ratio:12.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
