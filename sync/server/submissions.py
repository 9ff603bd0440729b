"""Receiving submissions: verify the member's signature, store the bytes as received,
answer with a receipt signed by the server. The client's submission id makes it
idempotent: the same bytes again get the same receipt, never a second submission."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
from sqlalchemy import Engine, and_, bindparam, or_
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sync.protocol import (
    RECEIPT_FORMAT,
    SUBMISSION_FORMAT,
    BadSignature,
    InvalidDocument,
    ReceiptBody,
    SignedDocument,
    SubmissionPayload,
    SubmissionResponse,
    SubmissionSummary,
    key_id,
    parse_body,
    sha256_hex,
    verify_bytes,
)
from sync.server import blobs, directory, events, keys
from sync.server.db import READ_ONLY, detached, is_sqlite, table_of
from sync.server.deps import DeviceContext
from sync.server.errors import Conflict, Forbidden, NotFound, Unprocessable
from sync.server.models import (
    Submission,
    SubmissionAsset,
    SubmissionPoint,
    utc_now,
)
from sync.server.writer import PendingSubmission, writer_for


def verified_payload(
    ctx: DeviceContext, signed: SignedDocument, purpose: str = SUBMISSION_FORMAT
) -> tuple[bytes, bytes]:
    """The body and signature of ``signed`` once they check out against the device's
    identity key; 422 ``invalid_document`` or ``invalid_signature`` otherwise."""
    try:
        body = signed.body_bytes()
        signature = signed.signature_bytes()
    except InvalidDocument as exc:
        raise Unprocessable(str(exc), code="invalid_document") from exc
    identity = bytes.fromhex(ctx.device.identity_key)
    if signed.key_id != key_id(identity):
        raise Unprocessable("this document is not signed by the key this device enrolled with",
                            code="invalid_signature")  # fmt: skip
    try:
        verify_bytes(identity, purpose, body, signature)
    except BadSignature as exc:
        raise Unprocessable(
            "the signature does not match: the document was changed after it was signed, "
            "or signed with another key",
            code="invalid_signature",
        ) from exc
    return body, signature


async def receive(
    session: Session, engine: Engine, ctx: DeviceContext, signed: SignedDocument
) -> tuple[SubmissionResponse, bool]:
    """Store a signed submission; returns the response and whether it is new.

    ``session`` only reads (`session_for` with ``reading``): the checks, the receipt and
    its signature. On SQLite they run right here on the event loop (see
    `deps.on_database`), and the rows are written by the engine's `SubmissionWriter`
    together with the other submissions waiting: writers take turns there, and one turn
    serves them all. On PostgreSQL all of it runs in a worker thread.
    """
    if not is_sqlite(engine):
        # PostgreSQL takes many writers at once and groups their commits itself: the
        # checks and the write go to one worker thread, with no hand-over between.
        return await anyio.to_thread.run_sync(_receive_here, session, engine, ctx, signed)
    response, pending = _prepare(session, ctx, signed)  # reads only: see on_database
    if pending is None:
        return response, False
    # Nothing else can write this id meanwhile (on SQLite writes take turns), and a
    # twin sent at once comes back as "exists".
    if await writer_for(engine).write_async(pending) == "exists":
        return _replay(_stored(session, pending.id), ctx, pending.digest), False
    return response, True


def _receive_here(
    session: Session, engine: Engine, ctx: DeviceContext, signed: SignedDocument
) -> tuple[SubmissionResponse, bool]:
    """`receive` in this thread, writing the submission in a transaction of its own."""
    response, pending = _prepare(session, ctx, signed)
    if pending is None:
        return response, False
    try:
        outcome = writer_for(engine).write_batch([pending])[0]
    except IntegrityError:
        # A twin raced in on another connection and committed first: refused by the key.
        existing = _stored(session, pending.id)
        if existing is None:
            raise
        return _replay(existing, ctx, pending.digest), False
    if isinstance(outcome, Conflict):
        raise outcome
    if outcome == "exists":
        return _replay(_stored(session, pending.id), ctx, pending.digest), False
    return response, True


def _prepare(
    session: Session, ctx: DeviceContext, signed: SignedDocument
) -> tuple[SubmissionResponse, PendingSubmission | None]:
    """Check a submission and sign its receipt, reading only: the answer, with the rows
    to write (None if the submission is here already: the answer is the stored one)."""
    ctx.require("submit")
    body, _ = verified_payload(ctx, signed)
    try:
        payload = parse_body(body, SubmissionPayload)
    except InvalidDocument as exc:
        raise Unprocessable(str(exc), code="invalid_document") from exc
    if payload.identity_key != ctx.device.identity_key:
        raise Unprocessable("the submission names another identity key", code="invalid_document")
    if str(payload.workspace_id) != ctx.workspace.id:
        raise Forbidden("this device is not enrolled in that workspace", code="wrong_workspace")

    digest = sha256_hex(body)
    submission_id = str(payload.submission_id)
    # Core queries, here and below: a device's submissions are the server's busiest
    # writes, and loading ORM objects cost four times as much.
    reading = session.connection(execution_options={READ_ONLY: True})
    existing = reading.execute(_REPLAY_QUERY, {"id": submission_id}).first()
    if existing is not None:
        return _replay(existing, ctx, digest), None
    point = detached(SubmissionPoint, reading.execute(
        _POINT_QUERY, {"id": str(payload.point_id)}).first())  # fmt: skip
    if point is None or point.workspace_id != ctx.workspace.id:
        raise NotFound("this workspace has no such submission point", code="point_not_found")
    now = utc_now()
    if not directory.accepting(point, now):
        raise Conflict(f"the deadline of {point.name!r} has passed", code="deadline_passed")
    if point.mode == "locked":
        _refuse_if_submitted(session, ctx, point)
    # Complete uploads stay complete: checked once, here.
    blobs.require_uploaded(
        session, ctx.membership.id, (a for asset in payload.assets for a in asset.attachments)
    )
    receipt = keys.sign(
        session,
        RECEIPT_FORMAT,
        ReceiptBody(
            submission_id=payload.submission_id,
            workspace_id=payload.workspace_id,
            point_id=payload.point_id,
            member_id=uuid.UUID(ctx.membership.id),
            payload_sha256=digest,
            received_at=now,
        ),  # fmt: skip
    )
    session.commit()

    submission = {
        "id": submission_id, "membership_id": ctx.membership.id,
        "workspace_id": ctx.workspace.id, "point_id": point.id, "device_id": ctx.device.id,
        "payload": body, "payload_sha256": digest, "signature": signed.signature,
        "identity_key": ctx.device.identity_key, "signature_valid": True, "received_at": now,
        "receipt": receipt.model_dump_json(), "status": "received", "withdrawn_at": None,
    }  # fmt: skip
    assets = [
        {"submission_id": submission_id, "asset_id": asset.asset_id, "title": asset.title,
         "kind": asset.kind}
        for asset in payload.assets
    ]  # fmt: skip
    attachments = [
        {"submission_id": submission_id, "asset_id": asset.asset_id, "sha256": a.sha256,
         "name": a.name, "size": a.size, "media_type": a.media_type}
        for asset in payload.assets
        for a in asset.attachments
    ]  # fmt: skip
    pending = PendingSubmission(
        submission, assets, attachments, point.name if point.mode == "locked" else None
    )
    response = SubmissionResponse(
        submission_id=payload.submission_id, status="received", receipt=receipt
    )
    return response, pending


def _stored(session: Session, submission_id: str) -> Any:
    """The row of `_REPLAY_QUERY` for a stored submission (None if there is none; one
    the writer found stays: submissions are never deleted)."""
    reading = session.connection(execution_options={READ_ONLY: True})
    existing = reading.execute(_REPLAY_QUERY, {"id": submission_id}).first()
    session.commit()
    return existing


_SUBMISSIONS, _POINTS = (table_of(m) for m in (Submission, SubmissionPoint))
_REPLAY_QUERY = select_columns(
    _SUBMISSIONS.c.id, _SUBMISSIONS.c.membership_id, _SUBMISSIONS.c.payload_sha256,
    _SUBMISSIONS.c.status, _SUBMISSIONS.c.receipt,
).where(_SUBMISSIONS.c.id == bindparam("id"))  # fmt: skip
_POINT_QUERY = select_columns(_POINTS).where(_POINTS.c.id == bindparam("id"))


def _replay(existing: Any, ctx: DeviceContext, digest: str) -> SubmissionResponse:
    """The answer to a submission id received before (``existing``: a Submission, or a
    row of `_REPLAY_QUERY`)."""
    if existing.membership_id != ctx.membership.id or existing.payload_sha256 != digest:
        raise Conflict(
            "this submission id was already used for different content",
            code="submission_id_reused",
        )
    return response_for(existing)


def _refuse_if_submitted(session: Session, ctx: DeviceContext, point: SubmissionPoint) -> None:
    """Conflict ``point_locked`` if this member already has a submission at ``point``."""
    found = session.exec(
        select(Submission.id).where(
            col(Submission.membership_id) == ctx.membership.id,
            col(Submission.point_id) == point.id,
            col(Submission.status) == "received",
        )
    ).first()
    if found is not None:
        raise Conflict(
            f"{point.name!r} is locked on submission and you have already submitted to it",
            code="point_locked",
        )


def response_for(submission: Any) -> SubmissionResponse:
    """The answer for a stored submission (a Submission, or a row with its id, status and
    receipt)."""
    return SubmissionResponse(
        submission_id=uuid.UUID(submission.id),
        status=submission.status,
        receipt=SignedDocument.model_validate_json(submission.receipt),
    )


def get_own(session: Session, ctx: DeviceContext, submission_id: str) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None or submission.membership_id != ctx.membership.id:
        raise NotFound("you have no submission with this id", code="submission_not_found")
    return submission


# ---------------------------------------------------- listing and withdrawing


def summaries(
    session: Session, ctx: DeviceContext, *, limit: int, after: str | None = None
) -> list[SubmissionSummary]:
    """This member's submissions, oldest first, ``limit`` at most, those after ``after``."""
    query = select(Submission).where(col(Submission.membership_id) == ctx.membership.id)
    if after is not None:
        mark = get_own(session, ctx, after)
        query = query.where(
            or_(
                col(Submission.received_at) > mark.received_at,
                and_(
                    col(Submission.received_at) == mark.received_at,
                    col(Submission.id) > mark.id,
                ),
            )
        )
    rows = session.exec(
        query.order_by(col(Submission.received_at), col(Submission.id)).limit(limit)
    ).all()
    titles: dict[str, list[str]] = {row.id: [] for row in rows}
    if titles:
        for submission_id, title in session.exec(
            select(SubmissionAsset.submission_id, SubmissionAsset.title)
            .where(col(SubmissionAsset.submission_id).in_(list(titles)))
            .order_by(col(SubmissionAsset.id))
        ).all():
            titles[submission_id].append(title)
    return [
        SubmissionSummary(
            submission_id=uuid.UUID(row.id),
            point_id=uuid.UUID(row.point_id),
            status=row.status,  # type: ignore[arg-type]
            received_at=row.received_at,
            titles=titles[row.id],
        )
        for row in rows
    ]


