"""The sync protocol: request and response models shared by the client and the server.

Everything that crosses the wire between a Cairn space and a workspace server is
declared here, so the two sides cannot drift. The API lives under ``/api/v1``.

Signed documents
----------------
A signed document is a JSON object serialised *once* by its author (canonical JSON:
sorted keys, no spaces, UTF-8) and carried as base64 beside an Ed25519 signature.
The verifier checks the signature over the exact bytes it received and only then
parses them, so nothing is ever re-serialised before verification. The signed
message is ``b"cairn-v1:" + purpose + b"\\0" + body``, where the purpose is the
document's ``format`` (e.g. ``"cairn.submission/1"``): a signature made for one kind
of document can never be replayed as another.

- Submissions and share snapshots are signed by the space's identity key.
- Receipts, feedback, and everything else the server sends by pull are signed by the
  server's key, which the client pins when it enrols.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

API_PREFIX = "/api/v1"
API_VERSION = 1

# Formats (and signing purposes) of signed documents.
SUBMISSION_FORMAT = "cairn.submission/1"
SHARE_FORMAT = "cairn.share/1"
RECEIPT_FORMAT = "cairn.receipt/1"
FEEDBACK_FORMAT = "cairn.feedback/1"
EVENT_FORMAT = "cairn.event/1"
KEY_ENDORSEMENT_FORMAT = "cairn.key-endorsement/1"

#: Longest text in any one field, title or comment (characters).
MAX_TEXT = 100_000
#: Most assets in one submission or share.
MAX_ASSETS = 200
#: Most attachments on one asset.
MAX_ATTACHMENTS = 100
#: Most items one pull returns.
MAX_PULL_LIMIT = 500

HexKey = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", strip_whitespace=True)
]
Role = Literal["member", "reviewer", "admin"]
PointMode = Literal["locked", "open"]
Decision = Literal["validated", "needs_more_evidence", "not_yet"]
FeedbackKind = Literal["comment", "peer_review", "decision"]
EventKind = Literal["feedback", "review_request", "share_comment", "resource", "withdrawn"]


class ProtocolError(Exception):
    """A document that cannot be trusted or read: bad signature, bad encoding, bad shape."""


class BadSignature(ProtocolError):
    """The signature does not match the document and the key."""


class InvalidDocument(ProtocolError):
    """The document is not valid base64, JSON, or the expected shape."""


class _Model(BaseModel):
    # Unknown fields are refused: a typo or a tampered field is an error, not ignored.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store U+0000 in text (it was a 500 there, and stored on
        # SQLite), and no person types one: refused in every field, on both databases.
        _refuse_nul(value)
        return value


class _Answer(_Model):
    """What the server answers (not signed): unknown fields are ignored, so a newer
    server can add to an answer without breaking older apps."""

    model_config = ConfigDict(extra="ignore")


def _refuse_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain the NUL character (U+0000)")
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_nul(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)


# ------------------------------------------------------------- signed documents


def canonical_json(value: BaseModel | dict[str, Any]) -> bytes:
    """The bytes a document is signed as: sorted keys, no spaces, UTF-8."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_message(purpose: str, body: bytes) -> bytes:
    """What is actually signed: the purpose keeps one kind of signature from passing as another."""
    return b"cairn-v1:" + purpose.encode("ascii") + b"\0" + body


def key_id(public_key: bytes) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


class SignedDocument(_Model):
    """A document as signed: base64 body bytes, base64 Ed25519 signature, the signer's key id."""

    body: Annotated[str, StringConstraints(max_length=12_000_000)]
    signature: Annotated[str, StringConstraints(min_length=86, max_length=88)]
    key_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]

    def body_bytes(self) -> bytes:
        return _b64decode(self.body, "body")

    def signature_bytes(self) -> bytes:
        signature = _b64decode(self.signature, "signature")
        if len(signature) != 64:
            raise InvalidDocument("an Ed25519 signature is 64 bytes")
        return signature


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidDocument(f"the {what} is not valid base64") from exc


def sign_document(
    private_key: Ed25519PrivateKey, purpose: str, document: BaseModel | dict[str, Any]
) -> SignedDocument:
    """Serialise ``document`` canonically and sign it for ``purpose``."""
    body = canonical_json(document)
    return sign_bytes(private_key, purpose, body)


def sign_bytes(private_key: Ed25519PrivateKey, purpose: str, body: bytes) -> SignedDocument:
    """Sign bytes that are already canonical JSON."""
    public = private_key.public_key().public_bytes_raw()
    return SignedDocument(
        body=base64.b64encode(body).decode("ascii"),
        signature=base64.b64encode(private_key.sign(signing_message(purpose, body))).decode(),
        key_id=key_id(public),
    )


