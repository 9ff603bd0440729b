"""Draw the application icon in every size a desktop asks for, from the one SVG.

    python packaging/make_icons.py OUT_DIR

writes, from resources/icons/cairn.svg (nothing binary is kept in the repository):

    OUT_DIR/hicolor/<N>x<N>/apps/<APP_ID>.png   N = 16 24 32 48 64 128 256 512
    OUT_DIR/hicolor/scalable/apps/<APP_ID>.svg
    OUT_DIR/cairn.ico     (Windows: PNG-compressed entries, 16 to 256)
    OUT_DIR/cairn.icns    (macOS: PNG entries, 16 to 1024)

Qt's own SVG renderer (QtSvg, part of PySide6-Essentials) draws the PNGs; the
ICO and ICNS containers are simple enough to write here, so no platform tool
(iconutil, ImageMagick) is needed and every platform's icons build anywhere.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "icons" / "cairn.svg"
APP_ID = "org.cairn_learning.Cairn"
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types that hold PNG data, by pixel size (the @2x types share sizes).
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
    (b"ic14", 512),
)  # fmt: skip


def render_png(svg: bytes, size: int) -> bytes:
    """The SVG drawn at size×size, antialiased, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {SOURCE} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit("make_icons: Qt could not write a PNG")
    return bytes(buffer.data().data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding each PNG (allowed since Windows Vista)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        data = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding PNG elements."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    # Drawing needs no window; the offscreen platform keeps it working without a display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    application = QGuiApplication.instance() or QGuiApplication(["make_icons"])
    svg = SOURCE.read_bytes()
    pngs = {size: render_png(svg, size) for size in {*HICOLOR_SIZES, *ICO_SIZES, 1024}}
    for size in HICOLOR_SIZES:
        write(out / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png", pngs[size])
    write(out / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg", svg)
    write(out / "cairn.ico", ico({size: pngs[size] for size in ICO_SIZES}))
    write(out / "cairn.icns", icns(pngs))
    del application
    print(f"make_icons: {len(HICOLOR_SIZES)} PNG sizes, SVG, ICO and ICNS in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
