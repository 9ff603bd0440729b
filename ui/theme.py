"""Light and dark palettes for the Fusion style, and following the system's choice."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from ui import icons

THEMES = ("system", "light", "dark")

#: The application property holding the applied choice; colour-scheme changes
#: from the system only re-theme the app while it says "system".
_CHOICE_PROPERTY = "cairnTheme"
_HOOKED_PROPERTY = "cairnThemeFollowsSystem"

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup

# One accent (a muted teal-blue) on cool neutral greys. Every text colour keeps
# at least 4.5:1 against the backgrounds it is drawn on (tests/ui/test_theme.py).
_LIGHT: dict[QPalette.ColorRole, str] = {
    _Role.Window: "#f3f4f6",
    _Role.WindowText: "#1f2328",
    _Role.Base: "#ffffff",
    _Role.AlternateBase: "#f6f7f9",
    _Role.Text: "#1f2328",
    _Role.PlaceholderText: "#5f6670",
    _Role.Button: "#fbfbfc",
    _Role.ButtonText: "#1f2328",
    _Role.Highlight: "#2c6e8a",
    _Role.HighlightedText: "#ffffff",
    _Role.Accent: "#2c6e8a",
    _Role.ToolTipBase: "#2b3038",
    _Role.ToolTipText: "#f3f4f6",
    _Role.Link: "#1f6a8a",
    _Role.LinkVisited: "#6a4a96",
    _Role.BrightText: "#ffffff",
    _Role.Light: "#ffffff",
    _Role.Midlight: "#e9ebee",
    _Role.Mid: "#c9cdd3",
    _Role.Dark: "#9ca3ab",
    _Role.Shadow: "#767d86",
}
_LIGHT_DISABLED: dict[QPalette.ColorRole, str] = {
    _Role.WindowText: "#9aa0a8",
    _Role.Text: "#9aa0a8",
    _Role.ButtonText: "#9aa0a8",
    _Role.PlaceholderText: "#b4b9c0",
    _Role.Base: "#f6f7f9",
    _Role.Button: "#f3f4f6",
    _Role.Highlight: "#c9cdd3",
    _Role.HighlightedText: "#ffffff",
}

_DARK: dict[QPalette.ColorRole, str] = {
    _Role.Window: "#1d2025",
    _Role.WindowText: "#e4e6ea",
    _Role.Base: "#262a30",
    _Role.AlternateBase: "#2b2f36",
    _Role.Text: "#e4e6ea",
    _Role.PlaceholderText: "#9aa1ab",
    _Role.Button: "#30343b",
    _Role.ButtonText: "#e4e6ea",
    _Role.Highlight: "#2f6a85",
    _Role.HighlightedText: "#ffffff",
    _Role.Accent: "#2f6a85",
    _Role.ToolTipBase: "#31363e",
    _Role.ToolTipText: "#eceef1",
    _Role.Link: "#7cb7d4",
    _Role.LinkVisited: "#b9a3e0",
    _Role.BrightText: "#ffffff",
    _Role.Light: "#40454e",
    _Role.Midlight: "#353a41",
    _Role.Mid: "#2a2e34",
    _Role.Dark: "#111316",
    _Role.Shadow: "#000000",
}
_DARK_DISABLED: dict[QPalette.ColorRole, str] = {
    _Role.WindowText: "#6b717b",
    _Role.Text: "#6b717b",
    _Role.ButtonText: "#6b717b",
    _Role.PlaceholderText: "#565b63",
    _Role.Base: "#22252a",
    _Role.Button: "#272a30",
    _Role.Highlight: "#3a3f47",
    _Role.HighlightedText: "#9aa0a8",
}

# Error text: the light red is the one first_run.py has used since the start.
_LIGHT_ERROR = "#b3261e"
_DARK_ERROR = "#f28b82"


def theme_label(choice: str) -> str:
    """The translated name of a theme choice, for menus and settings."""
    labels = {
        "system": QCoreApplication.translate("Theme", "Same as the system"),
        "light": QCoreApplication.translate("Theme", "Light"),
        "dark": QCoreApplication.translate("Theme", "Dark"),
    }
    return labels[choice]


def _palette(
    colours: dict[QPalette.ColorRole, str], disabled: dict[QPalette.ColorRole, str]
) -> QPalette:
    palette = QPalette()
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))  # every group: active, inactive, disabled
    for role, colour in disabled.items():
        palette.setColor(_Group.Disabled, role, QColor(colour))
    return palette


def light_palette() -> QPalette:
    """The light palette: near-white surfaces, dark grey text, a teal-blue accent."""
    return _palette(_LIGHT, _LIGHT_DISABLED)


def dark_palette() -> QPalette:
    """The dark palette: deep grey surfaces, soft white text, the same accent."""
    return _palette(_DARK, _DARK_DISABLED)


def relative_luminance(colour: QColor) -> float:
    """WCAG 2.x relative luminance of an opaque sRGB colour, 0 (black) to 1 (white)."""

    def linear(channel: float) -> float:
        if channel <= 0.04045:
            return channel / 12.92
        return float(((channel + 0.055) / 1.055) ** 2.4)

    return (
        0.2126 * linear(colour.redF())
        + 0.7152 * linear(colour.greenF())
        + 0.0722 * linear(colour.blueF())
    )


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2.x contrast ratio of two colours, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def is_dark(palette: QPalette) -> bool:
    """Whether `palette` draws light text on dark surfaces."""
    return relative_luminance(palette.color(_Role.Window)) < 0.2


def error_color(palette: QPalette) -> QColor:
    """The colour for error text on `palette`'s window and base backgrounds."""
    return QColor(_DARK_ERROR if is_dark(palette) else _LIGHT_ERROR)


