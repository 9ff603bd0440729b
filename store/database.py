"""Engines and sessions for a space file. Only store/ creates them.

One SQLite connection per open space, in WAL mode with `synchronous=FULL`, so a
commit the person made survives a crash or power loss. Transactions begin with
BEGIN IMMEDIATE so that two processes writing the same space take turns instead
of failing half-way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from store.errors import DamagedSpace, NotASpace

SQLITE_MAGIC = b"SQLite format 3\x00"


#: Page size of new space files. Attachments are stored as 1 MiB chunks, and
#: SQLite writes a chunk as a chain of overflow pages: 64 KiB pages make that
#: chain 16 links long instead of 256, which more than doubles attachment
#: throughput, at the cost of larger WAL frames for small commits.
NEW_FILE_PAGE_SIZE = 65536


def _pragmas(connection: sqlite3.Connection, *, new_file: bool = False) -> None:
    if new_file:  # must come before the first write, and before WAL mode
        connection.execute(f"PRAGMA page_size={NEW_FILE_PAGE_SIZE}").fetchall()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
        # Nothing of the space may reach a temp file, even encrypted.
        "PRAGMA temp_store=MEMORY",
        # Freed pages are zeroed: an old key slot must not linger after a passphrase change.
        "PRAGMA secure_delete=ON",
        "PRAGMA journal_size_limit=67108864",
        "PRAGMA busy_timeout=30000",
    ):
        connection.execute(pragma).fetchall()


def looks_like_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def open_engine(path: Path, *, create: bool = False, writer: bool = True) -> Engine:
    """Open (or create) the SQLite file; never creates a file unless asked to.

    A writer engine starts every transaction with BEGIN IMMEDIATE; a reader
    engine with a plain (deferred) BEGIN, so that in WAL mode reads never wait
    for another program's long write, such as a large attachment.
    """
    if not create:
        if path.is_dir():
            raise NotASpace(f"{path} is a folder, not a space file")
        if not path.is_file():
            raise NotASpace(f"{path} does not exist")
        if not looks_like_sqlite(path):
            raise NotASpace(f"{path} is not a Cairn space")
    uri = f"file:{quote(str(path.resolve()))}?mode={'rwc' if create else 'rw'}"

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30
        )
        try:
            _pragmas(connection, new_file=create)
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise DamagedSpace(f"{path} cannot be read as a database: {exc}") from exc
        return connection

    engine = create_engine("sqlite://", creator=connect, poolclass=StaticPool)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
