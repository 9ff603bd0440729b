"""The server's database: engines for SQLite or PostgreSQL, sessions, and migrations.

SQLite runs in WAL mode and every transaction that may write starts with ``BEGIN
IMMEDIATE``: writers queue on the busy timeout instead of failing when two transactions
both try to upgrade a read lock. Before that they queue on a gate of their own (a lock
for the threads of a process, a file lock between processes), which wakes the next one
as soon as the database is free; SQLite's busy handler polls instead, with sleeps of up
to 100 ms, which under load made the slowest requests take seconds. Transactions on a
connection with the ``READ_ONLY`` execution option (`read_only`) only read: they start
with a plain ``BEGIN``, run beside the writer and each other, and SQLite refuses any
write in them (``query_only``).

PostgreSQL runs at READ COMMITTED; code that must serialise (event sequence numbers,
resumable uploads) takes row locks.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Column, Connection, Engine, Row, Table, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ClassManager, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import Session, SQLModel, create_engine

from sync.server.config import ServerSettings

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseUnavailable(Exception):
    """The database URL cannot be used (wrong driver, unreachable, refused)."""


def make_engine(settings: ServerSettings) -> Engine:
    url = make_url(settings.resolved_database_url())
    if url.get_backend_name() == "sqlite":
        gate_file = None
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            gate_file = _open_gate_file(Path(url.database))
        gated = type("GatedConnection", (GatedConnection,),
                     {"gate": threading.Lock(), "gate_file": gate_file})  # fmt: skip
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


def _open_gate_file(database: Path) -> int | None:
    """The file whose lock is the write gate between processes (None where there is no
    ``flock``: processes then queue on SQLite's busy handler)."""
    if fcntl is None:
        return None
    gate = database.with_name(database.name + ".write-gate")
    return os.open(gate, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


class GateBusy(Exception):
    """Another write holds SQLite's write gate (raised only under `no_waiting`)."""


_NO_WAITING: ContextVar[bool] = ContextVar("cairn_no_waiting", default=False)


@contextmanager
def no_waiting() -> Iterator[None]:
    """Within: a transaction that may write on SQLite begins only if the write gate is
    free this instant, and raises GateBusy otherwise (never waits for it). For writes
    made on the event loop, which must never wait for another's turn."""
    token = _NO_WAITING.set(True)
    try:
        yield
    finally:
        _NO_WAITING.reset(token)


class GatedConnection(sqlite3.Connection):
    """An SQLite connection whose transactions take its engine's write gate before
    ``BEGIN IMMEDIATE``, and let go of it once COMMIT or ROLLBACK is done, or the
    connection closes.

    The gate is a lock per engine (set by make_engine) that the threads of a process
    queue on, then an exclusive ``flock`` on a file beside the database that processes
    queue on (several server workers, an admin command). Both wake the next in line as
    soon as the holder lets go.
    """

    gate: threading.Lock
    gate_file: int | None = None
    holds_gate = False
    query_only = False

    def set_query_only(self, on: bool) -> None:
        if self.query_only != on:
            self.execute(f"PRAGMA query_only={'ON' if on else 'OFF'}")
            self.query_only = on

    def enter_gate(self) -> None:
        # Under `no_waiting` the gate is taken only if it is free this instant.
        waiting = not _NO_WAITING.get()
        if not self.gate.acquire(blocking=waiting, timeout=BUSY_SECONDS if waiting else -1):
            if waiting:
                raise sqlite3.OperationalError("database is locked")
            raise GateBusy
        if self.gate_file is not None:
            try:
                # Only this process's gate holder waits here, so no timeout of its own:
                # the others time out on the lock above.
                fcntl.flock(
                    self.gate_file, fcntl.LOCK_EX if waiting else fcntl.LOCK_EX | fcntl.LOCK_NB
                )
            except BlockingIOError:
                self.gate.release()
                raise GateBusy from None
            except BaseException:
                self.gate.release()
                raise
        self.holds_gate = True

    def leave_gate(self) -> None:
        if self.holds_gate:
            self.holds_gate = False
            try:
                if self.gate_file is not None:
                    fcntl.flock(self.gate_file, fcntl.LOCK_UN)
            finally:
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
        if connection.get_execution_options().get(READ_ONLY):
            dbapi_connection.set_query_only(True)
            connection.exec_driver_sql("BEGIN")
            return
        dbapi_connection.set_query_only(False)
        dbapi_connection.enter_gate()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_connection.leave_gate()
            raise


#: Execution option of connections whose transactions only read (see `read_only`).
READ_ONLY = "cairn_read_only"


def read_only(engine: Engine) -> Engine:
    """``engine`` for transactions that only read. On SQLite they neither queue for the
    write gate nor hold it, and a write in one fails ("attempt to write a readonly
    database"); on PostgreSQL they are ordinary transactions."""
    return engine.execution_options(**{READ_ONLY: True})


Model = TypeVar("Model", bound=SQLModel)


def table_of(model: type[SQLModel]) -> Table:
    """The table of a model, for Core queries."""
    table = sa_inspect(model).local_table
    assert isinstance(table, Table)
    return table


def detached(model: type[Model], row: Row[*tuple[Any, ...]] | None) -> Model | None:
    """The ``model`` object whose table's columns are in ``row`` (None when there is no
    row, or its primary key is null: the missing side of an outer join), as if a session
    had loaded it and let go: for hot paths that read with Core queries. Routes read it;
    adding it to a session updates, never inserts.

    Made the way the ORM makes the objects it loads (values straight into the instance's
    dict, no attribute events): a tenth of the cost of loading ORM objects, a quarter of
    calling the model's constructor.
    """
    if row is None:
        return None
    manager, columns, key_columns = _loading_plan(model)
    mapping = row._mapping
    values = {key: mapping[column] for key, column in columns}
    if any(values[key] is None for key in key_columns):
        return None
    instance: Model = manager.new_instance()
    instance_state(instance).dict.update(values)
    instance.__pydantic_fields_set__ = set(values)
    make_transient_to_detached(instance)
    return instance


@cache
def _loading_plan(
    model: type[SQLModel],
) -> tuple[ClassManager[Any], tuple[tuple[str, Column[Any]], ...], tuple[str, ...]]:
    """What `detached` needs of a model: its class manager, its columns by attribute
    name, and the names of its primary key's columns."""
    configure_mappers()  # the first of the server's queries usually did it already
    table = table_of(model)
    columns = tuple((column.key, column) for column in table.columns)
    return (
        sa_inspect(model).class_manager,
        columns,
        tuple(column.key for column in table.primary_key.columns),
    )


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


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