def hint_color(palette: QPalette) -> QColor:
    """The colour for quiet hint text (captions, empty states) on `palette`."""
    return palette.color(_Group.Active, _Role.PlaceholderText)


def error_style() -> str:
    """A style sheet giving error text a colour legible on the current app palette."""
    return f"color: {error_color(QGuiApplication.palette()).name()};"


def hint_style() -> str:
    """A style sheet giving hint text the current app palette's hint colour."""
    return f"color: {hint_color(QGuiApplication.palette()).name()};"


def effective_theme(app: QGuiApplication, choice: str) -> str:
    """Whether `choice` means "light" or "dark" now ("system" asks the platform)."""
    if choice in ("light", "dark"):
        return choice
    scheme = app.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def _set_palette(app: QApplication, theme: str) -> None:
    icons.clear_cache()
    old_error = error_style()
    # Widgets repaint on a palette change, and icons.SvgIconEngine reads the new
    # palette while painting, so icons already on screen take the new colours.
    app.setPalette(dark_palette() if theme == "dark" else light_palette())
    new_error = error_style()
    if new_error != old_error:  # error labels styled earlier take the new colour too
        for widget in app.allWidgets():
            if widget.styleSheet() == old_error:
                widget.setStyleSheet(new_error)


def _on_color_scheme_changed(app: QApplication, scheme: Qt.ColorScheme) -> None:
    if app.property(_CHOICE_PROPERTY) == "system":
        _set_palette(app, "dark" if scheme == Qt.ColorScheme.Dark else "light")


def apply_theme(app: QApplication, choice: str) -> None:
    """Use Fusion with the palette for `choice` ("system", "light" or "dark").

    An unknown choice means "system". While the choice is "system" the app
    follows the platform's colour scheme as it changes.
    """
    if choice not in THEMES:
        choice = "system"
    app.setProperty(_CHOICE_PROPERTY, choice)
    if not app.property(_HOOKED_PROPERTY):
        app.styleHints().colorSchemeChanged.connect(partial(_on_color_scheme_changed, app))
        app.setProperty(_HOOKED_PROPERTY, True)
    # Ask the platform for the same scheme (Qt 6.8+), so native title bars and
    # dialogs match; the property above keeps the change from re-theming us.
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):
        if choice == "system":
            hints.unsetColorScheme()
        else:
            scheme = Qt.ColorScheme.Dark if choice == "dark" else Qt.ColorScheme.Light
            hints.setColorScheme(scheme)
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    _set_palette(app, effective_theme(app, choice))
