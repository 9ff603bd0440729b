"""Dependencies of the routes: the settings, a database session, the calling device."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from sync.server.config import ServerSettings
from sync.server.errors import Forbidden, Unauthorised
from sync.server.models import Device, Membership, User, Workspace, utc_now
from sync.server.security import hash_token


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One session per request. Routes commit what they change; the rest rolls back."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]

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


def current_device(request: Request, session: SessionDep) -> DeviceContext:
    """The calling device; 401 with a precise code for a missing, unknown, expired or
    revoked token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorised(
            "a device token is needed (Authorization: Bearer ...)",
            code="token_missing",
            headers=_BEARER,
        )
    device = session.exec(
        select(Device).where(col(Device.token_hash) == hash_token(token.strip()))
    ).first()
    if device is None:
        raise Unauthorised("this device token is not known", code="token_unknown", headers=_BEARER)
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
    membership = session.get(Membership, device.membership_id)
    user = session.get(User, membership.user_id) if membership else None
    workspace = session.get(Workspace, membership.workspace_id) if membership else None
    if membership is None or user is None or workspace is None or user.disabled:
        raise Unauthorised("this device's account no longer exists", code="token_revoked")
    # Record use at most once a minute: a write on every request would serialise them.
    if device.last_seen_at is None or now - device.last_seen_at > timedelta(minutes=1):
        device.last_seen_at = now
        session.add(device)
        session.commit()
    return DeviceContext(device=device, membership=membership, user=user, workspace=workspace)


DeviceDep = Annotated[DeviceContext, Depends(current_device)]
