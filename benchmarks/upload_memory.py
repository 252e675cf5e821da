"""Memory per upload: peak RSS growth of ``Predictor.predict(bytes)`` on large images in tiny files.

    python benchmarks/upload_memory.py [--model DIR] [--json OUT]

Builds the hostile cases of issue #28 (a flat colour compresses a 40-megapixel image into
kilobytes): a 40 MP WebP, 40 MP 16-bit PNGs (grey, RGB, RGBA), and for comparison a 12 MP
WebP and a 40 MP JPEG. Each is predicted in a fresh interpreter, after the model is loaded and
one small image predicted (the graph traced), and the growth of the peak RSS
(``ru_maxrss``) over that point is reported with the outcome (a prediction, or the sentence
the refusal gave). Then ``--sessions`` threads (default 8) each predict two of the large files
at once in one process, as a server's sessions would, and the process's peak RSS is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SIZE = (7200, 5500)  # 39.6 MP: just under the default 40 MP pixel cap
COLOUR = (180, 120, 100)

_CHILD = r"""
import json, resource, sys, threading, time
import numpy as np
from skindx.images.loading import ImageRejected
from skindx.model.bundle import load_model
from skindx.diagnosis.predict import Predictor

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

sessions, model, paths = int(sys.argv[1]), sys.argv[2] or None, sys.argv[3:]
predictor = Predictor(load_model(model))
predictor.predict(np.full((450, 600, 3), 128, np.uint8))  # graph traced before the baseline
base = peak_mb()
outcomes = []

def one(path):
    start = time.perf_counter()
    try:
        label = predictor.predict(open(path, "rb").read()).label
        outcome = f"predicted ({label})"
    except ImageRejected as error:
        outcome = f"refused: {error}"
    outcomes.append((path, outcome, time.perf_counter() - start))

if sessions:
    threads = [threading.Thread(target=one, args=(p,)) for _ in range(sessions) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
else:
    for path in paths:
        one(path)
print(json.dumps({"base_mb": base, "peak_mb": peak_mb(), "growth_mb": peak_mb() - base,
                  "outcomes": outcomes}))
"""


def build_cases(directory: Path, everything: bool = True) -> dict[str, Path]:
    """Write the test images into ``directory``; ``everything=False`` writes only the two cases
    the issue names (the 40 MP WebP and a 40 MP 16-bit PNG), which a test builds quickly."""
    from PIL import Image

    cases: dict[str, Path] = {}
    flat = Image.new("RGB", SIZE, COLOUR)
    cases["40 MP WebP"] = directory / "flat40.webp"
    flat.save(cases["40 MP WebP"], format="WEBP", quality=50)
    del flat
    cases["40 MP 16-bit grey PNG"] = directory / "grey16_40.png"
    Image.new("I;16", SIZE, 30000).save(cases["40 MP 16-bit grey PNG"], format="PNG")
    if not everything:
        return cases
    import cv2
    import numpy as np

    for channels, name in ((3, "RGB"), (4, "RGBA")):
        wide = np.empty((SIZE[1], SIZE[0], channels), np.uint16)
        wide[...] = (30000, 20000, 10000, 40000)[:channels]
        path = directory / f"{name.lower()}16_40.png"
        cv2.imwrite(str(path), wide)
        cases[f"40 MP 16-bit {name} PNG"] = path
        del wide
    twelve = Image.new("RGB", (4000, 3000), COLOUR)
    cases["12 MP WebP"] = directory / "flat12.webp"
    twelve.save(cases["12 MP WebP"], format="WEBP", quality=50)
    cases["40 MP JPEG"] = directory / "flat40.jpg"
    Image.new("RGB", SIZE, COLOUR).save(cases["40 MP JPEG"], format="JPEG", quality=90)
    return cases


def measure(paths: list[Path], model: str | None = None, sessions: int = 0) -> dict:
    """Predict ``paths`` in a fresh interpreter (one after another, or ``sessions`` threads
    per path at once) and return its peak RSS figures and outcomes."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(sessions), model or "", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: SKINDX_MODEL or the shipped)")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    results: dict = {"single": {}, "concurrent": None}
    with tempfile.TemporaryDirectory() as tmp:
        cases = build_cases(Path(tmp))
        print(f"{'case':<24} | {'file':>9} | {'peak RSS growth':>15} | outcome")
        for name, path in cases.items():
            figures = measure([path], args.model)
            _, outcome, seconds = figures["outcomes"][0]
            size_kb = path.stat().st_size / 1024
            results["single"][name] = {
                "file_kb": round(size_kb, 1),
                "growth_mb": round(figures["growth_mb"], 1),
                "seconds": round(seconds, 2),
                "outcome": outcome,
            }
            print(f"{name:<24} | {size_kb:>6.0f} KB | {figures['growth_mb']:>12.0f} MB | {outcome}")
        pair = [cases["40 MP WebP"], cases["40 MP 16-bit RGB PNG"]]
        figures = measure(pair, args.model, sessions=args.sessions)
        results["concurrent"] = {
            "sessions": args.sessions,
            "files": [p.name for p in pair],
            "base_mb": round(figures["base_mb"], 1),
            "peak_mb": round(figures["peak_mb"], 1),
            "growth_mb": round(figures["growth_mb"], 1),
        }
        print(
            f"{args.sessions} sessions × 2 files at once: peak RSS {figures['peak_mb']:.0f} MB "
            f"(model loaded: {figures['base_mb']:.0f} MB, growth {figures['growth_mb']:.0f} MB)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
