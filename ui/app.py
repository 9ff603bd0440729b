"""Starting the desktop app."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from ui.main_window import MainWindow


def run(argv: list[str] | None = None) -> int:
    """Start the desktop app; returns the exit code of the event loop."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Cairn")
    app.setOrganizationName("Cairn")
    window = MainWindow()
    window.show()
    return int(app.exec())
