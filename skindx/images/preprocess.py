"""The pixel-level preprocessing the model uses: resizing, Shades-of-Gray colour constancy,
DullRazor hair removal, and the one decode-and-preprocess path of training, evaluation and
prediction."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from skindx.images.loading import load_image

__all__ = [
    "decode_side",
    "load_for_model",
    "preprocess_pixels",
    "remove_hair",
    "resize_square",
    "shades_of_gray",
    "shrink",
]


def shrink(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """The image, or a copy shrunk to ``max_side`` on its longer side (area interpolation);
    never enlarged."""
    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Squash an RGB image to ``size``×``size`` (no crop: ISIC test images are squashed too).

    Area interpolation when shrinking removes the nearest-neighbour aliasing some ISIC
    images carry, so training and test images reach the model alike.
    """
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    shrinking = h * w > size * size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def shades_of_gray(image: np.ndarray, power: int = 6) -> np.ndarray:
    """Shades-of-Gray colour constancy (Finlayson & Trezzi 2004), as used in ISIC winners.

    Estimates the illuminant as the Minkowski p-norm of each channel and rescales the
    channels so the illuminant becomes neutral grey.
    """
    pixels = image.astype(np.float32)
    illuminant = np.power(np.mean(np.power(pixels, power), axis=(0, 1)), 1.0 / power)
    illuminant = illuminant / max(float(np.linalg.norm(illuminant)), 1e-6)
    gain = 1.0 / np.maximum(illuminant * np.sqrt(3.0), 1e-6)
    return np.clip(pixels * gain, 0, 255).astype(np.uint8)


def remove_hair(image: np.ndarray, kernel_size: int = 9, threshold: int = 10) -> np.ndarray:
    """DullRazor-style hair removal: black-hat filter finds dark thin hairs, inpainting fills them.

    Lee et al. 1997, "DullRazor: A software approach to hair removal from images".
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_size, kernel_size))
    blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(blackhat, threshold, 255, cv2.THRESH_BINARY)
    return cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA)


def decode_side(size: int, hair_removal: bool = False) -> int | None:
    """The ``min_side`` to load images with before ``preprocess_pixels(..., size, ...)``.

    ``size``, so JPEGs are decoded only as far as the model needs; ``None`` (full resolution)
    when hair removal comes first, because its filter is tuned to full-resolution hairs.
    """
    return None if hair_removal else size


def load_for_model(
    source: Any, size: int, color_constancy: bool = False, hair_removal: bool = False
) -> np.ndarray:
    """Decode ``source`` as far as a ``size`` model needs, then :func:`preprocess_pixels`.

    The one decode-and-preprocess path of training, evaluation and prediction.
    """
    pixels = load_image(source, min_side=decode_side(size, hair_removal))
    return preprocess_pixels(pixels, size, color_constancy, hair_removal)


def preprocess_pixels(
    image: np.ndarray, size: int, color_constancy: bool = False, hair_removal: bool = False
) -> np.ndarray:
    """The pixel pipeline shared by training and prediction (the model card names the flags)."""
    if hair_removal:
        image = remove_hair(image)
    image = resize_square(image, size)
    if color_constancy:
        image = shades_of_gray(image)
    return image
