"""Drawing saliency: heat maps as colour images, over the photo, and the colour scale that reads
them (explanation never draws)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import cv2
import numpy as np

from skindx.explain.explainer import Saliency

COLORMAPS: Mapping[str, int] = MappingProxyType(
    {
        "viridis": cv2.COLORMAP_VIRIDIS,
        "inferno": cv2.COLORMAP_INFERNO,
        "magma": cv2.COLORMAP_MAGMA,
        "turbo": cv2.COLORMAP_TURBO,
        "jet": cv2.COLORMAP_JET,
    }
)


def colorize(heatmap: np.ndarray, colormap: str = "viridis") -> np.ndarray:
    """A [0, 1] heatmap as an RGB uint8 image in the given OpenCV colormap."""
    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {list(COLORMAPS)}. Received: {colormap}")
    scaled = np.uint8(np.clip(heatmap, 0, 1) * 255)
    return cv2.cvtColor(cv2.applyColorMap(scaled, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def overlay(
    image: np.ndarray,
    saliency: Saliency | np.ndarray,
    alpha: float = 0.45,
    colormap: str = "viridis",
) -> np.ndarray:
    """Blend a saliency heatmap over the image (RGB uint8, the image's size).

    ``viridis`` is the default: perceptually uniform and readable with colour-blindness.
    """
    heatmap = saliency.heatmap if isinstance(saliency, Saliency) else np.asarray(saliency)
    if heatmap.shape != image.shape[:2]:
        heatmap = cv2.resize(heatmap, (image.shape[1], image.shape[0]))
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1. Received: alpha={alpha}")
    colored = colorize(heatmap, colormap).astype(np.float32)
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colored
    return np.clip(blended, 0, 255).astype(np.uint8)


def legend(
    colormap: str = "viridis",
    width: int = 512,
    height: int = 12,
    *,
    alpha: float = 1.0,
    photo: np.ndarray | None = None,
) -> np.ndarray:
    """The colour scale of :func:`colorize`'s ``colormap`` as a ``height×width`` RGB strip:
    its left end is the colour of 0 (no influence), its right end that of 1 (the strongest).
    Drawn by :func:`overlay` itself, so the scale cannot drift from the overlays it reads.

    With the map's opacity ``alpha`` and the ``photo`` it is drawn over, the strip is blended
    over the photo's mean colour as the map is over the photo: an opaque strip under a faint
    map promised colours the map never showed."""
    if width < 2 or height < 1:
        raise ValueError(f"a legend needs width ≥ 2 and height ≥ 1. Received: {width}×{height}")
    ramp = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    ground = np.zeros((height, width, 3), np.uint8)
    if photo is not None:
        ground[:] = np.asarray(photo).reshape(-1, 3).mean(axis=0).round()
    return overlay(ground, ramp, alpha, colormap)
