"""The app's icons: one hand-drawn SVG set, tinted with the palette when painted."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from PySide6.QtCore import QByteArray, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer

#: Every icon the app may ask for; each is `resources/icons/<name>.svg`.
ICON_NAMES: tuple[str, ...] = (
    "dashboard",
    "all-items",
    "plan",
    "reflection",
    "record",
    "evidence",
    "journal",
    "tag",
    "skill",
    "new",
    "save",
    "lock",
    "search",
    "history",
    "attach",
    "link",
    "unlink",
    "open-external",
    "save-copy",
    "delete",
    "undo",
    "redo",
    "settings",
    "back",
    "file",
    "image",
    "video",
    "audio",
    "document",
    "captured",
    "workspace",
    "share",
    "sync",
    "about",
)

APP_ICON_NAME = "cairn"
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

# Rendered pixmaps keyed by (name, colour, logical side, device pixel ratio). The
# colour is part of the key, so a theme change can never show a stale tint;
# clear_cache() only keeps the dictionary from growing across theme switches.
_pixmaps: dict[tuple[str, int, int, float], QPixmap] = {}
_MAX_CACHED = 2048


@cache
def svg_source(name: str) -> bytes:
    """The SVG text of an icon (or of the app icon); KeyError for an unknown name."""
    if name not in ICON_NAMES and name != APP_ICON_NAME:
        raise KeyError(
            f"no icon named {name!r}; the icons are {', '.join(ICON_NAMES)} "
            f"(and {APP_ICON_NAME!r} through app_icon())"
        )
    return (files("resources") / "icons" / f"{name}.svg").read_bytes()


def clear_cache() -> None:
    """Forget rendered pixmaps (the theme calls this when the palette changes)."""
    _pixmaps.clear()


def icon_color(mode: QIcon.Mode, palette: QPalette | None = None) -> QColor:
    """The colour an icon is drawn in for `mode` under `palette` (default: the app's)."""
    palette = palette if palette is not None else QGuiApplication.palette()
    if mode == QIcon.Mode.Disabled:
        return palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    if mode == QIcon.Mode.Selected:
        return palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText)
    return palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)


def _render(source: bytes, side: int) -> QImage:
    image = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(source))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, side, side))
    painter.end()
    return image


def tinted_pixmap(name: str, side: int, scale: float, color: QColor) -> QPixmap:
    """Icon `name` drawn in `color`, `side` logical pixels square at device ratio `scale`."""
    key = (name, color.rgba(), side, scale)
    pixmap = _pixmaps.get(key)
    if pixmap is None:
        source = svg_source(name).replace(b"currentColor", color.name().encode())
        pixmap = QPixmap.fromImage(_render(source, max(1, round(side * scale))))
        pixmap.setDevicePixelRatio(scale)
        if len(_pixmaps) >= _MAX_CACHED:
            _pixmaps.clear()
        _pixmaps[key] = pixmap
    return pixmap


class SvgIconEngine(QIconEngine):
    """Draws one icon in the palette's colours of the moment it is painted.

    Widgets repaint when the application palette changes, and ask the engine
    again, so icons already on screen follow a theme switch without being reset.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    def _square(self, size: QSize) -> int:
        return max(1, min(size.width(), size.height()))

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        side = self._square(size)
        return QSize(side, side)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return tinted_pixmap(self._name, self._square(size), 1.0, icon_color(mode))

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        return tinted_pixmap(self._name, self._square(size), scale, icon_color(mode))

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        device = painter.device()
        scale = device.devicePixelRatio() if device is not None else 1.0
        side = self._square(rect.size())
        pixmap = tinted_pixmap(self._name, side, scale, icon_color(mode))
        left = rect.x() + (rect.width() - side) // 2
        top = rect.y() + (rect.height() - side) // 2
        painter.drawPixmap(QPoint(left, top), pixmap)

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self._name)

    def key(self) -> str:
        return "CairnSvgIconEngine"


def icon(name: str) -> QIcon:
    """The icon `name`, tinted like text (disabled and selected states included)."""
    svg_source(name)  # an unknown name fails here, not later while painting
    return QIcon(SvgIconEngine(name))


@cache
def app_icon() -> QIcon:
    """The application icon (the cairn) in full colour at the usual sizes."""
    source = svg_source(APP_ICON_NAME)
    result = QIcon()
    for side in APP_ICON_SIZES:
        result.addPixmap(QPixmap.fromImage(_render(source, side)))
    return result