def verify_bytes(public_key: bytes, purpose: str, body: bytes, signature: bytes) -> None:
    """Raise BadSignature unless ``signature`` is ``public_key``'s over ``body`` for ``purpose``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, signing_message(purpose, body)
        )
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature(f"the signature on this {purpose} document does not match") from exc


ModelT = TypeVar("ModelT", bound=BaseModel)


def open_document(
    signed: SignedDocument, public_key: bytes, purpose: str, model: type[ModelT]
) -> ModelT:
    """Verify ``signed`` against ``public_key`` and only then parse it as ``model``."""
    body = signed.body_bytes()
    verify_bytes(public_key, purpose, body, signed.signature_bytes())
    return parse_body(body, model)


def parse_body(body: bytes, model: type[ModelT]) -> ModelT:
    """Parse signed bytes (already verified) as ``model``; InvalidDocument if they do not fit."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'document'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise InvalidDocument(f"the document does not have the expected shape: {problems}") from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ errors


class ErrorBody(_Answer):
    code: str = Field(description="machine-readable, e.g. 'invalid_signature'")
    message: str = Field(description="a sentence a person can read")
    details: list[dict[str, Any]] | None = None


class ErrorResponse(_Answer):
    """Every 4xx and 5xx answer of the API has this shape."""

    error: ErrorBody


# -------------------------------------------------------- server and enrolment


class KeyEndorsement(_Model):
    """A retired server key's signature over its successor, so a client can follow a
    planned rotation without trusting a key out of nowhere."""

    format: Literal["cairn.key-endorsement/1"] = "cairn.key-endorsement/1"
    previous_key: HexKey
    next_key: HexKey
    created_at: datetime


class ServerInfo(_Answer):
    """``GET /api/v1/server``: who this server is (no authentication needed)."""

    name: str
    api_version: int = API_VERSION
    server_key: HexKey
    server_key_id: str
    #: Signed endorsements, oldest first, from each earlier key to the next one.
    endorsements: list[SignedDocument] = Field(default_factory=list)
    #: Largest piece of an attachment one PUT may carry, and largest attachment.
    max_piece_bytes: int | None = None
    max_attachment_bytes: int | None = None


class EnrolRequest(_Model):
    """``POST /api/v1/enrol``: redeem an invite code with the space's identity key."""

    invite_code: Annotated[str, StringConstraints(min_length=8, max_length=64)]
    identity_key: HexKey
    device_name: ShortText


class WorkspaceInfo(_Answer):
    id: UUID
    name: str
    role: Role


class EnrolResponse(_Answer):
    device_id: UUID
    device_token: str
    token_expires_at: datetime
    member_id: UUID
    email: str
    workspace: WorkspaceInfo
    server_key: HexKey
    server_key_id: str


class PointInfo(_Answer):
    id: UUID
    name: str
    mode: PointMode
    deadline: datetime | None
    accepting: bool = Field(description="whether new submissions are accepted now")


class AccountInfo(_Answer):
    """``GET /api/v1/me``: what this device may do."""

    device_id: UUID
    member_id: UUID
    email: str
    workspace: WorkspaceInfo
    points: list[PointInfo]
    token_expires_at: datetime
    scopes: list[str]


# ------------------------------------------------------------------ attachments


class UploadStatus(_Answer):
    """``GET|PUT /api/v1/blobs/{sha256}``: how much of an attachment has arrived."""

    sha256: Sha256Hex
    size: int = Field(ge=0)
    received: int = Field(ge=0)
    complete: bool


# ------------------------------------------------------------------ submissions


class AttachmentRef(_Model):
    """An attachment of a snapshot, uploaded beforehand by its SHA-256."""

    sha256: Sha256Hex
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    size: int = Field(ge=0)
    media_type: Annotated[str, StringConstraints(max_length=127)] = "application/octet-stream"


class SnapshotField(_Model):
    """One answer, with the label the person saw, so the reviewer reads the same form."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    label: Annotated[str, StringConstraints(max_length=500)]
    type: Annotated[str, StringConstraints(max_length=30)] = "text"
    value: Any = None


class AssetSnapshot(_Model):
    """One asset as it was when the person chose to send it."""

    asset_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    version: int = Field(ge=1)
    kind: Annotated[str, StringConstraints(max_length=40)] = ""
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    template: Annotated[str, StringConstraints(max_length=200)] = ""
    template_version: Annotated[str, StringConstraints(max_length=40)] | None = None
    fields: list[SnapshotField] = Field(default_factory=list, max_length=500)
    tags: list[ShortText] = Field(default_factory=list, max_length=100)
    skills: list[ShortText] = Field(default_factory=list, max_length=100)
    status: Annotated[str, StringConstraints(max_length=100)] = ""
    created: Annotated[str, StringConstraints(max_length=40)] = ""
    updated: Annotated[str, StringConstraints(max_length=40)] = ""
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class SubmissionPayload(_Model):
    """What the person signs and sends to a submission point."""

    format: Literal["cairn.submission/1"] = "cairn.submission/1"
    submission_id: UUID = Field(description="chosen by the client; the idempotency key")
    workspace_id: UUID
    point_id: UUID
    identity_key: HexKey
    created_at: datetime
    assets: list[AssetSnapshot] = Field(min_length=1, max_length=MAX_ASSETS)


class ReceiptBody(_Model):
    """The server's signed word that it received exactly these bytes."""

    format: Literal["cairn.receipt/1"] = "cairn.receipt/1"
    submission_id: UUID
    workspace_id: UUID
    point_id: UUID
    member_id: UUID
    payload_sha256: Sha256Hex
    received_at: datetime


