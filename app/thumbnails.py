"""Small PNG thumbnails of image attachments, made from plain bytes on any thread.

Uses QtGui's QImage (no QApplication needed); QPixmap, which is tied to the GUI
thread, is left to the widget that shows the result.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QImageWriter

MAX_THUMBNAIL_SOURCE = 64 * 1024 * 1024
"""Callers do not decode files bigger than this (bytes); thumbnail_png refuses them too."""

MAX_PIXELS = 100_000_000
"""Images declaring more pixels than this are refused before any decoding."""

ALLOCATION_LIMIT_MB = 256
"""Qt's cap on one decoded image (process-wide setting; this is also Qt's default)."""

# Raster formats only: SVG and PDF readers (QtSvg, QtPdf) would render documents,
# whose cost is not bounded by a declared size. Detection is by content, not name.
DECODABLE_FORMATS = frozenset({"png", "jpeg", "gif", "bmp", "webp", "tiff"})


def is_image(media_type: str) -> bool:
    """True for an image/* media type (parameters and case ignored)."""
    return media_type.split(";", 1)[0].strip().lower().startswith("image/")


def image_reader(data: bytes) -> tuple[QBuffer, QImageReader] | None:
    """A reader for `data` if its content is one of DECODABLE_FORMATS (nothing decoded
    yet), with the buffer it reads from: keep both alive together."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    if not buffer.open(QIODevice.OpenModeFlag.ReadOnly):
        return None
    image_format = bytes(QImageReader.imageFormat(buffer).data()).decode("ascii", "replace")
    if image_format not in DECODABLE_FORMATS:
        return None
    reader = QImageReader(buffer, image_format.encode("ascii"))
    reader.setDecideFormatFromContent(False)
    return buffer, reader


def thumbnail_png(data: bytes, size: int = 160) -> bytes | None:
    """PNG bytes of the image scaled to fit size×size (EXIF orientation applied),
    or None when `data` is not a decodable raster image or is too big to decode."""
    if not data or len(data) > MAX_THUMBNAIL_SOURCE or size < 1:
        return None
    QImageReader.setAllocationLimit(ALLOCATION_LIMIT_MB)
    opened = image_reader(data)
    if opened is None:
        return None
    _buffer, reader = opened
    reader.setAutoTransform(True)
    declared = reader.size()  # read from the header: nothing decoded yet
    if not declared.isValid() or declared.isEmpty():
        return None
    if declared.width() * declared.height() > MAX_PIXELS:
        return None
    # Ask the decoder for the small size: JPEG then decodes at 1/2..1/8 scale and
    # never holds the full-size picture. The rotation from EXIF comes after scaling,
    # and a uniform scale into a square fits either way round.
    fitted = declared.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio)
    if declared.width() > size or declared.height() > size:
        reader.setScaledSize(fitted.expandedTo(QSize(1, 1)))
    image = reader.read()
    if image.isNull():
        return None
    if image.width() > size or image.height() > size:
        image = image.scaled(
            size,
            size,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    return _png_bytes(image)


def _png_bytes(image: QImage) -> bytes | None:
    out = QBuffer()
    if not out.open(QIODevice.OpenModeFlag.WriteOnly):
        return None
    if not QImageWriter(out, QByteArray(b"png")).write(image):
        return None
    return bytes(out.data().data())
