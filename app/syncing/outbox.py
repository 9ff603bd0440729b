"""The outbox: signed submissions waiting in the space until a server has them.

Entries are sync records (kind "outbox", id = the submission id), so they survive
quitting, crashes and reboots. ``push`` sends the entries of one account: each entry's
attachments first (resumable, streamed out of the space), then the signed submission;
the server's receipt, verified by the client against the pinned key and the bytes
sent, is kept (kind "receipt") and the entry marked delivered in one transaction.

Every request is idempotent, so nothing here needs to know how far a failed attempt
got: after a crash, a cut connection or a lost answer, the next push uploads only what
the server lacks and gets the same receipt for the same submission id.

States: ``queued`` (waiting, perhaps for its next attempt after a failure the server or
the network may get over), ``sending`` (being pushed now by this process; never
stored), ``delivered`` (with its receipt), ``failed`` (the server refused it, or it
cannot be sent as it is: the reason is kept and ``retry`` puts it back in the queue).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any, Literal, cast
from uuid import UUID

from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import (
    Account,
    account_problem,
    accounts,
    client_for,
    companion_client,
    get_account,
    save_account,
)
from app.syncing.errors import NoSuchEntry
from app.syncing.records import RecordSource
from store.errors import DamagedRecord, NoSuchAttachment, StoreError
from store.records import SyncRecord
from sync.client import Backoff, WorkspaceClient, is_retryable
from sync.errors import (
    AttachmentChanged,
    BadServerSignature,
    CertificateRejected,
    NotAuthorised,
    Rejected,
    ServerKeyChanged,
    SyncError,
    UnexpectedAnswer,
)
from sync.protocol import ReceiptBody, SignedDocument, SubmissionResponse

State = Literal["queued", "sending", "delivered", "failed"]
Phase = Literal["uploading", "submitting", "delivered", "waiting", "failed"]

#: When the network or the server fails, when to try again.
DEFAULT_BACKOFF = Backoff(base=2.0, cap=600.0)
#: Receipts are committed in batches of at most this many, or this often: a crash
#: loses nothing (the next push gets the same receipts again), and a thousand small
#: submissions do not wait for a thousand disk syncs.
RECEIPT_BATCH = 25
RECEIPT_BATCH_SECONDS = 0.5
#: Threads uploading the attachments of the next entries while one is submitted.
UPLOAD_WORKERS = 2

_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


def in_flight() -> frozenset[str]:
    """Ids of the outbox entries this process is sending right now."""
    with _in_flight_lock:
        return frozenset(_in_flight)


@dataclass(frozen=True)
class OutboxEntry:
    """An outbox entry as plain data (without its signed document)."""

    id: str
    submission_id: str
    account_id: str
    server_url: str
    workspace_name: str
    point_id: str
    point_name: str
    titles: tuple[str, ...]
    asset_ids: tuple[str, ...]
    state: State
    attempts: int
    last_error: str | None
    error_code: str | None
    next_attempt: str | None
    queued_at: str
    delivered_at: str | None
    receipt_id: str | None
    attachment_bytes: int

    @classmethod
    def from_record(cls, record: SyncRecord, sending: frozenset[str] = frozenset()) -> OutboxEntry:
        data = record.data
        state = data.get("state", "queued")
        if record.id in sending and state == "queued":
            state = "sending"
        return cls(
            id=record.id, submission_id=data.get("submission_id", record.id),
            account_id=data.get("account_id", ""), server_url=data.get("server_url", ""),
            workspace_name=data.get("workspace_name", ""), point_id=data.get("point_id", ""),
            point_name=data.get("point_name", ""), titles=tuple(data.get("titles") or ()),
            asset_ids=tuple(record.asset_ids), state=state, attempts=int(data.get("attempts", 0)),
            last_error=data.get("last_error"), error_code=data.get("error_code"),
            next_attempt=data.get("next_attempt"), queued_at=data.get("queued_at", ""),
            delivered_at=data.get("delivered_at"), receipt_id=data.get("receipt_id"),
            attachment_bytes=int(data.get("attachment_bytes", 0)),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {
            "titles": list(self.titles), "asset_ids": list(self.asset_ids)
        }  # fmt: skip


def entries(space: RecordSource, account_id: str | None = None) -> list[OutboxEntry]:
    """The outbox, oldest first (delivered entries too), for one account or all."""
    sending = in_flight()
    found = [
        OutboxEntry.from_record(r, sending) for r in space.sync_records(kinds.OUTBOX)
        if account_id is None or r.data.get("account_id") == account_id
    ]  # fmt: skip
    return sorted(found, key=lambda e: (e.queued_at, e.id))


def _entry_record(space: Space, entry_id: str) -> SyncRecord:
    record = space.sync_record(entry_id)
    if record is None:
        matches = [r for r in space.sync_records(kinds.OUTBOX)
                   if len(entry_id) >= 4 and r.id.startswith(entry_id.lower())]  # fmt: skip
        if len(matches) != 1:
            raise NoSuchEntry(f"the outbox has no entry {entry_id!r}")
        record = matches[0]
    if record.kind != kinds.OUTBOX:
        raise NoSuchEntry(f"the outbox has no entry {entry_id!r}")
    return record


def retry(space: Space, entry_id: str) -> OutboxEntry:
    """Put a failed (or waiting) entry back in the queue, to be sent at the next push."""
    record = _entry_record(space, entry_id)
    if record.data.get("state") == "delivered":
        raise NoSuchEntry("this submission was delivered already; there is nothing to retry")
    data = {**record.data, "state": "queued", "attempts": 0, "next_attempt": None,
            "last_error": None, "error_code": None}  # fmt: skip
    return OutboxEntry.from_record(
        space.put_sync_record(SyncRecord(record.id, record.kind, data, record.asset_ids))
    )


def discard(space: Space, entry_id: str) -> None:
    """Take an entry that was not delivered out of the outbox (the person changed their
    mind). If an earlier attempt did reach the server, the submission stays there."""
    record = _entry_record(space, entry_id)
    if record.data.get("state") == "delivered" or record.id in in_flight():
        raise NoSuchEntry("this submission is delivered or being sent; it cannot be discarded")
    space.delete_sync_records([record.id])


def next_attempt_in(space: RecordSource, now: datetime | None = None) -> float | None:
    """Seconds until the next queued entry is due (0 if one is due now), or None if
    nothing is: when a background worker should wake up next. Entries a background push
    leaves alone do not count: those of an account that needs the person (a revoked
    device, a server key that changed; see ``push``) or that is no longer connected."""
    moment = now or kinds.utc_now()
    sendable = {a.id for a in accounts(space) if not a.needs_a_person}
    waits = []
    for record in space.sync_records(kinds.OUTBOX):
        if record.data.get("state") != "queued" or record.data.get("account_id") not in sendable:
            continue
        due = kinds.parse_iso(record.data.get("next_attempt"))
        waits.append(0.0 if due is None else max(0.0, (due - moment).total_seconds()))
    return min(waits) if waits else None


# --------------------------------------------------------------------- push


@dataclass(frozen=True)
class PushProgress:
    """What ``push`` is doing, for a progress bar: an entry's phase and bytes."""

    entry_id: str
    asset_ids: tuple[str, ...]
    phase: Phase
    done: int = 0
    total: int = 0
    message: str = ""


