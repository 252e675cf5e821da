"""Images in, safe RGB uint8 arrays out; and the pixel-level preprocessing the model uses.

Loading (:func:`load_image`, :func:`inspect_image`) is the boundary between untrusted uploads
and the model. It opens only an allowlist of formats, rejects decompression bombs from the
header before any pixel is decoded, forces a full decode so truncated files fail here rather
than as grey blocks in a prediction, applies the EXIF orientation, and converts every colour mode
to H×W×3 uint8 RGB. Anything unusable raises :class:`ImageRejected`, whose message is one short
instruction a member of the public can follow; no other exception escapes. Nothing is written
to disk or logged.

Two entry points, one policy: :func:`load_image` returns only the pixels (the contract the
predictor, the explainer and the CLI rely on), while :func:`inspect_image` returns a
:class:`LoadedImage` that also carries the detected format, the frame count and notes for the
user, such as "Only the first of 12 frames of this animation was analysed." Callers that show
the image to a person (the app) use :func:`inspect_image` and display the notes; callers that
only need pixels keep the simpler signature. Animated GIF, WebP and PNG files, and multi-page
TIFFs, are analysed on their first frame, with a note saying so; a phone's MPO file (a JPEG
with a preview or depth image appended) is read as its primary photo, without a note.

Callers that need the image only at model resolution pass ``min_side`` (see
:func:`decode_side`): a JPEG is then decoded at 1/2, 1/4 or 1/8 scale in the DCT domain
(libjpeg's draft mode), which skips most of the decoding work; other formats are decoded whole
and shrunk band by band as they are converted. The whole file is still read, so truncation is
still caught, and the caps still apply to the stored size.

Memory is bounded before anything is decoded: a tiny file can declare 40 megapixels (a flat
colour compresses to kilobytes), so the memory a decode would need (Pillow's buffers at the
decoded size, plus the RGB result) is estimated from the header and an image over the budget
(``SKINDX_DECODE_BUDGET_MB``) is refused with a sentence. Conversion to RGB runs in bands of
rows, so it adds the result's size, not another copy of the image. Decodes that need more than
a few tens of megabytes also wait for one of a few process-wide slots (:func:`heavy_work`,
``SKINDX_HEAVY_SLOTS``), so a server's memory grows with the slots, not with its sessions.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from skindx.config import settings

__all__ = [
    "ImageRejected",
    "LoadedImage",
    "check_pixels",
    "decode_side",
    "heavy_work",
    "inspect_image",
    "load_for_model",
    "load_image",
    "preprocess_pixels",
    "remove_hair",
    "resize_square",
    "shades_of_gray",
]

MIN_SIDE = 16
"""Images smaller than this on either side carry too little detail to analyse."""

_BASE_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
# Decoded by libjpeg, which can scale while decoding and makes Pillow warn about nothing.
# MPO's primary image is a JPEG, same decoder.
_QUIET_DECODERS = frozenset({"JPEG", "MPO"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_IMAGE_MAGIC = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
_MIB = 1024 * 1024
_MAX_COUNTED_PAGES = 100
_BAND_ROWS = 256  # rows converted at a time: a few MB of temporaries for any image width
# Bytes Pillow holds per pixel in each mode (three-channel modes are stored as four bytes).
_PILLOW_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Copies of the decoded image a format's decoder holds at its peak, measured on 40-megapixel
# files: libwebp's canvas, its previous frame and a bytes copy before Pillow's own image;
# pillow-heif's and libtiff's buffers before Pillow's.
_DECODER_COPIES = {"WEBP": 4, "HEIF": 2, "TIFF": 2}
# Decodes estimated below this run without waiting for a slot, so the 600×450 ISIC JPEGs that
# training and evaluation decode on many threads never queue.
_HEAVY_BYTES = 32 * _MIB

_UPLOAD_HINT = "Upload a JPEG or PNG photo."
_UNREADABLE = f"This file is not an image we can read. {_UPLOAD_HINT}"
_DAMAGED = "This image file is damaged or incomplete. Try saving or exporting it again."
_HEIC_MISSING = (  # pillow-heif is in requirements.txt; this is for installs without it
    "HEIC photos need the pillow-heif package; export the photo as JPEG and upload that."
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


class ImageRejected(ValueError):
    """The input is not a usable image; ``str(error)`` is a message for the person who sent it."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image and what the loader learnt about it.

    Attributes:
        pixels: H×W×3 uint8 RGB, C-contiguous, owned by this object (not a view of the input).
        format: The container format Pillow detected ("JPEG", "PNG", "MPO", ...), or ``None``
            for arrays and for PIL images that were not read from a file.
        n_frames: Frames (or pages) in the file; only the first is analysed. TIFF pages are
            counted up to 100 (the note then says "100+").
        notes: Sentences to show the user about how the image was read.
    """

    pixels: np.ndarray
    format: str | None
    n_frames: int = 1
    notes: tuple[str, ...] = ()


def load_image(
    source: Any,
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    min_side: int | None = None,
    decode_budget: int | None = None,
) -> np.ndarray:
    """Decode ``source`` into an H×W×3 uint8 RGB array, or raise :class:`ImageRejected`.

    Same arguments as :func:`inspect_image`; this returns ``inspect_image(...).pixels``.
    """
    return inspect_image(
        source,
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        min_side=min_side,
        decode_budget=decode_budget,
    ).pixels


def inspect_image(
    source: Any,
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    min_side: int | None = None,
    decode_budget: int | None = None,
) -> LoadedImage:
    """Decode ``source`` safely and report how it was read.

    Pillow's warnings about damaged data are silenced while it reads the file (the outcome is
    either a rejection or a usable image); its decompression-bomb warning becomes a rejection.
    Both filters apply only inside the loader's own sections, which hold a lock, so calls from
    several threads are safe and still decode JPEGs in parallel.

    Transparent pixels are composited onto white: transparency in uploads comes from
    screenshots, cut-outs and scanned documents whose background is white, while compositing
    onto black would paint a dark blob the model could mistake for a lesion.

    Args:
        source: Encoded file contents (``bytes``, ``bytearray``, ``memoryview``), a path
            (``str`` or ``os.PathLike``), a binary file-like object with ``read()``, a PIL image,
            or a numpy array (H×W grey, H×W×1, H×W×3 RGB or H×W×4 RGBA; dtype uint8, uint16
            scaled by 1/257, or float in [0, 1]).
        max_bytes: Largest encoded size accepted; defaults to ``settings().max_upload_bytes``.
            Applies to bytes, paths and file-like objects.
        max_pixels: Largest width × height accepted, checked from the header before decoding;
            defaults to ``settings().max_pixels``.
        min_side: Decode only as much as a ``min_side``×``min_side`` result needs: a JPEG (or
            MPO) read from bytes, a path or a file is downscaled by 2, 4 or 8 in the DCT domain,
            other formats over a few megapixels by a whole factor as they are converted (area
            interpolation), while both sides stay ≥ ``min_side`` (and ≥ 16). PIL images and
            arrays passed in are returned at full size. The caps apply to the stored size.
        decode_budget: Most bytes a decode may need, estimated from the header; defaults to
            ``settings().decode_budget_bytes``. Images over it are refused before decoding.

    Returns:
        The pixels, detected format, frame count and notes for the user.

    Raises:
        ImageRejected: For anything that is not a usable image. No other exception escapes.
    """
    try:
        byte_cap, pixel_cap, budget = _caps(max_bytes, max_pixels, decode_budget)
    except Exception as exc:
        raise ImageRejected("The image size limits are misconfigured.") from exc
    try:
        return _inspect(source, byte_cap, pixel_cap, min_side, budget)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(_too_many_pixels(pixel_cap)) from None
    except MemoryError:
        raise ImageRejected(
            "This image is too large to process. Resize it and try again."
        ) from None
    except Exception as exc:
        raise ImageRejected(_UNREADABLE) from exc


def _caps(
    max_bytes: int | None, max_pixels: int | None, budget: int | None
) -> tuple[int, int, int]:
    if max_bytes is None or max_pixels is None or budget is None:
        config = settings()
        max_bytes = config.max_upload_bytes if max_bytes is None else max_bytes
        max_pixels = config.max_pixels if max_pixels is None else max_pixels
        budget = config.decode_budget_bytes if budget is None else budget
    return int(max_bytes), int(max_pixels), int(budget)


def _inspect(
    source: Any, max_bytes: int, max_pixels: int, min_side: int | None, budget: int
) -> LoadedImage:
    if isinstance(source, np.ndarray):
        return LoadedImage(pixels=_from_array(source, max_pixels), format=None)
    if isinstance(source, Image.Image):  # the caller's object: never drafted (it would shrink)
        return _from_pil(source, max_pixels, None, budget)
    data = _read_source(source, max_bytes)
    return _from_bytes(data, max_pixels, min_side, budget)


def _read_source(source: Any, max_bytes: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        if view.nbytes > max_bytes:
            raise ImageRejected(_too_many_bytes(max_bytes))
        return source if isinstance(source, bytes) else view.tobytes()
    if isinstance(source, str | os.PathLike):
        return _read_path(source, max_bytes)
    read = getattr(source, "read", None)
    if callable(read):
        try:
            data = read(max_bytes + 1)
        except Exception as exc:
            raise ImageRejected("We could not read the uploaded file. Try again.") from exc
        if isinstance(data, str):
            raise ImageRejected("The file was opened as text; open it in binary mode ('rb').")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ImageRejected("The upload did not provide file contents. Try again.")
        if memoryview(data).nbytes > max_bytes:
            raise ImageRejected(_too_many_bytes(max_bytes))
        return bytes(data)
    raise ImageRejected(
        f"Cannot load an image from a {type(source).__name__}; "
        "pass file bytes, a path, a file object, a PIL image or a numpy array."
    )


def _read_path(path: str | os.PathLike[Any], max_bytes: int) -> bytes:
    # Errors from the operating system name the path, so they are not chained (no file names
    # in messages or tracebacks that an app might log).
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ImageRejected("We could not find that file. Check the path and try again.") from None
    except (OSError, ValueError, TypeError):
        raise ImageRejected("We could not open that file. Check the path and try again.") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageRejected("That is a folder, not an image file. Choose a JPEG or PNG photo.")
    if not stat.S_ISREG(info.st_mode):
        raise ImageRejected("That is not a regular file. Choose a JPEG or PNG photo.")
    if info.st_size > max_bytes:
        raise ImageRejected(_too_many_bytes(max_bytes))
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        raise ImageRejected("We could not read that file. Check that it is not in use.") from None
    if len(data) > max_bytes:
        raise ImageRejected(_too_many_bytes(max_bytes))
    return data


def _from_bytes(data: bytes, max_pixels: int, min_side: int | None, budget: int) -> LoadedImage:
    if not data:
        raise ImageRejected(f"The file is empty. {_UPLOAD_HINT}")
    sniffed = _sniff(data)
    heif = heif_available()
    if sniffed == "HEIC" and not heif:
        raise ImageRejected(_HEIC_MISSING)
    if sniffed is not None and sniffed != "HEIC":
        raise ImageRejected(sniffed)
    try:
        with _quiet_pillow():
            image = Image.open(io.BytesIO(data), formats=_allowed_formats(heif))
    except UnidentifiedImageError:
        if _looks_like_text(data):
            raise ImageRejected(f"This is a text file, not an image. {_UPLOAD_HINT}") from None
        raise ImageRejected(_UNREADABLE) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise
    except Exception as exc:
        raise ImageRejected(_DAMAGED) from exc
    with image:
        return _from_pil(image, max_pixels, min_side, budget)


def _from_pil(
    image: Image.Image, max_pixels: int, min_side: int | None, budget: int
) -> LoadedImage:
    width, height = image.size
    _check_size(width, height, max_pixels)  # on the stored size, before any decoding
    side = max(int(min_side), MIN_SIDE) if min_side else None
    factor = 1
    if side and image.format in _QUIET_DECODERS:
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, keeping both sides ≥ the box.
        # The box is square, so the EXIF rotation below cannot break that promise.
        image.draft(None, (side, side))
    elif side and _decode_cost(image, 1) >= _HEAVY_BYTES:
        # Other formats decode whole; where a full-size result would be large, the conversion
        # shrinks them by a whole factor that keeps both sides ≥ the box. Smaller images stay
        # whole, so their pixels are exactly what an array of them would give.
        factor = max(1, min(width, height) // side)
    cost = _decode_cost(image, factor)
    if cost > budget:
        raise ImageRejected(_over_budget(image, width, height, budget))
    if cost < _HEAVY_BYTES:
        return _decode(image, factor)
    with heavy_work():
        _HEAVY_STATE.trim = True
        return _decode(image, factor)


def _decode(image: Image.Image, factor: int) -> LoadedImage:
    try:
        if image.format in _QUIET_DECODERS:
            image.load()  # outside the warnings section: threads decode JPEGs in parallel
        else:
            with _quiet_pillow():
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise
    except Exception as exc:
        raise ImageRejected(_DAMAGED) from exc
    with _quiet_pillow():
        orientation = _orientation(image)
        pixels, composited = _pil_to_rgb(image, factor)
        n_frames, more = _frame_count(image)
    # Oriented after shrinking: turning the full image first would cost another copy of it.
    pixels = _orient(pixels, orientation)
    notes: list[str] = []
    if n_frames > 1:
        note = _frames_note(image.format, f"{n_frames}+" if more else str(n_frames))
        if note:
            notes.append(note)
    if composited:
        notes.append("Transparent areas were filled with white.")
    return LoadedImage(pixels=pixels, format=image.format, n_frames=n_frames, notes=tuple(notes))


_PILLOW_WARNINGS = threading.Lock()


@contextlib.contextmanager
def _quiet_pillow():
    """Pillow's warnings about odd or damaged data silenced, its bomb warning raised.

    ``warnings.catch_warnings`` swaps the process-wide filter list, so two threads must never
    be inside one at once: sections hold a lock. JPEG decoding, where Pillow warns about
    nothing, runs outside them, so threads still decode in parallel.
    """
    with _PILLOW_WARNINGS, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1–8); broken EXIF means the image as stored (1)."""
    try:
        orientation = image.getexif().get(274, 1)
    except MemoryError:
        raise
    except Exception:
        return 1
    return orientation if orientation in (2, 3, 4, 5, 6, 7, 8) else 1


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``pixels`` turned as ``ImageOps.exif_transpose`` turns an image with ``orientation``."""
    if orientation == 1:
        return pixels
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }[orientation](pixels)
    return np.ascontiguousarray(turned)


def _decode_cost(image: Image.Image, factor: int) -> int:
    """Bytes a decode needs at its peak: the decoder's buffers at the size it decodes to
    (after any draft), plus the RGB result."""
    width, height = image.size
    decoded = width * height * _PILLOW_BYTES.get(image.mode, 4)
    result = math.ceil(width / factor) * math.ceil(height / factor) * 3
    return decoded * _DECODER_COPIES.get(image.format or "", 1) + result


def _over_budget(image: Image.Image, width: int, height: int, budget: int) -> str:
    per_pixel = _PILLOW_BYTES.get(image.mode, 4) * _DECODER_COPIES.get(image.format or "", 1) + 3
    fits = math.floor(budget / per_pixel / 1e5) / 10
    return (
        f"This image has too many pixels to analyse on this server ({width}×{height}); "
        f"resize it to {fits:g} megapixels or less, or save it as a JPEG, and try again."
    )


_HEAVY_STATE = threading.local()


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
    depth = getattr(_HEAVY_STATE, "depth", 0)
    if depth == 0:
        _heavy_slots().acquire()
        _HEAVY_STATE.trim = False
    _HEAVY_STATE.depth = depth + 1
    try:
        yield
    finally:
        _HEAVY_STATE.depth = depth
        if depth == 0:
            if _HEAVY_STATE.trim:
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
    them; it costs milliseconds and runs only after decodes over ``_HEAVY_BYTES``.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _frame_count(image: Image.Image) -> tuple[int, bool]:
    """Frames in the file, and whether there are more than were counted.

    GIF, WebP, APNG and MPO frame counts are cheap (declared in a header, or found by skipping
    frames without decoding them). Pillow counts TIFF pages by parsing every directory, which a
    crafted 10 MB file turns into minutes, so pages are counted only up to ``_MAX_COUNTED_PAGES``.
    """
    if image.format != "TIFF":
        try:
            return max(1, int(getattr(image, "n_frames", 1))), False
        except Exception:
            return 1, False
    current, count = 0, 1
    try:
        current = image.tell()
        while count <= _MAX_COUNTED_PAGES:
            image.seek(count)
            count += 1
    except Exception:
        pass
    with contextlib.suppress(Exception):
        image.seek(current)
    return min(count, _MAX_COUNTED_PAGES), count > _MAX_COUNTED_PAGES


def _frames_note(image_format: str | None, n_frames: str) -> str | None:
    if image_format == "MPO":
        return None
    if image_format == "TIFF":
        return f"Only the first of {n_frames} pages of this file was analysed."
    if image_format in _ANIMATED_FORMATS:
        return f"Only the first of {n_frames} frames of this animation was analysed."
    return f"Only the first of {n_frames} frames of this image was analysed."


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected(f"This image has no pixels. {_UPLOAD_HINT}")
    if width * height > max_pixels:
        raise ImageRejected(_too_many_pixels(max_pixels, width, height))
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageRejected(
            f"This image is too small to analyse ({width}×{height} pixels). "
            f"Upload a photo at least {MIN_SIDE} pixels wide and high."
        )


def _pil_to_rgb(image: Image.Image, factor: int = 1) -> tuple[np.ndarray, bool]:
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
        raise ImageRejected(_DAMAGED)
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
    :func:`load_image` makes on arrays, for callers that use an H×W×3 uint8 array as given)."""
    shape = array.shape
    if array.ndim not in (2, 3) or (array.ndim == 3 and shape[2] not in (1, 3, 4)):
        raise ImageRejected(f"An image array must be H×W, H×W×3 or H×W×4; received shape {shape}.")
    _check_size(shape[1], shape[0], settings().max_pixels if max_pixels is None else max_pixels)


def _from_array(array: np.ndarray, max_pixels: int) -> np.ndarray:
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
        raise ImageRejected(_DAMAGED)
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


@functools.cache
def _allowed_formats(heif: bool) -> list[str]:
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


def _sniff(data: bytes) -> str | None:
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
            return _not_an_image("video, AVI")
        if kind == b"WAVE":
            return _not_an_image("audio, WAV")
    head = data[:1024]
    brand = _iso_brand(data)
    if brand is not None:
        return brand
    if b"%PDF-" in head:
        return _not_an_image("PDF")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        for marker, label in _OFFICE_MARKERS:
            if marker in data:
                return _not_an_image(label)
        return _not_an_image("ZIP archive")
    if head.startswith(b"\x1f\x8b"):
        return _not_an_image("GZIP archive")
    if head.startswith(b"Rar!\x1a\x07") or head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return _not_an_image("compressed archive")
    markup = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if markup.startswith(b"<"):
        if b"<svg" in markup:
            return _unsupported_image("SVG")
        if markup.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
            b"<html" in markup
        ):
            return _not_an_image("HTML")
        if markup.startswith(b"<?xml"):
            return _not_an_image("XML")
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return _unsupported_image("JPEG 2000")
    if head.startswith(b"8BPS"):
        return _unsupported_image("Photoshop")
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
            return _unsupported_image("AVIF")
        if brands & _HEIF_BRANDS:
            return "HEIC"
        return _not_an_image("video, MP4/MOV")
    if box in _VIDEO_ATOMS and 8 <= int.from_bytes(data[0:4], "big") <= len(data):
        return _not_an_image("video, MOV")
    return None


def _looks_like_text(data: bytes) -> bool:
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


def _not_an_image(label: str) -> str:
    return f"This file is not an image we can read ({label}). {_UPLOAD_HINT}"


def _unsupported_image(label: str) -> str:
    return f"{label} images are not supported. {_UPLOAD_HINT}"


def _too_many_bytes(max_bytes: int) -> str:
    return f"This file is larger than the {_megabytes(max_bytes)} MB limit. Upload a smaller photo."


def _too_many_pixels(max_pixels: int, width: int | None = None, height: int | None = None) -> str:
    limit = f"{max_pixels / 1e6:.3g} megapixels"
    size = f"{width}×{height} pixels; " if width is not None and height is not None else ""
    return f"This image is too large to analyse ({size}the limit is {limit}). Resize it and retry."


def _megabytes(count: int) -> str:
    return f"{count / _MIB:.3g}"


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
