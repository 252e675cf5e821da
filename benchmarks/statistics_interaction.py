"""The Statistics page's response to an interaction with an uploaded CSV, in a real browser.

    python benchmarks/statistics_interaction.py [--runs 5] [--rows 2000] [--old DIR] [--dark]

Starts ``streamlit run streamlit_app/app.py`` on a free localhost port and drives Debian's
Chromium (/usr/bin/chromium) with Playwright. Each round opens a fresh session on the page,
uploads a metadata CSV built in memory (a ``--rows`` sample of HAM10000's metadata from
../shared/data, else synthetic rows; nothing is written to disk), and times, from the input
event until the page is settled:

- the upload: the page's first full draw with "Your data", nine charts (the baseline);
- a toggle that changes one chart ("Show % of each dataset", on then off);
- a filter that changes every chart shown (Sex: "female" chosen from the list), and the same
  filter removed (the charts of the upload's first view again), reported apart;
- where the page groups its charts in tabs (a checkout that sends one tab's charts only),
  another tab chosen ("Age, sex"), its charts built for the upload's view and drawn, and the
  same filter chosen and removed there: the page's two heaviest charts to draw, where the
  first tab's are its lightest. Each is compared with the older page's filter (every chart).

"Settled" is the later of the app's script state turning back to ``notRunning`` (after it
ran) and the animation frame after the last change inside a plotly chart, once nothing has
changed for ``QUIET_MS``; the times are read from the page's own clock (``performance.now``).
Prints the medians and each interaction's ratio to the upload's draw in the same run.

``--old DIR``: a checkout of an earlier commit (``git worktree add /tmp/stats_old <commit>``),
measured in the same run on its own server with the same file, its rounds taking turns with
this checkout's, so before and after share the machine and its load.

``--dark``: each checkout measured on a browser set to the light colour scheme and on one set
to dark, rounds in turn on the same server, and the dark theme's times against the light's:
the dark theme redraws every chart in its colours (skindx/datasets/themes.py) on each rerun.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from local_app import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop, wait_healthy  # noqa: E402

METADATA = REPO_ROOT.parent / "shared" / "data" / "ham10000" / "HAM10000_metadata.csv"
UPLOADER = '[data-testid="stFileUploaderDropzoneInput"]'
QUIET_MS = 600  # nothing changed in a chart nor the run state for this long: settled
TIMEOUT_MS = 120_000
RETRY_MS = 15_000  # no run begun this long after a press: it missed, and is made again
INTERACTIONS = {
    "toggle": "toggle, one chart (on and off)",
    "filter": "filter chosen, every chart shown",
    "filter undone": "filter removed, back to the upload's view",
    "tab": "another tab chosen (Age, sex), its charts built and drawn",
    "tab filter": "filter chosen on the Age, sex tab",
    "tab filter undone": "filter removed on the Age, sex tab",
}
# What each interaction of a page with tabs is compared with on an older page without them.
SAME_ACTION = {"tab filter": "filter", "tab filter undone": "filter undone"}
TAB = "Age, sex"  # a tab of the page that groups its charts; an older page has none

# Records the input event, the run state's changes and the frame after the last change in a
# plotly chart, on the page's clock; installed before the app's own scripts run.
PROBE = """
(() => {
  const b = window.__bench = {t0: null, states: [], plot: 0, plotFrame: 0};
  const mark = () => { b.t0 = performance.now(); b.states = []; b.plot = 0; b.plotFrame = 0; };
  b.mark = mark;
  // The next press starts the clock (armed for one press: a click's own events come after).
  addEventListener('pointerdown', () => { if (b.armed) { b.armed = false; mark(); } }, true);
  const observer = new MutationObserver(records => {
    const now = performance.now();
    let plotted = false;
    for (const r of records) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (r.type === 'attributes' && r.attributeName === 'data-test-script-state'
          && el.dataset.testid === 'stApp') {
        b.states.push([el.getAttribute('data-test-script-state'), now]);
      } else if (!plotted && el && el.closest && el.closest('.js-plotly-plot')) {
        plotted = true;
      }
    }
    if (plotted) {  // one frame per batch of changes: one per change slowed plotly's drawing
      b.plot = now;
      requestAnimationFrame(() => { b.plotFrame = Math.max(b.plotFrame, performance.now()); });
    }
  });
  const start = () => observer.observe(document.documentElement, {
    subtree: true, childList: true, attributes: true, characterData: true});
  if (document.documentElement) start(); else addEventListener('DOMContentLoaded', start);
})();
"""
STARTED = "() => window.__bench.states.some(([s]) => s === 'running')"
# Ran (a "running" seen since the input) and stopped, and quiet since.
SETTLED = """quiet => {
  const b = window.__bench;
  const ran = b.states.findIndex(([s]) => s === 'running');
  if (ran < 0) return false;
  const stopped = b.states.slice(ran).filter(([s]) => s === 'notRunning').pop();
  if (!stopped || b.states[b.states.length - 1][0] !== 'notRunning') return false;
  const last = Math.max(stopped[1], b.plotFrame, b.plot);
  return performance.now() - last > quiet;
}"""
ELAPSED = """() => {
  const b = window.__bench;
  const stopped = b.states.filter(([s]) => s === 'notRunning').pop()[1];
  return (Math.max(stopped, b.plotFrame) - b.t0) / 1000;
}"""


def metadata_csv(rows: int) -> bytes:
    """``rows`` rows of HAM10000's metadata (a fixed sample), else synthetic ISIC-format rows."""
    import numpy as np
    import pandas as pd

    if METADATA.is_file():
        frame = pd.read_csv(METADATA).sample(rows, random_state=0)
    else:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(
            {
                "lesion_id": [f"L{i // 2}" for i in range(rows)],
                "image_id": [f"I{i}" for i in range(rows)],
                "dx": rng.choice(["nv", "mel", "bkl", "bcc", "akiec", "vasc", "df"], rows),
                "dx_type": rng.choice(["histo", "follow_up", "consensus"], rows),
                "age": rng.integers(5, 90, rows) // 5 * 5.0,
                "sex": rng.choice(["male", "female"], rows),
                "localization": rng.choice(["back", "trunk", "face", "lower extremity"], rows),
            }
        )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _settle(page, what: str) -> float:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.mouse.move(2, 2)  # off the charts: a hover label would count as a redraw
    try:
        page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=TIMEOUT_MS, polling=50)
    except PlaywrightTimeout:
        seen = page.evaluate("window.__bench.states")
        raise RuntimeError(f"{what}: the page did not settle; run states seen: {seen}") from None
    return page.evaluate(ELAPSED)


