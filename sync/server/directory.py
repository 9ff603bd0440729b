"""Who and what the server holds: admins, workspaces, memberships, invites, submission
points and devices. Used by the admin command line, the web pages and the API alike;
each function works in the caller's session and leaves the commit to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from sync.protocol import PointInfo
from sync.server.errors import Conflict, Gone, NotFound, Unprocessable
from sync.server.models import (
    Device,
    Invite,
    Membership,
    Submission,
    SubmissionAsset,
    SubmissionPoint,
    User,
    Workspace,
    utc_now,
)
from sync.server.security import (
    hash_password,
    hash_token,
    new_invite_code,
    new_password,
    normalise_invite_code,
)

ROLES = ("member", "reviewer", "admin")
MODES = ("locked", "open")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise Unprocessable(f"{email!r} is not an email address", code="invalid_email")
    return email


# ------------------------------------------------------------------- people


def create_first_admin(session: Session, email: str) -> tuple[User, str]:
    """The first server admin and a one-time password; Conflict if there already is one."""
    if session.exec(select(User).where(col(User.is_admin))).first() is not None:
        raise Conflict("this server already has an admin", code="already_initialised")
    password = new_password()
    user = user_for_email(session, email)
    user.is_admin = True
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user, password


def user_for_email(session: Session, email: str) -> User:
    """The person with this email, added if new."""
    email = normalise_email(email)
    user = session.exec(select(User).where(col(User.email) == email)).first()
    if user is None:
        user = User(email=email)
        session.add(user)
        session.flush()
    return user


# --------------------------------------------------------------- workspaces


def create_workspace(session: Session, name: str) -> Workspace:
    name = name.strip()
    if not name or len(name) > 200:
        raise Unprocessable("a workspace needs a name of 1 to 200 characters", code="invalid_name")
    if session.exec(select(Workspace).where(col(Workspace.name) == name)).first():
        raise Conflict(f"there is already a workspace called {name!r}", code="name_taken")
    workspace = Workspace(name=name)
    session.add(workspace)
    session.flush()
    return workspace


def find_workspace(session: Session, reference: str) -> Workspace:
    """A workspace by id, id prefix (8+ characters) or exact name."""
    reference = reference.strip()
    found = (
        session.get(Workspace, reference)
        or session.exec(select(Workspace).where(col(Workspace.name) == reference)).first()
    )
    if found is None and len(reference) >= 8:
        matches = session.exec(
            select(Workspace).where(col(Workspace.id).startswith(reference.lower()))
        ).all()
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        raise NotFound(f"no workspace is called or has the id {reference!r}")
    return found


def list_workspaces(session: Session) -> list[Workspace]:
    return list(session.exec(select(Workspace).order_by(col(Workspace.name))).all())


def membership_of(session: Session, workspace_id: str, user_id: str) -> Membership | None:
    return session.exec(
        select(Membership).where(
            col(Membership.workspace_id) == workspace_id, col(Membership.user_id) == user_id
        )
    ).first()


def join(session: Session, workspace_id: str, user: User, role: str) -> Membership:
    """Make ``user`` a member of the workspace with ``role`` (a higher role is kept)."""
    if role not in ROLES:
        raise Unprocessable(f"the role must be one of {', '.join(ROLES)}", code="invalid_role")
    membership = membership_of(session, workspace_id, user.id)
    if membership is None:
        membership = Membership(workspace_id=workspace_id, user_id=user.id, role=role)
    elif ROLES.index(role) > ROLES.index(membership.role):
        membership.role = role
    session.add(membership)
    session.flush()
    return membership


# ------------------------------------------------------------------ invites


def create_invite(
    session: Session,
    workspace: Workspace,
    email: str,
    role: str = "member",
    *,
    created_by: User | None = None,
    days: int = 14,
) -> tuple[Invite, str]:
    """A one-time invite; returns the row and the code (shown once, stored hashed)."""
    if role not in ROLES:
        raise Unprocessable(f"the role must be one of {', '.join(ROLES)}", code="invalid_role")
    code = new_invite_code()
    invite = Invite(
        code_hash=hash_token(code),
        workspace_id=workspace.id,
        email=normalise_email(email),
        role=role,
        created_by=created_by.id if created_by else None,
        expires_at=utc_now() + timedelta(days=days),
    )
    session.add(invite)
    session.flush()
    return invite, code


def take_invite(session: Session, code: str) -> Invite:
    """The invite for ``code`` if it can still be redeemed, marked redeemed (the caller sets
    ``redeemed_by`` and commits). NotFound, or Gone if used or expired.

    The mark is one conditional UPDATE, so of two redemptions racing with the same code
    exactly one wins (the other waits for the row lock, then finds it used)."""
    code_hash = hash_token(normalise_invite_code(code))
    now = utc_now()
    taken = session.execute(
        update(Invite)
        .where(
            col(Invite.code_hash) == code_hash,
            col(Invite.redeemed_at).is_(None),
            col(Invite.expires_at) > now,
        )
        .values(redeemed_at=now)
        .returning(col(Invite.id))
    ).first()
    invite = session.exec(select(Invite).where(col(Invite.code_hash) == code_hash)).first()
    if invite is None:
        raise NotFound("this invite code is not known", code="invite_unknown")
    session.refresh(invite)
    if taken is None:
        if invite.redeemed_at is not None:
            raise Gone("this invite code has already been used", code="invite_used")
        raise Gone("this invite code has expired; ask for a new one", code="invite_expired")
    return invite


# -------------------------------------------------------- submission points


def parse_deadline(text: str) -> datetime:
    """``2026-12-31`` (end of that day, UTC) or an ISO date-time (UTC if no offset)."""
    from datetime import UTC, time

    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Unprocessable(
            f"{text!r} is not a date (YYYY-MM-DD) or date-time", code="invalid_deadline"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def create_point(
    session: Session,
    workspace: Workspace,
    name: str,
    mode: str = "locked",
    deadline: datetime | None = None,
) -> SubmissionPoint:
    name = name.strip()
    if not name or len(name) > 200:
        raise Unprocessable("a submission point needs a name of 1 to 200 characters")
    if mode not in MODES:
        raise Unprocessable("the mode must be 'locked' or 'open'", code="invalid_mode")
    point = SubmissionPoint(workspace_id=workspace.id, name=name, mode=mode, deadline=deadline)
    session.add(point)
    session.flush()
    return point


def accepting(point: SubmissionPoint, now: datetime | None = None) -> bool:
    """Whether the point takes new submissions now (before its deadline, if it has one)."""
    return point.deadline is None or (now or utc_now()) < point.deadline


def point_info(point: SubmissionPoint) -> PointInfo:
    return PointInfo(
        id=uuid.UUID(point.id), name=point.name, mode=point.mode,  # type: ignore[arg-type]
        deadline=point.deadline, accepting=accepting(point),
    )  # fmt: skip


def points_of(session: Session, workspace_id: str) -> list[SubmissionPoint]:
    return list(
        session.exec(
            select(SubmissionPoint)
            .where(col(SubmissionPoint.workspace_id) == workspace_id)
            .order_by(col(SubmissionPoint.created_at))
        ).all()
    )


# -------------------------------------------------------------- submissions


@dataclass(frozen=True)
class SubmissionListing:
    id: str
    member: str
    point: str
    titles: list[str]
    signature: str  # "valid" or "invalid"
    status: str
    received_at: datetime


def list_submissions(session: Session, workspace: Workspace) -> list[SubmissionListing]:
    """What the workspace received, newest first."""
    rows = session.exec(
        select(Submission, User.email, SubmissionPoint.name)
        .join(Membership, col(Membership.id) == col(Submission.membership_id))
        .join(User, col(User.id) == col(Membership.user_id))
        .join(SubmissionPoint, col(SubmissionPoint.id) == col(Submission.point_id))
        .where(col(Submission.workspace_id) == workspace.id)
        .order_by(col(Submission.received_at).desc())
    ).all()
    listings = []
    for submission, email, point_name in rows:
        titles = session.exec(
            select(SubmissionAsset.title)
            .where(col(SubmissionAsset.submission_id) == submission.id)
            .order_by(col(SubmissionAsset.id))
        ).all()
        listings.append(
            SubmissionListing(
                id=submission.id,
                member=email,
                point=point_name,
                titles=list(titles),
                signature="valid" if submission.signature_valid else "invalid",
                status=submission.status,
                received_at=submission.received_at,
            )  # fmt: skip
        )
    return listings


# ------------------------------------------------------------------ devices


@dataclass(frozen=True)
class DeviceListing:
    id: str
    name: str
    member: str
    workspace: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime | None
    revoked: bool


def list_devices(session: Session) -> list[DeviceListing]:
    rows = session.exec(
        select(Device, User.email, Workspace.name)
        .join(Membership, col(Membership.id) == col(Device.membership_id))
        .join(User, col(User.id) == col(Membership.user_id))
        .join(Workspace, col(Workspace.id) == col(Membership.workspace_id))
        .order_by(col(Device.created_at))
    ).all()
    return [
        DeviceListing(
            id=device.id,
            name=device.name,
            member=email,
            workspace=workspace,
            created_at=device.created_at,
            expires_at=device.expires_at,
            last_seen_at=device.last_seen_at,
            revoked=device.revoked_at is not None,
        )  # fmt: skip
        for device, email, workspace in rows
    ]


def revoke_device(session: Session, reference: str) -> Device:
    """Revoke a device by id or unique id prefix (4+ characters); its token stops working."""
    reference = reference.strip().lower()
    device = session.get(Device, reference)
    if device is None and len(reference) >= 4:
        matches = session.exec(select(Device).where(col(Device.id).startswith(reference))).all()
        if len(matches) > 1:
            raise Conflict(f"{reference!r} matches several devices; give more of the id")
        device = matches[0] if matches else None
    if device is None:
        raise NotFound(f"no device has the id {reference!r}")
    if device.revoked_at is None:
        device.revoked_at = utc_now()
        session.add(device)
    return device
