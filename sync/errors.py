"""What can go wrong when a space talks to a workspace server, as types.

Each error's ``str()`` is one sentence a person can read; the UI and the command line
show it as it is. ``retryable`` says whether trying the same request again later can
help: the outbox keeps retryable work and tries again after ``sync.client.Backoff``'s
delay; otherwise it keeps the work, stops, and tells the person.
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of every error of the sync client."""

    #: Whether the same request may succeed if it is simply tried again later.
    retryable = False


class InvalidServerAddress(SyncError):
    """The server address is not an http:// or https:// address."""


class NotEnrolled(SyncError):
    """The call needs a device token and a pinned server key, and this client has none."""

    def __init__(self, message: str = "this space is not connected to a workspace server") -> None:
        super().__init__(message)


class ServerUnreachable(SyncError):
    """No answer: connection refused or reset, a timeout, a name that does not resolve, or
    an answer cut off half-way. The request may or may not have reached the server;
    every request of the protocol is idempotent, so sending it again is safe."""

    retryable = True


class ServerFailed(SyncError):
    """The server answered with a 5xx: its own trouble, not the request's."""

    retryable = True

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        #: Seconds the server asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after


class ServerBusy(ServerFailed):
    """The server asked us to slow down or come back later (429, 503)."""


class Rejected(SyncError):
    """The server refused the request (a 4xx with ``{"error": {"code", "message"}}``).
    Sending the same request again will be refused again."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or []


class InviteInvalid(Rejected):
    """The invite code is unknown, already used, or expired."""


class NotAuthorised(Rejected):
    """The server no longer accepts this device's token (401)."""


class TokenRevoked(NotAuthorised):
    """The device was revoked by the organisation; nothing kept on the device is lost."""


class TokenExpired(NotAuthorised):
    """The device token is past its expiry date."""


class TokenUnknown(NotAuthorised):
    """The server does not know this device token (e.g. it was set up again from scratch)."""


class CertificateRejected(SyncError):
    """The https certificate of the server is not trusted: nothing was sent. Not retried,
    since it will not fix itself (a wrong address, an interception, or a private CA that
    must be configured)."""


class UnexpectedAnswer(SyncError):
    """The server answered something that is not the Cairn protocol (a web page, a
    truncated or malformed document): likely the wrong address, or a proxy in the way."""


class ServerKeyChanged(SyncError):
    """The server signs with a key that is not the one pinned when the space connected,
    and no endorsement from the pinned key leads to it: someone may be impersonating the
    server, or it was set up again. Nothing is sent or accepted until a person decides."""

    def __init__(self, pinned: bytes, offered: bytes) -> None:
        super().__init__(
            "the workspace server's signing key has changed unexpectedly, so nothing was "
            "sent or accepted; ask the organisation whether the server was replaced"
        )
        self.pinned = pinned
        self.offered = offered


class BadServerSignature(SyncError):
    """A receipt, event or feedback from the server whose signature does not verify
    against the server's pinned key, or whose content does not match what was sent."""

    def __init__(self, message: str, *, seq: int | None = None, verified: Any = None) -> None:
        super().__init__(message)
        #: For pulled events: the sequence number of the document that failed.
        self.seq = seq
        #: For pulled events: the items before it, which did verify (a list).
        self.verified = verified if verified is not None else []


class AttachmentChanged(SyncError):
    """The attachment's file on this device no longer has the size or content it had when
    it was chosen, so it cannot be uploaded as that attachment."""
