"""The server's database: engines for SQLite or PostgreSQL, sessions, and migrations.

SQLite runs in WAL mode and every transaction starts with ``BEGIN IMMEDIATE``: writers
queue on the busy timeout instead of failing when two transactions both try to upgrade
a read lock. Within the server process they queue on a lock of their own first (the
write gate), which wakes the next one as soon as the database is free; SQLite's busy
handler polls instead, with sleeps of up to 100 ms, which under load made the slowest
requests take seconds. PostgreSQL runs at READ COMMITTED; code that must serialise (event
sequence numbers, resumable uploads) takes row locks.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from sync.server.config import ServerSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseUnavailable(Exception):
    """The database URL cannot be used (wrong driver, unreachable, refused)."""


def make_engine(settings: ServerSettings) -> Engine:
    url = make_url(settings.resolved_database_url())
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        gated = type("GatedConnection", (GatedConnection,), {"gate": threading.Lock()})
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS,
                               "factory": gated},
            pool_size=20, max_overflow=20,
        )  # fmt: skip
        _configure_sqlite(engine)
        return engine
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    raise DatabaseUnavailable(
        f"unsupported database {url.get_backend_name()!r}: use sqlite:/// or postgresql+psycopg://"
    )


#: How long a transaction waits for another to finish before "database is locked".
BUSY_SECONDS = 30


class GatedConnection(sqlite3.Connection):
    """An SQLite connection whose transactions take its engine's write gate (one lock
    per engine, set by make_engine) before ``BEGIN IMMEDIATE``, and let go of it once
    COMMIT or ROLLBACK is done, or the connection closes."""

    gate: threading.Lock
    holds_gate = False

    def enter_gate(self) -> None:
        if not self.gate.acquire(timeout=BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        self.holds_gate = True

    def leave_gate(self) -> None:
        if self.holds_gate:
            self.holds_gate = False
            self.gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_gate()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_gate()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_gate()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a receipt the server signed must survive a power cut, or a device would
        # hold proof of a submission the server no longer has (NORMAL measured no faster).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        dbapi_connection.enter_gate()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_connection.leave_gate()
            raise


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One session for one job; commit is the caller's, anything uncommitted rolls back."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (run on every start; a no-op when it already is)."""
    command.upgrade(alembic_config(engine), "head")
