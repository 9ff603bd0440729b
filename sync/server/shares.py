"""Public share links: a snapshot the person signs and publishes as a read-only page at
an unguessable address, with comments on or off.

The address holds 256 random bits (``security.new_token``); the server keeps only its
SHA-256, so it can hand the address out once, in the answer that creates the share,
and never again. The web pages (``/s/{token}``) find a live share with
``find_by_token`` and take comments with ``add_comment``.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sync.protocol import (
    SHARE_FORMAT,
    InvalidDocument,
    SharePayload,
    ShareRequest,
    ShareResponse,
    ShareUpdate,
    parse_body,
)
from sync.server import blobs, events
from sync.server.deps import DeviceContext
from sync.server.errors import Conflict, Forbidden, Gone, NotFound, Unprocessable
from sync.server.models import Membership, Share, ShareComment, utc_now
from sync.server.security import hash_token, new_token
from sync.server.submissions import verified_payload

MAX_COMMENT_NAME = 100
MAX_COMMENT_TEXT = 5000


def response_for(share: Share, url: str | None = None) -> ShareResponse:
    return ShareResponse(
        share_id=uuid.UUID(share.id),
        url=url,
        comments_enabled=share.comments_enabled,
        expires_at=share.expires_at,
        revoked=share.revoked_at is not None,
        title=share.title,
        created_at=share.created_at,
    )


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise Unprocessable("give the expiry with its time zone, e.g. 2030-01-31T12:00:00Z",
                            code="invalid_expiry")  # fmt: skip
    if expires_at <= utc_now():
        raise Unprocessable("the expiry must be in the future", code="invalid_expiry")


def create(
    session: Session, ctx: DeviceContext, request: ShareRequest, base_url: str
) -> tuple[ShareResponse, bool]:
    """Publish a signed snapshot; returns the response (with the page's address when the
    share is new) and whether it is new. Commits. The same request again answers with
    the share as it is, without the address; other content under the same id is a
    Conflict ``share_id_reused``."""
    body, _ = verified_payload(ctx, request.snapshot, SHARE_FORMAT)
    try:
        payload = parse_body(body, SharePayload)
    except InvalidDocument as exc:
        raise Unprocessable(str(exc), code="invalid_document") from exc
    if payload.identity_key != ctx.device.identity_key:
        raise Unprocessable("the snapshot names another identity key", code="invalid_document")
    if payload.share_id != request.share_id:
        raise Unprocessable("the snapshot is signed for another share id",
                            code="invalid_document")  # fmt: skip

    share_id = str(request.share_id)
    if (existing := session.get(Share, share_id)) is not None:
        return _replay(existing, ctx, body), False
    _check_expiry(request.expires_at)
    blobs.require_uploaded(
        session, ctx.membership.id, (a for asset in payload.assets for a in asset.attachments)
    )
    token = new_token()
    share = Share(
        id=share_id, membership_id=ctx.membership.id, token_hash=hash_token(token),
        payload=body, signature=request.snapshot.signature, title=payload.title,
        comments_enabled=request.comments_enabled, expires_at=request.expires_at,
    )  # fmt: skip
    session.add(share)
    try:
        session.commit()
    except IntegrityError:
        # The same share raced in on another connection: answer as for a retry.
        session.rollback()
        existing = session.get(Share, share_id)
        if existing is None:
            raise
        return _replay(existing, ctx, body), False
    return response_for(share, f"{base_url.rstrip('/')}/s/{token}"), True


def _replay(existing: Share, ctx: DeviceContext, body: bytes) -> ShareResponse:
    if existing.membership_id != ctx.membership.id or existing.payload != body:
        raise Conflict("this share id was already used for different content",
                       code="share_id_reused")  # fmt: skip
    return response_for(existing)


def get_own(session: Session, ctx: DeviceContext, share_id: str) -> Share:
    share = session.get(Share, share_id)
    if share is None or share.membership_id != ctx.membership.id:
        raise NotFound("you have no share with this id", code="share_not_found")
    return share


def revoke(session: Session, ctx: DeviceContext, share_id: str) -> ShareResponse:
    """Take the page down for good (again is fine). Commits."""
    share = get_own(session, ctx, share_id)
    if share.revoked_at is None:
        share.revoked_at = utc_now()
        session.add(share)
        session.commit()
    return response_for(share)


def update(
    session: Session, ctx: DeviceContext, share_id: str, change: ShareUpdate
) -> ShareResponse:
    """Turn comments on or off, or change the expiry (only the fields given). Commits."""
    share = get_own(session, ctx, share_id)
    if share.revoked_at is not None:
        raise Conflict("this share has been revoked; publish it again instead",
                       code="share_revoked")  # fmt: skip
    given = change.model_fields_set
    if "comments_enabled" in given:
        if change.comments_enabled is None:
            raise Unprocessable("comments_enabled is true or false", code="invalid_request")
        share.comments_enabled = change.comments_enabled
    if "expires_at" in given:
        _check_expiry(change.expires_at)
        share.expires_at = change.expires_at
    session.add(share)
    session.commit()
    return response_for(share)


def list_own(
    session: Session, ctx: DeviceContext, *, limit: int, after: str | None = None
) -> list[ShareResponse]:
    """This member's shares, oldest first, ``limit`` at most, those after share ``after``."""
    query = select(Share).where(col(Share.membership_id) == ctx.membership.id)
    if after is not None:
        mark = get_own(session, ctx, after)
        query = query.where(
            or_(
                col(Share.created_at) > mark.created_at,
                and_(col(Share.created_at) == mark.created_at, col(Share.id) > mark.id),
            )
        )
    rows = session.exec(query.order_by(col(Share.created_at), col(Share.id)).limit(limit)).all()
    return [response_for(share) for share in rows]


