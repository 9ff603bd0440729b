"""Enrolment: a desktop app redeems an invite code with its space's identity key and
gets a device token and the server's public key."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session

from sync.protocol import EnrolRequest, EnrolResponse, WorkspaceInfo
from sync.server import directory, keys
from sync.server.config import ServerSettings
from sync.server.deps import DEVICE_SCOPES
from sync.server.errors import Unprocessable
from sync.server.models import Device, Membership, Workspace, utc_now
from sync.server.security import hash_token, new_token

#: Called after a membership gains a device, e.g. to queue the workspace's resources
#: for it. Services register here; each gets (session, membership, is_new_member).
after_enrol_hooks: list = []  # type: ignore[type-arg]


def enrol(session: Session, settings: ServerSettings, request: EnrolRequest) -> EnrolResponse:
    """Redeem ``request.invite_code`` and commit the new device."""
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        Ed25519PublicKey.from_public_bytes(bytes.fromhex(request.identity_key))
    except ValueError as exc:
        raise Unprocessable("the identity key is not an Ed25519 public key",
                            code="invalid_identity_key") from exc  # fmt: skip
    invite = directory.take_invite(session, request.invite_code)
    workspace = session.get(Workspace, invite.workspace_id)
    assert workspace is not None  # foreign key
    user = directory.user_for_email(session, invite.email)
    is_new = directory.membership_of(session, workspace.id, user.id) is None
    membership: Membership = directory.join(session, workspace.id, user, invite.role)
    membership.identity_key = request.identity_key
    session.add(membership)
    invite.redeemed_by = membership.id
    token = new_token()
    device = Device(
        membership_id=membership.id,
        token_hash=hash_token(token),
        name=request.device_name.strip(),
        identity_key=request.identity_key,
        scopes=" ".join(DEVICE_SCOPES),
        expires_at=utc_now() + timedelta(days=settings.device_token_days),
    )
    session.add(device)
    session.flush()
    for hook in after_enrol_hooks:
        hook(session, membership, is_new)
    key = keys.active_key(session)
    session.commit()
    return EnrolResponse(
        device_id=uuid.UUID(device.id),
        device_token=token,
        token_expires_at=device.expires_at,
        member_id=uuid.UUID(membership.id),
        email=user.email,
        workspace=WorkspaceInfo(
            id=uuid.UUID(workspace.id),
            name=workspace.name,
            role=membership.role,  # type: ignore[arg-type]
        ),
        server_key=key.public_key,
        server_key_id=key.id,
    )
