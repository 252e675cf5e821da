"""Start the app on a free localhost port and drive Debian's Chromium: shared by the browser
test and the browser benchmarks (`benchmarks/app_latency.py`, `load_test.py`, `run.py`)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "streamlit_app" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, with no background traffic: this machine has no network beyond localhost.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(model_dir: Path, log, app: Path = APP, **popen) -> tuple[subprocess.Popen, str]:
    """``streamlit run`` on a free port with ``SKINDX_MODEL=model_dir``; returns (process, URL)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(SKINDX_MODEL=str(model_dir), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, **popen
    )
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(process: subprocess.Popen, url: str, timeout_s: float) -> None:
    """Poll ``/_stcore/health`` until it answers ok.

    Raises:
        RuntimeError: the server exited first.
        TimeoutError: no healthy answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}")
        health = f"{url}/_stcore/health"
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as reply:
            if reply.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"streamlit was not healthy after {timeout_s:.0f} s")


def served_log(log_path: Path) -> str:
    """What the server logged while it served, before :func:`stop`'s "Stopping...": after it,
    a daemon thread cut off at interpreter exit may start a traceback no visitor sees (seen
    once in CI, truncated after its first line, not reproduced in nine local runs)."""
    return log_path.read_text().split("  Stopping...")[0]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def synthetic_lesion_jpeg() -> bytes:
    """A 600×450 dermoscopy-like JPEG (brown oval on pink skin, sensor noise), for runs
    without the shared ISIC images."""
    import io

    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:450, 0:600]
    blob = ((xx - 300) / 170) ** 2 + ((yy - 225) / 130) ** 2 < 1
    pixels = np.empty((450, 600, 3), np.uint8)
    pixels[:] = (224, 170, 160)
    pixels[blob] = (120, 80, 60)
    noise = np.random.default_rng(0).normal(0, 6, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=90
    )
    return buffer.getvalue()
