"""Open the server's database (`open_database`) and start the server with uvicorn
(`cairn serve`)."""

from __future__ import annotations

import copy
import logging
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from sync.server import keys
from sync.server.balance import BalancedHttpProtocol, ConnectionShares, install
from sync.server.config import ServerSettings
from sync.server.db import DatabaseUnavailable, make_engine, migrate, session_scope

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


def describe_database(settings: ServerSettings) -> str:
    """Where the data is, for people: the URL with its password hidden."""
    if settings.database_url is None:
        return f"SQLite in {settings.data_dir}"
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database given"  # unparsable: it may hold a password, so not echoed


def open_database(settings: ServerSettings) -> Engine:
    """An engine on the migrated database, with a signing key made if there was none.

    Raises DatabaseUnavailable with one readable sentence (never the password) when the
    URL is unusable, the database cannot be reached or refuses us, or its schema is newer
    than this server; OSError when the data folder cannot be made.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.files_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    where = describe_database(settings)
    try:
        engine = make_engine(settings)
    except ArgumentError as exc:
        raise DatabaseUnavailable(
            "the database URL cannot be read; expected sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"
        ) from exc
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(
            f"the database driver in {where} is not available; "
            "use sqlite:/// or postgresql+psycopg://"
        ) from exc
    try:
        with _one_at_a_time(engine):
            migrate(engine)
            with session_scope(engine) as session:
                keys.active_key(session)
                session.commit()
    except DBAPIError as exc:
        engine.dispose()
        raise DatabaseUnavailable(f"cannot use the database {where}: {_reason(exc)}") from exc
    except CommandError as exc:
        engine.dispose()
        # An unknown revision: the database was migrated by a newer Cairn server.
        raise DatabaseUnavailable(
            f"the database {where} was set up by a newer Cairn server ({exc}); "
            "upgrade Cairn to use it"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return engine


#: PostgreSQL advisory lock held while a process sets the database up.
_SETUP_LOCK = int.from_bytes(b"cairn-db", "big")


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """Two processes setting up a new PostgreSQL database at once (a server starting while
    an admin command runs) would both create the tables, or both a signing key; they take
    turns. SQLite needs no lock: every transaction there starts with BEGIN IMMEDIATE."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({_SETUP_LOCK})")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_SETUP_LOCK})")


def _reason(exc: DBAPIError) -> str:
    """The driver's own words on one line (psycopg's never include the password)."""
    lines = [" ".join(line.split()) for line in str(exc.orig).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc.orig).__name__


def prepare(settings: ServerSettings) -> None:
    """Before the server starts: migrate the database, make sure there is a signing key,
    and sweep up after the last run."""
    open_database(settings).dispose()
    # Pieces of uploads that were in flight when the server stopped: never resumed
    # (the partial file they were appended to is, up to the last whole piece). Only
    # here, never in open_database: admin commands run beside a live server, whose
    # pieces in flight are still being written.
    for leftover in (settings.files_dir / "partial").glob("*.piece"):
        leftover.unlink(missing_ok=True)


class CannotListen(Exception):
    """The address cannot be listened on (in use, not this machine's, no such name)."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before anything claims the server has started."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        server = socket.create_server((host, port), family=family[0][0])
        # asyncio turns Nagle off (TCP_NODELAY) only for connections whose socket says
        # IPPROTO_TCP, and accepted ones inherit the listener's proto (0 here): without
        # it, every answer on a kept-alive connection waited ~40 ms for a delayed ACK.
        return socket.socket(server.family, server.type, socket.IPPROTO_TCP,
                             fileno=server.detach())  # fmt: skip
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CannotListen(f"cannot listen on {host} port {port}: {reason}") from exc


class WorkerApp:
    """The server's ASGI app for worker processes (``--workers``): it travels to each
    worker as its settings and the workers' shared connection counts only, and each
    builds its own app, with its own database connections, on the first event it gets
    (uvicorn's lifespan startup)."""

    def __init__(self, settings: ServerSettings, shares: ConnectionShares) -> None:
        self.settings = settings
        self.shares = shares
        self.app: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "shares": self.shares}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # In the worker process, as it starts.
        self.settings = state["settings"]
        self.shares = state["shares"]
        self.app = None
        install(self.shares)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            from sync.server.app import create_app

            self.app = create_app(self.settings)
        await self.app(scope, receive, send)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with share tokens blanked out of the access log (in every
    worker process: each sets its logging up from this)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": RedactSecrets}
    config["handlers"]["access"]["filters"] = ["redact"]
    return config


def serve(
    settings: ServerSettings,
    host: str = "127.0.0.1",
    port: int = 8765,
    forwarded_allow_ips: str = "127.0.0.1",
    on_listening: Callable[[str], None] | None = None,
    workers: int = 1,
) -> None:
    """Run until Ctrl+C or SIGTERM (both return normally after a graceful shutdown).

    ``on_listening`` gets the server's address once the socket is bound (a ``--port 0``
    shows the port chosen). Only proxies at ``forwarded_allow_ips`` are believed about
    the client's address and scheme (X-Forwarded-For / -Proto: Secure cookies behind TLS).
    ``workers`` processes share the socket (uvicorn's supervisor restarts one that dies),
    and their kept-alive connections (`sync.server.balance`).
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from sync.server.app import create_app

    prepare(settings)
    sock = listen(host, port)
    try:
        app = (
            WorkerApp(settings, ConnectionShares(workers)) if workers > 1 else create_app(settings)
        )
        config = uvicorn.Config(
            app, log_level="info", log_config=log_config(), proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips, server_header=False, workers=workers,
            # Several workers keep their kept-alive connections evenly spread.
            http=BalancedHttpProtocol if workers > 1 else "auto",
        )  # fmt: skip
        bound_host, bound_port = sock.getsockname()[:2]
        if on_listening is not None:
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            on_listening(f"http://{shown}:{bound_port}")
        # uvicorn stops gracefully on either signal, then raises it again: SIGTERM then
        # becomes KeyboardInterrupt like Ctrl+C instead of killing the process. (The
        # supervisor of several workers handles both signals itself and returns.)
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM) if in_main else None
        if in_main:
            signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            if workers > 1:
                Multiprocess(config, sockets=[sock]).run()
            else:
                uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
    finally:
        sock.close()
