"""The Statistics page's server time for a new visitor, its charts kept or built.

    python benchmarks/statistics_page.py [--runs 7]

Each round runs the page in two fresh sessions (Streamlit's AppTest, no browser): the first
after ``st.cache_data`` is cleared, as for the first visitor after a server start (the
bundled summary is read and every chart built; a visit with an uploaded CSV builds its
charts too, which are never kept), the second with the bundled datasets' charts kept, as for
every later visitor. Prints the medians and their ratio.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
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