def withdraw(session: Session, ctx: DeviceContext, submission_id: str) -> SubmissionResponse:
    """Withdraw one of this member's submissions: only at an ``open`` point and before its
    deadline (Conflict ``withdraw_not_allowed``). Again is fine. The member's devices
    get a ``withdrawn`` event. Commits."""
    # Locked, and read afresh, so that two withdrawals at once make one event.
    submission = session.exec(
        select(Submission)
        .where(col(Submission.id) == submission_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if submission is None or submission.membership_id != ctx.membership.id:
        raise NotFound("you have no submission with this id", code="submission_not_found")
    if submission.status == "withdrawn":
        return response_for(submission)
    point = session.get(SubmissionPoint, submission.point_id)
    assert point is not None  # foreign key
    if point.mode != "open":
        raise Conflict(f"{point.name!r} is locked on submission: a submission there stays",
                       code="withdraw_not_allowed")  # fmt: skip
    if not directory.accepting(point):
        raise Conflict(f"the deadline of {point.name!r} has passed: a submission there stays",
                       code="withdraw_not_allowed")  # fmt: skip
    submission.status = "withdrawn"
    submission.withdrawn_at = utc_now()
    session.add(submission)
    events.publish(session, ctx.membership, "withdrawn", {
        "submission_id": submission.id,
        "point_id": submission.point_id,
        "withdrawn_at": submission.withdrawn_at.isoformat(),
    })  # fmt: skip
    session.commit()
    return response_for(submission)
