"""The JSON API for desktop apps, under /api/v1 (request and response models in
sync/protocol.py). Routers stay thin: the work is in the service modules."""

from __future__ import annotations

import os
import pathlib
import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.requests import ClientDisconnect

from sync.protocol import (
    API_PREFIX,
    MAX_PULL_LIMIT,
    AccountInfo,
    EnrolRequest,
    EnrolResponse,
    ErrorResponse,
    PeerReviewRequest,
    PullResponse,
    ResourceInfo,
    ServerInfo,
    ShareRequest,
    ShareResponse,
    ShareUpdate,
    SignedDocument,
    SubmissionResponse,
    SubmissionSummary,
    UploadStatus,
    WorkspaceInfo,
)
from sync.server import (
    blobs,
    directory,
    enrolment,
    events,
    keys,
    resources,
    reviews,
    shares,
    submissions,
)
from sync.server.deps import (
    DeviceContext,
    DeviceDep,
    SessionDep,
    SettingsDep,
    on_database,
    session_for,
    writes,
    writing,
)
from sync.server.errors import ApiError, Forbidden, Gone, NotFound, Unprocessable

router = APIRouter(prefix=API_PREFIX, responses={"4XX": {"model": ErrorResponse}})

SubmissionId = Annotated[uuid.UUID, Path(description="the client's submission id")]
ShareId = Annotated[uuid.UUID, Path(description="the client's share id")]
Limit = Annotated[
    int, Query(ge=1, description="most items to return (capped at the server's page)")
]
Sha256 = Annotated[
    str, Path(pattern=r"^[0-9a-f]{64}$", description="the attachment's SHA-256, lowercase hex")
]

# Numbers the database columns can hold (larger ones are a 422, not a database error).
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

# Who may call what: /server, /enrol and /openapi.json are open to anyone; every other
# route takes a device token (DeviceDep) and, first thing, names the scope it needs
# (/me, which only describes the device, needs none). What a route then reaches is
# always the caller's own: their membership's submissions, uploads, shares and events,
# their workspace's resources, and submissions they were asked to review.


def require_any(ctx: DeviceContext, *scopes: str) -> None:
    """For uploads, which serve both submissions and shares."""
    if not any(scope in ctx.device.scopes.split() for scope in scopes):
        raise Forbidden(f"this device may not {' or '.join(scopes)}", code="scope_missing")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/server", response_model=ServerInfo, tags=["server"])
async def server_info(session: SessionDep, settings: SettingsDep) -> ServerInfo:
    """Who this server is and the key it signs with (no authentication)."""
    key, endorsements = await on_database(
        session, lambda: keys.active_key_and_endorsements(session)
    )
    return ServerInfo(
        name=settings.name,
        server_key=key.public_key,
        server_key_id=key.id,
        endorsements=endorsements,
        max_piece_bytes=settings.max_chunk_bytes,
        max_attachment_bytes=settings.max_attachment_bytes,
    )