class SubmissionResponse(_Answer):
    """``POST /api/v1/submissions`` (and ``GET /api/v1/submissions/{id}``)."""

    submission_id: UUID
    status: Literal["received", "withdrawn"]
    receipt: SignedDocument


class SubmissionSummary(_Answer):
    submission_id: UUID
    point_id: UUID
    status: Literal["received", "withdrawn"]
    received_at: datetime
    titles: list[str]


# --------------------------------------------------------------------- feedback


class FeedbackDocument(_Model):
    """A comment, peer review or decision on a submission, signed by the server."""

    format: Literal["cairn.feedback/1"] = "cairn.feedback/1"
    feedback_id: UUID
    submission_id: UUID
    workspace_id: UUID
    asset_ids: list[str]
    kind: FeedbackKind
    author: str
    author_role: Literal["member", "reviewer", "admin", "peer"]
    text: LongText = ""
    decision: Decision | None = None
    rating: int | None = Field(default=None, ge=1, le=5)
    rubric: Annotated[str, StringConstraints(max_length=200)] | None = None
    created_at: datetime


class PeerReviewRequest(_Model):
    """``POST /api/v1/reviews/{submission_id}``: an assigned peer's review, from a device."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    rating: int | None = Field(default=None, ge=1, le=5)


# ------------------------------------------------------------------------ pull


class EventDocument(_Model):
    """Anything the server sends down by pull, signed by the server. ``data`` holds the
    kind's own document: a FeedbackDocument for ``feedback``, and so on."""

    format: Literal["cairn.event/1"] = "cairn.event/1"
    event_id: UUID
    member_id: UUID
    workspace_id: UUID
    kind: EventKind
    created_at: datetime
    data: dict[str, Any]


class PullItem(_Answer):
    seq: int = Field(ge=1)
    kind: EventKind
    event: SignedDocument


class PullResponse(_Answer):
    """``GET /api/v1/pull?after=N&limit=M``: events with seq > N, oldest first."""

    items: list[PullItem]
    cursor: int = Field(ge=0, description="pass as `after` next time")
    more: bool


# ------------------------------------------------------------------ resources


class ResourceInfo(_Answer):
    id: UUID
    workspace_id: UUID
    name: str
    kind: Literal["template", "document", "link"]
    version: int
    sha256: Sha256Hex | None = None
    size: int | None = None
    media_type: str | None = None
    url: str | None = None
    created_at: datetime


# ---------------------------------------------------------------- public shares


class SharePayload(_Model):
    """A snapshot the person publishes as a read-only web page (signed like a submission)."""

    format: Literal["cairn.share/1"] = "cairn.share/1"
    share_id: UUID
    identity_key: HexKey
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    created_at: datetime
    assets: list[AssetSnapshot] = Field(min_length=1, max_length=MAX_ASSETS)


class ShareRequest(_Model):
    """``POST /api/v1/shares``: publish (idempotent on ``share_id``)."""

    share_id: UUID
    snapshot: SignedDocument
    comments_enabled: bool = False
    expires_at: datetime | None = None


class ShareResponse(_Answer):
    """A share as the server holds it. The page's address is a secret the server keeps
    only as a hash, so ``url`` is given once, in the answer that creates the share (201);
    a retry of the same request (200), a listing or a change has ``url: null``. A client
    that lost the address revokes the share and publishes it again."""

    share_id: UUID
    url: str | None = Field(description="the page's address; only in the answer that creates it")
    comments_enabled: bool
    expires_at: datetime | None
    revoked: bool
    title: str | None = None
    created_at: datetime | None = None


class ShareUpdate(_Model):
    """``PATCH /api/v1/shares/{share_id}``: only the fields given change; ``expires_at:
    null`` removes the expiry. An expiry must be in the future."""

    comments_enabled: bool | None = None
    expires_at: datetime | None = None


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def is_sha256_hex(text: str) -> bool:
    return bool(_HEX64.match(text))
