"""skindx.images.loading: safe loading (every bad input built here, no binary fixtures)."""

from __future__ import annotations

import gzip
import io
import struct
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageFile

from skindx.images import loading as imaging
from skindx.images.loading import ImageRejected, LoadedImage, inspect_image, load_image
from skindx.images.preprocess import (
    decode_side,
    preprocess_pixels,
    remove_hair,
    resize_square,
    shades_of_gray,
)

Source = tuple[Any, dict[str, Any]]
Builder = Callable[[Path], Source]

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
HTML = b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body>Hi</body></html>\n"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9"></svg>\n'
XML = b'<?xml version="1.0"?>\n<catalog><photo id="1"/></catalog>\n'
# pillow-heif is a requirement: this registers its HEIF opener and encoder for the tests below.
assert imaging.heif_available()


# --------------------------------------------------------------------------- builders


def photo(width: int = 48, height: int = 40, seed: int = 0) -> np.ndarray:
    """A photo-like RGB array: smooth shading plus a darker blob."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([180 + 40 * x / width, 120 + 60 * y / height, 90 + 0 * x], axis=-1)
    blob = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 4) ** 2
    base[blob] *= 0.5
    return np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)


def encode(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_header_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width``×``height`` RGB pixels, with a tiny IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def zip_bytes(names: tuple[str, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


def jpeg_bytes(width: int = 48, height: int = 40) -> bytes:
    return encode(Image.fromarray(photo(width, height)), "JPEG", quality=90)


def png_bytes(width: int = 48, height: int = 40) -> bytes:
    return encode(Image.fromarray(photo(width, height)), "PNG")


def heic_bytes(width: int = 48, height: int = 40) -> bytes:
    return encode(Image.fromarray(photo(width, height)), "HEIF", quality=90)


def as_file(name: str, data: bytes) -> Builder:
    def build(tmp_path: Path) -> Source:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path), {}

    return build


def as_bytes(data: bytes, **kwargs: Any) -> Builder:
    return lambda _tmp: (data, kwargs)


class ExplodingReader:
    def read(self, size: int = -1) -> bytes:
        raise OSError("connection reset")


class NotAFile:
    read = None


def assert_rgb(pixels: np.ndarray) -> None:
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous and pixels.flags.writeable


# --------------------------------------------------------------------------- rejections


REJECTED: list[Any] = [
    pytest.param(as_bytes(png_header_bomb(20_000, 20_000)), "too large", id="png-bomb-20000"),
    pytest.param(as_bytes(png_header_bomb(8_000, 8_000)), "8000×8000", id="png-over-default-cap"),
    pytest.param(as_bytes(png_bytes(100, 100), max_pixels=5_000), "too large", id="png-over-cap"),
    pytest.param(as_bytes(jpeg_bytes()[:400]), "damaged", id="truncated-jpeg"),
    pytest.param(as_bytes(png_bytes()[:-40]), "damaged", id="truncated-png"),
    pytest.param(as_bytes(heic_bytes(100, 100), max_pixels=5_000), "too large", id="heic-over-cap"),
    pytest.param(as_bytes(heic_bytes()[:-60]), "damaged", id="truncated-heic"),
    pytest.param(as_file("scan.jpg", PDF), "(PDF)", id="pdf-named-jpg"),
    pytest.param(as_file("page.jpg", HTML), "(HTML)", id="html-named-jpg"),
    pytest.param(as_file("photos.jpg", zip_bytes(("a.jpg",))), "(ZIP archive)", id="zip-named-jpg"),
    pytest.param(
        as_file("report.jpg", zip_bytes(("[Content_Types].xml", "word/document.xml"))),
        "(Word document)",
        id="docx-named-jpg",
    ),
    pytest.param(as_bytes(PDF), "(PDF)", id="pdf-bytes"),
    pytest.param(as_bytes(b"\n  " + HTML.lower()), "(HTML)", id="html-bytes"),
    pytest.param(as_bytes(SVG), "SVG images are not supported", id="svg"),
    pytest.param(as_bytes(XML), "(XML)", id="xml"),
    pytest.param(as_bytes(gzip.compress(png_bytes())), "(GZIP archive)", id="gzip"),
    pytest.param(
        as_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64)),
        "MP4/MOV",
        id="mp4",
    ),
    pytest.param(
        as_bytes(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(64)),
        "MP4/MOV",
        id="mov",
    ),
    pytest.param(
        as_bytes(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64)),
        "AVIF images are not supported",
        id="avif",
    ),
    pytest.param(as_bytes(b""), "empty", id="empty-bytes"),
    pytest.param(as_file("empty.jpg", b""), "empty", id="empty-file"),
    pytest.param(lambda tmp: (tmp / "missing.jpg", {}), "could not find", id="missing-path"),
    pytest.param(lambda tmp: (str(tmp), {}), "folder", id="directory"),
    pytest.param(as_bytes(png_bytes(), max_bytes=1_000), "MB limit", id="bytes-over-cap"),
    pytest.param(
        lambda tmp: (as_file("big.png", png_bytes())(tmp)[0], {"max_bytes": 1_000}),
        "MB limit",
        id="path-over-cap",
    ),
    pytest.param(
        lambda _tmp: (io.BytesIO(png_bytes()), {"max_bytes": 1_000}),
        "MB limit",
        id="file-like-over-cap",
    ),
    pytest.param(as_bytes(png_bytes(1, 1)), "too small to analyse", id="1x1"),
    pytest.param(as_bytes(png_bytes(200, 8)), "too small to analyse", id="thin"),
    pytest.param(as_file("notes.jpg", b"Lesion on left arm.\n" * 30), "text file", id="text"),
    pytest.param(as_bytes(bytes(range(256)) * 4), "not an image we can read", id="noise"),
    pytest.param(
        as_bytes(encode(Image.fromarray(photo(32, 32)), "ICO")),
        "not an image we can read",
        id="ico-not-allowed",
    ),
    pytest.param(lambda _tmp: (io.StringIO("abc"), {}), "binary mode", id="text-mode-file"),
    pytest.param(lambda _tmp: (ExplodingReader(), {}), "could not read", id="failing-reader"),
    pytest.param(lambda _tmp: (12345, {}), "Cannot load an image from a int", id="int"),
    pytest.param(lambda _tmp: (None, {}), "Cannot load an image", id="none"),
    pytest.param(lambda _tmp: (NotAFile(), {}), "Cannot load an image", id="read-not-callable"),
    pytest.param(lambda _tmp: ("bad\x00path.jpg", {}), "could not open", id="nul-in-path"),
]


@pytest.mark.parametrize(("build", "fragment"), REJECTED)
def test_bad_inputs_are_rejected_with_a_message(
    build: Builder, fragment: str, tmp_path: Path
) -> None:
    source, kwargs = build(tmp_path)
    started = time.perf_counter()
    with pytest.raises(ImageRejected, match=None) as caught:
        load_image(source, **kwargs)
    assert fragment in str(caught.value)
    assert time.perf_counter() - started < 2.0
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path) not in message


def test_ten_bit_heic_is_scaled_to_eight_bits() -> None:
    # iPhones save HDR photos as 10-bit HEIC.
    original = photo()
    deep = pillow_heif.from_bytes(
        mode="RGB;16", size=(48, 40), data=(original.astype(np.uint16) * 257).tobytes()
    )
    buffer = io.BytesIO()
    deep.save(buffer, quality=95, chroma=444)
    assert (
        pillow_heif.open_heif(io.BytesIO(buffer.getvalue()), convert_hdr_to_8bit=False).info[
            "bit_depth"
        ]
        > 8
    )
    pixels = load_image(buffer.getvalue())
    assert_rgb(pixels)
    assert np.abs(pixels.astype(int) - original.astype(int)).mean() <= 3.0


def test_heic_without_pillow_heif_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imaging, "heif_available", lambda: False)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(ImageRejected, match="pillow-heif"):
        load_image(heic)


def test_image_rejected_is_a_value_error() -> None:
    assert issubclass(ImageRejected, ValueError)


def test_header_bomb_is_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_load(self: Image.Image) -> None:
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail_load)
    for width in (8_000, 20_000, 65_535):
        with pytest.raises(ImageRejected, match="too large"):
            load_image(png_header_bomb(width, width))


def test_pillow_bomb_warning_is_an_error_without_global_side_effects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    filters_before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ImageRejected, match="too large"):
            load_image(png_bytes(40, 40), max_pixels=10**9)
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
    assert list(warnings.filters) == filters_before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_loading_from_many_threads_leaves_warning_filters_alone() -> None:
    """The loader's warning sections hold a lock: interleaved ``catch_warnings`` in two threads
    would restore each other's filter lists and leak them into the process."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    jpeg, png = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(jpeg, "JPEG")
    Image.fromarray(pixels).save(png, "PNG")
    sources = [jpeg.getvalue(), png.getvalue(), png_bytes(40, 40)] * 100
    filters_before = list(warnings.filters)
    with ThreadPoolExecutor(8) as pool:
        shapes = {image.shape for image in pool.map(load_image, sources)}
    assert shapes == {(96, 128, 3), (40, 40, 3)}
    assert list(warnings.filters) == filters_before


