"""The Statistics page's server time for a new visitor, its charts kept or built.

    python benchmarks/statistics_page.py [--runs 7]
    python benchmarks/statistics_page.py --figures [--old DIR] [--runs 7]

Each round runs the page in two fresh sessions (Streamlit's AppTest, no browser): the first
after ``st.cache_data`` is cleared, as for the first visitor after a server start (the
bundled summary is read and every chart built; a visit with an uploaded CSV builds its
charts too, which are never kept), the second with the bundled datasets' charts kept, as for
every later visitor. Prints the medians and their ratio.

``--figures`` times building the nine charts (``skindx.datasets.charts.chart``, as a filter
does) for the bundled data unfiltered, the bundled data with sex = female, and the bundled data
combined with a 2,000-row sample of HAM10000's metadata (in memory), three times a process, in
this checkout and, with ``--old DIR`` (e.g. ``git worktree add /tmp/fig_old <commit>``), in an
earlier one, the two checkouts' processes taken in turn, under Streamlit's plotly template as
in the app. Prints the medians of the wall and CPU times (the CPU's: what other work on a shared
machine leaves) and the ratios old / new.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
PAGE = REPO / "pages" / "statistics.py"

from common import json_from_child  # noqa: E402  (benchmarks/ is on the path: run as a script)


def visit() -> float:
    """Seconds one new session's first run of the page takes."""
    from streamlit.testing.v1 import AppTest

    session = AppTest.from_file(str(PAGE), default_timeout=120)
    start = time.perf_counter()
    session.run()
    elapsed = time.perf_counter() - start
    if session.exception:
        raise SystemExit(f"the page failed: {session.exception[0].value}")
    return elapsed


HAM_CSV = Path("/work/shared/data/ham10000/HAM10000_metadata.csv")
CASES = ("unfiltered", "sex = female", "with an upload")
# Run in a checkout's own interpreter: times building its nine charts once per case, as JSON.
TIME_FIGURES = """
import json, sys, time
import pandas as pd
from skindx.datasets import charts
from skindx.datasets.filters import Filters, apply_filters, combine_cubes
from skindx.datasets.summary import cube_frame, load_summary
from skindx.datasets.uploads import summarize_upload
from streamlit.elements.lib import streamlit_plotly_theme
streamlit_plotly_theme.configure_streamlit_plotly_theme()  # the app's default template
cube = cube_frame(load_summary())
sample = pd.read_csv(sys.argv[1]).sample(2000, random_state=0).to_csv(index=False).encode()
upload = combine_cubes(cube, cube_frame(summarize_upload(sample, "mine.csv")))
cases = {"unfiltered": (cube, Filters()), "sex = female": (cube, Filters(sexes=("female",))),
         "with an upload": (upload, Filters())}
def build(view, filters):
    return [charts.chart(key, view, filters) for key in charts.CHARTS]
build(cube, Filters())  # plotly's first figure and imports, outside the timing
times = {name: [] for name in cases}
for _ in range(3):
    for name, (data, filters) in cases.items():
        view = apply_filters(data, filters)
        start, cpu = time.perf_counter(), time.process_time()
        build(view, filters)
        times[name].append((time.perf_counter() - start, time.process_time() - cpu))
print(json.dumps(times))
"""


def figure_times(checkout: Path) -> dict[str, list[list[float]]]:
    """Seconds three builds of the nine charts take in ``checkout``, per case: wall, CPU."""
    return json_from_child([sys.executable, "-c", TIME_FIGURES, str(HAM_CSV)], checkout)


def figures(runs: int, old: Path | None) -> None:
    checkouts = {"new": REPO} | ({"old": old} if old else {})
    times: dict[str, dict[str, list]] = {name: {c: [] for c in CASES} for name in checkouts}
    for _ in range(runs):
        for name, checkout in checkouts.items():  # in turn: a busy spell slows both
            for case, seconds in figure_times(checkout).items():
                times[name][case].extend(seconds)
    for clock, index in (("wall", 0), ("CPU", 1)):  # CPU: what other work on the machine leaves
        print(f"nine charts built, {clock} time, median of {3 * runs}:")
        print(" " * 20 + "  ".join(f"{name:>8}" for name in checkouts))
        for case in CASES:
            medians = {n: statistics.median(t[index] for t in times[n][case]) for n in checkouts}
            line = "  ".join(f"{1e3 * s:5.0f} ms" for s in medians.values())
            ratio = f"  {medians['old'] / medians['new']:.2f}x faster" if old else ""
            print(f"  {case:<18}{line}{ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--figures", action="store_true", help="time the nine charts' building")
    parser.add_argument("--old", type=Path, help="with --figures: an earlier checkout to compare")
    args = parser.parse_args()
    if args.figures:
        figures(args.runs, args.old)
        return 0
    import streamlit as st

    visit()  # the imports and plotly's first figure, outside the timing
    built, kept = [], []
    for _ in range(args.runs):
        st.cache_data.clear()
        built.append(visit())
        kept.append(visit())
    built_s, kept_s = statistics.median(built), statistics.median(kept)
    print(f"new visitor, charts built: {1e3 * built_s:7.0f} ms (median of {args.runs})")
    print(f"new visitor, charts kept:  {1e3 * kept_s:7.0f} ms")
    print(f"ratio kept / built: {kept_s / built_s:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
