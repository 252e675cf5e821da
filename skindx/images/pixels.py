"""Pixels to H×W×3 ``uint8`` RGB: any Pillow mode or numpy array (16-bit, 32-bit, float,
grey, alpha composited onto white) converted in bands of rows, and the shape and size checks
on arrays."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from skindx.config import settings
from skindx.images.rejection import DAMAGED, ImageRejected, check_size

__all__ = ["check_pixels", "from_array", "pil_to_rgb"]

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_BAND_ROWS = 256  # rows converted at a time: a few MB of temporaries for any image width


def pil_to_rgb(image: Image.Image, factor: int = 1) -> tuple[np.ndarray, bool]:
    """Convert any Pillow mode to H×W×3 uint8, shrunk by ``factor`` (area interpolation); the
    flag says whether alpha was composited.

    Works in bands of rows, so the temporaries (numpy copies, 16-bit scaling, compositing)
    are a few megabytes whatever the image's size.
    """
    width, height = image.size
    value_range = _value_range(image)
    step = factor * max(1, _BAND_ROWS // factor)
    if factor == 1 and height <= step:
        return _band_to_rgb(image, value_range)
    out_width = math.ceil(width / factor)
    tops = range(0, height, step)
    rows = [math.ceil((min(height, top + step) - top) / factor) for top in tops]
    pixels = np.empty((sum(rows), out_width, 3), dtype=np.uint8)
    composited, y = False, 0
    for top, count in zip(tops, rows, strict=True):
        part = image.crop((0, top, width, min(height, top + step)))
        band, alpha = _band_to_rgb(part, value_range)
        if factor > 1:
            band = cv2.resize(band, (out_width, count), interpolation=cv2.INTER_AREA)
        pixels[y : y + count] = band
        composited, y = composited or alpha, y + count
    return pixels, composited


def _value_range(image: Image.Image) -> tuple[float, float] | None:
    """Lowest and highest value of a 16/32-bit integer or float image, for scaling every band
    alike; ``None`` for 8-bit modes."""
    if not (image.mode.startswith("I;16") or image.mode in ("I", "F")):
        return None
    try:
        low, high = image.getextrema()
    except ValueError:  # Pillow has no extrema for some modes (I;16B): one pass over bands
        width, height = image.size
        low, high = math.inf, -math.inf
        for top in range(0, height, _BAND_ROWS):
            band = np.asarray(image.crop((0, top, width, min(height, top + _BAND_ROWS))))
            low, high = min(low, float(band.min())), max(high, float(band.max()))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ImageRejected(DAMAGED)
    return float(low), float(high)


def _band_to_rgb(
    image: Image.Image, value_range: tuple[float, float] | None
) -> tuple[np.ndarray, bool]:
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        return _grey_to_rgb(_scale_integer(np.asarray(image), value_range)), False
    if mode == "F":
        return _grey_to_rgb(_scale_float_image(np.asarray(image), value_range)), False
    if mode in _ALPHA_MODES or "transparency" in image.info:
        try:
            rgba = np.asarray(image.convert("RGBA"))
        except ValueError:
            rgba = None
        if rgba is not None:
            return _composite_on_white(rgba)
    rgb = image if mode == "RGB" else image.convert("RGB")
    return _owned_uint8(np.asarray(rgb)), False


def check_pixels(array: np.ndarray, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageRejected` unless ``array`` has an image's shape and size (the checks
    :func:`~skindx.images.loading.load_image` makes on arrays, for callers that use an H×W×3
    uint8 array as given)."""
    shape = array.shape
    if array.ndim not in (2, 3) or (array.ndim == 3 and shape[2] not in (1, 3, 4)):
        raise ImageRejected(f"An image array must be H×W, H×W×3 or H×W×4; received shape {shape}.")
    check_size(shape[1], shape[0], settings().max_pixels if max_pixels is None else max_pixels)


def from_array(array: np.ndarray, max_pixels: int) -> np.ndarray:
    check_pixels(array, max_pixels)
    if array.dtype == np.uint8:
        pixels = array
    elif array.dtype.kind == "u" and array.dtype.itemsize == 2:
        pixels = _scale_uint16(array)
    elif array.dtype.kind == "f":
        values = array.astype(np.float32)
        if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0:
            raise ImageRejected("A float image array must hold finite values between 0 and 1.")
        pixels = np.rint(values * 255.0).astype(np.uint8)
    else:
        raise ImageRejected(
            "An image array must be uint8 (0–255), uint16 or float (0–1); "
            f"received dtype {array.dtype}."
        )
    if pixels.ndim == 2:
        return _grey_to_rgb(pixels)
    if pixels.shape[2] == 1:
        return _grey_to_rgb(pixels[:, :, 0])
    if pixels.shape[2] == 4:
        return _composite_on_white(pixels)[0]
    return _owned_uint8(pixels, copy=pixels is array)


def _scale_uint16(values: np.ndarray) -> np.ndarray:
    wide = values.astype(np.uint32)
    return ((wide + 128) // 257).astype(np.uint8)


def _scale_integer(
    values: np.ndarray, value_range: tuple[float, float] | None = None
) -> np.ndarray:
    """Pillow's 16- and 32-bit integer modes: 16-bit data (the usual case) by 1/257.

    Values outside 0–65535 (32-bit scientific TIFFs) are stretched linearly to 0–255, over
    ``value_range`` (the whole image's, when ``values`` is one band of it).
    """
    low, high = value_range or (int(values.min()), int(values.max()))
    if low >= 0 and high <= 65535:
        return _scale_uint16(values)
    return _stretch(values.astype(np.float64), low, high)


def _scale_float_image(
    values: np.ndarray, value_range: tuple[float, float] | None = None
) -> np.ndarray:
    if not np.isfinite(values).all():
        raise ImageRejected(DAMAGED)
    low, high = value_range or (float(values.min()), float(values.max()))
    if low >= 0.0 and high <= 1.0:
        return np.rint(values * 255.0).astype(np.uint8)
    if low >= 0.0 and high <= 255.0:
        return np.rint(values).astype(np.uint8)
    return _stretch(values.astype(np.float64), low, high)


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2))


def _composite_on_white(rgba: np.ndarray) -> tuple[np.ndarray, bool]:
    """Straight-alpha RGBA uint8 over a white background, rounded to nearest."""
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    if bool((alpha == 255).all()):
        return _owned_uint8(rgba[:, :, :3], copy=True), False
    colour = rgba[:, :, :3].astype(np.uint16)
    blended = (colour * alpha + 255 * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(blended.astype(np.uint8)), True


def _owned_uint8(pixels: np.ndarray, copy: bool = False) -> np.ndarray:
    out = np.array(pixels, dtype=np.uint8, order="C", copy=copy or None)
    if not out.flags.writeable or not out.flags.c_contiguous:
        out = np.array(out, dtype=np.uint8, order="C", copy=True)
    return out