# Every chart sent has been drawn by plotly (the page sends nine, or one tab's).
DRAWN = """() => {
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.length > 0 && charts.every(c => c.querySelector('.main-svg'));
}"""


def _plotly_drawn(page) -> None:
    page.wait_for_function(DRAWN, timeout=TIMEOUT_MS)


def _arm(page) -> None:
    """The next press starts the clock; the run states seen so far are dropped."""
    page.evaluate("window.__bench.mark(); window.__bench.armed = true")


def _press(page, press) -> None:
    """``press()`` (which arms the clock itself, or is armed here), again where no run began
    within ``RETRY_MS``: on a loaded machine a click could land while a late redraw or the
    upload's scroll moved the page, and nothing ran."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        _arm(page)
        press()
        try:
            page.wait_for_function(STARTED, timeout=RETRY_MS, polling=50)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise RuntimeError("three presses in a row ran nothing")


def _choose(page, combobox, name: str) -> None:
    """Click the option ``name`` of a multiselect's list, the clock armed; the list opened by a
    click on its input, again where it closed first (a click landing while the expander above
    was still opening, or a late redraw)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    option = page.get_by_role("option", name=name, exact=True)
    for _ in range(5):
        try:
            combobox.click()
            option.wait_for(timeout=5_000)
            _arm(page)
            option.click(timeout=5_000)
            return
        except PlaywrightTimeout:
            page.evaluate("window.__bench.armed = false")
            page.keyboard.press("Escape")
    raise RuntimeError(f"the option {name!r} could not be clicked")


def _filter_twice(page, sex, remove) -> list[float]:
    """The Sex filter's "female" chosen from the list, then removed by its ×: seconds each."""
    times = []
    for chosen in (True, False):
        _press(page, (lambda: _choose(page, sex, "female")) if chosen else remove.click)
        times.append(_settle(page, f"filter {chosen=}"))
        page.keyboard.press("Escape")  # the list closed: nothing reruns
        if remove.count() != chosen:
            raise RuntimeError("the Sex filter did not change as expected")
    return times


