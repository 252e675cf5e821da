"""Why an image is refused: :class:`ImageRejected` and the sentences it carries, each one
short instruction a member of the public can follow."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "DAMAGED",
    "HEIC_MISSING",
    "MIN_SIDE",
    "UNREADABLE",
    "UPLOAD_FORMATS",
    "UPLOAD_HINT",
    "ImageRejected",
    "check_size",
    "format_names",
    "not_an_image",
    "too_many_bytes",
    "too_many_pixels",
    "unsupported_image",
]

MIN_SIDE = 16
"""Images smaller than this on either side carry too little detail to analyse."""
MIN_PHOTO_SIDE = 64
"""A photo with a shorter side under this gets no diagnosis (:mod:`skindx.images.quality`
says why), so the loader's own refusal asks for this size, not :data:`MIN_SIDE`."""

_MIB = 1024 * 1024

UPLOAD_FORMATS = {
    "JPEG": ("jpg", "jpeg"),
    "PNG": ("png",),
    "WebP": ("webp",),
    "HEIC": ("heic", "heif"),
}
"""The photo formats people are asked for, by the name they know, with their file extensions:
the app's uploaders accept these extensions and the messages here name them, so the two agree.
(Other formats the allowlist opens, such as TIFF, are not asked for.)"""


def format_names(names: Iterable[str] = UPLOAD_FORMATS) -> str:
    """Format names as a person reads a list of them: ``"JPEG, PNG, WebP or HEIC"``."""
    *rest, last = names
    return f"{', '.join(rest)} or {last}" if rest else last


# "Use", not "Upload": the command line says these sentences too
UPLOAD_HINT = f"Use a {format_names()} photo."
UNREADABLE = f"This file is not an image we can read. {UPLOAD_HINT}"
DAMAGED = "This image file is damaged or incomplete. Try saving or exporting it again."
HEIC_MISSING = (  # pillow-heif is in requirements.txt; this is for installs without it
    "HEIC photos need the pillow-heif package; export the photo as JPEG and use that."
)


class ImageRejected(ValueError):
    """The input is not a usable image; ``str(error)`` is a message for the person who sent it."""


def check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected(f"This image has no pixels. {UPLOAD_HINT}")
    if width * height > max_pixels:
        raise ImageRejected(too_many_pixels(max_pixels, width, height))
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageRejected(
            f"This image is too small to analyse ({width}×{height} pixels). "
            f"Use a photo at least {MIN_PHOTO_SIDE} pixels wide and high."
        )


def not_an_image(label: str) -> str:
    return f"This file is not an image we can read ({label}). {UPLOAD_HINT}"


def unsupported_image(label: str) -> str:
    return f"{label} images are not supported. {UPLOAD_HINT}"


def too_many_bytes(max_bytes: int) -> str:
    return f"This file is larger than the {_megabytes(max_bytes)} MB limit. Use a smaller photo."


def too_many_pixels(max_pixels: int, width: int | None = None, height: int | None = None) -> str:
    limit = f"{max_pixels / 1e6:.3g} megapixels"
    size = f"{width}×{height} pixels; " if width is not None and height is not None else ""
    return f"This image is too large to analyse ({size}the limit is {limit}). Resize it and retry."


def _megabytes(count: int) -> str:
    return f"{count / _MIB:.3g}"
