"""`cairn serve` and `cairn server ...`: run and administer the workspace server.
(Placeholder until the admin command line lands: only `serve` for now.)"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from sync.server.config import ServerSettings, default_data_dir


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="cairn")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("--data", type=Path, default=None)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--database-url", default=None)
    args = parser.parse_args(list(argv))
    from sync.server.runner import serve as run

    settings = ServerSettings(
        data_dir=args.data or default_data_dir(), database_url=args.database_url
    )
    run(settings, args.host, args.port)
    return 0
