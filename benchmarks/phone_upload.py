"""A phone photo over a mobile network: from choosing it in the Diagnose page's uploader to
the seven probabilities on screen.

    python benchmarks/phone_upload.py [--old DIR] [--network fast4g|slow4g] [--runs 3]
                                      [--photo FILE]

A phone's camera writes 12 megapixels and 2–5 MB of JPEG; the app uses at most a 768 px
working copy of it. Starts ``streamlit run streamlit_app/app.py`` (the shipped model) on a
free localhost port, opens Diagnose in Debian's Chromium at a phone's 390 px with the network
throttled as in ``first_load.py`` (Puppeteer's "Fast 4G": 1.35 Mbit/s up, 165 ms latency),
waits for the page's first run, then hands the photo to the uploader's file input (as the
phone's file picker does) and times until the probability bars are drawn. ``--old DIR``: a
checkout of an earlier commit (``git worktree add /tmp/phone_old <commit>``), measured in the
same run, one server after the other, and the ratio printed.

The photo defaults to a 4032×3024 JPEG (quality 92, ~3 MB) made from the first HAM10000
image under ../shared/data (with sensor-like noise), else from a synthetic lesion.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT, REPO_ROOT / "tests", REPO_ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from app_latency import CHART_DRAWN, IDLE, UPLOADER, default_image  # noqa: E402
from first_load import NETWORKS, UNTHROTTLED  # noqa: E402
from local_app import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop, wait_healthy  # noqa: E402


def phone_photo() -> bytes:
    """A 12-megapixel camera-sized JPEG of a real lesion, with sensor-like noise."""
    import numpy as np
    from PIL import Image

    source = Image.open(io.BytesIO(default_image()[1])).convert("RGB")
    pixels = np.asarray(source.resize((4032, 3024), Image.BICUBIC), dtype=np.float32)
    noise = np.random.default_rng(0).normal(0, 6, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=92
    )
    return buffer.getvalue()


def one_upload(browser, url: str, photo: bytes, network: dict) -> float:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.locator(UPLOADER).wait_for(state="attached", timeout=120_000)
        page.wait_for_function(IDLE, timeout=120_000)
        page.wait_for_timeout(2_000)  # a person choosing a photo; the page's scripts settle
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **network})
        start = time.perf_counter()
        page.locator(UPLOADER).set_input_files(
            {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo}
        )
        page.wait_for_function(CHART_DRAWN, timeout=300_000)
        return time.perf_counter() - start
    finally:
        context.close()


def measure(root: Path, photo: bytes, network: dict, runs: int, browser) -> list[float]:
    with tempfile.TemporaryDirectory() as scratch, open(Path(scratch) / "log", "w") as log:
        model = REPO_ROOT / "models" / "default"
        process, url = start_streamlit(model, log, app=root / "streamlit_app" / "app.py")
        try:
            wait_healthy(process, url, timeout_s=180)
            one_upload(browser, url, photo, UNTHROTTLED)  # warm-up
            return [one_upload(browser, url, photo, network) for _ in range(runs)]
        finally:
            stop(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="a checkout of an earlier commit, measured too")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="fast4g")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=Path, help="a JPEG to upload instead of the default")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    photo = args.photo.read_bytes() if args.photo else phone_photo()
    print(f"photo: {len(photo) / 1e6:.2f} MB; network: {args.network}; median of {args.runs}")
    roots = {"now": REPO_ROOT, **({"old": args.old.resolve()} if args.old else {})}
    medians = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name, root in roots.items():
            seconds = measure(root, photo, NETWORKS[args.network], args.runs, browser)
            medians[name] = statistics.median(seconds)
            shown = ", ".join(f"{s:.2f}" for s in seconds)
            print(f"{name} ({root}): chosen → probabilities {medians[name]:.2f} s ({shown})")
        browser.close()
    if "old" in medians:
        print(f"old / now: {medians['old'] / medians['now']:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