@dataclass
class PushReport:
    account_id: str
    delivered: list[str] = field(default_factory=list)
    #: (entry id, why): will be tried again after a pause.
    waiting: list[tuple[str, str]] = field(default_factory=list)
    #: (entry id, why): refused; waits for ``retry``.
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: Why the whole account stopped (revoked device, changed server key...), if it did.
    stopped: str | None = None
    stopped_code: str | None = None
    #: Whether the server could not be reached (the entries wait for it).
    unreachable: bool = False


class AttachmentReader(io.RawIOBase):
    """An attachment of the space as a seekable, read-only file, decrypted chunk by chunk
    as it is read: a 50 MB attachment is never in memory whole. Seeking back starts over
    from the first chunk (uploads only go forward, except after a cut)."""

    def __init__(self, space: Space, attachment_id: str, size: int) -> None:
        super().__init__()
        self._space = space
        self._attachment_id = attachment_id
        self._size = size
        self._chunks: Iterator[bytes] | None = None
        self._buffer = b""
        self._buffer_at = 0  # where in the file the buffer starts
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        wanted = min(len(view), max(0, self._size - self._position))
        done = 0
        while done < wanted:
            start = self._position - self._buffer_at
            if not 0 <= start < len(self._buffer):
                if not self._advance():
                    break
                continue
            piece = self._buffer[start : start + wanted - done]
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._position += len(piece)
        return done

    def _advance(self) -> bool:
        """Move the buffer to the chunk holding the position; False at the end."""
        if self._chunks is None or self._position < self._buffer_at:
            self._restart()
        assert self._chunks is not None
        while True:
            self._buffer_at += len(self._buffer)
            self._buffer = next(self._chunks, b"")
            if not self._buffer:
                return False
            if self._position < self._buffer_at + len(self._buffer):
                return True

    def _restart(self) -> None:
        self._close_chunks()
        self._chunks = iter(self._space.read_attachment(self._attachment_id))
        self._buffer, self._buffer_at = b"", 0

    def _close_chunks(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self._chunks = None

    def close(self) -> None:
        self._close_chunks()
        self._buffer = b""
        super().close()


def open_attachment(space: Space, attachment_id: str, size: int) -> IO[bytes]:
    # RawIOBase offers everything the client's upload uses (read, seek, tell, with).
    return cast(IO[bytes], AttachmentReader(space, attachment_id, size))


def push(
    space: Space,
    account: Account,
    *,
    client: WorkspaceClient | None = None,
    only_due: bool = True,
    now: Callable[[], datetime] = kinds.utc_now,
    backoff: Backoff = DEFAULT_BACKOFF,
    progress: Callable[[PushProgress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    upload_workers: int = UPLOAD_WORKERS,
) -> PushReport:
    """Send the account's queued entries, oldest first; returns what became of them.

    With ``only_due``, entries still waiting out their backoff are left for later, and
    so is every entry of an account whose sync stopped until the person acts
    (``Account.needs_a_person``: it would only be refused again); a person who asks to
    sync now passes False. Nothing is raised for what the server or
    the network does: it is in the report, and in the entries (for a failure of one
    submission) or the account's ``problem`` (for a revoked device or a server whose
    key changed, which stop the account; its entries stay queued).

    Submissions go one by one in queue order (the first of two for a point that takes
    one is the one that counts), on ``client``; the attachments of the next few entries
    are uploaded meanwhile by ``upload_workers`` threads with clients of their own, so
    reading the space and the network overlap. ``progress`` may be called from those
    threads. Call from a worker thread, one push per account at a time.
    """
    report = PushReport(account.id)
    if only_due and account.needs_a_person:
        problem = account.problem or {}
        report.stopped = str(problem.get("message") or "sync stopped for this workspace")
        report.stopped_code = str(problem.get("code"))
        return report
    moment = now()
    queued = [
        r for r in space.sync_records(kinds.OUTBOX)
        if r.data.get("account_id") == account.id and r.data.get("state") == "queued"
    ]  # fmt: skip
    due = [r for r in queued if not only_due or _is_due(r, moment)]
    due.sort(key=lambda r: (r.data.get("queued_at", ""), r.id))
    if not due:
        return report
    tell = progress or (lambda _event: None)
    stop = threading.Event()

    def stopped() -> bool:
        return stop.is_set() or (cancelled is not None and cancelled())

    with ExitStack() as cleanup:
        active = client or cleanup.enter_context(client_for(space, account))
        uploads = cleanup.enter_context(
            _Uploads(space, account, active, max(0, upload_workers), tell, stopped)
        )
        cleanup.callback(stop.set)  # before the uploads are waited for: start nothing new
        batch = _ReceiptBatch(space, tell)
        cleanup.callback(batch.flush)  # whatever happens, receipts received are kept
        for index, record in enumerate(due):
            if stopped():
                break
            uploads.prepare(due[index : index + uploads.ahead + 1])
            with _sending(record.id):
                failed = uploads.result(record)
                outcome = _submit(active, record, tell) if failed is None else failed
            if isinstance(outcome, _Stopped):  # cancelled meanwhile: nothing was tried
                break
            if isinstance(outcome, tuple):
                batch.add(*outcome)
                report.delivered.append(record.id)
                continue
            batch.flush()
            if _stops_account(outcome):
                report.stopped, report.stopped_code = account_problem(outcome)
                account.problem = {"code": report.stopped_code, "message": report.stopped,
                                   "at": kinds.iso(now())}  # fmt: skip
                save_account(space, account)
                break
            if is_retryable(outcome) or isinstance(outcome, UnexpectedAnswer):
                # The server or the network is not there for now: every entry still due
                # waits, each by its own backoff, rather than being tried one by one.
                stop.set()
                _wait(space, due[index:], outcome, now(), backoff, report, tell)
                report.unreachable = True
                break
            _fail(space, record, outcome, report, tell)
    if report.delivered and account.problem:
        account.problem = None
        save_account(space, account)
    return report


class _Uploads:
    """The attachments of the entries about to be submitted, uploaded ahead on worker
    threads, each with a client of its own (one ``requests`` session per thread). With
    no workers, each entry's attachments are uploaded when it is its turn."""

    def __init__(
        self, space: Space, account: Account, client: WorkspaceClient, workers: int,
        tell: Callable[[PushProgress], None], stopped: Callable[[], bool],
    ) -> None:  # fmt: skip
        self.space = space
        self.account = account
        self.client = client
        self.tell = tell
        self.stopped = stopped
        self.ahead = workers
        self._futures: dict[str, Future[Exception | None]] = {}
        self._local = threading.local()
        self._clients: list[WorkspaceClient] = []
        self._lock = threading.Lock()
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="cairn-upload") if workers else None
        )

    def __enter__(self) -> _Uploads:
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            # Uploads under way finish their piece (or fail); none is started any more.
            self._pool.shutdown(wait=True, cancel_futures=True)
        for client in self._clients:
            client.close()

    def prepare(self, records: list[SyncRecord]) -> None:
        """Start uploading for these entries (the next ones in the queue), if not yet."""
        if self._pool is None:
            return
        for record in records:
            if record.id not in self._futures:
                self._futures[record.id] = self._pool.submit(self._upload, record, None)

    def result(self, record: SyncRecord) -> Exception | None:
        """Wait for an entry's attachments (or upload them now, with no workers): None
        once the server has them all, else what went wrong."""
        future = self._futures.pop(record.id, None)
        if future is None:
            return self._upload(record, self.client)
        return future.result()

    def _upload(self, record: SyncRecord, client: WorkspaceClient | None) -> Exception | None:
        if self.stopped():
            return _Stopped("stopped before this entry's attachments were sent")
        try:
            _upload_attachments(self.space, client or self._thread_client(), record, self.tell)
        except (SyncError, StoreError) as exc:
            return exc
        return None

    def _thread_client(self) -> WorkspaceClient:
        client: WorkspaceClient | None = getattr(self._local, "client", None)
        if client is None:
            client = companion_client(self.account, self.client)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client


class _Stopped(SyncError):
    """An upload that was not started because the push stopped (never reported)."""

    retryable = True


def _upload_attachments(
    space: Space, client: WorkspaceClient, record: SyncRecord,
    tell: Callable[[PushProgress], None],
) -> None:  # fmt: skip
    data = record.data
    asset_ids = tuple(record.asset_ids)
    total = int(data.get("attachment_bytes", 0))
    sent_before = 0
    for upload in data.get("attachments", []):
        size = int(upload["size"])

        def report(done: int, _size: int, base: int = sent_before) -> None:
            tell(PushProgress(record.id, asset_ids, "uploading", base + done, total))

        def opener(attachment_id: str = upload["attachment_id"], size: int = size) -> IO[bytes]:
            return open_attachment(space, attachment_id, size)

        client.upload(upload["sha256"], size, opener, report)
        sent_before += size


@dataclass
class _ReceiptBatch:
    space: Space
    tell: Callable[[PushProgress], None]
    records: list[SyncRecord] = field(default_factory=list)
    delivered: list[SyncRecord] = field(default_factory=list)
    started: float = 0.0

    def add(self, entry: SyncRecord, receipt: SyncRecord) -> None:
        if not self.records:
            self.started = time.monotonic()
        self.records += [receipt, entry]
        self.delivered.append(entry)
        if (
            len(self.delivered) >= RECEIPT_BATCH
            or time.monotonic() - self.started >= RECEIPT_BATCH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        if not self.records:
            return
        self.space.put_sync_records(self.records)
        for entry in self.delivered:
            self.tell(PushProgress(entry.id, tuple(entry.asset_ids), "delivered"))
        self.records, self.delivered = [], []


class _sending:
    """Marks an entry as being sent by this process (for ``in_flight``)."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id

    def __enter__(self) -> None:
        with _in_flight_lock:
            _in_flight.add(self.entry_id)

    def __exit__(self, *_: object) -> None:
        with _in_flight_lock:
            _in_flight.discard(self.entry_id)


def _is_due(record: SyncRecord, moment: datetime) -> bool:
    due = kinds.parse_iso(record.data.get("next_attempt"))
    return due is None or due <= moment


def _submit(
    client: WorkspaceClient, record: SyncRecord, tell: Callable[[PushProgress], None]
) -> tuple[SyncRecord, SyncRecord] | Exception:
    """Send one entry's signed submission (its attachments are on the server); the
    (delivered entry, receipt) records, or the error."""
    total = int(record.data.get("attachment_bytes", 0))
    tell(PushProgress(record.id, tuple(record.asset_ids), "submitting", total, total))
    try:
        signed = SignedDocument.model_validate(record.data["document"])
        answer, receipt = client.submit(signed)
        server_key = client.trusted_key(answer.receipt.key_id)
    except SyncError as exc:
        return exc
    return _delivered(record, signed, answer, receipt, server_key)


def _delivered(
    record: SyncRecord, signed: SignedDocument, answer: SubmissionResponse,
    receipt: ReceiptBody, server_key: bytes | None = None,
) -> tuple[SyncRecord, SyncRecord]:  # fmt: skip
    data = record.data
    receipt_id = kinds.derived_id(kinds.RECEIPT, data["submission_id"])
    receipt_record = SyncRecord(
        receipt_id,
        kinds.RECEIPT,
        {
            "submission_id": data["submission_id"],
            "account_id": data.get("account_id"),
            "server_url": data.get("server_url"),
            "workspace_id": data.get("workspace_id"),
            "workspace_name": data.get("workspace_name"),
            "point_id": data.get("point_id"),
            "point_name": data.get("point_name"),
            "titles": data.get("titles", []),
            "status": answer.status,
            "received_at": kinds.iso(receipt.received_at),
            "member_id": str(receipt.member_id),
            "payload_sha256": receipt.payload_sha256,
            "receipt": answer.receipt.model_dump(),
            # The key that signed it, so that the receipt can be checked anywhere, also
            # from a portable archive long after the account is gone.
            "server_key": server_key.hex() if server_key else None,
            # What was sent, exactly as signed: with the receipt, proof of what arrived.
            "submission": signed.model_dump(),
        },
        list(record.asset_ids),
    )
    # The signed document now lives with the receipt; the entry keeps its story.
    entry_data = {k: v for k, v in data.items() if k != "document"}
    entry_data.update(state="delivered", delivered_at=kinds.iso(kinds.utc_now()),
                      receipt_id=receipt_id, last_error=None, error_code=None,
                      next_attempt=None)  # fmt: skip
    entry = SyncRecord(record.id, kinds.OUTBOX, entry_data, list(record.asset_ids))
    return entry, receipt_record


def _stops_account(error: Exception) -> bool:
    return isinstance(error, NotAuthorised | ServerKeyChanged | CertificateRejected)


def _wait(
    space: Space, records: list[SyncRecord], error: Exception, moment: datetime,
    backoff: Backoff, report: PushReport, tell: Callable[[PushProgress], None],
) -> None:  # fmt: skip
    updated = []
    for record in records:
        attempts = int(record.data.get("attempts", 0))
        wait = backoff.delay_after(error, attempts)
        data = {**record.data, "state": "queued", "attempts": attempts + 1,
                "last_error": str(error), "error_code": _code(error),
                "next_attempt": kinds.iso(moment + timedelta(seconds=wait))}  # fmt: skip
        updated.append(SyncRecord(record.id, record.kind, data, record.asset_ids))
        report.waiting.append((record.id, str(error)))
        tell(PushProgress(record.id, tuple(record.asset_ids), "waiting", message=str(error)))
    space.put_sync_records(updated)


def _fail(
    space: Space, record: SyncRecord, error: Exception, report: PushReport,
    tell: Callable[[PushProgress], None],
) -> None:  # fmt: skip
    message = _failure_message(error)
    data = {**record.data, "state": "failed", "attempts": int(record.data.get("attempts", 0)) + 1,
            "last_error": message, "error_code": _code(error), "next_attempt": None}  # fmt: skip
    space.put_sync_record(SyncRecord(record.id, record.kind, data, record.asset_ids))
    report.failed.append((record.id, message))
    tell(PushProgress(record.id, tuple(record.asset_ids), "failed", message=message))


def _code(error: Exception) -> str:
    if isinstance(error, Rejected):
        return error.code
    if isinstance(error, BadServerSignature):
        return "bad_receipt"
    if isinstance(error, AttachmentChanged):
        return "attachment_changed"
    if isinstance(error, NoSuchAttachment):
        return "attachment_deleted"
    if isinstance(error, DamagedRecord):
        return "attachment_damaged"
    return type(error).__name__


def _failure_message(error: Exception) -> str:
    if isinstance(error, BadServerSignature):
        return (f"{error}; the receipt was not kept. Retry to ask the server again; if it "
                "keeps happening, tell the organisation")
    if isinstance(error, NoSuchAttachment):
        return "an attachment of this submission was deleted from the space after it was queued"
    if isinstance(error, DamagedRecord):
        return f"an attachment of this submission cannot be read from the space ({error})"
    return str(error)


# ----------------------------------------------------------------- withdraw


def receipt_record(space: Space, wanted: str) -> SyncRecord:
    """A delivered submission's receipt record by submission id (or a prefix of 4 or
    more characters) or by the record's own id."""
    text = wanted.strip().lower()
    for candidate in (kinds.derived_id(kinds.RECEIPT, text), text):
        record = space.sync_record(candidate)
        if record is not None and record.kind == kinds.RECEIPT:
            return record
    matches = [
        r for r in space.sync_records(kinds.RECEIPT)
        if len(text) >= 4 and str(r.data.get("submission_id", "")).startswith(text)
    ]  # fmt: skip
    if len(matches) != 1:
        raise NoSuchEntry(f"there is no delivered submission {wanted!r}")
    return matches[0]


def withdraw(space: Space, receipt_id: str, *, client: WorkspaceClient | None = None) -> SyncRecord:
    """Withdraw a delivered submission (by its receipt record id or submission id) where
    its submission point allows it (Rejected ``withdraw_not_allowed`` otherwise). The
    receipt is kept, marked withdrawn."""
    record = receipt_record(space, receipt_id)
    account = get_account(space, str(record.data.get("account_id")))
    active = client or client_for(space, account)
    try:
        answer = active.withdraw(UUID(record.data["submission_id"]))
    finally:
        if client is None:
            active.close()
    data = {**record.data, "status": answer.status, "withdrawn_at": kinds.iso(kinds.utc_now())}
    return space.put_sync_record(SyncRecord(record.id, record.kind, data, record.asset_ids))
