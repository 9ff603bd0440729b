"""The desktop side of the sync protocol: an HTTP client for a workspace server.

It shares only ``sync/protocol.py`` with the server. One ``WorkspaceClient`` per
thread (a ``requests.Session`` is not meant to be shared between threads).

What is retried
---------------
Nothing, behind the caller's back: each method makes its requests once and raises a
typed error from ``sync/errors.py``. ``is_retryable`` says whether trying again later
can help (no connection, a cut-off answer, a 5xx, a 429) and ``Backoff`` says when.
Trying again is always safe, because every request is idempotent by design:

- attachments are named by their SHA-256 and sent in pieces at explicit offsets; a
  piece the server did not get in full is dropped by the server, and ``upload`` asks
  where the server stands before sending anything, so a retry resumes rather than
  starts over;
- a submission carries the client's own submission id, so sending it again returns
  the first receipt instead of storing a second submission (``get_submission`` fetches
  the receipt again without sending anything);
- a share carries the client's share id; changing or revoking one sets a state.

The only things ``upload`` handles itself are answers that say how to go on within the
same call: ``offset_mismatch`` (resume where the server says) and 413 on a piece
(send smaller pieces).

What is verified
----------------
The server's signing key is pinned when the space enrols. Before the first request
that carries the person's content (an attachment, a submission, a share, a review),
each client checks once that the server still shows that key, so a server that was
replaced or set up again gets nothing. Every receipt, event and
feedback document is checked against the pinned key (or an earlier key of the same
server) before it is parsed, and its content against what was sent: a receipt must
name our submission id, workspace, point and the SHA-256 of the exact bytes we sent.
A document signed by a key we do not know makes the client look at the server's key
once (``check_server_key``): a planned rotation is followed through the chain of
endorsements, each signed by the key before; anything else is ``ServerKeyChanged``.
A document that does not verify is ``BadServerSignature``; nothing from it is used.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import os
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit
from uuid import UUID

import requests
from pydantic import BaseModel, TypeAdapter, ValidationError

from sync.errors import (
    AttachmentChanged,
    BadServerSignature,
    CertificateRejected,
    InvalidServerAddress,
    InviteInvalid,
    NotAuthorised,
    NotEnrolled,
    Rejected,
    ServerBusy,
    ServerFailed,
    ServerKeyChanged,
    ServerUnreachable,
    SyncError,
    TokenExpired,
    TokenRevoked,
    TokenUnknown,
    UnexpectedAnswer,
)
from sync.protocol import (
    API_PREFIX,
    EVENT_FORMAT,
    FEEDBACK_FORMAT,
    KEY_ENDORSEMENT_FORMAT,
    RECEIPT_FORMAT,
    AccountInfo,
    EnrolRequest,
    EnrolResponse,
    EventDocument,
    FeedbackDocument,
    KeyEndorsement,
    PeerReviewRequest,
    ProtocolError,
    PullResponse,
    ReceiptBody,
    ResourceInfo,
    ServerInfo,
    ShareRequest,
    ShareResponse,
    ShareUpdate,
    SignedDocument,
    SubmissionPayload,
    SubmissionResponse,
    SubmissionSummary,
    UploadStatus,
    is_sha256_hex,
    key_id,
    open_document,
    parse_body,
    sha256_hex,
)

MiB = 1024 * 1024
#: Attachment pieces per request. The server takes up to 32 MiB; 8 MiB loses little
#: when a connection drops and keeps requests well under common reverse-proxy limits.
DEFAULT_PIECE_BYTES = 8 * MiB
#: Smallest piece ``upload`` falls back to when a proxy refuses large bodies (413).
MIN_PIECE_BYTES = 256 * 1024
_DOWNLOAD_BLOCK = MiB
#: How many answers in a row may fail to move an upload forward before we give up.
_MAX_STALLS = 3
#: Longest error message from a server we pass on to a person.
_MAX_MESSAGE = 300

ModelT = TypeVar("ModelT", bound=BaseModel)


def user_agent() -> str:
    try:
        return f"cairn/{metadata.version('cairn')}"
    except metadata.PackageNotFoundError:
        return "cairn"


# ------------------------------------------------------------------ retry policy


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt ``n`` (0 for the first retry) waits
    a random time between 0 and ``min(cap, base * 2**n)`` seconds, so many devices coming
    back at once spread out. A server's Retry-After is a floor, itself capped."""

    base: float = 1.0
    cap: float = 300.0
    #: A number in [0, 1); replaced in tests.
    uniform: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if attempt < 0:
            raise ValueError("attempts count from 0")
        # 2**64 seconds is past any cap; stop growing before floats overflow.
        ceiling = self.cap if attempt >= 64 else min(self.cap, self.base * 2.0**attempt)
        wait = self.uniform() * ceiling
        if retry_after is not None:
            wait = max(wait, min(max(retry_after, 0.0), self.cap))
        return wait

    def delay_after(self, error: BaseException, attempt: int) -> float:
        """The delay before retrying after ``error`` (honours its Retry-After)."""
        return self.delay(attempt, getattr(error, "retry_after", None))


