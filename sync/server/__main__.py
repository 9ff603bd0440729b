"""``python -m sync.server``: the same as ``cairn serve``."""

from __future__ import annotations

import sys

from sync.server.cli import main

sys.exit(main(["serve", *sys.argv[1:]]))