def test_caps_default_to_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKINDX_MAX_UPLOAD_MB", "1")
    with pytest.raises(ImageRejected, match="1 MB limit"):
        load_image(b"\xff\xd8\xff" + bytes(1_200_000))
    monkeypatch.setenv("SKINDX_MAX_PIXELS", "1000")
    with pytest.raises(ImageRejected, match="too large"):
        load_image(png_bytes(40, 40))


def test_path_size_is_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes())

    def no_open(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("read an oversized file")

    monkeypatch.setattr(Path, "open", no_open)
    with pytest.raises(ImageRejected, match="MB limit"):
        load_image(path, max_bytes=100)


def test_file_like_reads_at_most_the_cap_plus_one() -> None:
    class Counting(io.BytesIO):
        requested: ClassVar[list[int]] = []

        def read(self, size: int | None = -1) -> bytes:
            self.requested.append(-1 if size is None else size)
            return super().read(size)

    stream = Counting(bytes(5_000))
    with pytest.raises(ImageRejected, match="MB limit"):
        load_image(stream, max_bytes=1_000)
    assert stream.requested == [1_001]


# --------------------------------------------------------------------------- good files


FORMATS = [
    pytest.param("JPEG", {"quality": 95, "subsampling": 0}, 6.0, id="jpeg"),
    pytest.param("PNG", {}, 0.0, id="png"),
    pytest.param("WEBP", {"lossless": True}, 0.0, id="webp-lossless"),
    pytest.param("WEBP", {"quality": 90}, 8.0, id="webp-lossy"),
    pytest.param("BMP", {}, 0.0, id="bmp"),
    pytest.param("TIFF", {}, 0.0, id="tiff"),
    pytest.param("TIFF", {"compression": "tiff_lzw"}, 0.0, id="tiff-lzw"),
    pytest.param("GIF", {}, 40.0, id="gif"),
    pytest.param("HEIF", {"quality": 95, "chroma": 444}, 3.0, id="heic"),
]


@pytest.mark.parametrize(("image_format", "options", "tolerance"), FORMATS)
def test_allowed_formats_decode(
    image_format: str, options: dict[str, Any], tolerance: float
) -> None:
    original = photo()
    loaded = inspect_image(encode(Image.fromarray(original), image_format, **options))
    assert_rgb(loaded.pixels)
    assert loaded.format == image_format
    assert loaded.n_frames == 1 and loaded.notes == ()
    assert loaded.pixels.shape == original.shape
    error = np.abs(loaded.pixels.astype(int) - original.astype(int)).mean()
    assert error <= tolerance


def test_mpo_from_a_phone_decodes_the_primary_image() -> None:
    primary, depth = photo(seed=1), photo(seed=2)[::-1].copy()
    try:
        data = encode(
            Image.fromarray(primary), "MPO", save_all=True, append_images=[Image.fromarray(depth)]
        )
    except (KeyError, OSError, ValueError):
        pytest.skip("this Pillow cannot write MPO")
    loaded = inspect_image(data)
    assert loaded.format == "MPO"
    assert loaded.n_frames == 2
    assert loaded.notes == ()
    assert np.abs(loaded.pixels.astype(int) - primary.astype(int)).mean() < 6


def test_path_and_file_like_sources(tmp_path: Path) -> None:
    data = png_bytes()
    path = tmp_path / "lesion.png"
    path.write_bytes(data)

    class ReadOnly:
        def __init__(self, payload: bytes) -> None:
            self._stream = io.BytesIO(payload)

        def read(self, size: int = -1) -> bytes:
            return self._stream.read(size)

    expected = load_image(data)
    for source in (str(path), path, io.BytesIO(data), ReadOnly(data), bytearray(data)):
        np.testing.assert_array_equal(load_image(source), expected)
    np.testing.assert_array_equal(load_image(memoryview(data)), expected)


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (32, 24), (0, 255, 255, 0))
    pixels = load_image(encode(cmyk, "JPEG", quality=95))
    assert_rgb(pixels)
    np.testing.assert_allclose(pixels.reshape(-1, 3).mean(axis=0), [255, 0, 0], atol=3)


