"""The server's settings: where its data lives, and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

MiB = 1024 * 1024


def default_data_dir() -> Path:
    """The platform's data folder for the server (e.g. ~/.local/share/cairn-server)."""
    return Path(platformdirs.user_data_dir("cairn-server", appauthor=False))


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` attempts per ``seconds`` for one key (an address, an email)."""

    count: int
    seconds: float


@dataclass(frozen=True)
class ServerSettings:
    """Everything configurable; the defaults give a working server on one machine."""

    data_dir: Path = field(default_factory=default_data_dir)
    #: SQLAlchemy URL; None keeps an embedded SQLite database in ``data_dir``.
    database_url: str | None = None
    name: str = "Cairn workspace server"
    #: Base address for links the server hands out (share pages); None: the request's own.
    public_url: str | None = None
    #: Largest JSON request body.
    max_body_bytes: int = 16 * MiB
    #: Largest single attachment.
    max_attachment_bytes: int = 4096 * MiB
    #: Largest piece of an attachment in one request (uploads are resumable pieces).
    max_chunk_bytes: int = 32 * MiB
    device_token_days: int = 365
    invite_days: int = 14
    session_hours: int = 12
    sign_in_limit: RateLimit = RateLimit(10, 60.0)
    enrol_limit: RateLimit = RateLimit(10, 60.0)
    comment_limit: RateLimit = RateLimit(5, 60.0)
    #: Largest page any listing or pull returns.
    max_page: int = 500
    #: Secure cookies: None means "when the request came over HTTPS".
    cookie_secure: bool | None = None

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'server.sqlite3'}"
