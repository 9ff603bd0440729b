"""Dependencies of the routes: the settings, a database session, the calling device."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col

from sync.server.config import ServerSettings
from sync.server.db import (
    READ_ONLY,
    GateBusy,
    detached,
    is_sqlite,
    no_waiting,
    read_only,
    table_of,
)
from sync.server.errors import Forbidden, Unauthorised
from sync.server.models import Device, Membership, User, Workspace, utc_now
from sync.server.security import hash_token

# Dependencies that neither wait nor compute are `async def`: FastAPI runs a plain `def`
# one in a worker thread, and each hand-over to a thread and back costs more than the
# work (under load, waiting for the GIL too).


async def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


#: Requests holding a read-only database session at once, in each worker process, and
#: as many holding one that may write; the others wait for one without taking a worker
#: thread. A session is held only while a route runs (never while a client sends a body
#: or reads an answer), and the work it does takes turns on Python's GIL anyway: with 50
#: devices that never pause, 4 answered 15% more requests than 20, each costing less CPU
#: (tests/benchmarks/bench_server.py). Both together must stay well below the worker
#: threads (anyio's 40): on SQLite a request holding the write lock still needs a worker
#: to finish, and when every worker was waiting for that lock, nothing moved for the
#: 30 s busy timeout.
MAX_SESSIONS = 4


#: Methods whose routes only read, unless marked with `writes`: their sessions are
#: read-only (`db.read_only`), so on SQLite they run beside the writer instead of
#: queueing for it.
READING_METHODS = frozenset({"GET", "HEAD"})

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
Result = TypeVar("Result")


def writes(endpoint: Endpoint) -> Endpoint:
    """Mark a GET route that writes (put it under the route decorator): its session
    may write."""
    endpoint.cairn_writes = True  # type: ignore[attr-defined]
    return endpoint


@asynccontextmanager
async def session_for(
    request: Request, engine: Engine, *, reading: bool = False
) -> AsyncIterator[Session]:
    """A database session, once one of the process's `MAX_SESSIONS` slots for readers,
    or for writers, is free (the wait takes no thread); read-only if ``reading``. What
    is not committed rolls back."""
    state = request.app.state
    if getattr(state, "session_slots", None) is None:
        # Readers and writers have slots of their own: on SQLite a writer may wait for
        # another's turn, and readers must not queue behind it.
        state.session_slots = (anyio.Semaphore(MAX_SESSIONS), anyio.Semaphore(MAX_SESSIONS))
    if reading:
        engine = read_only(engine)
    async with state.session_slots[reading]:
        session = Session(engine, expire_on_commit=False)
        try:
            yield session
        finally:
            if session.in_transaction() and not reading:
                # Rolling back a write may wait for the database: in a thread of its own,
                # never queued behind requests that wait for this transaction's lock.
                # (Ending a read waits for nothing.)
                await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
            else:
                session.close()


async def get_session(
    request: Request, engine: Annotated[Engine, Depends(get_engine)]
) -> AsyncIterator[Session]:
    """One session per request, read-only for GET and HEAD (for the route's time only:
    see `SessionDep`). Routes commit what they change; the rest rolls back."""
    endpoint = request.scope.get("endpoint")
    reading = request.method in READING_METHODS and not getattr(endpoint, "cairn_writes", False)
    async with session_for(request, engine, reading=reading) as session:
        yield session


_DEVICE, _MEMBERSHIP, _USER, _WORKSPACE = (
    table_of(m) for m in (Device, Membership, User, Workspace)
)
_DEVICE_QUERY = (
    select(_DEVICE, _MEMBERSHIP, _USER, _WORKSPACE)
    .select_from(
        _DEVICE.outerjoin(_MEMBERSHIP, _MEMBERSHIP.c.id == _DEVICE.c.membership_id)
        .outerjoin(_USER, _USER.c.id == _MEMBERSHIP.c.user_id)
        .outerjoin(_WORKSPACE, _WORKSPACE.c.id == _MEMBERSHIP.c.workspace_id)
    )
    .where(_DEVICE.c.token_hash == bindparam("token_hash"))
)


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
#: Given back as soon as the route returns, before the answer is sent: a slow client
#: downloading a file holds no session.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

#: Scopes a device token carries; every API route that acts for a device names one.
DEVICE_SCOPES = ("pull", "submit", "share", "review")


_BEARER = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class DeviceContext:
    """The device behind a bearer token, with its membership, person and workspace."""

    device: Device
    membership: Membership
    user: User
    workspace: Workspace

    def require(self, scope: str) -> None:
        if scope not in self.device.scopes.split():
            raise Forbidden(f"this device may not {scope}", code="scope_missing")


async def on_database(session: Session, work: Callable[[], Result]) -> Result:
    """Run ``work``, which reads through ``session`` and writes nothing, where it costs
    least: on SQLite right here on the event loop, elsewhere in a worker thread.

    A read-only transaction on SQLite waits for nothing (readers never wait for the
    writer in WAL mode, and pages come from the cache), and handing work to a thread and
    back cost more CPU than the work itself: about 1 ms of a 2 ms request. A write on
    SQLite may wait for another's turn, which must never stall the event loop: ``session``
    must be read-only there (`session_for` with ``reading``), and a write in it fails.
    PostgreSQL answers over the network, so its work always goes to a thread.
    """
    if is_sqlite(session.get_bind()):
        return work()
    return await anyio.to_thread.run_sync(work)


async def writing(session: Session, work: Callable[[], Result]) -> Result:
    """Run ``work``, which writes through ``session`` (a session that may write), where
    it costs least: on SQLite right here on the event loop if the write gate is free
    this instant, else in a worker thread that waits for its turn; elsewhere in a
    worker thread. ``work`` must begin with the database: nothing it does before its
    first statement may matter if it is run twice."""
    if is_sqlite(session.get_bind()):
        try:
            with no_waiting():
                return work()
        except GateBusy:
            session.rollback()  # nothing began: the gate was taken before BEGIN
    return await anyio.to_thread.run_sync(work)


async def current_device(
    request: Request, engine: Annotated[Engine, Depends(get_engine)]
) -> DeviceContext:
    """The calling device; 401 with a precise code for a missing, unknown, expired or
    revoked token. Checked in a read-only session of its own, given back at once: a
    route that waits for its client (an attachment piece streams its body) holds no
    session meanwhile. It takes no session slot: a route may hold one already, and one
    query that waits for nothing needs no turn."""
    session = Session(read_only(engine), expire_on_commit=False)
    try:
        ctx = await on_database(session, lambda: authenticate(request, session))
    finally:
        session.close()
    now = utc_now()
    if ctx.device.last_seen_at is None or now - ctx.device.last_seen_at > timedelta(minutes=1):
        # Use is recorded at most once a minute, in a short write of its own. A write on
        # every request would serialise them.
        with Session(engine) as session:
            await writing(session, lambda: _record_use(session, ctx.device, now))
    return ctx


def _record_use(session: Session, device: Device, now: datetime) -> None:
    session.execute(update(Device).where(col(Device.id) == device.id).values(last_seen_at=now))
    session.commit()
    set_committed_value(device, "last_seen_at", now)  # as stored, not a change to flush


def authenticate(request: Request, session: Session) -> DeviceContext:
    """The device behind the request's bearer token (see `current_device`); only
    reads."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised(
            "a device token is needed (Authorization: Bearer ...)",
            code="token_missing",
            headers=_BEARER,
        )
    # One query for the device and its account, in a read-only transaction of its own
    # (on SQLite it does not queue for the writer). It runs before every API request,
    # so it is a Core query: loading four ORM objects cost four times as much.
    connection = session.connection(execution_options={READ_ONLY: True})
    row = connection.execute(_DEVICE_QUERY, {"token_hash": hash_token(token.strip())}).first()
    if row is None:
        raise Unauthorised("this device token is not known", code="token_unknown", headers=_BEARER)
    device = detached(Device, row)
    assert device is not None  # found by its token
    membership, user = detached(Membership, row), detached(User, row)
    workspace = detached(Workspace, row)
    if device.revoked_at is not None:
        raise Unauthorised(
            "this device has been revoked; connect again with a new invite",
            code="token_revoked", headers=_BEARER,
        )  # fmt: skip
    now = utc_now()
    if device.expires_at <= now:
        raise Unauthorised(
            "this device token has expired; connect again with a new invite",
            code="token_expired", headers=_BEARER,
        )  # fmt: skip
    if membership is None or user is None or workspace is None or user.disabled:
        raise Unauthorised("this device's account no longer exists", code="token_revoked")
    # End the read before the route's own transaction begins.
    session.commit()
    return DeviceContext(device=device, membership=membership, user=user, workspace=workspace)


DeviceDep = Annotated[DeviceContext, Depends(current_device)]