def test_16_bit_png_is_scaled_not_clipped() -> None:
    values = np.array([0, 32896, 65535, 1000, 257, 65278], dtype=np.uint16)
    grey = np.tile(values, (20, 4))
    image = Image.fromarray(grey)
    assert image.mode == "I;16"
    pixels = load_image(encode(image, "PNG"))
    np.testing.assert_array_equal(pixels[0, :6, 0], [0, 128, 255, 4, 1, 254])
    np.testing.assert_array_equal(pixels[..., 0], pixels[..., 2])


def test_rgba_png_is_composited_onto_white() -> None:
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 40, 0)
    rgba[:, :5, 3] = 0
    rgba[:, 5:10, 3] = 255
    rgba[:, 10:, 3] = 100
    loaded = inspect_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    pixels = loaded.pixels.astype(int)
    np.testing.assert_array_equal(pixels[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(pixels[0, 7], [200, 40, 0])
    alpha = 100 / 255
    expected = [round(c * alpha + 255 * (1 - alpha)) for c in (200, 40, 0)]
    np.testing.assert_allclose(pixels[0, 15], expected, atol=1)
    assert "filled with white" in " ".join(loaded.notes)


def test_animated_gif_uses_the_first_frame_and_says_so() -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    frames = [Image.new("RGB", (24, 20), colour) for colour in colours]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    loaded = inspect_image(data)
    assert loaded.format == "GIF" and loaded.n_frames == 4
    assert (loaded.pixels == np.array([255, 0, 0], dtype=np.uint8)).all()
    assert loaded.notes == ("Only the first of 4 frames of this animation was analysed.",)
    np.testing.assert_array_equal(load_image(data), loaded.pixels)


def test_animated_webp_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (24, 20), colour) for colour in ((9, 99, 199), (0, 0, 0))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    loaded = inspect_image(data)
    assert loaded.n_frames == 2 and "first of 2 frames" in loaded.notes[0]
    assert (loaded.pixels == np.array([9, 99, 199], dtype=np.uint8)).all()


@pytest.mark.parametrize(("pages", "expected", "shown"), [(3, 3, "3"), (150, 100, "100+")])
def test_multi_page_tiff_uses_the_first_page(pages: int, expected: int, shown: str) -> None:
    first = Image.fromarray(photo(24, 20))
    rest = [Image.new("RGB", (16, 16), (0, 0, 255))] * (pages - 1)
    data = encode(first, "TIFF", save_all=True, append_images=rest)
    started = time.perf_counter()
    loaded = inspect_image(data)
    assert time.perf_counter() - started < 1.0
    assert loaded.n_frames == expected
    assert loaded.notes == (f"Only the first of {shown} pages of this file was analysed.",)
    np.testing.assert_array_equal(loaded.pixels, photo(24, 20))


def test_caller_pil_image_stays_on_its_frame() -> None:
    frames = [Image.new("RGB", (20, 20), colour) for colour in ((1, 2, 3), (4, 5, 6))]
    opened = Image.open(
        io.BytesIO(encode(frames[0], "TIFF", save_all=True, append_images=[frames[1]]))
    )
    opened.seek(1)
    assert (load_image(opened) == np.array([4, 5, 6], dtype=np.uint8)).all()
    assert opened.tell() == 1


def _orient(stored: np.ndarray, orientation: int) -> np.ndarray:
    """What a viewer shows for ``stored`` pixels tagged with an EXIF orientation."""
    transforms: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return transforms[orientation](stored)


def _quadrants(width: int = 32, height: int = 16) -> np.ndarray:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[: height // 2, : width // 2] = (230, 20, 20)
    image[: height // 2, width // 2 :] = (20, 230, 20)
    image[height // 2 :, : width // 2] = (20, 20, 230)
    image[height // 2 :, width // 2 :] = (240, 240, 240)
    image[:4, :4] = (0, 0, 0)
    return image


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    ("image_format", "options", "tolerance"),
    [
        ("JPEG", {"quality": 95, "subsampling": 0}, 6.0),
        ("PNG", {}, 0.0),
        # pillow-heif stores the orientation as HEIF transforms, which libheif applies.
        ("HEIF", {"quality": 95, "chroma": 444}, 3.0),
    ],
)
def test_exif_orientation_is_applied(
    orientation: int, image_format: str, options: dict[str, Any], tolerance: float
) -> None:
    stored = _quadrants()
    exif = Image.Exif()
    exif[274] = orientation
    data = encode(Image.fromarray(stored), image_format, exif=exif.tobytes(), **options)
    pixels = load_image(data)
    expected = _orient(stored, orientation)
    assert pixels.shape == expected.shape
    assert np.abs(pixels.astype(int) - expected.astype(int)).mean() <= tolerance


def test_broken_exif_falls_back_to_the_stored_orientation() -> None:
    jpeg = jpeg_bytes()
    garbage = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(range(40))
    segment = b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage
    pixels = load_image(jpeg[:2] + segment + jpeg[2:])
    assert pixels.shape == (40, 48, 3)


# --------------------------------------------------------------------------- draft decoding


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_min_side_decodes_a_large_jpeg_at_reduced_scale() -> None:
    data = jpeg_bytes(1600, 1200)
    full = load_image(data)
    small = load_image(data, min_side=112)
    assert small.shape == (150, 200, 3)  # 1/8 scale: the largest keeping both sides ≥ 112
    assert_rgb(small)
    assert _mad(preprocess_pixels(small, 112), preprocess_pixels(full, 112)) < 1.5
    assert load_image(data, min_side=300).shape == (300, 400, 3)  # 1/4
    assert load_image(data, min_side=1).shape == (150, 200, 3)  # never beyond 1/8


def test_min_side_leaves_small_jpegs_other_formats_and_caller_images_whole() -> None:
    jpeg = jpeg_bytes(200, 150)
    np.testing.assert_array_equal(load_image(jpeg, min_side=112), load_image(jpeg))
    assert load_image(jpeg, min_side=5000).shape == (150, 200, 3)
    png = png_bytes(1600, 1200)
    np.testing.assert_array_equal(load_image(png, min_side=112), load_image(png))
    opened = Image.open(io.BytesIO(jpeg_bytes(1600, 1200)))  # the caller's object: not shrunk
    assert load_image(opened, min_side=112).shape == (1200, 1600, 3)
    assert opened.size == (1600, 1200)


def test_min_side_never_goes_below_the_minimum_size() -> None:
    assert load_image(jpeg_bytes(128, 128), min_side=1).shape == (16, 16, 3)
    assert load_image(jpeg_bytes(100, 100), min_side=1).shape == (25, 25, 3)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_min_side_keeps_the_exif_orientation(orientation: int) -> None:
    stored = np.repeat(np.repeat(_quadrants(), 50, axis=0), 50, axis=1)  # 1600×800
    exif = Image.Exif()
    exif[274] = orientation
    data = encode(Image.fromarray(stored), "JPEG", exif=exif, quality=95, subsampling=0)
    pixels = load_image(data, min_side=112)
    expected = _orient(stored[::4, ::4], orientation)  # 1/4 keeps the short side ≥ 112
    assert pixels.shape == expected.shape
    assert _mad(pixels, expected) < 6


def test_min_side_reads_an_mpo_primary_image_at_reduced_scale() -> None:
    primary = Image.fromarray(photo(1600, 1200, seed=1))
    try:
        data = encode(primary, "MPO", save_all=True, append_images=[Image.new("RGB", (64, 48))])
    except (KeyError, OSError, ValueError):
        pytest.skip("this Pillow cannot write MPO")
    loaded = inspect_image(data, min_side=112)
    assert (loaded.format, loaded.n_frames, loaded.pixels.shape) == ("MPO", 2, (150, 200, 3))


def test_min_side_keeps_the_caps_on_the_stored_size_and_catches_truncation() -> None:
    data = jpeg_bytes(1600, 1200)
    with pytest.raises(ImageRejected, match="1600×1200"):
        load_image(data, min_side=112, max_pixels=1600 * 1200 - 1)
    with pytest.raises(ImageRejected, match="damaged or incomplete"):
        load_image(data[: len(data) // 2], min_side=112)


def test_decode_side() -> None:
    assert decode_side(112) == 112
    assert decode_side(112, hair_removal=True) is None


def test_draft_decoding_barely_changes_real_lesion_images(shared_data: Path) -> None:
    """ISIC 2018 test images (224×224) decoded at 1/2 scale against full decoding + area resize."""
    paths = sorted((shared_data / "isic2018_test" / "images").glob("*.jpg"))[::50]
    assert paths
    for path in paths:
        drafted = preprocess_pixels(load_image(path, min_side=112), 112)
        full = preprocess_pixels(load_image(path), 112)
        assert _mad(drafted, full) < 1.0


# --------------------------------------------------------------------------- modes


def _palette() -> Image.Image:
    return Image.new("RGB", (20, 20), (5, 100, 200)).convert("P", palette=Image.Palette.ADAPTIVE)


def _with_transparency() -> Image.Image:
    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, 10, 120, 200] + [0] * 762)
    image.paste(0, (0, 0, 10, 20))
    image.info["transparency"] = 0
    return image


def _la() -> Image.Image:
    grey = np.full((20, 20), 100, dtype=np.uint8)
    alpha = np.full((20, 20), 128, dtype=np.uint8)
    return Image.merge("LA", (Image.fromarray(grey), Image.fromarray(alpha)))


def _one_bit() -> Image.Image:
    image = Image.new("1", (20, 20), 0)
    image.paste(1, (10, 0, 20, 20))
    return image


MODES: list[Any] = [
    pytest.param(lambda: Image.new("L", (20, 20), 77), (0, 0), (77, 77, 77), id="L"),
    pytest.param(_la, (0, 0), (177, 177, 177), id="LA"),
    pytest.param(_palette, (0, 0), (5, 100, 200), id="P"),
    pytest.param(_with_transparency, (0, 0), (255, 255, 255), id="P-transparent"),
    pytest.param(_with_transparency, (0, 15), (10, 120, 200), id="P-opaque"),
    pytest.param(lambda: Image.new("RGBA", (20, 20), (0, 0, 0, 0)), (0, 0), (255,) * 3, id="RGBA"),
    pytest.param(lambda: Image.new("CMYK", (20, 20), (0, 0, 0, 255)), (0, 0), (0, 0, 0), id="CMYK"),
    pytest.param(_one_bit, (0, 15), (255, 255, 255), id="1-white"),
    pytest.param(_one_bit, (0, 0), (0, 0, 0), id="1-black"),
    pytest.param(
        lambda: Image.fromarray(np.full((20, 20), 32896, dtype=np.uint16)),
        (0, 0),
        (128, 128, 128),
        id="I;16",
    ),
    pytest.param(
        lambda: Image.fromarray(np.full((20, 20), 65535, dtype=">u2")),
        (0, 0),
        (255, 255, 255),
        id="I;16B",
    ),
    pytest.param(
        lambda: Image.fromarray(np.full((20, 20), 32896, dtype=np.int32)),
        (0, 0),
        (128, 128, 128),
        id="I",
    ),
    pytest.param(
        lambda: Image.fromarray(np.full((20, 20), 0.5, dtype=np.float32)),
        (0, 0),
        (128, 128, 128),
        id="F",
    ),
    pytest.param(
        lambda: Image.new("RGB", (20, 20), (10, 200, 30)).convert("YCbCr"),
        (0, 0),
        (10, 200, 30),
        id="YCbCr",
    ),
]


@pytest.mark.parametrize(("build", "where", "rgb"), MODES)
def test_every_mode_converts_to_rgb(
    build: Callable[[], Image.Image], where: tuple[int, int], rgb: tuple[int, int, int]
) -> None:
    image = build()
    mode, size = image.mode, image.size
    pixels = load_image(image)
    assert_rgb(pixels)
    assert pixels.shape == (20, 20, 3)
    np.testing.assert_allclose(pixels[where].astype(int), rgb, atol=2)
    assert (image.mode, image.size) == (mode, size)


@pytest.mark.parametrize(("build", "where", "rgb"), [m for m in MODES if m.id != "YCbCr"])
def test_modes_survive_a_png_or_tiff_round_trip(
    build: Callable[[], Image.Image], where: tuple[int, int], rgb: tuple[int, int, int]
) -> None:
    image = build()
    image_format = "TIFF" if image.mode in ("CMYK", "F", "I") else "PNG"
    pixels = load_image(encode(image, image_format))
    np.testing.assert_allclose(pixels[where].astype(int), rgb, atol=2)


def test_int32_outside_the_16_bit_range_is_stretched() -> None:
    values = np.tile(np.array([-1000, 0, 1000], dtype=np.int32), (20, 7))[:, :20]
    pixels = load_image(Image.fromarray(values))
    assert pixels[0, 0, 0] == 0 and pixels[0, 2, 0] == 255


def test_zero_size_pil_image_is_rejected() -> None:
    with pytest.raises(ImageRejected, match="no pixels"):
        load_image(Image.new("RGB", (0, 0)))


def test_text_that_resembles_a_video_box_is_still_text() -> None:
    with pytest.raises(ImageRejected, match="text file"):
        load_image(b"I'm free to upload anything, says this note.\n" * 3)


def test_pil_image_input_keeps_its_format() -> None:
    opened = Image.open(io.BytesIO(jpeg_bytes()))
    loaded = inspect_image(opened)
    assert loaded.format == "JPEG"
    assert_rgb(loaded.pixels)


# --------------------------------------------------------------------------- arrays


GOOD_ARRAYS: list[Any] = [
    pytest.param(np.full((20, 24), 9, np.uint8), (9, 9, 9), id="uint8-HxW"),
    pytest.param(np.full((20, 24, 1), 9, np.uint8), (9, 9, 9), id="uint8-HxWx1"),
    pytest.param(np.full((20, 24, 3), (1, 2, 3), np.uint8), (1, 2, 3), id="uint8-HxWx3"),
    pytest.param(np.full((20, 24, 4), (10, 20, 30, 255), np.uint8), (10, 20, 30), id="uint8-rgba"),
    pytest.param(np.full((20, 24, 4), (0, 0, 0, 0), np.uint8), (255, 255, 255), id="rgba-clear"),
    pytest.param(np.full((20, 24, 4), (0, 0, 0, 51), np.uint8), (204, 204, 204), id="rgba-20%"),
    pytest.param(np.full((20, 24, 3), 0.5, np.float32), (128, 128, 128), id="float32"),
    pytest.param(np.full((20, 24), 1.0, np.float64), (255, 255, 255), id="float64-HxW"),
    pytest.param(np.full((20, 24, 3), 0.2, np.float16), (51, 51, 51), id="float16"),
    pytest.param(np.full((20, 24, 4), (1.0, 0, 0, 0.5), np.float32), (255, 128, 128), id="f-rgba"),
    pytest.param(np.full((20, 24, 3), 65535, np.uint16), (255, 255, 255), id="uint16"),
    pytest.param(np.full((20, 24), 32896, np.uint16), (128, 128, 128), id="uint16-HxW"),
    pytest.param(np.full((20, 24), 32896, ">u2"), (128, 128, 128), id="uint16-big-endian"),
    pytest.param(np.full((20, 24, 3), 0.2, ">f8"), (51, 51, 51), id="float-big-endian"),
    pytest.param(
        np.full((24, 20, 3), (4, 5, 6), np.uint8).transpose(1, 0, 2), (4, 5, 6), id="strided"
    ),
]


@pytest.mark.parametrize(("array", "rgb"), GOOD_ARRAYS)
def test_accepted_arrays(array: np.ndarray, rgb: tuple[int, int, int]) -> None:
    before = array.copy()
    pixels = load_image(array)
    assert_rgb(pixels)
    assert pixels.shape == (20, 24, 3)
    np.testing.assert_allclose(pixels[3, 3].astype(int), rgb, atol=1)
    pixels[...] = 7
    np.testing.assert_array_equal(array, before)
    assert inspect_image(array).format is None


BAD_ARRAYS: list[Any] = [
    pytest.param(np.zeros((20, 20), np.int64), "dtype int64", id="int64"),
    pytest.param(np.zeros((20, 20), np.int32), "dtype int32", id="int32"),
    pytest.param(np.zeros((20, 20), bool), "dtype bool", id="bool"),
    pytest.param(np.zeros((20, 20), np.complex64), "dtype complex64", id="complex"),
    pytest.param(np.zeros((20, 20, 2), np.uint8), "H×W×3", id="two-channels"),
    pytest.param(np.zeros((20, 20, 3, 1), np.uint8), "H×W×3", id="4d"),
    pytest.param(np.zeros(400, np.uint8), "H×W×3", id="1d"),
    pytest.param(np.zeros((0, 0, 3), np.uint8), "no pixels", id="empty"),
    pytest.param(np.zeros((8, 8, 3), np.uint8), "too small", id="tiny"),
    pytest.param(np.full((20, 20), 1.5, np.float32), "between 0 and 1", id="float-range"),
    pytest.param(np.full((20, 20), -0.1, np.float64), "between 0 and 1", id="float-negative"),
    pytest.param(np.full((20, 20), np.nan, np.float32), "finite", id="nan"),
]


@pytest.mark.parametrize(("array", "fragment"), BAD_ARRAYS)
def test_rejected_arrays(array: np.ndarray, fragment: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        load_image(array)
    assert fragment in str(caught.value)


def test_array_over_the_pixel_cap() -> None:
    with pytest.raises(ImageRejected, match="too large"):
        load_image(np.zeros((100, 100, 3), np.uint8), max_pixels=5_000)


def test_loaded_image_is_frozen() -> None:
    loaded = inspect_image(photo())
    assert isinstance(loaded, LoadedImage)
    with pytest.raises(AttributeError):
        loaded.format = "PNG"  # type: ignore[misc]


# --------------------------------------------------------------------------- pixels


@pytest.mark.parametrize(("shape", "size"), [((40, 60, 3), 32), ((10, 12, 3), 32), ((8, 8, 3), 8)])
def test_resize_square_shapes(shape: tuple[int, int, int], size: int) -> None:
    image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    out = resize_square(image, size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8


def test_resize_square_is_identity_at_size() -> None:
    image = photo(32, 32)
    assert resize_square(image, 32) is image


def test_resize_square_averages_when_shrinking() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    image = np.repeat(checker[:, :, None], 3, axis=2)
    out = resize_square(image, 16)
    assert np.abs(out.astype(int) - 127).max() <= 1


def test_shades_of_gray_neutralises_a_colour_cast() -> None:
    neutral = photo(64, 64).astype(np.float32).mean(axis=2, keepdims=True)
    texture = np.random.default_rng(1).uniform(0.8, 1.2, (64, 64, 1))
    cast = np.clip(neutral * texture * np.array([1.0, 0.75, 0.5]), 0, 255).astype(np.uint8)
    corrected = shades_of_gray(cast)
    assert corrected.shape == cast.shape and corrected.dtype == np.uint8

    def spread(image: np.ndarray) -> float:
        means = image.reshape(-1, 3).mean(axis=0)
        return float(means.max() - means.min())

    assert spread(corrected) < 0.25 * spread(cast)


def test_remove_hair_removes_thin_dark_lines() -> None:
    skin = np.full((64, 64, 3), (205, 170, 150), dtype=np.uint8)
    hairy = skin.copy()
    for row in (10, 30, 50):
        hairy[row : row + 2, 4:60] = (30, 25, 20)
    hairy[4:60, 40] = (30, 25, 20)
    hair = (hairy != skin).any(axis=2)
    cleaned = remove_hair(hairy)
    still_dark = cleaned[hair].astype(int).mean(axis=1) < 120
    assert still_dark.mean() < 0.1
    assert np.abs(cleaned.astype(int) - skin.astype(int))[~hair].mean() < 3


def test_preprocess_pixels_flags() -> None:
    hairy = photo(48, 40)
    hairy[10:12, 2:46] = 20
    plain = preprocess_pixels(hairy, 32)
    np.testing.assert_array_equal(plain, resize_square(hairy, 32))
    constancy = preprocess_pixels(hairy, 32, color_constancy=True)
    np.testing.assert_array_equal(constancy, shades_of_gray(resize_square(hairy, 32)))
    shaved = preprocess_pixels(hairy, 32, hair_removal=True)
    np.testing.assert_array_equal(shaved, resize_square(remove_hair(hairy), 32))
    both = preprocess_pixels(hairy, 32, color_constancy=True, hair_removal=True)
    np.testing.assert_array_equal(both, shades_of_gray(resize_square(remove_hair(hairy), 32)))
    assert not np.array_equal(shaved, plain)
