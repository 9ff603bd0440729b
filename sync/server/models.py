"""The workspace server's tables (SQLModel), on SQLite or PostgreSQL.

Ids are UUID strings; times are timezone-aware UTC. Secrets (device tokens, invite
codes, session tokens, share-link tokens) are stored only as SHA-256 hashes; they are
random and long, so a slow hash would add nothing. Passwords are Argon2id hashes.
Schema changes go through Alembic (``sync/server/migrations``), never ``create_all``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


def _created() -> Any:
    return Field(default_factory=utc_now, sa_column=Column(UtcDateTime(), nullable=False))


def _text(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(Text(), nullable=nullable))


def _blob(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(LargeBinary(), nullable=nullable))


class User(SQLModel, table=True):
    """A person known to the server: an admin, a reviewer or a member."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    email: str = Field(index=True, unique=True, max_length=254)
    display_name: str = Field(default="", max_length=200)
    #: Argon2id; None for members who only ever use a device.
    password_hash: str | None = Field(default=None, max_length=200)
    #: Server administrator: every workspace, devices, keys.
    is_admin: bool = False
    disabled: bool = False
    created_at: datetime = _created()


class Workspace(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(unique=True, max_length=200)
    created_at: datetime = _created()


class Membership(SQLModel, table=True):
    """A person's role in one workspace; devices enrol into a membership."""

    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    workspace_id: str = Field(foreign_key="workspace.id", index=True, max_length=36)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=36)
    role: str = Field(max_length=20)  # member | reviewer | admin
    #: The member's space identity key (hex Ed25519), set when a device enrols.
    identity_key: str | None = Field(default=None, max_length=64)
    #: Last event sequence number handed out; incremented under a row lock so that
    #: events of one member commit in sequence order (see sync/server/events.py).
    event_seq: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False, default=0))
    created_at: datetime = _created()


