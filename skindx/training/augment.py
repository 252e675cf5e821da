"""Geometric and exposure augmentation of image batches, done with OpenCV and NumPy.

Rotation, mirror and zoom (ZOOM_RANGE) are done with OpenCV in the loader rather than as
Keras layers, whose rotation and zoom are slow on the torch and JAX backends.
"""

from __future__ import annotations

import numpy as np

from skindx.training.recipe import ZOOM_RANGE


def random_geometry(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image rotated, flipped and zoomed at random about its centre (reflected border)."""
    import cv2

    out = np.empty(images.shape, dtype="float32")
    height, width = images.shape[1:3]
    centre = ((width - 1) / 2, (height - 1) / 2)
    for i, image in enumerate(images):
        angle = rng.uniform(-180.0, 180.0)
        scale = 1.0 / (1.0 + rng.uniform(*ZOOM_RANGE))
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        if rng.random() < 0.5:  # mirror; with the free rotation this covers both flips
            matrix[0, :2] *= -1
            matrix[0, 2] = width - 1 - matrix[0, 2]
        out[i] = cv2.warpAffine(
            image,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
    return out


def random_exposure(images: np.ndarray, rng: np.random.Generator, exposure: float) -> np.ndarray:
    """Float ``images`` each scaled by a factor drawn log-uniformly from [e^-exposure,
    e^exposure] (see ``recipe``), clipped to 0-255 in place."""
    if exposure:
        images *= np.exp(rng.uniform(-exposure, exposure, (len(images), 1, 1, 1)))
        np.clip(images, 0.0, 255.0, out=images)
    return images