def is_retryable(error: BaseException) -> bool:
    """Whether the same request may succeed later: no answer, a cut-off answer, 5xx, 429."""
    return isinstance(error, SyncError) and error.retryable


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --------------------------------------------------------------------- key chain


def endorsed_successors(start: bytes, endorsements: Iterable[SignedDocument]) -> list[bytes]:
    """``start`` and the keys it leads to, in order, each endorsed by the key before it
    (a signature of the earlier key over a KeyEndorsement naming both). Endorsements
    that do not verify, or that come from keys off the chain, are ignored."""
    chain = [start]
    remaining = list(endorsements)
    while True:
        current = chain[-1]
        for document in remaining:
            if document.key_id != key_id(current):
                continue
            try:
                endorsement = open_document(
                    document, current, KEY_ENDORSEMENT_FORMAT, KeyEndorsement
                )
            except ProtocolError:
                continue
            successor = bytes.fromhex(endorsement.next_key)
            if bytes.fromhex(endorsement.previous_key) != current or successor in chain:
                continue
            chain.append(successor)
            remaining.remove(document)
            break
        else:
            return chain


def endorsed_predecessors(key: bytes, endorsements: Iterable[SignedDocument]) -> list[bytes]:
    """The keys that led to ``key`` by endorsement, oldest first (not ``key`` itself).

    Unlike successors, predecessors prove nothing by themselves (anyone can endorse a key
    with a key of their own): trust them only as far as ``key`` came, i.e. on first use.
    """
    found: list[bytes] = []
    documents = list(endorsements)
    current = key
    while True:
        for document in documents:
            try:
                claimed = parse_body(document.body_bytes(), KeyEndorsement)
                previous = bytes.fromhex(claimed.previous_key)
                if bytes.fromhex(claimed.next_key) != current or previous in (key, *found):
                    continue
                open_document(document, previous, KEY_ENDORSEMENT_FORMAT, KeyEndorsement)
            except ProtocolError:
                continue
            found.append(previous)
            current = previous
            break
        else:
            return list(reversed(found))


@dataclass(frozen=True)
class ServerKeys:
    """The server keys a space trusts: the one it pinned (or followed to), and the earlier
    ones of the same server, for documents signed before a rotation. Keep both."""

    current: bytes
    earlier: tuple[bytes, ...] = ()

    def find(self, wanted_id: str) -> bytes | None:
        for key in (self.current, *self.earlier):
            if key_id(key) == wanted_id:
                return key
        return None


# ------------------------------------------------------------------------- pull


@dataclass(frozen=True)
class PulledEvent:
    """One verified event. For ``feedback``, ``feedback`` holds the verified document and
    ``feedback_signed`` the signed original, to keep as evidence beside the asset."""

    seq: int
    event: EventDocument
    signed: SignedDocument
    feedback: FeedbackDocument | None = None
    feedback_signed: SignedDocument | None = None


@dataclass(frozen=True)
class PullPage:
    items: list[PulledEvent]
    #: Pass as ``after`` next time (only once the items are stored).
    cursor: int
    more: bool


# ----------------------------------------------------------------------- plumbing


