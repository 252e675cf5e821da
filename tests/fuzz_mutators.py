"""Seed images, byte mutators and the oracle shared by the imaging fuzz test and benchmark.

Every mutator is a pure function of ``(data, rng)``, so a case is reproduced from the seed
index and the list of ``(mutator index, rng seed)`` pairs that built it. Besides blind byte
edits there are format-aware ones: PNG chunks are edited and their CRCs recomputed (otherwise
Pillow stops at the first CRC check), and IDAT is edited after decompression so the decoder
itself sees the damage; JPEG marker segments get "interesting" values, which reaches the
dimension fields of the frame header.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import traceback
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image

from skindx.images.formats import heif_available
from skindx.images.loading import ImageRejected, load_image

Mutator = Callable[[bytes, random.Random], bytes]

MAX_CASE_BYTES = 64 * 1024
"""Mutated inputs are cut to this size so every case stays fast."""

FUZZ_MAX_PIXELS = 128 * 128
"""The pixel cap the fuzzers pass to ``load_image``: seeds are 32×32, claimed sizes can be huge."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INTERESTING = (
    0,
    1,
    2,
    15,
    16,
    17,
    127,
    128,
    255,
    256,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x10000,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
)
_MAGICS = (
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xe1",
    _PNG_SIGNATURE,
    b"GIF89a",
    b"GIF87a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\x00\x00\x00\x00WEBPVP8L",
    b"%PDF-",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00\x00\x00\x18ftypavif",
    b"PK\x03\x04",
    b"<svg",
)


def _photo(seed: int, size: int = 32) -> np.ndarray:
    """A small photo-like RGB image: smooth shading, a dark blob, sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([200 - 40 * y, 160 - 30 * x, 140 - 20 * (x + y)], axis=-1)
    cy, cx, radius = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
    blob = ((y - cy) ** 2 + (x - cx) ** 2) < radius**2
    base[blob] *= rng.uniform(0.3, 0.6)
    noisy = base + rng.normal(0, 6, base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


@functools.cache
def seed_images() -> tuple[bytes, ...]:
    """Real encoded images: mostly JPEG and PNG, plus each other allowed format and animations."""
    assert heif_available(), "pillow-heif is a requirement"  # registers its HEIF encoder too
    photos = [Image.fromarray(_photo(seed)) for seed in range(3)]
    exif = Image.Exif()
    exif[274] = 6
    alpha = photos[1].convert("RGBA")
    alpha.putalpha(Image.fromarray(_photo(7)[:, :, 0]))
    deep = Image.fromarray(_photo(5)[:, :, 0].astype(np.uint16) * 257)
    frames = [photos[0], photos[1], photos[2]]
    return (
        _encode(photos[0], "JPEG", quality=85),
        _encode(photos[1], "JPEG", quality=60, progressive=True),
        _encode(photos[2], "JPEG", quality=90, exif=exif, subsampling=0),
        _encode(photos[0].convert("CMYK"), "JPEG"),
        _encode(photos[0], "PNG"),
        _encode(alpha, "PNG"),
        _encode(photos[1].convert("P"), "PNG"),
        _encode(photos[2].convert("L"), "PNG", optimize=True),
        _encode(deep, "PNG"),
        _encode(photos[0], "PNG", exif=exif),
        _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40),
        _encode(photos[1], "WEBP", quality=70),
        _encode(photos[2], "BMP"),
        _encode(photos[0], "TIFF", compression="tiff_deflate"),
        _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
        _encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=40),
        _encode(photos[1], "HEIF", quality=60),
        _encode(alpha, "HEIF", quality=85, exif=exif.tobytes()),
    )


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    return bytes(out)


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


def delete_range(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 64) :]


def duplicate_range(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, 256)]
    at = rng.randrange(len(data) + 1)
    return data[:at] + chunk + data[at:]


def interesting_value(data: bytes, rng: random.Random) -> bytes:
    """Overwrite 1, 2 or 4 bytes with a boundary value (sizes, lengths, counts)."""
    if not data:
        return data
    return _poke(data, rng.randrange(len(data)), rng)


def splice_header(data: bytes, rng: random.Random) -> bytes:
    """The start of another seed image joined to the rest of this one."""
    other = rng.choice(seed_images())
    cut = rng.randrange(1, max(2, min(len(other), 512)))
    return other[:cut] + data[rng.randrange(len(data) + 1) :]


def swap_magic(data: bytes, rng: random.Random) -> bytes:
    magic = rng.choice(_MAGICS)
    return magic + data[len(magic) :] if rng.random() < 0.5 else magic + data


def random_bytes(data: bytes, rng: random.Random) -> bytes:
    """Replace everything with noise, often behind a real file signature."""
    noise = rng.randbytes(rng.randint(0, 512))
    return rng.choice(_MAGICS) + noise if rng.random() < 0.7 else noise


def png_chunk(data: bytes, rng: random.Random) -> bytes:
    """Edit one PNG chunk's data (IHDR fields included) and recompute every CRC."""
    chunks = _png_chunks(data)
    if not chunks:
        return flip_bytes(data, rng)
    index = rng.randrange(len(chunks))
    kind, body = chunks[index]
    action = rng.randrange(4)
    if action == 0 and body:
        chunks[index] = (kind, _poke(body, rng.randrange(len(body)), rng))
    elif action in (0, 1):
        chunks[index] = (kind, flip_bytes(body, rng) if body else rng.randbytes(4))
    elif action == 2:
        chunks.insert(rng.randrange(len(chunks) + 1), (kind, body))
    else:
        del chunks[index]
    return _png_join(chunks)


