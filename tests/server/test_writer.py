"""The submission writer (sync/server/writer.py): submissions waiting to be written go
in one transaction, and one bad submission never fails the others."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sync.server.config import ServerSettings
from sync.server.db import make_engine, migrate
from sync.server.errors import Conflict
from sync.server.models import (
    Device,
    Membership,
    Submission,
    SubmissionAsset,
    SubmissionPoint,
    User,
    Workspace,
)
from sync.server.writer import Outcome, PendingSubmission, SubmissionWriter
from tests.live_server import PostgresCluster


@dataclass
class World:
    engine: Engine
    membership_id: str
    workspace_id: str
    device_id: str
    open_point: str
    locked_point: str


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresCluster | None
) -> Iterator[World]:
    url = None
    if request.param == "postgresql":
        if postgres is None:
            pytest.skip("PostgreSQL is not available (CAIRN_REQUIRE_POSTGRES makes this fail)")
        url = postgres.new_database()
    engine = make_engine(ServerSettings(data_dir=tmp_path, database_url=url))
    migrate(engine)
    with Session(engine, expire_on_commit=False) as session:
        workspace = Workspace(name="Team")
        user = User(email="ada@example.org")
        session.add_all([workspace, user])
        session.flush()
        membership = Membership(workspace_id=workspace.id, user_id=user.id, role="member")
        open_point = SubmissionPoint(workspace_id=workspace.id, name="Open", mode="open")
        locked_point = SubmissionPoint(workspace_id=workspace.id, name="Review", mode="locked")
        session.add_all([membership, open_point, locked_point])
        session.flush()
        device = Device(
            membership_id=membership.id, token_hash=uuid.uuid4().hex, name="Laptop",
            identity_key="ab" * 32, scopes="submit",
            expires_at=datetime.now(UTC) + timedelta(days=30),
        )  # fmt: skip
        session.add(device)
        session.commit()
    yield World(engine, membership.id, workspace.id, device.id, open_point.id, locked_point.id)
    engine.dispose()
    if url is not None and postgres is not None:
        postgres.drop_database(url)


def pending(
    world: World, *, submission_id: str | None = None, point: str | None = None,
    locked: bool = False,
) -> PendingSubmission:  # fmt: skip
    submission_id = submission_id or str(uuid.uuid4())
    row = {
        "id": submission_id, "membership_id": world.membership_id,
        "workspace_id": world.workspace_id,
        "point_id": point or (world.locked_point if locked else world.open_point),
        "device_id": world.device_id, "payload": b"{}", "payload_sha256": "0" * 64,
        "signature": "c2ln", "identity_key": "ab" * 32, "signature_valid": True,
        "received_at": datetime.now(UTC), "receipt": "{}", "status": "received",
        "withdrawn_at": None,
    }  # fmt: skip
    asset = {"submission_id": submission_id, "asset_id": uuid.uuid4().hex,
             "title": "SMART plan", "kind": "plan"}  # fmt: skip
    return PendingSubmission(row, [asset], [], "Review" if locked else None)


def stored(world: World) -> list[str]:
    with Session(world.engine) as session:
        return sorted(session.exec(select(Submission.id)).all())


def count_transactions(engine: Engine) -> list[int]:
    """A counter of the transactions begun on ``engine`` from now on."""
    begun = [0]

    @event.listens_for(engine, "begin")
    def _count(_connection: object) -> None:
        begun[0] += 1

    return begun


def test_a_batch_is_written_in_one_transaction_and_twins_in_it_are_written_once(
    world: World,
) -> None:
    writer = SubmissionWriter(world.engine)
    first, second = pending(world), pending(world)
    twin = pending(world, submission_id=first.id)
    begun = count_transactions(world.engine)

    outcomes = writer.write_batch([first, second, twin])

    assert outcomes == ["stored", "stored", "exists"]
    assert begun[0] == 1
    assert stored(world) == sorted([first.id, second.id])
    with Session(world.engine) as session:
        assets = session.exec(select(SubmissionAsset.submission_id)).all()
    assert sorted(assets) == sorted([first.id, second.id])
    # Sent again later (a retry), it is there already.
    assert writer.write_batch([pending(world, submission_id=second.id)]) == ["exists"]


def test_a_locked_point_takes_one_submission_per_member_even_within_a_batch(
    world: World,
) -> None:
    writer = SubmissionWriter(world.engine)
    outcomes = writer.write_batch([pending(world, locked=True), pending(world, locked=True)])
    assert outcomes[0] == "stored"
    assert isinstance(outcomes[1], Conflict)
    assert outcomes[1].code == "point_locked"
    again = writer.write_batch([pending(world, locked=True)])
    assert isinstance(again[0], Conflict)
    assert len(stored(world)) == 1


def test_a_bad_submission_fails_alone_and_the_rest_of_its_batch_is_written(
    world: World,
) -> None:
    writer = SubmissionWriter(world.engine)
    good, also_good = pending(world), pending(world)
    bad = pending(world, point=str(uuid.uuid4()))  # no such point: a foreign key fails
    jobs: list[tuple[PendingSubmission, Future[Outcome]]] = [
        (p, Future()) for p in (good, bad, also_good)
    ]
    for _, future in jobs:
        future.set_running_or_notify_cancel()

    writer._write(jobs)

    assert jobs[0][1].result() == "stored"
    assert jobs[2][1].result() == "stored"
    with pytest.raises(IntegrityError):
        jobs[1][1].result()
    assert stored(world) == sorted([good.id, also_good.id])


def test_submissions_written_at_once_from_many_threads_share_transactions(
    world: World,
) -> None:
    writer = SubmissionWriter(world.engine)
    begun = count_transactions(world.engine)
    start = threading.Barrier(24)

    def write(_: int) -> tuple[str, Outcome]:
        submission = pending(world)
        start.wait()
        return submission.id, writer.write(submission)

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(write, range(24)))

    assert [outcome for _, outcome in results] == ["stored"] * 24
    assert stored(world) == sorted(submission_id for submission_id, _ in results)
    # Everyone waited together: far fewer transactions than submissions.
    assert begun[0] < 24


def test_a_submission_given_up_before_its_batch_is_not_written(world: World) -> None:
    writer = SubmissionWriter(world.engine)
    given_up, kept = pending(world), pending(world)
    cancelled: Future[Outcome] = Future()
    cancelled.cancel()
    writer._queue.put((given_up, cancelled))
    assert writer.write(kept) == "stored"
    assert stored(world) == [kept.id]
    with Session(world.engine) as session:
        assert (
            session.exec(select(Submission).where(col(Submission.id) == given_up.id)).first()
            is None
        )


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_on_sqlite_a_write_from_the_event_loop_never_waits_for_the_gate(
    world: World, tmp_path: Path
) -> None:
    """Written in place when the gate is free; while another process holds it, the
    submission waits in the writer thread and the event loop goes on."""
    writer = SubmissionWriter(world.engine)
    other_process = make_engine(ServerSettings(data_dir=tmp_path))  # its own gate
    free_now, later = pending(world), pending(world)

    async def scenario() -> tuple[Outcome, float, bool, Outcome]:
        first = await writer.write_async(free_now)
        holder = other_process.connect()
        held = holder.begin()  # BEGIN IMMEDIATE: the other process has the turn
        threading.Timer(1.0, held.commit).start()
        task = asyncio.ensure_future(writer.write_async(later))
        began = time.monotonic()
        await asyncio.sleep(0.05)
        loop_went_on = time.monotonic() - began
        waiting = not task.done()
        second = await task
        holder.close()
        return first, loop_went_on, waiting, second

    first, loop_went_on, waiting, second = asyncio.run(scenario())
    other_process.dispose()
    assert first == "stored"
    assert loop_went_on < 0.5  # the loop did not wait for the other process's turn
    assert waiting
    assert second == "stored"
    assert stored(world) == sorted([free_now.id, later.id])
