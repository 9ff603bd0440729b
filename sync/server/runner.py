"""Start the server with uvicorn (`cairn serve`)."""

from __future__ import annotations

import logging
import re

import uvicorn

from sync.server import keys
from sync.server.app import create_app
from sync.server.config import ServerSettings
from sync.server.db import make_engine, migrate, session_scope

# Share pages are addressed by a secret token, and tokens never belong in logs.
_SECRET_PATH = re.compile(r"(/s/)[A-Za-z0-9_\-]+")


class RedactSecrets(logging.Filter):
    """Blank out share tokens in uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PATH.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def prepare(settings: ServerSettings) -> None:
    """Migrate the database and make sure there is a signing key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.files_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings)
    migrate(engine)
    with session_scope(engine) as session:
        keys.active_key(session)
        session.commit()
    engine.dispose()


def serve(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8765) -> None:
    prepare(settings)
    app = create_app(settings)
    logging.getLogger("uvicorn.access").addFilter(RedactSecrets())
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True,
                forwarded_allow_ips="127.0.0.1", server_header=False)  # fmt: skip