def one_round(
    browser, url: str, data: bytes, scheme: str = "light"
) -> tuple[float, list[float], list[float]]:
    """(upload's draw, [toggle on, toggle off], [filter on, filter off, and where the page has
    tabs: another tab, filter on and off there]) in seconds, one fresh session on a browser
    set to the ``scheme`` colour scheme."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page.add_init_script(PROBE)
    try:
        page.goto(f"{url}/statistics", wait_until="domcontentloaded")
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
            timeout=TIMEOUT_MS
        )
        _plotly_drawn(page)
        page.get_by_text("Use your own metadata").click()
        uploader = page.locator(UPLOADER)
        uploader.wait_for(state="attached", timeout=TIMEOUT_MS)
        page.evaluate("window.__bench.mark()")
        uploader.set_input_files({"name": "mine.csv", "mimeType": "text/csv", "buffer": data})
        upload = _settle(page, "upload")
        page.get_by_text("images read").first.wait_for(timeout=TIMEOUT_MS)
        _plotly_drawn(page)

        toggles = []
        for _ in range(2):  # on, then off
            _press(page, page.get_by_text("Show % of each dataset").click)
            toggles.append(_settle(page, "toggle"))

        page.get_by_text("Filters: age, sex, body site, diagnosis").click()
        sex = page.get_by_role("combobox", name="Sex")  # the multiselect's input
        widget = page.locator('[data-testid="stMultiSelect"]').filter(has=sex)
        remove = widget.get_by_role("button", name="Remove female")
        filters = _filter_twice(page, sex, remove)
        tab = page.get_by_role("tab", name=TAB, exact=True)
        if tab.count():
            _press(page, tab.click)
            filters.append(_settle(page, "tab"))
            if tab.get_attribute("aria-selected") != "true":
                raise RuntimeError(f"the tab {TAB!r} was not chosen")
            filters += _filter_twice(page, sex, remove)
        return upload, toggles, filters
    finally:
        page.close()


def measure(
    roots: list[Path], data: bytes, runs: int, schemes: tuple[str, ...] = ("light",)
) -> list[dict[str, list[float]]]:
    """Every round's times per checkout in ``roots`` and colour scheme in ``schemes`` (in
    that order, the schemes of the first checkout first), each checkout on its own server,
    the rounds taken in turn so that a change in the machine's load falls on all alike (one
    untimed warm-up round each first)."""
    from playwright.sync_api import sync_playwright

    times = [{name: [] for name in ("upload", *INTERACTIONS)} for _ in roots for _ in schemes]
    with contextlib.ExitStack() as stack:
        urls = []
        for root in roots:
            scratch = stack.enter_context(tempfile.TemporaryDirectory())
            log = stack.enter_context(tempfile.TemporaryFile())
            # No model: this page needs none, and the background warm-up then ends at once.
            app = root / "streamlit_app" / "app.py"
            process, url = start_streamlit(Path(scratch) / "no-model", log, app=app)
            stack.callback(stop, process)
            wait_healthy(process, url, 120)
            urls.append(url)
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        stack.callback(browser.close)
        contenders = [(url, scheme) for url in urls for scheme in schemes]
        for url, scheme in contenders:
            one_round(browser, url, data, scheme)  # imports, plotly's first figures
        for _ in range(runs):
            for (url, scheme), kept in zip(contenders, times, strict=True):
                upload, toggles, filters = one_round(browser, url, data, scheme)
                kept["upload"].append(upload)
                kept["toggle"] += toggles
                kept["filter"].append(filters[0])
                kept["filter undone"].append(filters[1])
                tabbed = ("tab", "tab filter", "tab filter undone")[: len(filters) - 2]
                for name, value in zip(tabbed, filters[2:], strict=True):  # a page with tabs
                    kept[name].append(value)
    return times


def report(label: str, times: dict[str, list[float]]) -> dict[str, float]:
    medians = {name: statistics.median(values) for name, values in times.items() if values}
    base = medians["upload"]
    print(f"{label}:")
    print(f"  upload → first full draw (baseline): median {base:.3f} s")
    for name, what in INTERACTIONS.items():
        values = times[name]
        if not values:  # no tabs on this checkout's page
            continue
        print(
            f"  {what}: median {medians[name]:.3f} s (min {min(values):.3f}, max "
            f"{max(values):.3f}, n={len(values)}); ratio to baseline {medians[name] / base:.2f}"
        )
    return medians


def _compare(dark: dict[str, float], light: dict[str, float]) -> None:
    """Each interaction's median in the dark theme against the light's, same checkout."""
    for name in ["upload", *INTERACTIONS]:
        if name in dark and name in light:
            print(
                f"{name}: light {light[name]:.3f} s, dark {dark[name]:.3f} s; "
                f"dark / light {dark[name] / light[name]:.2f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--old", type=Path, help="a checkout of an earlier commit, measured too")
    parser.add_argument("--dark", action="store_true", help="the dark theme against the light")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    data = metadata_csv(args.rows)
    source = "HAM10000 sample" if METADATA.is_file() else "synthetic"
    print(f"upload: {args.rows} rows ({source}, {len(data) / 1024:.0f} KiB), {args.runs} rounds")
    start = time.perf_counter()
    print(f"load average at the start: {os.getloadavg()[0]:.2f} (1 min)")
    roots = [REPO_ROOT, *([args.old.resolve()] if args.old else [])]
    schemes = ("light", "dark") if args.dark else ("light",)
    measured = measure(roots, data, args.runs, schemes)
    now = report("this checkout", measured[0])
    if args.dark:
        _compare(report("this checkout, dark theme", measured[1]), now)
    if args.old:
        old = report(f"old checkout {args.old}", measured[len(schemes)])
        for name in [name for name in INTERACTIONS if name in now]:
            was = name if name in old else SAME_ACTION.get(name)
            if was not in old:
                continue
            ratio_now = now[name] / now["upload"]
            ratio_old = old[was] / old["upload"]
            print(
                f"{name}: {old[was]:.3f} s → {now[name]:.3f} s ({old[was] / now[name]:.1f}× "
                f"faster); ratio to baseline {ratio_old:.2f} → {ratio_now:.2f}"
                + (f" (old: its {was})" if was != name else "")
            )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"({time.perf_counter() - start:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
