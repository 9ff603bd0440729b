"""Light and dark palettes stay legible; the icon set is complete and follows the theme."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files

import pytest
from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPalette
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from ui import icons, theme

Role = QPalette.ColorRole
Group = QPalette.ColorGroup

PALETTES = {"light": theme.light_palette, "dark": theme.dark_palette}

#: (foreground, background) pairs that carry text people must read.
TEXT_PAIRS = [
    (Role.Text, Role.Base),
    (Role.Text, Role.AlternateBase),
    (Role.WindowText, Role.Window),
    (Role.ButtonText, Role.Button),
    (Role.HighlightedText, Role.Highlight),
    (Role.PlaceholderText, Role.Base),
    (Role.PlaceholderText, Role.Window),
    (Role.ToolTipText, Role.ToolTipBase),
    (Role.Link, Role.Base),
    (Role.Link, Role.Window),
    (Role.LinkVisited, Role.Base),
]


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    """The real application, with its style, palette and theme choice put back afterwards."""
    style_name = qapp.style().name()
    palette = QPalette(qapp.palette())
    yield qapp
    qapp.setProperty("cairnTheme", None)
    hints = qapp.styleHints()
    if hasattr(hints, "unsetColorScheme"):
        hints.unsetColorScheme()
    if qapp.style().name() != style_name:
        qapp.setStyle(style_name)
    qapp.setPalette(palette)
    icons.clear_cache()


def is_dark_window(app: QApplication) -> bool:
    return app.palette().color(Role.Window).lightnessF() < 0.5


def test_contrast_ratio_matches_known_values() -> None:
    black, white = QColor("#000000"), QColor("#ffffff")
    assert theme.contrast_ratio(black, white) == pytest.approx(21.0)
    assert theme.contrast_ratio(white, black) == pytest.approx(21.0)
    assert theme.contrast_ratio(white, white) == pytest.approx(1.0)
    # #767676 is the lightest grey that passes 4.5:1 on white; #777777 just fails.
    assert theme.contrast_ratio(QColor("#767676"), white) == pytest.approx(4.54, abs=0.01)
    assert theme.contrast_ratio(QColor("#777777"), white) < 4.5


@pytest.mark.parametrize("name", PALETTES)
def test_text_keeps_wcag_aa_contrast(name: str) -> None:
    palette = PALETTES[name]()
    too_faint = [
        f"{foreground.name} on {background.name}: {ratio:.2f}:1"
        for foreground, background in TEXT_PAIRS
        if (ratio := theme.contrast_ratio(palette.color(foreground), palette.color(background)))
        < 4.5
    ]
    assert not too_faint


@pytest.mark.parametrize("name", PALETTES)
def test_error_and_hint_text_are_legible_on_window_and_base(name: str) -> None:
    palette = PALETTES[name]()
    for colour in (theme.error_color(palette), theme.hint_color(palette)):
        for background in (Role.Window, Role.Base):
            assert theme.contrast_ratio(colour, palette.color(background)) >= 4.5


@pytest.mark.parametrize("name", PALETTES)
def test_disabled_text_looks_different_from_normal_text(name: str) -> None:
    palette = PALETTES[name]()
    for role in (Role.Text, Role.WindowText, Role.ButtonText, Role.PlaceholderText):
        assert palette.color(Group.Disabled, role) != palette.color(Group.Active, role)


def test_apply_theme_switches_between_light_and_dark(app: QApplication) -> None:
    theme.apply_theme(app, "dark")
    assert app.style().name().lower() == "fusion"
    assert is_dark_window(app)
    assert theme.error_style() == f"color: {theme.error_color(theme.dark_palette()).name()};"

    theme.apply_theme(app, "light")
    assert not is_dark_window(app)
    assert theme.error_style() == "color: #b3261e;"


def test_system_theme_follows_the_platform_colour_scheme(app: QApplication) -> None:
    theme.apply_theme(app, "no such theme")  # means "system"
    expected_dark = app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    assert is_dark_window(app) == expected_dark

    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert is_dark_window(app)
    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not is_dark_window(app)

    # A choice the person made is not overridden by the system.
    theme.apply_theme(app, "light")
    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert not is_dark_window(app)


def test_every_theme_has_a_label() -> None:
    labels = [theme.theme_label(choice) for choice in theme.THEMES]
    assert all(labels)
    assert len(set(labels)) == len(labels)


def opaque_pixels(image: QImage) -> int:
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).alpha() > 0
    )


@pytest.mark.parametrize("name", icons.ICON_NAMES)
def test_icon_is_a_clean_24px_stroke_svg(qapp: QApplication, name: str) -> None:
    source = icons.svg_source(name)
    assert QSvgRenderer(QByteArray(source)).isValid()
    text = source.decode()
    assert 'viewBox="0 0 24 24"' in text
    assert 'stroke="currentColor"' in text
    assert 'fill="none"' in text
    width = re.search(r'stroke-width="([\d.]+)"', text)
    assert width is not None
    assert 1.75 <= float(width.group(1)) <= 2


@pytest.mark.parametrize("name", icons.ICON_NAMES)
@pytest.mark.parametrize("side", [16, 32])
def test_icon_renders_at_small_and_large_sizes(qapp: QApplication, name: str, side: int) -> None:
    pixmap = icons.icon(name).pixmap(QSize(side, side))
    assert pixmap.size() == QSize(side, side)
    assert opaque_pixels(pixmap.toImage()) > side  # more than a stray dot


def test_icons_on_disk_are_exactly_the_listed_set() -> None:
    folder = files("resources") / "icons"
    on_disk = {entry.name.removesuffix(".svg") for entry in folder.iterdir()}
    assert on_disk == {*icons.ICON_NAMES, icons.APP_ICON_NAME}


def test_unknown_icon_name_is_a_clear_key_error(qapp: QApplication) -> None:
    with pytest.raises(KeyError, match="no icon named 'nope'"):
        icons.icon("nope")


def test_icons_render_at_the_device_pixel_ratio(qapp: QApplication) -> None:
    pixmap = icons.icon("search").pixmap(QSize(16, 16), 2.0)
    assert pixmap.devicePixelRatio() == 2.0
    assert pixmap.size() == QSize(32, 32)


def centre_colour(icon: QIcon, mode: QIcon.Mode = QIcon.Mode.Normal) -> QColor:
    # The middle of the "new" icon (a plus sign) is always on the stroke.
    return icon.pixmap(QSize(32, 32), mode).toImage().pixelColor(16, 16)


def test_icon_colour_follows_the_theme_even_for_icons_already_made(
    app: QApplication, qtbot: QtBot
) -> None:
    plus = icons.icon("new")
    theme.apply_theme(app, "light")
    on_light = centre_colour(plus)
    theme.apply_theme(app, "dark")
    on_dark = centre_colour(plus)

    assert on_light.rgb() == theme.light_palette().color(Role.WindowText).rgb()
    assert on_dark.rgb() == theme.dark_palette().color(Role.WindowText).rgb()
    assert on_dark.lightnessF() > 0.5 > on_light.lightnessF()

    # A button that already shows the icon repaints it in the new colours.
    button = QPushButton(plus, "New")
    qtbot.addWidget(button)
    button.show()
    dark_shot = button.grab().toImage()
    theme.apply_theme(app, "light")
    assert button.grab().toImage() != dark_shot


def test_disabled_and_selected_icons_use_their_own_colours(app: QApplication) -> None:
    theme.apply_theme(app, "light")
    palette = theme.light_palette()
    plus = icons.icon("new")
    disabled = centre_colour(plus, QIcon.Mode.Disabled)
    selected = centre_colour(plus, QIcon.Mode.Selected)
    assert disabled.rgb() == palette.color(Group.Disabled, Role.WindowText).rgb()
    assert selected.rgb() == palette.color(Role.HighlightedText).rgb()
    assert disabled.rgb() != centre_colour(plus).rgb()


def test_app_icon_is_full_colour_at_every_size(qapp: QApplication) -> None:
    app_icon = icons.app_icon()
    sizes = {size.width() for size in app_icon.availableSizes()}
    assert {16, 32, 256} <= sizes
    small = app_icon.pixmap(QSize(16, 16)).toImage()
    assert opaque_pixels(small) > 16 * 16 // 2
    colours = {small.pixelColor(x, y).rgb() for x in range(16) for y in range(16)}
    assert len(colours) > 10
