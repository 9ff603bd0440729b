"""The JSON API for desktop apps, under /api/v1 (request and response models in
sync/protocol.py). Routers stay thin: the work is in the service modules."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from sync.protocol import (
    API_PREFIX,
    AccountInfo,
    EnrolRequest,
    EnrolResponse,
    ErrorResponse,
    ServerInfo,
    SignedDocument,
    SubmissionResponse,
    WorkspaceInfo,
)
from sync.server import directory, enrolment, keys, submissions
from sync.server.deps import DeviceDep, SessionDep, SettingsDep
from sync.server.errors import Gone, NotFound

router = APIRouter(prefix=API_PREFIX, responses={"4XX": {"model": ErrorResponse}})

SubmissionId = Annotated[uuid.UUID, Path(description="the client's submission id")]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/server", response_model=ServerInfo, tags=["server"])
def server_info(session: SessionDep, settings: SettingsDep) -> ServerInfo:
    """Who this server is and the key it signs with (no authentication)."""
    key = keys.active_key(session)
    session.commit()
    return ServerInfo(
        name=settings.name,
        server_key=key.public_key,
        server_key_id=key.id,
        endorsements=keys.endorsements(session),
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
def submit(
    signed: SignedDocument, ctx: DeviceDep, session: SessionDep, response: Response
) -> SubmissionResponse:
    """Send a signed submission (attachments uploaded first). Sending the same submission
    again returns the same receipt."""
    result, new = submissions.receive(session, ctx, signed)
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
