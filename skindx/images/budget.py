"""The decode memory budget and the heavy-work slots: what a decode will need, estimated
from the header, and the few process-wide slots that memory-heavy work waits for."""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from typing import Any

from PIL import Image

from skindx.config import settings

__all__ = ["HEAVY_BYTES", "HEAVY_STATE", "decode_cost", "heavy_work", "over_budget"]

_MIB = 1024 * 1024
# Bytes Pillow holds per pixel in each mode (three-channel modes are stored as four bytes).
_PILLOW_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Copies of the decoded image a format's decoder holds at its peak, measured on 40-megapixel
# files: libwebp's canvas, its previous frame and a bytes copy before Pillow's own image;
# pillow-heif's and libtiff's buffers before Pillow's.
_DECODER_COPIES = {"WEBP": 4, "HEIF": 2, "TIFF": 2}
# Decodes estimated below this run without waiting for a slot, so the 600×450 ISIC JPEGs that
# training and evaluation decode on many threads never queue.
HEAVY_BYTES = 32 * _MIB


def decode_cost(image: Image.Image, factor: int) -> int:
    """Bytes a decode needs at its peak: the decoder's buffers at the size it decodes to
    (after any draft), plus the RGB result."""
    width, height = image.size
    decoded = width * height * _PILLOW_BYTES.get(image.mode, 4)
    result = math.ceil(width / factor) * math.ceil(height / factor) * 3
    return decoded * _DECODER_COPIES.get(image.format or "", 1) + result


def over_budget(image: Image.Image, width: int, height: int, budget: int) -> str:
    per_pixel = _PILLOW_BYTES.get(image.mode, 4) * _DECODER_COPIES.get(image.format or "", 1) + 3
    fits = math.floor(budget / per_pixel / 1e5) / 10
    return (
        f"This image has too many pixels to analyse on this server ({width}×{height}); "
        f"resize it to {fits:g} megapixels or less, or save it as a JPEG, and try again."
    )


HEAVY_STATE = threading.local()


@functools.cache
def _heavy_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(settings().heavy_slots)


@contextlib.contextmanager
def heavy_work():
    """Hold one of the process-wide slots for memory-heavy work (``SKINDX_HEAVY_SLOTS``).

    Large decodes take a slot themselves; :meth:`~skindx.diagnosis.predict.Predictor.predict` holds
    one
    around decode and forward pass. Re-entrant within a thread, so a decode inside a held
    slot does not wait for a second one. When a large decode ran inside, the freed buffers
    are handed back to the operating system on the way out (:func:`_return_free_memory`).
    """
    depth = getattr(HEAVY_STATE, "depth", 0)
    if depth == 0:
        _heavy_slots().acquire()
        HEAVY_STATE.trim = False
    HEAVY_STATE.depth = depth + 1
    try:
        yield
    finally:
        HEAVY_STATE.depth = depth
        if depth == 0:
            if HEAVY_STATE.trim:
                _return_free_memory()
            _heavy_slots().release()


@functools.cache
def _malloc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def _return_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc's ``malloc_trim``).

    glibc keeps one heap per thread (up to 8 per core) and keeps what a thread frees in its
    own heap: with 16 threads each decoding a 40 MP image once, the freed buffers stayed
    resident in 16 heaps (peak growth 880 MB instead of the ~350 MB that two slots need,
    measured by ``benchmarks/upload_memory.py``). Trimming after each large decode returns
    them; it costs milliseconds and runs only after decodes over ``HEAVY_BYTES``.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
