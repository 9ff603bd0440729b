"""Peer reviews this person is asked to write: the requests that came home by pull (kind
"review_request", one per assignment), and sending the review back.

The server answers a review with the feedback document it made of it, signed; the
client checks that signature against the pinned key and that it is this review, and
the request record keeps it, marked reviewed, in one write. Sending the same review
again is harmless (the server keeps one), so a review whose answer was lost is simply
sent again.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import client_for, get_account
from app.syncing.errors import NoSuchEntry, ReviewError
from store.records import SyncRecord
from sync.client import WorkspaceClient
from sync.protocol import MAX_TEXT


def review_requests(space: Space) -> list[SyncRecord]:
    """Every peer-review request the space holds, newest first."""
    return space.sync_records(kinds.REVIEW_REQUEST)[::-1]


def review_request(space: Space, wanted: str) -> SyncRecord:
    """A request by its record id, or by a prefix (4 or more characters) of its record
    id or of the submission it asks about."""
    text = wanted.strip().lower()
    record = space.sync_record(text) if text else None
    if record is not None and record.kind == kinds.REVIEW_REQUEST:
        return record
    matches = [
        r for r in space.sync_records(kinds.REVIEW_REQUEST)
        if len(text) >= 4
        and (r.id.startswith(text) or str(r.data.get("submission_id", "")).startswith(text))
    ]  # fmt: skip
    if not matches:
        raise NoSuchEntry(f"there is no review request {wanted!r}")
    if len(matches) > 1:
        raise NoSuchEntry(f"{wanted!r} matches several review requests; give more of its id")
    return matches[0]


def send_peer_review(
    space: Space, request_id: str, text: str, rating: int | None = None, *,
    client: WorkspaceClient | None = None,
) -> SyncRecord:  # fmt: skip
    """Send this person's review of the submission a request is about, and keep the
    server's verified answer with the request, marked reviewed; returns the record.

    ReviewError for an empty or too long text or a rating outside 1 to 5 (nothing is
    sent); NoSuchAccount if the workspace was disconnected since; the server's refusals
    (``not_assigned``...) and the network's errors as sync.errors raises them. Call it
    from a network thread.
    """
    record = review_request(space, request_id)
    body = text.strip()
    if not body:
        raise ReviewError("write the review first; an empty review is not sent")
    if len(body) > MAX_TEXT:
        raise ReviewError(f"a review is at most {MAX_TEXT:,} characters; this one has "
                          f"{len(body):,}")  # fmt: skip
    if rating is not None and not 1 <= rating <= 5:
        raise ReviewError("a rating is from 1 to 5 stars")
    try:
        submission_id = UUID(str(record.data.get("submission_id", "")))
    except ValueError:
        raise NoSuchEntry("this review request does not say which submission it is about; "
                          "it cannot be answered") from None
    account = get_account(space, str(record.data.get("account_id", "")))
    active = client or client_for(space, account)
    try:
        feedback = active.peer_review(submission_id, body, rating)
    finally:
        if client is None:
            active.close()
    data: dict[str, Any] = {
        **record.data, "reviewed_at": kinds.iso(feedback.created_at), "review_text": body,
        "review_rating": rating, "review_feedback_id": str(feedback.feedback_id),
        "review_feedback": feedback.model_dump(mode="json"),
    }  # fmt: skip
    return space.put_sync_record(SyncRecord(record.id, record.kind, data, record.asset_ids))
