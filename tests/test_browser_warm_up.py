"""In Chromium: the page icon comes from the server (nothing is fetched from a CDN) and the
background warm-up leaves no warning or traceback in the server log."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from local_app import CHROMIUM, CHROMIUM_ARGS, served_log, start_streamlit, stop, wait_healthy

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_page_icon_is_served_locally_and_warm_up_is_quiet(tiny_model_dir, tmp_path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "wb") as log:
        process, url = start_streamlit(tiny_model_dir, log)
        try:
            wait_healthy(process, url, 60)
            with sync_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                try:
                    page = browser.new_page()
                    hosts: set[str] = set()
                    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
                    page.goto(url, wait_until="domcontentloaded")
                    page.get_by_text("Check a skin spot").first.wait_for(timeout=45_000)
                    icon = page.locator('link[rel="shortcut icon"], link[rel="icon"]').first
                    page.wait_for_function(
                        "link => link.href.includes('/media/')",
                        arg=icon.element_handle(timeout=45_000),
                        timeout=45_000,
                    )
                    href = icon.get_attribute("href") or ""
                finally:
                    browser.close()
        finally:
            stop(process)
    assert "gstatic" not in href and "googleapis" not in href, href
    assert hosts <= {urlparse(url).netloc, ""}, hosts  # data: URLs have no host
    text = served_log(log_path)
    for marker in ("Traceback", "missing ScriptRunContext"):
        assert marker not in text, text[-3000:]
