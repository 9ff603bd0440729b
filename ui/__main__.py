"""`python -m ui` starts the desktop app (work in progress; see the desktop issue)."""

from __future__ import annotations

import sys

from ui.app import run

sys.exit(run())