class Invite(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    code_hash: str = Field(index=True, unique=True, max_length=64)
    workspace_id: str = Field(foreign_key="workspace.id", index=True, max_length=36)
    email: str = Field(max_length=254)
    role: str = Field(max_length=20)
    created_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    created_at: datetime = _created()
    expires_at: datetime = _when()
    redeemed_at: datetime | None = _when(nullable=True)
    redeemed_by: str | None = Field(default=None, foreign_key="membership.id", max_length=36)


class Device(SQLModel, table=True):
    """A desktop app enrolled into a membership, holding a bearer token."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    membership_id: str = Field(foreign_key="membership.id", index=True, max_length=36)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    #: The identity key (hex Ed25519) of the space that enrolled; its submissions must
    #: be signed with it.
    identity_key: str = Field(max_length=64)
    #: Space-separated scopes, e.g. "submit pull share".
    scopes: str = Field(max_length=200)
    created_at: datetime = _created()
    expires_at: datetime = _when()
    revoked_at: datetime | None = _when(nullable=True)
    last_seen_at: datetime | None = _when(nullable=True)


class ServerKey(SQLModel, table=True):
    """The server's Ed25519 signing keys; exactly one has no ``retired_at``."""

    id: str = Field(primary_key=True, max_length=16)  # protocol.key_id(public)
    public_key: str = Field(max_length=64)
    private_key: str = Field(max_length=64)
    created_at: datetime = _created()
    retired_at: datetime | None = _when(nullable=True)
    #: The previous key's signed endorsement of this one (protocol.KeyEndorsement), JSON.
    endorsement: str | None = _text(nullable=True)


class SubmissionPoint(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    workspace_id: str = Field(foreign_key="workspace.id", index=True, max_length=36)
    name: str = Field(max_length=200)
    mode: str = Field(max_length=10)  # locked | open
    deadline: datetime | None = _when(nullable=True)
    created_at: datetime = _created()


class Blob(SQLModel, table=True):
    """A complete attachment on disk, content-addressed (files/blobs/ab/abcdef...)."""

    sha256: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_column=Column(BigInteger(), nullable=False))
    created_at: datetime = _created()


class Upload(SQLModel, table=True):
    """One member's upload of one attachment; complete when ``received == size``. A member
    may only reference attachments they uploaded themselves (no probing by hash)."""

    __table_args__ = (UniqueConstraint("membership_id", "sha256"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    membership_id: str = Field(foreign_key="membership.id", index=True, max_length=36)
    sha256: str = Field(max_length=64)
    size: int = Field(sa_column=Column(BigInteger(), nullable=False))
    received: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False, default=0))
    updated_at: datetime = _created()


class Submission(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)  # chosen by the client
    membership_id: str = Field(foreign_key="membership.id", index=True, max_length=36)
    workspace_id: str = Field(foreign_key="workspace.id", index=True, max_length=36)
    point_id: str = Field(foreign_key="submissionpoint.id", index=True, max_length=36)
    device_id: str | None = Field(default=None, foreign_key="device.id", max_length=36)
    #: The signed bytes exactly as received, and their signature (base64) and signer.
    payload: bytes = _blob()
    payload_sha256: str = Field(max_length=64)
    signature: str = Field(max_length=88)
    identity_key: str = Field(max_length=64)
    signature_valid: bool
    received_at: datetime = _created()
    #: The signed receipt returned (and returned again on a retry), JSON SignedDocument.
    receipt: str = _text()
    status: str = Field(default="received", max_length=20)  # received | withdrawn
    withdrawn_at: datetime | None = _when(nullable=True)


class SubmissionAsset(SQLModel, table=True):
    """The assets of a submission, copied out of the payload for listings."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: str = Field(foreign_key="submission.id", index=True, max_length=36)
    asset_id: str = Field(max_length=64)
    title: str = Field(max_length=500)
    kind: str = Field(default="", max_length=40)


class SubmissionAttachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    submission_id: str = Field(foreign_key="submission.id", index=True, max_length=36)
    asset_id: str = Field(max_length=64)
    sha256: str = Field(max_length=64)
    name: str = Field(max_length=255)
    size: int = Field(sa_column=Column(BigInteger(), nullable=False))
    media_type: str = Field(max_length=127)


class PeerAssignment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("submission_id", "membership_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    submission_id: str = Field(foreign_key="submission.id", index=True, max_length=36)
    #: The peer asked to review.
    membership_id: str = Field(foreign_key="membership.id", index=True, max_length=36)
    assigned_by: str = Field(foreign_key="user.id", max_length=36)
    created_at: datetime = _created()


class Feedback(SQLModel, table=True):
    """Append-only: comments, peer reviews and decisions, each signed by the server."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    submission_id: str = Field(foreign_key="submission.id", index=True, max_length=36)
    author_id: str = Field(foreign_key="user.id", max_length=36)
    kind: str = Field(max_length=20)  # comment | peer_review | decision
    decision: str | None = Field(default=None, max_length=30)
    #: The signed FeedbackDocument, JSON SignedDocument (the text lives inside it).
    document: str = _text()
    created_at: datetime = _created()


class Event(SQLModel, table=True):
    """What a member's devices pull, in ``seq`` order (per membership)."""

    __table_args__ = (UniqueConstraint("membership_id", "seq"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    membership_id: str = Field(foreign_key="membership.id", index=True, max_length=36)
    seq: int = Field(sa_column=Column(BigInteger(), nullable=False))
    kind: str = Field(max_length=30)
    #: The signed EventDocument, JSON SignedDocument.
    document: str = _text()
    created_at: datetime = _created()


class Share(SQLModel, table=True):
    """A public, read-only page of a snapshot, at an unguessable address."""

    id: str = Field(primary_key=True, max_length=36)  # chosen by the client
    membership_id: str = Field(foreign_key="membership.id", index=True, max_length=36)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    payload: bytes = _blob()
    signature: str = Field(max_length=88)
    title: str = Field(max_length=500)
    comments_enabled: bool = False
    expires_at: datetime | None = _when(nullable=True)
    revoked_at: datetime | None = _when(nullable=True)
    created_at: datetime = _created()


class ShareComment(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    share_id: str = Field(foreign_key="share.id", index=True, max_length=36)
    author_name: str = Field(max_length=100)
    text: str = Field(max_length=5000)
    created_at: datetime = _created()


class Resource(SQLModel, table=True):
    """Something the organisation pushes down: a template, a document or a link."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    workspace_id: str = Field(foreign_key="workspace.id", index=True, max_length=36)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)  # template | document | link
    created_at: datetime = _created()


class ResourceVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("resource_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: str = Field(foreign_key="resource.id", index=True, max_length=36)
    version: int
    sha256: str | None = Field(default=None, max_length=64)
    size: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    media_type: str | None = Field(default=None, max_length=127)
    url: str | None = Field(default=None, max_length=2000)
    created_by: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    created_at: datetime = _created()


class WebSession(SQLModel, table=True):
    """A signed-in browser (reviewers and admins)."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=36)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _created()
    expires_at: datetime = _when()
