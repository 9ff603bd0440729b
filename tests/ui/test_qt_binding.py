"""Guards against a known-bad Qt binding (see the PySide6 pin in pyproject.toml)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_calls_returning_nothing_do_not_leak_references_to_none() -> None:
    # PySide6 6.12.0 dropped a reference to None per call; Python 3.11 then aborts
    # ("none_dealloc") after a few thousand calls, i.e. minutes into using the app.
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(2000):
        probe.setObjectName("probe")
    assert abs(sys.getrefcount(None) - before) < 100
