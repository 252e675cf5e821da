"""Load on the real server: one ``streamlit run``, N concurrent headless-Chromium sessions.

    python benchmarks/load_test.py --sessions 8 [--model DIR] [--image FILE]... [--json OUT]

Starts ``streamlit run streamlit_app/app.py`` on a free port on 127.0.0.1 (nothing else is
contacted), waits for its health endpoint, then:

1. one session alone on the fresh server (the cold first result: the model loads into
   ``st.cache_resource`` on first use), then
2. ``--sessions`` concurrent sessions (one Chromium, one browser context each, so each is its
   own Streamlit session), each opening the Diagnose page, uploading the image (or, with
   ``--image`` given several times, all of them at once: issue #28's "8 sessions × 2 files")
   through the
   page's file uploader and waiting for the diagnosis.

A diagnosis counts as shown when a message box appears inside a result card of
``pages/diagnose.py`` (its ``st.container(key="dx_result_<i>")``; the page fills the card only
once the prediction is made, and every card, in or out of domain, carries a message box), or
when one of the triage messages of ``predict.CONCERN_MESSAGES`` is visible anywhere.
``--result-text REGEX`` replaces the text rule. The Diagnose page is the app's default page, so
it is opened at ``/`` (``--page`` opens another URL path).
Reported: successes, p50/p95 time from upload to result and from page open to result, the
server's RSS (server process and its children) idle and at peak. Bounded: at most 32 sessions,
``--timeout`` seconds per session, and the server is killed at the end whatever happens.

Chromium: ``/usr/bin/chromium`` (``apt-get install -y chromium``), driven by the ``playwright``
Python package (no Playwright browser download needed). Exit status 0 when every session
succeeded, 1 otherwise, 2 when it cannot run here (the reason is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "tests", REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from common import model_directory  # noqa: E402
from local_app import (  # noqa: E402
    APP,
    CHROMIUM,
    CHROMIUM_ARGS,
    start_streamlit,
    synthetic_lesion_jpeg,
    wait_healthy,
)

TEST_IMAGES = REPO.parent / "shared" / "data" / "isic2018_test" / "images"
MAX_SESSIONS = 32
SERVER_START_TIMEOUT_S = 120
# Buttons a page may show between the upload and the result ("Diagnose", "Analyse", ...).
RUN_BUTTON = re.compile(r"diagnos|analy[sz]e|predict|check|run", re.IGNORECASE)
ERROR_SELECTOR = '[data-testid="stException"]'
RESULT_SELECTOR = '[class*="st-key-dx_result_"] [data-testid="stAlert"]'


def can_run(app: Path = APP) -> str | None:
    """Why the load test cannot run here, or None."""
    if not app.is_file():
        shown = app.relative_to(REPO) if app.is_relative_to(REPO) else app
        return f"{shown} does not exist yet"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


def result_pattern(override: str | None = None) -> re.Pattern[str]:
    if override:
        return re.compile(override)
    from skindx.diagnosis.predict import CONCERN_MESSAGES

    starts = [re.escape(message[:40]) for message in CONCERN_MESSAGES.values()]
    return re.compile("|".join(starts))


def default_image(scratch: Path) -> Path:
    if TEST_IMAGES.is_dir():
        images = sorted(TEST_IMAGES.glob("*.jpg"))
        if images:
            return images[0]
    path = scratch / "lesion.jpg"
    path.write_bytes(synthetic_lesion_jpeg())
    return path


# --------------------------------------------------------------------------- server


class Server:
    """``streamlit run`` in its own process group, on 127.0.0.1 only; always killed on exit."""

    def __init__(self, app: Path, model_dir: Path, log: Path) -> None:
        self.log = log.open("wb")
        self.started = time.perf_counter()
        self.process, self.url = start_streamlit(
            model_dir, self.log, app=app, start_new_session=True
        )

    def wait_ready(self, timeout_s: float = SERVER_START_TIMEOUT_S) -> float:
        wait_healthy(self.process, self.url, timeout_s)
        return time.perf_counter() - self.started

    def rss_bytes(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.process.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.log.close()


class RssSampler(threading.Thread):
    def __init__(self, server: Server, every_s: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.server, self.every_s = server, every_s
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, self.server.rss_bytes())
            self._halt.wait(self.every_s)

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=5)
        return self.peak


# --------------------------------------------------------------------------- sessions


async def one_session(
    browser,
    url: str,
    images: list[Path],
    pattern: re.Pattern[str],
    timeout_s: float,
    artifacts: Path | None = None,
) -> dict[str, Any]:
    """Open the page, upload, wait for the diagnosis (one result card per image). Never
    raises; reports what happened."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    opened = time.perf_counter()
    deadline = opened + timeout_s
    report: dict[str, Any] = {"ok": False}
    try:
        await page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
        uploader = page.locator('input[type="file"]').first
        await uploader.wait_for(
            state="attached", timeout=max(1.0, deadline - time.perf_counter()) * 1000
        )
        uploaded = time.perf_counter()
        report["page_to_uploader_s"] = uploaded - opened
        await uploader.set_input_files([str(path) for path in images])
        result = page.locator(RESULT_SELECTOR).or_(page.get_by_text(pattern)).first
        clicked = False
        while time.perf_counter() < deadline:
            cards = page.locator(RESULT_SELECTOR)
            if await result.is_visible() and (
                len(images) == 1 or await cards.count() >= len(images)
            ):
                done = time.perf_counter()
                report.update(
                    ok=True,
                    page_to_result_s=done - opened,
                    upload_to_result_s=done - uploaded,
                    shown=" ".join((await result.inner_text()).split())[:120],
                )
                break
            if await page.locator(ERROR_SELECTOR).count():
                text = await page.locator(ERROR_SELECTOR).first.inner_text()
                report["error"] = "page raised: " + " ".join(text.split())[:200]
                break
            if not clicked:
                button = page.get_by_role("button", name=RUN_BUTTON)
                if await button.count() and await button.first.is_enabled():
                    await button.first.click()
                    clicked = True
            await asyncio.sleep(0.1)
        else:
            report["error"] = f"no diagnosis within {timeout_s:.0f} s"
    except Exception as error:  # a browser-side failure is a failed session, not a crash
        report["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    finally:
        if not report["ok"]:
            with contextlib.suppress(Exception):
                text = " ".join((await page.inner_text("body", timeout=5000)).split())
                report["page_text"] = text[-800:]
            if artifacts is not None:
                with contextlib.suppress(Exception):
                    artifacts.mkdir(parents=True, exist_ok=True)
                    shot = artifacts / f"failed-{id(page):x}.png"
                    await page.screenshot(path=str(shot), full_page=True, timeout=10000)
                    report["screenshot"] = str(shot)
        with contextlib.suppress(Exception):
            await context.close()
    return report


def cpu_seconds(process) -> float:
    """CPU time of a process and its descendants, including children it has already reaped
    (Chromium's renderers exit when their tab closes)."""
    import psutil

    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def client_processes(server: Server) -> list:
    """This process's other children: the Playwright driver and Chromium under it."""
    import psutil

    return [p for p in psutil.Process().children() if p.pid != server.process.pid]


async def drive(
    url: str,
    images: list[Path],
    sessions: int,
    pattern: re.Pattern[str],
    timeout_s: float,
    warmup: bool,
    server: Server,
    artifacts: Path | None = None,
) -> dict[str, Any]:
    """The lone first session (``warmup``), then ``sessions`` at once; CPU used by the server
    and by the client side (Chromium) during the concurrent phase."""
    import psutil
    from playwright.async_api import async_playwright

    def session():
        return one_session(browser, url, images, pattern, timeout_s, artifacts)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            first = await session() if warmup else None
            warm_rss = server.rss_bytes()
            server_root = psutil.Process(server.process.pid)
            server_cpu, client_cpu = (
                cpu_seconds(server_root),
                sum(cpu_seconds(p) for p in client_processes(server)),
            )
            started = time.perf_counter()
            results = await asyncio.gather(*(session() for _ in range(sessions)))
            wall = time.perf_counter() - started
            server_cpu = cpu_seconds(server_root) - server_cpu
            client_cpu = sum(cpu_seconds(p) for p in client_processes(server)) - client_cpu
        finally:
            await browser.close()
    return {
        "first": first,
        "results": list(results),
        "wall_s": wall,
        "warm_rss": warm_rss,
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_load(
    sessions: int,
    model_dir: str | Path | None = None,
    image: str | Path | list[str | Path] | None = None,
    warmup: bool = True,
    session_timeout_s: float = 180,
    app: Path = APP,
    page: str = "",
    result_text: str | None = None,
    artifacts: Path | None = None,
) -> dict[str, Any]:
    """Start the server, run the sessions, stop the server; return the figures.

    ``warmup`` runs one session alone first (``first_result_s``: page open → diagnosis on the
    fresh server). With ``sessions=1, warmup=False`` that single session is the cold one.
    """
    reason = can_run(app)
    if reason:
        return {"skipped": reason}
    with tempfile.TemporaryDirectory(prefix="skindx-load-") as scratch:
        return _run_load(
            Path(scratch), sessions, model_dir, image, warmup, session_timeout_s, app, page,
            result_text, artifacts,
        )  # fmt: skip


def _run_load(
    scratch: Path,
    sessions: int,
    model_dir: str | Path | None,
    image: str | Path | list[str | Path] | None,
    warmup: bool,
    session_timeout_s: float,
    app: Path,
    page: str,
    result_text: str | None,
    artifacts: Path | None,
) -> dict[str, Any]:
    sessions = max(0, min(int(sessions), MAX_SESSIONS))
    directory, model_name = model_directory(model_dir, scratch)
    chosen = [image] if isinstance(image, str | Path) else list(image or [])
    image_paths = [Path(path) for path in chosen] or [default_image(scratch)]
    pattern = result_pattern(result_text)
    server = Server(app, directory, scratch / "server.log")
    try:
        ready_s = server.wait_ready()
        idle = server.rss_bytes()
        sampler = RssSampler(server)
        sampler.start()
        url = f"{server.url}/{page}".rstrip("/")
        run = asyncio.run(
            asyncio.wait_for(
                drive(
                    url,
                    image_paths,
                    sessions,
                    pattern,
                    session_timeout_s,
                    warmup,
                    server,
                    artifacts,
                ),
                timeout=session_timeout_s * 2 + 60,
            )
        )
        peak = sampler.stop()
        first, results, wall, warm = run["first"], run["results"], run["wall_s"], run["warm_rss"]
    except BaseException:
        server.stop()
        tail = (scratch / "server.log").read_text(errors="replace")[-2000:]
        print(f"server log (tail):\n{tail}", file=sys.stderr)
        raise
    server.stop()
    if not all(r["ok"] for r in [*results, *([first] if first else [])]):
        tail = (scratch / "server.log").read_text(errors="replace").splitlines()[-40:]
        print("server log (tail):\n" + "\n".join(tail), file=sys.stderr)
    if first is None and results:
        first = results[0]
    upload_times = [r["upload_to_result_s"] for r in results if r["ok"]]
    page_times = [r["page_to_result_s"] for r in results if r["ok"]]
    return {
        "model": model_name,
        "image": ", ".join(path.name for path in image_paths),
        "sessions": sessions,
        "succeeded": sum(r["ok"] for r in results),
        "errors": sorted({r["error"] for r in results if not r["ok"]}),
        "server_ready_s": ready_s,
        "first_result_s": first["page_to_result_s"] if first and first["ok"] else None,
        "first_error": None if not first or first["ok"] else first.get("error"),
        "first": first,
        "shown": sorted({r["shown"] for r in [*results, *([first] if first else [])] if r["ok"]}),
        "wall_s": wall,
        "server_cpu_s": run["server_cpu_s"],
        "client_cpu_s": run["client_cpu_s"],
        "upload_to_result_p50_s": percentile(upload_times, 50),
        "upload_to_result_p95_s": percentile(upload_times, 95),
        "page_to_result_p50_s": percentile(page_times, 50),
        "page_to_result_p95_s": percentile(page_times, 95),
        "page_to_uploader_p50_s": percentile(
            [r["page_to_uploader_s"] for r in results if "page_to_uploader_s" in r], 50
        ),
        "server_rss_idle_mb": idle / 2**20,
        "server_rss_after_first_mb": warm / 2**20,
        "server_rss_peak_mb": peak / 2**20,
        "results": results,
    }


def print_report(report: dict[str, Any]) -> None:
    if "skipped" in report:
        print(f"load test skipped: {report['skipped']}")
        return

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f} s"

    rows = [
        ("model", report["model"]),
        ("image", report["image"]),
        ("server start → healthy", seconds(report["server_ready_s"])),
        ("first session alone: page open → diagnosis", seconds(report["first_result_s"])),
        ("concurrent sessions", str(report["sessions"])),
        ("succeeded", f"{report['succeeded']} / {report['sessions']}"),
        ("upload → diagnosis p50 / p95", " / ".join(
            seconds(report[k]) for k in ("upload_to_result_p50_s", "upload_to_result_p95_s")
        )),
        ("page open → diagnosis p50 / p95", " / ".join(
            seconds(report[k]) for k in ("page_to_result_p50_s", "page_to_result_p95_s")
        )),
        ("page open → uploader shown p50", seconds(report["page_to_uploader_p50_s"])),
        ("all sessions wall time", seconds(report["wall_s"])),
        ("CPU in that time: server / Chromium", f"{report['server_cpu_s']:.1f} s / "
         f"{report['client_cpu_s']:.1f} s (machine: {os.cpu_count()} cores)"),
        ("server RSS: idle → model loaded → peak", f"{report['server_rss_idle_mb']:.0f} MB → "
         f"{report['server_rss_after_first_mb']:.0f} MB → "
         f"{report['server_rss_peak_mb']:.0f} MB (peak / loaded × "
         f"{report['server_rss_peak_mb'] / max(report['server_rss_after_first_mb'], 1):.2f})"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    for error in report["errors"] + ([report["first_error"]] if report["first_error"] else []):
        print(f"error: {error}")
    for shown in report["shown"]:
        print(f"result shown: {shown}")
    failed = [r for r in [*report["results"], report.get("first") or {}] if r.get("page_text")]
    if failed:
        print(f"page text of a failed session: {failed[0]['page_text']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8, help=f"1-{MAX_SESSIONS} (default 8)")
    parser.add_argument("--model", help="model directory (default: models/default or stand-in)")
    parser.add_argument(
        "--image",
        action="append",
        help="image to upload; repeat to upload several at once (default: an ISIC 2018 test JPEG)",
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds per session")
    parser.add_argument("--app", default=str(APP), help="streamlit script (default: %(default)s)")
    parser.add_argument("--page", default="", help="URL path to open (default: the app's /)")
    parser.add_argument("--result-text", help="regex that marks a shown diagnosis")
    parser.add_argument("--no-warmup", action="store_true", help="skip the lone first session")
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--artifacts", help="save a screenshot of every failed session here")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        parser.error(f"--sessions must be between 1 and {MAX_SESSIONS}")
    report = run_load(
        args.sessions,
        model_dir=args.model,
        image=args.image,
        warmup=not args.no_warmup,
        session_timeout_s=args.timeout,
        app=Path(args.app).resolve(),
        page=args.page,
        result_text=args.result_text,
        artifacts=Path(args.artifacts) if args.artifacts else None,
    )
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if "skipped" in report:
        return 2
    return 0 if report["succeeded"] == report["sessions"] else 1


if __name__ == "__main__":
    sys.exit(main())
