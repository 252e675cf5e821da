"""Which files are opened: the format allowlist, pillow-heif's HEIC opener, and the
recognition of well-known files that are not (supported) images, for a better message."""

from __future__ import annotations

import functools

from PIL import Image

from skindx.images.rejection import not_an_image, unsupported_image

__all__ = ["allowed_formats", "heif_available", "looks_like_text", "sniff"]

_BASE_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_IMAGE_MAGIC = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_VIDEO_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_OFFICE_MARKERS = (
    (b"word/", "Word document"),
    (b"xl/", "Excel spreadsheet"),
    (b"ppt/", "PowerPoint presentation"),
)


@functools.cache
def allowed_formats(heif: bool) -> list[str]:
    """The allowlist, restricted to openers Pillow registered (MPO opens through JPEG's)."""
    Image.init()
    wanted = (*_BASE_FORMATS, "HEIF") if heif else _BASE_FORMATS
    return [name for name in wanted if name in Image.OPEN]


@functools.cache
def heif_available() -> bool:
    """Register pillow-heif's opener once; False where that package is missing."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except Exception:
        return False
    return "HEIF" in Image.OPEN


def sniff(data: bytes) -> str | None:
    """Recognise well-known files that are not (supported) images, for a better message.

    Returns ``"HEIC"`` for HEIC/HEIF photos, a ready message for other recognised files, or
    ``None`` to let Pillow decide.
    """
    if data.startswith(_IMAGE_MAGIC):
        return None
    if data.startswith(b"RIFF"):
        kind = data[8:12]
        if kind == b"WEBP":
            return None
        if kind == b"AVI ":
            return not_an_image("video, AVI")
        if kind == b"WAVE":
            return not_an_image("audio, WAV")
    head = data[:1024]
    brand = _iso_brand(data)
    if brand is not None:
        return brand
    if b"%PDF-" in head:
        return not_an_image("PDF")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        for marker, label in _OFFICE_MARKERS:
            if marker in data:
                return not_an_image(label)
        return not_an_image("ZIP archive")
    if head.startswith(b"\x1f\x8b"):
        return not_an_image("GZIP archive")
    if head.startswith(b"Rar!\x1a\x07") or head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return not_an_image("compressed archive")
    markup = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if markup.startswith(b"<"):
        if b"<svg" in markup:
            return unsupported_image("SVG")
        if markup.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
            b"<html" in markup
        ):
            return not_an_image("HTML")
        if markup.startswith(b"<?xml"):
            return not_an_image("XML")
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return unsupported_image("JPEG 2000")
    if head.startswith(b"8BPS"):
        return unsupported_image("Photoshop")
    return None


def _iso_brand(data: bytes) -> str | None:
    """Classify ISO base-media files (HEIC, AVIF, MP4, MOV) by their first box."""
    if len(data) < 12:
        return None
    box = data[4:8]
    if box == b"ftyp":
        size = int.from_bytes(data[0:4], "big")
        end = min(max(size, 16), len(data), 256)
        brands = {data[8:12]} | {data[i : i + 4] for i in range(16, end - 3, 4)}
        if data[8:12] in _AVIF_BRANDS or (brands & _AVIF_BRANDS and not brands & _HEIF_BRANDS):
            return unsupported_image("AVIF")
        if brands & _HEIF_BRANDS:
            return "HEIC"
        return not_an_image("video, MP4/MOV")
    if box in _VIDEO_ATOMS and 8 <= int.from_bytes(data[0:4], "big") <= len(data):
        return not_an_image("video, MOV")
    return None


def looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r\f")
    return bool(text) and controls <= len(text) // 100