# -------------------------------------------------------------- public page


def is_live(share: Share) -> bool:
    """Not revoked and not expired."""
    return share.revoked_at is None and (share.expires_at is None or share.expires_at > utc_now())


def find_by_token(session: Session, token: str) -> Share | None:
    """The live share at this address, or None (unknown, revoked or expired alike)."""
    if not token or len(token) > 200:
        return None
    share = session.exec(select(Share).where(col(Share.token_hash) == hash_token(token))).first()
    return share if share is not None and is_live(share) else None


def _clean(text: str, *, keep_lines: bool) -> str:
    # Control and format characters (including bidi overrides) have no place in a
    # visitor's name; in the text only line breaks and tabs are kept.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "\n\t" if keep_lines else ""
    return "".join(c for c in text if c in kept or unicodedata.category(c)[0] != "C")


def add_comment(session: Session, share: Share, author_name: str, text: str) -> ShareComment:
    """A visitor's comment on a live share with comments on; queued as a ``share_comment``
    event for the sharer's devices. The caller commits (and rate-limits).

    The name is 1 to 100 characters and the text 1 to 5000 after trimming, or
    Unprocessable ``invalid_comment``; Forbidden ``comments_disabled``; Gone
    ``share_gone`` if the share was revoked or has expired.
    """
    if not is_live(share):
        raise Gone("this page is no longer shared", code="share_gone")
    if not share.comments_enabled:
        raise Forbidden("comments are turned off on this page", code="comments_disabled")
    name = " ".join(_clean(author_name, keep_lines=False).split())
    body = _clean(text, keep_lines=True).strip()
    if not 1 <= len(name) <= MAX_COMMENT_NAME:
        raise Unprocessable(f"a name is 1 to {MAX_COMMENT_NAME} characters",
                            code="invalid_comment")  # fmt: skip
    if not 1 <= len(body) <= MAX_COMMENT_TEXT:
        raise Unprocessable(f"a comment is 1 to {MAX_COMMENT_TEXT} characters",
                            code="invalid_comment")  # fmt: skip
    comment = ShareComment(share_id=share.id, author_name=name, text=body)
    session.add(comment)
    session.flush()
    sharer = session.get(Membership, share.membership_id)
    assert sharer is not None  # foreign key
    events.publish(session, sharer, "share_comment", {
        "share_id": share.id,
        "comment_id": comment.id,
        "title": share.title,
        "author_name": comment.author_name,
        "text": comment.text,
        "created_at": comment.created_at.isoformat(),
    })  # fmt: skip
    return comment


def comments_of(session: Session, share: Share) -> list[ShareComment]:
    """A share's comments, oldest first."""
    return list(
        session.exec(
            select(ShareComment)
            .where(col(ShareComment.share_id) == share.id)
            .order_by(col(ShareComment.created_at), col(ShareComment.id))
        ).all()
    )
