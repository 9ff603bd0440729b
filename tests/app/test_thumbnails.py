"""Thumbnails of image attachments: real images in, small PNGs out, garbage refused."""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage, QImageReader, QImageWriter

from app import thumbnails
from app.thumbnails import is_image, thumbnail_png

RED, BLUE = b"\xff\x00\x00", b"\x00\x00\xff"


def left_red_right_blue(width: int, height: int) -> QImage:
    row = RED * (width // 2) + BLUE * (width - width // 2)
    return QImage(row * height, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def encoded(image: QImage, image_format: str) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert QImageWriter(buffer, QByteArray(image_format.encode())).write(image)
    return bytes(buffer.data().data())


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width×height (8-bit RGB) with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment holding only the orientation tag, as cameras write it."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)  # tag, SHORT, count 1, value
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + b"\x00" * 4
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def decoded(png: bytes | None) -> QImage:
    assert png is not None
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = QImage.fromData(png)
    assert not image.isNull()
    return image


def test_a_png_is_scaled_to_fit_keeping_its_proportions() -> None:
    image = decoded(thumbnail_png(encoded(left_red_right_blue(400, 200), "PNG")))
    assert (image.width(), image.height()) == (160, 80)
    assert image.pixelColor(10, 40).name() == "#ff0000"
    assert image.pixelColor(150, 40).name() == "#0000ff"


def test_a_tall_jpeg_fits_the_requested_size() -> None:
    image = decoded(thumbnail_png(encoded(left_red_right_blue(300, 600), "JPEG"), size=96))
    assert (image.width(), image.height()) == (48, 96)


def test_a_small_image_is_not_enlarged() -> None:
    image = decoded(thumbnail_png(encoded(left_red_right_blue(40, 20), "PNG")))
    assert (image.width(), image.height()) == (40, 20)


def test_exif_orientation_is_honoured() -> None:
    jpeg = with_exif_orientation(encoded(left_red_right_blue(400, 200), "JPEG"), 6)
    # The file really stores a wide picture and asks for a quarter turn clockwise.
    raw_buffer = QBuffer()
    raw_buffer.setData(QByteArray(jpeg))
    raw_buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    raw = QImageReader(raw_buffer)
    raw.setAutoTransform(False)
    assert raw.read().size().width() == 400

    image = decoded(thumbnail_png(jpeg))
    assert (image.width(), image.height()) == (80, 160)
    # Turned clockwise, the left (red) half is now on top.
    assert image.pixelColor(40, 10).red() > 200
    assert image.pixelColor(40, 150).blue() > 200


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all" * 50, bytes(range(256)) * 40, b"\x89PNG\r\n\x1a\n",
     b"\xff\xd8\xff\xe0" + b"\x00" * 100],
    ids=["empty", "text", "binary", "png-signature-only", "jpeg-signature-only"],
)  # fmt: skip
def test_garbage_gives_none(data: bytes) -> None:
    assert thumbnail_png(data) is None


def test_documents_that_qt_could_render_are_not_decoded() -> None:
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
           b'<rect width="100" height="100" fill="red"/></svg>')  # fmt: skip
    assert thumbnail_png(svg) is None


def test_a_huge_declared_size_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: QImageReader) -> QImage:
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(QImageReader, "read", no_decoding)
    started = time.monotonic()
    assert thumbnail_png(png_header_only(100_000, 100_000)) is None
    assert time.monotonic() - started < 1


def test_the_pixel_limit_is_checked_on_the_declared_size(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(left_red_right_blue(300, 200), "PNG")
    monkeypatch.setattr(thumbnails, "MAX_PIXELS", 300 * 200)
    assert thumbnail_png(data) is not None
    monkeypatch.setattr(thumbnails, "MAX_PIXELS", 300 * 200 - 1)
    assert thumbnail_png(data) is None


def test_sources_over_the_size_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(left_red_right_blue(40, 20), "PNG")
    monkeypatch.setattr(thumbnails, "MAX_THUMBNAIL_SOURCE", len(data) - 1)
    assert thumbnail_png(data) is None


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [("image/png", True), ("IMAGE/JPEG", True), ("image/webp; q=1", True),
     ("application/pdf", False), ("video/mp4", False), ("", False)],
)  # fmt: skip
def test_is_image(media_type: str, expected: bool) -> None:
    assert is_image(media_type) is expected