@router.post("/enrol", response_model=EnrolResponse, status_code=201, tags=["devices"])
def enrol(
    body: EnrolRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> EnrolResponse:
    """Redeem a one-time invite code with the space's identity key; returns a device token."""
    # Only wrong codes count: a burst of honest enrolments is never refused.
    limiter = request.app.state.enrol_limiter
    limiter.ensure_allowed(client_address(request))
    try:
        return enrolment.enrol(session, settings, body)
    except (NotFound, Gone):
        limiter.record_failure(client_address(request))
        raise


@router.get("/me", response_model=AccountInfo, tags=["devices"])
def me(ctx: DeviceDep, session: SessionDep) -> AccountInfo:
    """This device's account: its workspace, role, and the submission points there."""
    return AccountInfo(
        device_id=uuid.UUID(ctx.device.id),
        member_id=uuid.UUID(ctx.membership.id),
        email=ctx.user.email,
        workspace=WorkspaceInfo(
            id=uuid.UUID(ctx.workspace.id),
            name=ctx.workspace.name,
            role=ctx.membership.role,  # type: ignore[arg-type]
        ),  # fmt: skip
        points=[directory.point_info(p) for p in directory.points_of(session, ctx.workspace.id)],
        token_expires_at=ctx.device.expires_at,
        scopes=ctx.device.scopes.split(),
    )


@router.post(
    "/submissions",
    response_model=SubmissionResponse,
    status_code=201,
    tags=["submissions"],
    responses={
        200: {"model": SubmissionResponse, "description": "already received: the same receipt"}
    },
)
async def submit(
    signed: SignedDocument, ctx: DeviceDep, request: Request, response: Response
) -> SubmissionResponse:
    """Send a signed submission (attachments uploaded first). Sending the same submission
    again returns the same receipt."""
    ctx.require("submit")
    # A read-only session: on SQLite the checks run on the event loop, and the rows are
    # written by the submission writer (sync/server/writer.py).
    engine = request.app.state.engine
    async with session_for(request, engine, reading=True) as session:
        result, new = await submissions.receive(session, engine, ctx, signed)
    if not new:
        response.status_code = 200
    return result


@router.get("/submissions/{submission_id}", response_model=SubmissionResponse, tags=["submissions"])
def get_submission(
    submission_id: SubmissionId, ctx: DeviceDep, session: SessionDep
) -> SubmissionResponse:
    """One of this member's submissions, with its receipt."""
    ctx.require("submit")
    return submissions.response_for(submissions.get_own(session, ctx, str(submission_id)))


@router.get("/submissions", response_model=list[SubmissionSummary], tags=["submissions"])
def list_submissions(
    ctx: DeviceDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 100,
    after: Annotated[uuid.UUID | None, Query(description="the last submission_id seen")] = None,
) -> list[SubmissionSummary]:
    """This member's submissions, oldest first; page on with ``after``."""
    ctx.require("submit")
    return submissions.summaries(
        session, ctx, limit=min(limit, settings.max_page), after=str(after) if after else None
    )


@router.post(
    "/submissions/{submission_id}/withdraw", response_model=SubmissionResponse,
    tags=["submissions"],
)  # fmt: skip
def withdraw_submission(
    submission_id: SubmissionId, ctx: DeviceDep, session: SessionDep
) -> SubmissionResponse:
    """Withdraw a submission to an open point before its deadline (again is fine)."""
    ctx.require("submit")
    return submissions.withdraw(session, ctx, str(submission_id))


# -------------------------------------------------------------------- reviews


@router.post(
    "/reviews/{submission_id}",
    response_model=SignedDocument,
    status_code=201,
    tags=["reviews"],
    responses={200: {"model": SignedDocument, "description": "the same review, already received"}},
)
def peer_review(
    submission_id: SubmissionId,
    body: PeerReviewRequest,
    ctx: DeviceDep,
    session: SessionDep,
    response: Response,
) -> SignedDocument:
    """An assigned peer's review of a submission; answers with the signed feedback
    document (cairn.feedback/1) that the submitter will receive by pull."""
    ctx.require("review")
    feedback, new = reviews.review_as_peer(
        session, str(submission_id), ctx.membership, ctx.user, body.text, body.rating
    )
    session.commit()
    if not new:
        response.status_code = 200
    return SignedDocument.model_validate_json(feedback.document)


# ---------------------------------------------------------------- attachments


_OCTET_STREAM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the next piece of the attachment, starting at `offset`",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get("/blobs/{sha256}", response_model=UploadStatus, tags=["attachments"])
@writes
async def upload_status(
    sha256: Sha256,
    size: Annotated[int, Query(ge=0, description="the attachment's size in bytes")],
    ctx: DeviceDep,
    request: Request,
    settings: SettingsDep,
) -> UploadStatus:
    """How much of this attachment has arrived from this member; starts the upload if new.
    A complete upload can be named in submissions and shares."""
    require_any(ctx, "submit", "share")
    engine = request.app.state.engine
    async with session_for(request, engine, reading=True) as session:
        found = await on_database(
            session, lambda: blobs.peek_status(session, settings, ctx, sha256, size)
        )
    if found is not None:
        return found
    # New, or started again at another size: that takes a write.
    async with session_for(request, engine) as session:
        return await writing(session, lambda: blobs.status(session, settings, ctx, sha256, size))


@router.put(
    "/blobs/{sha256}", response_model=UploadStatus, tags=["attachments"],
    openapi_extra=_OCTET_STREAM_BODY,
)  # fmt: skip
async def upload_piece(
    sha256: Sha256,
    offset: Annotated[int, Query(ge=0, description="where this piece starts (`received`)")],
    size: Annotated[int, Query(ge=0, description="the attachment's size in bytes")],
    request: Request,
    ctx: DeviceDep,
    settings: SettingsDep,
) -> UploadStatus:
    """Append a piece (application/octet-stream, at most the server's piece size) at
    ``offset``. 409 ``offset_mismatch`` says where to resume; the last piece is checked
    against the SHA-256 (422 ``hash_mismatch``: start again from 0)."""
    # No database session while the body arrives, which takes as long as the client
    # likes: a session is taken to check the piece may come, and again to keep it.
    require_any(ctx, "submit", "share")
    media_type = request.headers.get("content-type", "application/octet-stream")
    if media_type.split(";")[0].strip().lower() != "application/octet-stream":
        raise ApiError("send attachment pieces as application/octet-stream",
                       code="unsupported_media_type", status=415)  # fmt: skip
    engine = request.app.state.engine
    async with session_for(request, engine, reading=True) as session:
        started = await on_database(
            session, lambda: blobs.peek_piece(session, settings, ctx, sha256, offset, size)
        )
    if started is None:  # a new upload, or one started again at another size
        async with session_for(request, engine) as session:
            started = await anyio.to_thread.run_sync(
                blobs.start_piece, session, settings, ctx, sha256, offset, size
            )
    if isinstance(started, UploadStatus):
        return started
    piece = blobs.new_piece(settings)
    try:
        length = await _receive_piece(request, piece, limit=size - offset)
        async with session_for(request, engine) as session:
            return await anyio.to_thread.run_sync(lambda: blobs.finish_piece(
                session, settings, ctx, sha256, offset, size, started, piece, length))  # fmt: skip
    finally:
        piece.unlink(missing_ok=True)


#: Bytes of a piece gathered before they are written out (in a worker thread).
_WRITE_BLOCK = 1024 * 1024


async def _receive_piece(request: Request, piece: pathlib.Path, *, limit: int) -> int:
    """Stream the request body into the new file ``piece``; refuse (422 ``beyond_size``)
    past ``limit`` bytes, and a body cut short (400 ``upload_interrupted``)."""
    descriptor = os.open(piece, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written = 0
    pending: list[bytes] = []
    pending_bytes = 0
    try:
        try:
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    raise Unprocessable(
                        f"this piece goes past the end of the attachment ({limit} bytes were left)",
                        code="beyond_size",
                    )
                pending.append(chunk)
                pending_bytes += len(chunk)
                if pending_bytes >= _WRITE_BLOCK:
                    await anyio.to_thread.run_sync(_write_all, descriptor, b"".join(pending))
                    pending, pending_bytes = [], 0
        except ClientDisconnect as exc:
            raise blobs.UploadInterrupted("the connection ended in the middle of a piece") from exc
        if pending:
            await anyio.to_thread.run_sync(_write_all, descriptor, b"".join(pending))
    finally:
        os.close(descriptor)
    return written


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


# --------------------------------------------------------------------- shares


@router.post(
    "/shares",
    response_model=ShareResponse,
    status_code=201,
    tags=["shares"],
    responses={200: {"model": ShareResponse, "description": "already published: no address"}},
)
def publish_share(
    body: ShareRequest,
    request: Request,
    ctx: DeviceDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> ShareResponse:
    """Publish a signed snapshot as a read-only page; the answer that creates it is the
    only one that carries the page's address."""
    ctx.require("share")
    base = settings.public_url or str(request.base_url)
    result, new = shares.create(session, ctx, body, base)
    if not new:
        response.status_code = 200
    return result


@router.get("/shares", response_model=list[ShareResponse], tags=["shares"])
def list_shares(
    ctx: DeviceDep,
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 100,
    after: Annotated[uuid.UUID | None, Query(description="the last share_id seen")] = None,
) -> list[ShareResponse]:
    """This member's shares, oldest first (without their addresses)."""
    ctx.require("share")
    return shares.list_own(
        session, ctx, limit=min(limit, settings.max_page), after=str(after) if after else None
    )


@router.patch("/shares/{share_id}", response_model=ShareResponse, tags=["shares"])
def change_share(
    share_id: ShareId, body: ShareUpdate, ctx: DeviceDep, session: SessionDep
) -> ShareResponse:
    """Turn comments on or off, or change the expiry."""
    ctx.require("share")
    return shares.update(session, ctx, str(share_id), body)


@router.delete("/shares/{share_id}", response_model=ShareResponse, tags=["shares"])
def revoke_share(share_id: ShareId, ctx: DeviceDep, session: SessionDep) -> ShareResponse:
    """Take the page down for good (revoking again is fine)."""
    ctx.require("share")
    return shares.revoke(session, ctx, str(share_id))


# ----------------------------------------------------------------------- pull


@router.get("/pull", response_model=PullResponse, tags=["pull"])
async def pull(
    ctx: DeviceDep,
    session: SessionDep,
    settings: SettingsDep,
    after: Annotated[
        int, Query(ge=0, le=BIGINT_MAX, description="the cursor of the last pull; 0 at first")
    ] = 0,
    limit: Limit = 100,
) -> PullResponse:
    """What the server sent this member since ``after``, oldest first, each signed by the
    server: feedback, review requests, share comments, resources, withdrawals."""
    ctx.require("pull")
    count = min(limit, settings.max_page, MAX_PULL_LIMIT)
    return await on_database(session, lambda: events.pull(session, ctx.membership.id, after, count))


# ------------------------------------------------------------------ resources


@router.get("/resources", response_model=list[ResourceInfo], tags=["resources"])
def list_resources(ctx: DeviceDep, session: SessionDep) -> list[ResourceInfo]:
    """The latest version of every template, document and link of this workspace."""
    ctx.require("pull")
    return resources.latest(session, ctx.workspace.id)


@router.get(
    "/resources/{resource_id}/versions/{version}",
    response_class=FileResponse,
    tags=["resources"],
    responses={200: {"description": "the file, as an attachment",
                     "content": {"application/octet-stream": {}}}},
)  # fmt: skip
def download_resource(
    resource_id: Annotated[uuid.UUID, Path()],
    version: Annotated[int, Path(ge=1, le=INT_MAX)],
    ctx: DeviceDep,
    session: SessionDep,
    settings: SettingsDep,
) -> FileResponse:
    """The file of one version of a template or document of this workspace."""
    ctx.require("pull")
    stored = resources.stored_file(session, settings, ctx.workspace.id, str(resource_id), version)
    session.rollback()  # read only: no transaction stays open while the file is sent
    return FileResponse(
        stored.path,
        media_type=stored.media_type,
        filename=stored.file_name,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )
