"""Images in, safe RGB uint8 arrays out: :func:`load_image` and :func:`inspect_image`.

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
:func:`~skindx.images.preprocess.decode_side`): a JPEG is then decoded at 1/2, 1/4 or 1/8 scale
in the DCT domain (libjpeg's draft mode), which skips most of the decoding work; other formats
are decoded whole and shrunk band by band as they are converted. The whole file is still read,
so truncation is still caught, and the caps still apply to the stored size.

Memory is bounded before anything is decoded: a tiny file can declare 40 megapixels (a flat
colour compresses to kilobytes), so the memory a decode would need (Pillow's buffers at the
decoded size, plus the RGB result) is estimated from the header and an image over the budget
(``SKINDX_DECODE_BUDGET_MB``) is refused with a sentence. Conversion to RGB runs in bands of
rows, so it adds the result's size, not another copy of the image. Decodes that need more than
a few tens of megabytes also wait for one of a few process-wide slots
(:func:`~skindx.images.budget.heavy_work`, ``SKINDX_HEAVY_SLOTS``), so a server's memory grows
with the slots, not with its sessions.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from skindx.config import settings
from skindx.images.budget import HEAVY_BYTES, HEAVY_STATE, decode_cost, heavy_work, over_budget
from skindx.images.formats import allowed_formats, heif_available, looks_like_text, sniff
from skindx.images.pixels import from_array, pil_to_rgb
from skindx.images.rejection import (
    DAMAGED,
    HEIC_MISSING,
    MIN_SIDE,
    UNREADABLE,
    UPLOAD_HINT,
    ImageRejected,
    check_size,
    too_many_bytes,
    too_many_pixels,
)

__all__ = ["ImageRejected", "LoadedImage", "inspect_image", "load_image"]

_ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
# Decoded by libjpeg, which can scale while decoding and makes Pillow warn about nothing.
# MPO's primary image is a JPEG, same decoder.
_QUIET_DECODERS = frozenset({"JPEG", "MPO"})
_MAX_COUNTED_PAGES = 100


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
        raise ImageRejected(too_many_pixels(pixel_cap)) from None
    except MemoryError:
        raise ImageRejected(
            "This image is too large to process. Resize it and try again."
        ) from None
    except Exception as exc:
        raise ImageRejected(UNREADABLE) from exc


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
        return LoadedImage(pixels=from_array(source, max_pixels), format=None)
    if isinstance(source, Image.Image):  # the caller's object: never drafted (it would shrink)
        return _from_pil(source, max_pixels, None, budget)
    data = _read_source(source, max_bytes)
    return _from_bytes(data, max_pixels, min_side, budget)


def _read_source(source: Any, max_bytes: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        if view.nbytes > max_bytes:
            raise ImageRejected(too_many_bytes(max_bytes))
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
            raise ImageRejected(too_many_bytes(max_bytes))
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
        raise ImageRejected(f"That is a folder, not an image file. {UPLOAD_HINT}")
    if not stat.S_ISREG(info.st_mode):
        raise ImageRejected(f"That is not a regular file. {UPLOAD_HINT}")
    if info.st_size > max_bytes:
        raise ImageRejected(too_many_bytes(max_bytes))
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError:
        raise ImageRejected("We could not read that file. Check that it is not in use.") from None
    if len(data) > max_bytes:
        raise ImageRejected(too_many_bytes(max_bytes))
    return data


def _from_bytes(data: bytes, max_pixels: int, min_side: int | None, budget: int) -> LoadedImage:
    if not data:
        raise ImageRejected(f"The file is empty. {UPLOAD_HINT}")
    sniffed = sniff(data)
    heif = heif_available()
    if sniffed == "HEIC" and not heif:
        raise ImageRejected(HEIC_MISSING)
    if sniffed is not None and sniffed != "HEIC":
        raise ImageRejected(sniffed)
    try:
        with _quiet_pillow():
            image = Image.open(io.BytesIO(data), formats=allowed_formats(heif))
    except UnidentifiedImageError:
        if looks_like_text(data):
            raise ImageRejected(f"This is a text file, not an image. {UPLOAD_HINT}") from None
        raise ImageRejected(UNREADABLE) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise
    except Exception as exc:
        raise ImageRejected(DAMAGED) from exc
    with image:
        return _from_pil(image, max_pixels, min_side, budget)


def _from_pil(
    image: Image.Image, max_pixels: int, min_side: int | None, budget: int
) -> LoadedImage:
    width, height = image.size
    check_size(width, height, max_pixels)  # on the stored size, before any decoding
    side = max(int(min_side), MIN_SIDE) if min_side else None
    factor = 1
    if side and image.format in _QUIET_DECODERS:
        # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, keeping both sides ≥ the box.
        # The box is square, so the EXIF rotation below cannot break that promise.
        image.draft(None, (side, side))
    elif side and decode_cost(image, 1) >= HEAVY_BYTES:
        # Other formats decode whole; where a full-size result would be large, the conversion
        # shrinks them by a whole factor that keeps both sides ≥ the box. Smaller images stay
        # whole, so their pixels are exactly what an array of them would give.
        factor = max(1, min(width, height) // side)
    cost = decode_cost(image, factor)
    if cost > budget:
        raise ImageRejected(over_budget(image, width, height, budget))
    if cost < HEAVY_BYTES:
        return _decode(image, factor)
    with heavy_work():
        HEAVY_STATE.trim = True
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
        raise ImageRejected(DAMAGED) from exc
    with _quiet_pillow():
        orientation = _orientation(image)
        pixels, composited = pil_to_rgb(image, factor)
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
