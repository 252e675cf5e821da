"""A phone's first visit over a mobile network: served straight by Streamlit, and behind the
reverse proxy that docs/deploy.md configures.

    python benchmarks/first_load.py [--model DIR] [--network fast4g|slow4g] [--runs 3]

Streamlit serves its JavaScript and CSS uncompressed (it leaves compression to a proxy), and
a phone downloads them all before the page can draw. This starts
``streamlit run streamlit_app/app.py`` on a free localhost port and, in front of it, nginx
with the ``nginx`` block of docs/deploy.md as written there (so the measured proxy is the one
the guide gives), then opens the Diagnose and Statistics pages in Debian's Chromium with an
empty cache and Chromium's network throttled to a mobile preset (Puppeteer's "Fast 4G":
8.1 Mbit/s down, 165 ms latency; "Slow 4G": 1.44 Mbit/s, 563 ms). Each visit is timed until
the page's first run has finished (nothing running) with its content shown: the uploader on
Diagnose, a drawn chart on Statistics. Bytes are what crossed the network until it was quiet
for a second: HTTP bodies as sent (compressed where they were) plus the WebSocket's messages.

The report prints, per page, the median time and bytes straight and behind the proxy, and
their ratios. Needs nginx on the PATH (Debian: ``apt-get install nginx-light``).
"""

from __future__ import annotations

import argparse
import base64
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from app_latency import IDLE, UPLOADER  # noqa: E402
from local_app import CHROMIUM, CHROMIUM_ARGS, free_port, start_streamlit, stop, wait_healthy  # noqa: E402

DEPLOY_GUIDE = REPO_ROOT / "docs" / "deploy.md"


def _throttle(down_mbit: float, up_mbit: float, latency_ms: float) -> dict:
    return {
        "downloadThroughput": down_mbit * 1e6 / 8,
        "uploadThroughput": up_mbit * 1e6 / 8,
        "latency": latency_ms,
    }


# Puppeteer's PredefinedNetworkConditions.
NETWORKS = {"fast4g": _throttle(8.1, 1.35, 165), "slow4g": _throttle(1.44, 0.675, 562.5)}
UNTHROTTLED = {"downloadThroughput": -1, "uploadThroughput": -1, "latency": 0}
PAGES = {
    "Diagnose": ("/", UPLOADER),
    "Statistics": ("/statistics", ".js-plotly-plot .main-svg"),
}


def guide_location_block() -> str:
    """The ``location / { … }`` block of the deploy guide's nginx example."""
    found = re.search(r"```nginx\n(.*?)```", DEPLOY_GUIDE.read_text(), re.S)
    if found is None:
        raise SystemExit(f"no ```nginx block in {DEPLOY_GUIDE}")
    return found.group(1)


def nginx_config(scratch: Path, listen: int, upstream: str) -> Path:
    """A whole nginx.conf around the guide's block, proxying to ``upstream``."""
    location = guide_location_block().replace("http://127.0.0.1:8501", upstream)
    config = scratch / "nginx.conf"
    config.write_text(
        f"""pid {scratch}/nginx.pid;
error_log {scratch}/error.log;
events {{}}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {scratch}/body;
    proxy_temp_path {scratch}/proxy;
    fastcgi_temp_path {scratch}/fastcgi;
    uwsgi_temp_path {scratch}/uwsgi;
    scgi_temp_path {scratch}/scgi;
    server {{
        listen 127.0.0.1:{listen};
{location}
    }}
}}
"""
    )
    return config


def start_nginx(scratch: Path, upstream: str) -> tuple[subprocess.Popen, str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed (Debian: apt-get install nginx-light)")
    port = free_port()
    config = nginx_config(scratch, port, upstream)
    subprocess.run([nginx, "-t", "-q", "-c", str(config), "-p", str(scratch)], check=True)
    process = subprocess.Popen([nginx, "-c", str(config), "-p", str(scratch), "-g", "daemon off;"])
    return process, f"http://127.0.0.1:{port}"


def visit(browser, url: str, ready: str, network: dict) -> tuple[float, int]:
    """One first visit with an empty cache: (seconds until shown and idle, bytes received
    until the network has been quiet for a second, which counts scripts a page fetches for
    later, as plotly's once was on Diagnose)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, **network})
    received = {"http": 0, "ws": 0}
    pending: set[str] = set()
    last_activity = [time.perf_counter()]

    def started(event: dict) -> None:
        pending.add(event["requestId"])
        last_activity[0] = time.perf_counter()

    def ended(event: dict) -> None:
        pending.discard(event["requestId"])
        received["http"] += event.get("encodedDataLength", 0)
        last_activity[0] = time.perf_counter()

    def on_frame(event: dict) -> None:
        frame = event["response"]
        payload = frame["payloadData"]
        binary = frame["opcode"] == 2
        received["ws"] += len(base64.b64decode(payload)) if binary else len(payload.encode())

    cdp.on("Network.requestWillBeSent", started)
    cdp.on("Network.loadingFinished", ended)
    cdp.on("Network.loadingFailed", ended)
    cdp.on("Network.webSocketFrameReceived", on_frame)
    start = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=120_000)
    page.wait_for_selector(ready, state="attached", timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000)
    seconds = time.perf_counter() - start
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        if not pending and time.perf_counter() - last_activity[0] >= 1.0:
            break
        page.wait_for_timeout(100)
    context.close()
    return seconds, received["http"] + received["ws"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO_ROOT / "models" / "default"))
    parser.add_argument("--network", choices=sorted(NETWORKS), default="fast4g")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        with open(scratch / "streamlit.log", "w") as log:
            app, direct = start_streamlit(Path(args.model), log)
            proxy = None
            try:
                wait_healthy(app, direct, timeout_s=180)
                proxy, proxied = start_nginx(scratch, direct)
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                    )
                    for path, ready in PAGES.values():  # the server's own first runs
                        visit(browser, direct + path, ready, UNTHROTTLED)
                    report(browser, direct, proxied, NETWORKS[args.network], args)
                    browser.close()
            finally:
                if proxy is not None:
                    stop(proxy)
                stop(app)
    return 0


def report(browser, direct: str, proxied: str, network: dict, args) -> None:
    print(f"first visit, empty cache, {args.network}, 390 px phone, median of {args.runs}")
    print(f"{'page':<11} {'straight':>16} {'behind proxy':>16} {'time':>6} {'bytes':>6}")
    for name, (path, ready) in PAGES.items():
        medians = []
        for base in (direct, proxied):
            runs = [visit(browser, base + path, ready, network) for _ in range(args.runs)]
            medians.append(
                (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            )
        (t0, b0), (t1, b1) = medians
        print(
            f"{name:<11} {t0:5.2f} s {b0 / 1e6:5.2f} MB {t1:5.2f} s {b1 / 1e6:5.2f} MB"
            f" {t1 / t0:5.2f}× {b1 / b0:5.2f}×"
        )


if __name__ == "__main__":
    raise SystemExit(main())
