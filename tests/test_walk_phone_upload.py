"""A phone photo chosen in an image uploader: the browser shrinks a large JPEG before it is
sent (streamlit_app/ui.py ``shrink_photos_before_upload``), so a 3–15 MB camera photo crosses
a mobile network as a few hundred kB, one over the upload cap is still read, the photo stays
upright and its EXIF (location, camera) stays on the phone."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from test_browser import (  # noqa: F401  (browser: a fixture)
    UI_TIMEOUT_MS,
    browser,
    open_page,
    streamlit_server,
)

from skindx.config import settings
from skindx.images.loading import inspect_image
from streamlit_app import ui

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

UPLOADER = '[data-testid="stFileUploaderDropzoneInput"]'
# The file the uploader holds once the page has had it: its size and its bytes.
CHOSEN_JS = """async (input) => {
  const file = input.files[0];
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return { name: file.name, size: file.size, data: btoa(text) };
}"""


def camera_jpeg(width: int, height: int, quality: int, orientation: int = 1) -> bytes:
    """A camera-like JPEG: a dark oval on skin with sensor noise, an EXIF orientation and a
    camera model in its EXIF."""
    yy, xx = np.mgrid[0:height, 0:width]
    oval = ((xx - width / 2) / (width / 3)) ** 2 + ((yy - height / 2) / (height / 3)) ** 2 < 1
    pixels = np.empty((height, width, 3), np.float32)
    pixels[:] = (224, 170, 160)
    pixels[oval] = (120, 80, 60)
    pixels += np.random.default_rng(0).normal(0, 12, pixels.shape)
    exif = Image.Exif()
    exif[274] = orientation
    exif[272] = "Phone camera"
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=quality, exif=exif.tobytes()
    )
    return buffer.getvalue()


def chosen(page, photo: bytes, name: str) -> dict:
    """Hand ``photo`` to the Diagnose uploader as a phone's file picker does, wait for the
    diagnosis, and return the file the uploader then holds."""
    uploader = page.locator(UPLOADER)
    uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
    uploader.set_input_files({"name": name, "mimeType": "image/jpeg", "buffer": photo})
    # attached: a photo the tiny model finds unlike its training images has its bars folded away
    page.locator("ul.skindx-probabilities li").first.wait_for(
        state="attached", timeout=UI_TIMEOUT_MS
    )
    held = page.evaluate(CHOSEN_JS, uploader.element_handle())
    held["data"] = base64.b64decode(held["data"])
    return held


def test_a_photo_over_the_cap_is_shrunk_upright_and_without_exif(
    browser,  # noqa: F811
    tiny_model_dir,
    tmp_path,
) -> None:
    photo = camera_jpeg(6000, 4500, quality=97, orientation=6)  # stored sideways
    assert len(photo) > settings().max_upload_bytes  # Streamlit would refuse it as it is
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, url, errors)
        held = chosen(page, photo, "IMG_0042.jpg")
        assert held["name"] == "IMG_0042.jpg" and held["size"] < 1_000_000
        sent = Image.open(io.BytesIO(held["data"]))
        assert sent.format == "JPEG" and sent.size == (1152, 1536)  # upright: portrait
        assert not sent.getexif()  # no location, camera or orientation left in it
        assert page.get_by_text("IMG_0042.jpg").count() >= 1
        assert not page.locator('[data-testid="stAlertContentError"]').count()
        assert not errors, errors
    # What the app analyses of it matches what it made of the whole photo, turned upright.
    read_whole = inspect_image(photo, max_bytes=len(photo), min_side=ui.WORKING_SIDE)
    whole = ui.shrink(read_whole.pixels, ui.WORKING_SIDE).astype(np.float32)
    shrunk = ui.working_copy(held["data"]).pixels.astype(np.float32)
    assert whole.shape == shrunk.shape == (ui.WORKING_SIDE, 576, 3)
    assert np.abs(whole - shrunk).mean() < 3.0  # of 255, noise averaged differently


# Files dragged onto the Diagnose dropzone, as a desktop's file manager drops them.
DROP_JS = """([zone, data, name]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const dropped = new DataTransfer();
  dropped.items.add(new File([bytes], name, { type: "image/jpeg" }));
  const init = { bubbles: true, cancelable: true, dataTransfer: dropped };
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, init));
  }
}"""


def test_a_photo_dragged_in_over_the_cap_is_shrunk_too(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    photo = camera_jpeg(6000, 4500, quality=97)
    assert len(photo) > settings().max_upload_bytes
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, url, errors)
        zone = page.locator('[data-testid="stFileUploaderDropzone"]').first
        zone.wait_for(timeout=UI_TIMEOUT_MS)
        page.evaluate(DROP_JS, [zone.element_handle(), base64.b64encode(photo).decode(), "big.jpg"])
        page.locator("ul.skindx-probabilities li").first.wait_for(
            state="attached", timeout=UI_TIMEOUT_MS
        )
        held = page.evaluate(CHOSEN_JS, page.locator(UPLOADER).element_handle())
        assert held["name"] == "big.jpg" and held["size"] < 1_000_000
        assert not errors, errors


def test_a_small_photo_goes_as_it_is(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    photo = camera_jpeg(800, 600, quality=90)
    assert len(photo) < ui.SHRINK_OVER_BYTES
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        held = chosen(open_page(browser, url, errors), photo, "small.jpg")
        assert held["data"] == photo
        assert not errors, errors


def test_the_explorer_uploader_shrinks_a_large_photo(browser, tiny_model_dir, tmp_path) -> None:  # noqa: F811
    photo = camera_jpeg(4032, 3024, quality=95)
    assert len(photo) > ui.SHRINK_OVER_BYTES
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, url + "/saliency", errors)
        uploader = page.locator(UPLOADER)
        uploader.wait_for(state="attached", timeout=UI_TIMEOUT_MS)
        uploader.set_input_files({"name": "derm.jpg", "mimeType": "image/jpeg", "buffer": photo})
        page.wait_for_function(
            "input => input.files.length && input.files[0].size < 1000000",
            arg=uploader.element_handle(),
            timeout=UI_TIMEOUT_MS,
        )
        assert not errors, errors
