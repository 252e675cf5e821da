"""``skindx.imaging``: the old import path of :mod:`skindx.images.loading`, kept for users.

``skindx.imaging.load_image`` and ``skindx.imaging.ImageRejected`` are a documented contract.
"""

from skindx.images.loading import ImageRejected, LoadedImage, inspect_image, load_image

__all__ = ["ImageRejected", "LoadedImage", "inspect_image", "load_image"]