def png_idat(data: bytes, rng: random.Random) -> bytes:
    """Damage the decompressed pixel stream (filter bytes, rows) and recompress it validly."""
    chunks = _png_chunks(data)
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    try:
        raw = zlib.decompress(idat)
    except zlib.error:
        return png_chunk(data, rng)
    mutated = rng.choice((flip_bytes, truncate, insert_bytes, delete_range, interesting_value))(
        raw, rng
    )
    rebuilt: list[tuple[bytes, bytes]] = []
    for kind, body in chunks:
        if kind != b"IDAT":
            rebuilt.append((kind, body))
        elif not any(k == b"IDAT" for k, _ in rebuilt):
            rebuilt.append((b"IDAT", zlib.compress(mutated)))
    return _png_join(rebuilt)


def jpeg_segment(data: bytes, rng: random.Random) -> bytes:
    """Put a boundary value inside one JPEG marker segment (SOF sizes, DQT, DHT, SOS, APPn)."""
    segments = _jpeg_segments(data)
    if not segments:
        return interesting_value(data, rng)
    start, length = rng.choice(segments)
    return _poke(data, start + rng.randrange(max(1, length)), rng)


MUTATORS: tuple[tuple[str, Mutator], ...] = (
    ("flip_bytes", flip_bytes),
    ("flip_bits", flip_bits),
    ("truncate", truncate),
    ("insert_bytes", insert_bytes),
    ("delete_range", delete_range),
    ("duplicate_range", duplicate_range),
    ("interesting_value", interesting_value),
    ("splice_header", splice_header),
    ("swap_magic", swap_magic),
    ("random_bytes", random_bytes),
    ("png_chunk", png_chunk),
    ("png_idat", png_idat),
    ("jpeg_segment", jpeg_segment),
)


def apply_mutations(data: bytes, steps: Sequence[tuple[int, int]]) -> bytes:
    """Apply ``(mutator index, rng seed)`` steps in order; the result is at most 64 KiB."""
    for mutator_index, seed in steps:
        _, mutator = MUTATORS[mutator_index % len(MUTATORS)]
        data = mutator(data, random.Random(seed))[:MAX_CASE_BYTES]
    return data


def random_case(rng: random.Random) -> tuple[int, list[tuple[int, int]], bytes]:
    """One random case: seed index, mutation steps and the resulting bytes."""
    seeds = seed_images()
    seed_index = rng.randrange(len(seeds))
    steps = [(rng.randrange(len(MUTATORS)), rng.getrandbits(32)) for _ in range(rng.randint(1, 4))]
    return seed_index, steps, apply_mutations(seeds[seed_index], steps)


def unexpected_error(
    data: bytes, max_pixels: int = FUZZ_MAX_PIXELS, min_side: int | None = None
) -> BaseException | None:
    """Run ``load_image`` on ``data``; return the exception that shows a bug, else ``None``.

    A bug is any exception other than :class:`ImageRejected`, a result that is not H×W×3 uint8
    C-contiguous, or a rejection caused by an error raised outside the decoders (Pillow and
    pillow-heif): our own code failing on odd input, hidden by the catch-all at the boundary.
    """
    try:
        pixels = load_image(data, max_pixels=max_pixels, min_side=min_side)
    except ImageRejected as rejected:
        cause = rejected.__cause__
        if cause is not None and not _raised_in_decoder(cause):
            return cause
        return None
    except BaseException as error:
        return error
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        return AssertionError(f"bad result shape {pixels.shape} dtype {pixels.dtype}")
    if not pixels.flags.c_contiguous:
        return AssertionError("result is not C-contiguous")
    return None


def describe(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


_DECODER_DIRS = frozenset(Path(m.__file__).resolve().parent for m in (Image, pillow_heif))


def _raised_in_decoder(error: BaseException) -> bool:
    """Whether Pillow or its HEIF plugin raised it (a damaged file), not our own code."""
    frames = traceback.extract_tb(error.__traceback__)
    return any(Path(frame.filename).resolve().parent in _DECODER_DIRS for frame in frames)


def _poke(data: bytes, at: int, rng: random.Random) -> bytes:
    width = rng.choice((1, 2, 4))
    value = rng.choice(_INTERESTING) & ((1 << (8 * width)) - 1)
    packed = value.to_bytes(width, rng.choice(("big", "little")))
    return data[:at] + packed + data[at + width :]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_PNG_SIGNATURE):
        return []
    chunks: list[tuple[bytes, bytes]] = []
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


def _png_join(chunks: Sequence[tuple[bytes, bytes]]) -> bytes:
    parts = [_PNG_SIGNATURE]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        parts.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))
    return b"".join(parts)


def _jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(start of payload, payload length) of each marker segment before the scan data."""
    if not data.startswith(b"\xff\xd8"):
        return []
    segments: list[tuple[int, int]] = []
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        segments.append((offset + 4, max(0, length - 2)))
        if marker == 0xDA:
            break
        offset += 2 + length
    return segments