class _SameHostSession(requests.Session):
    """Follows redirects only for GET, and only to the same scheme, host and port (or
    from http to https on the same host): a redirect anywhere else comes back as a 3xx
    and is refused, so a token or a body never goes to another server."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None or resp.request.method != "GET":
            return None
        before = urlsplit(resp.url)
        after = urlsplit(urljoin(resp.url, target))
        same_origin = (before.scheme, before.hostname, before.port) == (
            after.scheme, after.hostname, after.port
        )  # fmt: skip
        upgrade = (before.scheme, after.scheme) == ("http", "https")
        if after.hostname != before.hostname or not (same_origin or upgrade):
            return None
        return target


class _Piece:
    """``length`` bytes of a file from where it stands, read block by block as the request
    is sent; ``on_read`` hears how many have been read so far. A file that ends early
    raises AttachmentChanged (never a short body the server would wait for)."""

    def __init__(self, stream: IO[bytes], length: int, on_read: Callable[[int], None]) -> None:
        self._stream = stream
        self._length = length
        self._done = 0
        self._on_read = on_read

    def __len__(self) -> int:
        return self._length

    def __bool__(self) -> bool:
        return True

    def read(self, amount: int = -1) -> bytes:
        remaining = self._length - self._done
        if remaining <= 0:
            return b""
        if amount < 0 or amount > remaining:
            amount = min(remaining, MiB)
        data = self._stream.read(amount)
        if not data:
            raise AttachmentChanged("the attachment's file became shorter while it was sent")
        self._done += len(data)
        self._on_read(self._done)
        return data


def _progress_from(
    report: Callable[[int, int], None], offset: int, size: int, done_in_piece: int
) -> None:
    report(offset + done_in_piece, size)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


# ------------------------------------------------------------------------ client


class WorkspaceClient:
    """Speaks the workspace server's API (``/api/v1``) for one space.

    ``pinned_key`` is the server key pinned at enrolment (``earlier_keys``: the same
    server's earlier keys); keep ``client.keys`` after ``enrol`` and whenever
    ``on_keys_changed`` is called, and ``client.token`` after ``enrol``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        pinned_key: bytes | None = None,
        earlier_keys: Sequence[bytes] = (),
        timeout: tuple[float, float] = (5.0, 60.0),
        piece_bytes: int = DEFAULT_PIECE_BYTES,
        ca_bundle: Path | None = None,
        on_keys_changed: Callable[[ServerKeys], None] | None = None,
    ) -> None:
        address = base_url.strip().rstrip("/")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidServerAddress(
                "the server address must start with https:// (or http://) and name a host"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise InvalidServerAddress("the server address may not carry a query or a password")
        if piece_bytes < 1:
            raise ValueError("pieces must hold at least one byte")
        self.base_url = address
        self.token = token
        self.keys: ServerKeys | None = (
            ServerKeys(pinned_key, tuple(earlier_keys)) if pinned_key is not None else None
        )
        self.timeout = timeout
        self.piece_bytes = piece_bytes
        self.on_keys_changed = on_keys_changed
        self._key_checked = False
        self._http = _SameHostSession()
        self._http.headers["User-Agent"] = user_agent()
        self._http.headers["Accept"] = "application/json"
        if ca_bundle is not None:
            self._http.verify = str(ca_bundle)

    @property
    def pinned_key(self) -> bytes | None:
        return self.keys.current if self.keys else None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WorkspaceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ server and keys

    def server_info(self) -> ServerInfo:
        """Who the server is and the key it signs with now (no token needed)."""
        info = self._parse(self._request("GET", "/server", auth=False), ServerInfo)
        if info.server_key_id != key_id(bytes.fromhex(info.server_key)):
            raise UnexpectedAnswer("the server's key and its key id do not belong together")
        return info

    def check_server_key(self) -> bytes:
        """The server's current key, if it is the pinned one or an endorsement chain from
        the pinned key leads to it (then it becomes the pinned key, the old ones stay
        trusted for old documents, and ``on_keys_changed`` is called). ServerKeyChanged
        otherwise, including a return to a key that was retired."""
        keys = self._require_keys()
        info = self.server_info()
        offered = bytes.fromhex(info.server_key)
        if offered != keys.current:
            chain = endorsed_successors(keys.current, info.endorsements)
            if offered not in chain:
                raise ServerKeyChanged(keys.current, offered)
            path = chain[: chain.index(offered)]
            self._set_keys(ServerKeys(offered, (*keys.earlier, *path)))
        self._key_checked = True
        return offered

    def _check_key_before_sending(self) -> None:
        """Once per client, before the first request that carries the person's content:
        a server that shows an unexpected key gets nothing (ServerKeyChanged). This
        catches a server that was replaced or set up again; it is not proof that the
        server holds the key (TLS is), which only its signatures give."""
        if not self._key_checked:
            self.check_server_key()

    def _set_keys(self, keys: ServerKeys) -> None:
        self.keys = keys
        if self.on_keys_changed is not None:
            self.on_keys_changed(keys)

    def _require_keys(self) -> ServerKeys:
        if self.keys is None:
            raise NotEnrolled()
        return self.keys

    # --------------------------------------------------------------- enrolment

    def enrol(
        self, invite_code: str, identity_public_key: bytes, device_name: str
    ) -> EnrolResponse:
        """Redeem a one-time invite code with the space's identity key. Afterwards the
        client holds the device token and has pinned the server's key (and, on first use,
        the earlier keys the server shows endorsing it). If a key was pinned already, the
        server must still show it, or a chain to its new one (``check_server_key``),
        before the code is spent. InviteInvalid if the code is unknown, used or expired."""
        if len(identity_public_key) != 32:
            raise ValueError("an identity key is a 32-byte Ed25519 public key")
        code = invite_code.strip()
        if not 8 <= len(code) <= 64:
            raise InviteInvalid("invalid_invite", "this is not an invite code", 422)
        name = " ".join(device_name.split())[:200] or "Cairn"
        if self.keys is not None:
            self.check_server_key()
        request = EnrolRequest(
            invite_code=code, identity_key=identity_public_key.hex(), device_name=name
        )
        response = self._parse(
            self._request("POST", "/enrol", auth=False, json_body=request), EnrolResponse
        )
        # The code is spent now: keep the token whatever happens next.
        self.token = response.device_token
        offered = bytes.fromhex(response.server_key)
        if self.keys is None:
            self._set_keys(ServerKeys(offered, self._earlier_keys_on_first_use(offered)))
            self._key_checked = True
        elif offered != self.keys.current:
            self.check_server_key()
        return response

    def _earlier_keys_on_first_use(self, key: bytes) -> tuple[bytes, ...]:
        # Best effort: without them only documents signed before the last rotation
        # (e.g. a new device pulling a member's history) would fail to verify.
        try:
            return tuple(endorsed_predecessors(key, self.server_info().endorsements))
        except SyncError:
            return ()

    def me(self) -> AccountInfo:
        """This device's account: workspace, role, submission points, scopes."""
        return self._parse(self._request("GET", "/me"), AccountInfo)

    # ------------------------------------------------------------- attachments

    def upload_status(self, sha256: str, size: int) -> UploadStatus:
        """How much of this attachment the server has from this member (starts it if new)."""
        if not is_sha256_hex(sha256) or size < 0:
            raise ValueError("an attachment is named by its lowercase hex SHA-256 and size")
        status = self._parse(
            self._request("GET", f"/blobs/{sha256}", params={"size": size}), UploadStatus
        )
        if status.sha256 != sha256 or status.size != size or status.received > size:
            raise UnexpectedAnswer("the server answered about another attachment than ours")
        return status

    def upload(
        self,
        sha256: str,
        size: int,
        open_stream: Callable[[], IO[bytes]],
        progress: Callable[[int, int], None] | None = None,
    ) -> UploadStatus:
        """Upload an attachment, resuming from what the server already has.

        ``open_stream`` opens the file (binary, seekable); it is read in pieces of at
        most ``piece_bytes`` from the server's count on, block by block, never whole.
        ``progress(bytes_done, size)`` is called as bytes go out (it can go back after
        a resume). Returns the final status (``complete``). A dropped connection raises
        ServerUnreachable: call ``upload`` again and it goes on from the last piece the
        server kept. AttachmentChanged if the file is not the size given or, at the end,
        the server finds another SHA-256 (it then discards what it received).
        """
        self._check_key_before_sending()
        status = self.upload_status(sha256, size)
        report = progress or (lambda _done, _size: None)
        report(status.received, size)
        piece_bytes = self.piece_bytes
        stalls = 0
        with open_stream() as stream:
            if stream.seek(0, os.SEEK_END) != size:
                raise AttachmentChanged(
                    "the attachment's file no longer has the size it had when it was chosen"
                )
            while not status.complete:
                offset = status.received
                length = min(piece_bytes, size - offset)
                stream.seek(offset)
                piece = _Piece(
                    stream, length, functools.partial(_progress_from, report, offset, size)
                )
                try:
                    answer = self._request(
                        "PUT", f"/blobs/{sha256}", params={"offset": offset, "size": size},
                        data=piece, headers={"Content-Type": "application/octet-stream"},
                    )  # fmt: skip
                except Rejected as exc:
                    if exc.code == "hash_mismatch":
                        raise AttachmentChanged(
                            "the attachment's file changed after it was chosen; "
                            "choose it again to send it as it is now"
                        ) from exc
                    if exc.code == "offset_mismatch":
                        # Another upload of ours got there first, or the server lost
                        # bytes: its status is the truth to resume from.
                        stalls += 1
                    elif exc.status == 413 and piece_bytes > MIN_PIECE_BYTES:
                        piece_bytes = max(MIN_PIECE_BYTES, piece_bytes // 2)
                    else:
                        raise
                    if stalls > _MAX_STALLS:
                        raise
                    status = self.upload_status(sha256, size)
                    report(status.received, size)
                    continue
                status = self._parse(answer, UploadStatus)
                if status.sha256 != sha256 or status.size != size or status.received > size:
                    raise UnexpectedAnswer("the server answered about another attachment")
                stalls = 0 if status.received > offset else stalls + 1
                if stalls > _MAX_STALLS:
                    raise UnexpectedAnswer("the server keeps taking pieces without keeping them")
                report(status.received, size)
        return status

    # ------------------------------------------------------------- submissions

    def submit(self, signed: SignedDocument) -> tuple[SubmissionResponse, ReceiptBody]:
        """Send a signed submission (its attachments uploaded first) and return the answer
        with its verified receipt. Sending the same document again returns the same
        receipt, so after ServerUnreachable simply send it again (or ``get_submission``).
        BadServerSignature if the receipt is not the server's signature over exactly
        these bytes, this submission id, workspace and point."""
        payload = parse_body(signed.body_bytes(), SubmissionPayload)
        self._check_key_before_sending()
        answer = self._parse(
            self._request("POST", "/submissions", json_body=signed), SubmissionResponse
        )
        return answer, self._verified_receipt(answer, payload.submission_id, signed, payload)

    def get_submission(
        self, submission_id: UUID, sent: SignedDocument | None = None
    ) -> tuple[SubmissionResponse, ReceiptBody]:
        """A submission of this member with its verified receipt (to recover a receipt
        that was lost on the way). Given ``sent``, the receipt must be for those bytes."""
        self._require_keys()
        payload = parse_body(sent.body_bytes(), SubmissionPayload) if sent else None
        answer = self._parse(
            self._request("GET", f"/submissions/{submission_id}"), SubmissionResponse
        )
        return answer, self._verified_receipt(answer, submission_id, sent, payload)

    def list_submissions(self, page: int = 100) -> list[SubmissionSummary]:
        """Every submission of this member, oldest first, as the server lists them (a
        listing is not signed: each receipt comes with ``get_submission``)."""
        return self._all_pages("/submissions", SubmissionSummary, page,
                               lambda item: item.submission_id)  # fmt: skip

    def withdraw(self, submission_id: UUID) -> SubmissionResponse:
        """Withdraw a submission (withdrawing again is fine); the receipt stays valid."""
        answer = self._parse(
            self._request("POST", f"/submissions/{submission_id}/withdraw"), SubmissionResponse
        )
        self._verified_receipt(answer, submission_id, None, None)
        return answer

    def _verified_receipt(
        self,
        answer: SubmissionResponse,
        submission_id: UUID,
        sent: SignedDocument | None,
        payload: SubmissionPayload | None,
    ) -> ReceiptBody:
        receipt = self._open(answer.receipt, RECEIPT_FORMAT, ReceiptBody, "receipt")
        if answer.submission_id != submission_id or receipt.submission_id != submission_id:
            raise BadServerSignature("the server's receipt is for another submission")
        if sent is not None and receipt.payload_sha256 != sha256_hex(sent.body_bytes()):
            raise BadServerSignature(
                "the server's receipt is for other content than what this space sent"
            )
        if payload is not None and (
            receipt.workspace_id != payload.workspace_id or receipt.point_id != payload.point_id
        ):
            raise BadServerSignature("the server's receipt names another workspace or point")
        return receipt

    # ------------------------------------------------------------------ reviews

    def peer_review(
        self, submission_id: UUID, text: str, rating: int | None = None
    ) -> FeedbackDocument:
        """Send this member's review of a submission they were asked to peer-review
        (sending the same review again is fine); returns the server's verified feedback
        document, which the submitter receives by pull."""
        request = PeerReviewRequest(text=text, rating=rating)
        self._check_key_before_sending()
        signed = self._parse(
            self._request("POST", f"/reviews/{submission_id}", json_body=request), SignedDocument
        )
        feedback = self._open(signed, FEEDBACK_FORMAT, FeedbackDocument, "feedback")
        if feedback.submission_id != submission_id or feedback.kind != "peer_review":
            raise BadServerSignature("the server's answer is not this review")
        return feedback

    # --------------------------------------------------------------------- pull

    def pull(self, after: int = 0, limit: int = 100) -> PullPage:
        """Events after ``after``, oldest first, each verified: the event's signature and,
        for feedback, the feedback document's own signature inside it.

        The first item that does not verify raises BadServerSignature with ``seq`` (its
        number) and ``verified`` (the items before it, which did verify). The caller
        keeps those, then either stops and reports (the default the app should take:
        nothing after a forged item is trusted blindly) or reports and goes on from
        ``after=seq``, skipping it. The cursor is only worth storing with the items.
        """
        if after < 0 or limit < 1:
            raise ValueError("after is 0 or more and limit 1 or more")
        self._require_keys()
        answer = self._parse(
            self._request("GET", "/pull", params={"after": after, "limit": limit}), PullResponse
        )
        items: list[PulledEvent] = []
        last = after
        for item in answer.items:
            try:
                if item.seq <= last:
                    raise BadServerSignature("the server's events are out of order")
                items.append(self._verified_event(item.seq, item.kind, item.event))
            except BadServerSignature as exc:
                raise BadServerSignature(
                    f"{exc} (event {item.seq}); it was not used", seq=item.seq, verified=items
                ) from exc
            last = item.seq
        if answer.cursor < last:
            raise UnexpectedAnswer("the server's pull cursor goes back")
        return PullPage(items=items, cursor=answer.cursor, more=answer.more)

    def _verified_event(self, seq: int, kind: str, signed: SignedDocument) -> PulledEvent:
        event = self._open(signed, EVENT_FORMAT, EventDocument, "event")
        if event.kind != kind:
            raise BadServerSignature("an event is listed as another kind than it is signed as")
        if event.kind != "feedback":
            return PulledEvent(seq=seq, event=event, signed=signed)
        try:
            inner = SignedDocument.model_validate(event.data)
        except ValidationError as exc:
            raise BadServerSignature("a feedback event does not hold a signed document") from exc
        feedback = self._open(inner, FEEDBACK_FORMAT, FeedbackDocument, "feedback")
        if feedback.workspace_id != event.workspace_id:
            raise BadServerSignature("feedback came for another workspace than its event's")
        return PulledEvent(
            seq=seq, event=event, signed=signed, feedback=feedback, feedback_signed=inner
        )

    # ------------------------------------------------------------------- shares

    def publish_share(self, request: ShareRequest) -> ShareResponse:
        """Publish a signed snapshot as a read-only page. Only the answer that creates the
        share carries its address (``url``); a retry after a lost answer gets ``url:
        None``, and the page's address is then lost: revoke it and publish anew."""
        self._check_key_before_sending()
        answer = self._parse(self._request("POST", "/shares", json_body=request), ShareResponse)
        self._expect_share(answer, request.share_id)
        return answer

    def update_share(self, share_id: UUID, update: ShareUpdate) -> ShareResponse:
        """Change only the fields set in ``update`` (``expires_at=None`` set explicitly
        removes the expiry)."""
        body = update.model_dump_json(exclude_unset=True)
        answer = self._parse(
            self._request("PATCH", f"/shares/{share_id}", json_body=body), ShareResponse
        )
        self._expect_share(answer, share_id)
        return answer

    def revoke_share(self, share_id: UUID) -> ShareResponse:
        """Take a page down for good (revoking again is fine)."""
        answer = self._parse(self._request("DELETE", f"/shares/{share_id}"), ShareResponse)
        self._expect_share(answer, share_id)
        return answer

    def list_shares(self, page: int = 100) -> list[ShareResponse]:
        """Every share of this member, oldest first (without addresses)."""
        return self._all_pages("/shares", ShareResponse, page, lambda item: item.share_id)

    def _all_pages(
        self, path: str, model: type[ModelT], page: int, key: Callable[[ModelT], UUID]
    ) -> list[ModelT]:
        """A listing paged with ``limit`` and ``after`` (the last id seen), read to the end."""
        found: list[ModelT] = []
        after: UUID | None = None
        while True:
            params: dict[str, Any] = {"limit": page}
            if after is not None:
                params["after"] = str(after)
            batch = self._parse_list(self._request("GET", path, params=params), model)
            found.extend(batch)
            # A short page is the last; a server that does not move on must not loop us.
            if len(batch) < page or key(batch[-1]) == after:
                return found
            after = key(batch[-1])

    @staticmethod
    def _expect_share(answer: ShareResponse, share_id: UUID) -> None:
        if answer.share_id != share_id:
            raise UnexpectedAnswer("the server answered about another share than ours")

    # ---------------------------------------------------------------- resources

    def resources(self) -> list[ResourceInfo]:
        """The latest version of each template, document and link of the workspace."""
        return self._parse_list(self._request("GET", "/resources"), ResourceInfo)

    def download_resource(
        self,
        resource_id: UUID,
        version: int,
        dest: Path,
        *,
        sha256: str | None = None,
        size: int | None = None,
    ) -> Path:
        """Save one version of a template or document at ``dest`` (written whole or not at
        all). Give the ``sha256`` and ``size`` from the signed ``resource`` event: a file
        that does not match them is BadServerSignature and is not kept."""
        response = self._request(
            "GET", f"/resources/{resource_id}/versions/{int(version)}", stream=True
        )
        dest = Path(dest)
        temporary = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
        digest = hashlib.sha256()
        received = 0
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                for block in self._body_blocks(response):
                    received += len(block)
                    if size is not None and received > size:
                        raise BadServerSignature("the downloaded file is larger than announced")
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if (size is not None and received != size) or (
                sha256 is not None and digest.hexdigest() != sha256
            ):
                raise BadServerSignature("the downloaded file is not the one the server announced")
            os.replace(temporary, dest)
        finally:
            response.close()
            with suppress(FileNotFoundError):
                temporary.unlink()
        return dest

    def fetch_resource(self, resource_id: UUID, version: int, *, sha256: str, size: int) -> bytes:
        """One version of a template or document, in memory (nothing is written to disk):
        for a caller that bounded ``size`` and keeps the bytes somewhere safer than a
        temporary file. ``sha256`` and ``size`` come from the signed ``resource`` event;
        a body that does not match them is BadServerSignature, and reading stops as soon
        as it runs past ``size``."""
        response = self._request(
            "GET", f"/resources/{resource_id}/versions/{int(version)}", stream=True
        )
        digest = hashlib.sha256()
        received = bytearray()
        try:
            for block in self._body_blocks(response):
                if len(received) + len(block) > size:
                    raise BadServerSignature("the downloaded file is larger than announced")
                digest.update(block)
                received += block
        finally:
            response.close()
        if len(received) != size or digest.hexdigest() != sha256.lower():
            raise BadServerSignature("the downloaded file is not the one the server announced")
        return bytes(received)

    def _body_blocks(self, response: requests.Response) -> Iterable[bytes]:
        try:
            yield from response.iter_content(_DOWNLOAD_BLOCK)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:  # fmt: skip
            raise ServerUnreachable(
                "the connection to the workspace server was lost during a download"
            ) from exc

    # ----------------------------------------------------------------- requests

    def _request(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        params: dict[str, Any] | None = None,
        json_body: BaseModel | str | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One request; any answer that is not 2xx becomes the matching SyncError."""
        sent_headers = dict(headers or {})
        if auth:
            if not self.token:
                raise NotEnrolled()
            sent_headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            data = (
                json_body if isinstance(json_body, str) else json_body.model_dump_json()
            ).encode()
            sent_headers["Content-Type"] = "application/json"
        url = self.base_url + API_PREFIX + quote(path, safe="/")
        try:
            response = self._http.request(
                method, url, params=params, data=data, headers=sent_headers,
                timeout=self.timeout, stream=stream, allow_redirects=method == "GET",
            )  # fmt: skip
        except requests.exceptions.SSLError as exc:
            raise CertificateRejected(
                "the workspace server's certificate is not trusted, so nothing was sent"
            ) from exc
        except requests.Timeout as exc:
            raise ServerUnreachable(
                f"the workspace server at {self._host()} did not answer in time"
            ) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:  # fmt: skip
            raise ServerUnreachable(
                f"cannot reach the workspace server at {self._host()}, or the connection "
                "was cut off"
            ) from exc
        if response.status_code >= 300:
            try:
                self._raise_for(response, path)
            finally:
                response.close()
        return response

    def _host(self) -> str:
        return urlsplit(self.base_url).netloc

    @staticmethod
    def _raise_for(response: requests.Response, path: str) -> None:
        status = response.status_code
        code, message, details = f"http_{status}", "", None
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), _short(str(error["message"]))
            details = error.get("details") if isinstance(error.get("details"), list) else None
        except (ValueError, KeyError, TypeError, requests.RequestException):
            pass  # not our server's error shape: a proxy's page, say
        if status < 400:
            raise Rejected(
                "redirected",
                "the server sent this request to another address; check the server address",
                status,
            )
        if status == 401:
            kind = {
                "token_revoked": TokenRevoked,
                "token_expired": TokenExpired,
                "token_unknown": TokenUnknown,
            }.get(code, NotAuthorised)
            raise kind(code, message or "the workspace server no longer accepts this device",
                       status, details)  # fmt: skip
        if status in (429, 503):
            raise ServerBusy(
                message or "the workspace server is busy; this will be tried again later",
                status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise ServerFailed(
                message
                or f"the workspace server failed (HTTP {status}); this will be tried again later",
                status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if path == "/enrol" and code.startswith("invite_"):
            raise InviteInvalid(code, message, status, details)
        raise Rejected(
            code, message or f"the workspace server refused the request (HTTP {status})",
            status, details,
        )  # fmt: skip

    @staticmethod
    def _parse(response: requests.Response, model: type[ModelT]) -> ModelT:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise UnexpectedAnswer(
                "the answer is not what a Cairn workspace server sends; check the address"
            ) from exc

    @staticmethod
    def _parse_list(response: requests.Response, model: type[ModelT]) -> list[ModelT]:
        try:
            return TypeAdapter(list[model]).validate_json(response.content)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise UnexpectedAnswer(
                "the answer is not what a Cairn workspace server sends; check the address"
            ) from exc

    # ------------------------------------------------------------- verification

    def _open(self, signed: SignedDocument, purpose: str, model: type[ModelT], what: str) -> ModelT:
        """Verify a document the server signed with a key we trust, then parse it."""
        key = self._trusted_key(signed.key_id)
        if key is None:
            raise BadServerSignature(
                f"a {what} from the server is signed with a key it never showed this space"
            )
        try:
            return open_document(signed, key, purpose, model)
        except ProtocolError as exc:
            raise BadServerSignature(
                f"a {what} from the server does not carry the server's valid signature"
            ) from exc

    def knows_key(self, wanted_id: str) -> bool:
        """Whether a key with this id is one this client trusts already (no request)."""
        return self._require_keys().find(wanted_id) is not None

    def trusted_key(self, wanted_id: str) -> bytes | None:
        """The server key with this id, if this client trusts it (the pinned key, one it
        endorsed, or one before it): the key a verified document was signed with."""
        return self._trusted_key(wanted_id)

    def _trusted_key(self, wanted_id: str) -> bytes | None:
        keys = self._require_keys()
        if (key := keys.find(wanted_id)) is not None:
            return key
        # Perhaps the server rotated its key since we last looked: follow the
        # endorsements (ServerKeyChanged if they do not lead from ours).
        self.check_server_key()
        return self._require_keys().find(wanted_id)
