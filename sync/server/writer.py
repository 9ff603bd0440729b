"""Writing received submissions in batches: one transaction for every submission that
is waiting to be written (group commit).

Submissions are the server's busiest writes, and on SQLite writes take turns (see
`sync.server.db`). Under load the turn, not the work, was what a submission waited
for: a write transaction of three inserts held the write gate for 5 ms and more,
because the thread holding it took turns on Python's GIL with every other request of
its process at each step. A process's `SubmissionWriter` takes every submission waiting
to be written, writes them all in one transaction (one turn at the gate, one fsync),
then answers each. Nothing is answered before its transaction has committed.

A batch that fails as a whole (a broken row, or on PostgreSQL a twin that raced in on
another worker) is written again one submission per transaction, so that one bad
submission never fails the others.

On SQLite a submission is written right on the event loop when the write gate is free
that instant (`write_async`), and waits in the writer thread only when it is not: the
event loop never waits for another's turn.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, and_, exists, insert
from sqlalchemy import select as select_columns

from sync.server.db import GateBusy, is_sqlite, no_waiting, table_of
from sync.server.errors import Conflict
from sync.server.models import Submission, SubmissionAsset, SubmissionAttachment

_SUBMISSIONS, _ASSETS, _ATTACHMENTS = (
    table_of(m) for m in (Submission, SubmissionAsset, SubmissionAttachment)
)

#: What became of a pending submission: written now, or its id was there already (a
#: retry, or a twin sent at once on another connection: the caller answers as for a
#: retry).
Outcome = Literal["stored", "exists"]


@dataclass(frozen=True)
class PendingSubmission:
    """The rows of one received submission, checked and signed, waiting to be written."""

    submission: dict[str, Any]
    assets: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    #: The point's name if it is locked on submission: refused if the member already
    #: has a submission there, checked again inside the write.
    locked_point: str | None = None

    @property
    def id(self) -> str:
        return str(self.submission["id"])

    @property
    def digest(self) -> str:
        return str(self.submission["payload_sha256"])


class SubmissionWriter:
    """Writes pending submissions of one engine from a thread of its own, in batches of
    whatever is waiting (at most `MAX_BATCH`). The thread starts with the first write
    and ends after `IDLE_SECONDS` with nothing to do."""

    MAX_BATCH = 64
    IDLE_SECONDS = 5.0

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._inline = is_sqlite(engine)
        self._queue: queue.SimpleQueue[tuple[PendingSubmission, Future[Outcome]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def write(self, pending: PendingSubmission) -> Outcome:
        """Write ``pending`` with whatever else is waiting; returns once committed.
        Raises Conflict ``point_locked``, or what writing it alone raised."""
        return self._enqueue(pending).result()

    async def write_async(self, pending: PendingSubmission) -> Outcome:
        """`write`, waited for without a thread. Cancelled before its batch begins, the
        submission is not written.

        On SQLite, when nothing else is writing this instant, it is written right here
        on the event loop instead: a few inserts and one fsync, without handing the GIL
        back and forth with a thread while holding the write gate (which made each write
        hold the gate for 10 to 30 ms under load, everyone else's turn waiting on it).
        """
        if self._inline:
            try:
                with no_waiting():
                    outcome = self.write_batch([pending])[0]
            except GateBusy:
                pass  # another write has the turn: wait for it in the writer thread
            else:
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome
        return await asyncio.wrap_future(self._enqueue(pending))

    def _enqueue(self, pending: PendingSubmission) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        self._queue.put((pending, future))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="cairn-submission-writer", daemon=True
                )
                self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # A request that gave up before its batch began is not written.
            batch = [job for job in batch if job[1].set_running_or_notify_cancel()]
            if batch:
                self._write(batch)

    def _write(self, batch: list[tuple[PendingSubmission, Future[Outcome]]]) -> None:
        try:
            outcomes = self.write_batch([pending for pending, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request(s)
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            # One at a time, so that one bad submission fails alone.
            for pending, future in batch:
                self._write([(pending, future)])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def write_batch(self, batch: list[PendingSubmission]) -> list[Outcome | Conflict]:
        """Write ``batch`` in one transaction; for each, what became of it (a Conflict
        for a second submission to a locked point). Raises if the transaction fails:
        then nothing of it was written."""
        outcomes: list[Outcome | Conflict] = []
        writing: list[PendingSubmission] = []
        with self._engine.begin() as connection:
            ids = [pending.id for pending in batch]
            present = set(
                connection.execute(
                    select_columns(_SUBMISSIONS.c.id).where(_SUBMISSIONS.c.id.in_(ids))
                ).scalars()
            )
            locked_taken: set[tuple[str, str]] = set()
            for pending in batch:
                if pending.id in present:
                    outcomes.append("exists")
                    continue
                if pending.locked_point is not None:
                    member_point = (
                        pending.submission["membership_id"], pending.submission["point_id"]
                    )  # fmt: skip
                    if member_point in locked_taken or _has_submitted(connection, *member_point):
                        outcomes.append(Conflict(
                            f"{pending.locked_point!r} is locked on submission and you have "
                            "already submitted to it", code="point_locked",
                        ))  # fmt: skip
                        continue
                    locked_taken.add(member_point)
                present.add(pending.id)
                writing.append(pending)
                outcomes.append("stored")
            if writing:
                # In the order of their ids: two batches on PostgreSQL that hold twins of
                # each other's submissions then wait in one order, never in a circle.
                writing.sort(key=lambda pending: pending.id)
                # The submission rows go in first: the others refer to them.
                connection.execute(insert(_SUBMISSIONS), [p.submission for p in writing])
                assets = [row for p in writing for row in p.assets]
                if assets:
                    connection.execute(insert(_ASSETS), assets)
                attachments = [row for p in writing for row in p.attachments]
                if attachments:
                    connection.execute(insert(_ATTACHMENTS), attachments)
        return outcomes


def _has_submitted(connection: Any, membership_id: str, point_id: str) -> bool:
    return bool(
        connection.execute(
            select_columns(
                exists().where(
                    and_(
                        _SUBMISSIONS.c.membership_id == membership_id,
                        _SUBMISSIONS.c.point_id == point_id,
                        _SUBMISSIONS.c.status == "received",
                    )
                )  # fmt: skip
            )
        ).scalar()
    )


_WRITERS: weakref.WeakKeyDictionary[Engine, SubmissionWriter] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def writer_for(engine: Engine) -> SubmissionWriter:
    """The submission writer of ``engine`` (one per engine in a process)."""
    with _WRITERS_LOCK:
        writer = _WRITERS.get(engine)
        if writer is None:
            writer = _WRITERS[engine] = SubmissionWriter(engine)
        return writer
