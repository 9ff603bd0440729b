"""Public share pages: a signed snapshot the workspace server shows as a read-only page,
with comments on or off and an optional expiry; the link kept in the space; revocable.

Sharing happens while connected (there is no outbox for it): the server gives the
page's address once, in the answer that creates it. The share is recorded before it
is sent, so that a share whose answer was lost is known; publishing again then revokes
the page nobody has the address of and publishes a new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any
from uuid import UUID

from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import client_for, get_account
from app.syncing.disclosure import (
    MAX_BODY_BYTES,
    Preview,
    check_unchanged,
    sign_document_with_space,
)
from app.syncing.errors import DisclosureError, NoSuchEntry
from app.syncing.outbox import open_attachment
from store.records import AttachmentInfo, SyncRecord
from sync.client import WorkspaceClient
from sync.protocol import (
    SHARE_FORMAT,
    SharePayload,
    ShareRequest,
    ShareResponse,
    ShareUpdate,
    canonical_json,
)


def shares(space: Space, asset_id: str | None = None) -> list[SyncRecord]:
    """The shares this space published (revoked ones too), oldest first."""
    return space.sync_records(kinds.SHARE, asset_id)


def _share_record(space: Space, share_id: str) -> SyncRecord:
    record = space.sync_record(kinds.derived_id(kinds.SHARE, share_id)) or space.sync_record(
        share_id
    )
    if record is None:
        wanted = share_id.lower()
        matches = [r for r in shares(space)
                   if len(wanted) >= 4 and r.data["share_id"].startswith(wanted)]  # fmt: skip
        if len(matches) != 1:
            raise NoSuchEntry(f"there is no share {share_id!r}")
        record = matches[0]
    if record.kind != kinds.SHARE:
        raise NoSuchEntry(f"there is no share {share_id!r}")
    return record


def publish_share(
    space: Space,
    shown: Preview,
    *,
    title: str | None = None,
    comments: bool = False,
    expires_at: datetime | None = None,
    client: WorkspaceClient | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncRecord:
    """Publish the previewed snapshots as a public page; returns the share's record, whose
    ``data["url"]`` is the page's address. Raises what the client raises (the page is not
    published then; publishing again is safe)."""
    files = check_unchanged(space, shown.snapshots)
    heading = " ".join((title or "").split()) or shown.assets[0].title
    if expires_at is not None and expires_at.tzinfo is None:
        raise DisclosureError("give the expiry with its time zone")
    account = get_account(space, shown.account_id)
    active = client or client_for(space, account)
    try:
        unique = {f.sha256: f for f in files}
        total = sum(f.size for f in unique.values())
        done = 0
        for info in unique.values():

            def opener(info: AttachmentInfo = info) -> IO[bytes]:
                return open_attachment(space, info.id, info.size)

            def report(sent: int, _size: int, base: int = done) -> None:
                if progress is not None:
                    progress(base + sent, total)

            active.upload(info.sha256, info.size, opener, report)
            done += info.size
        record, answer = _publish(space, active, shown, heading[:500], comments, expires_at)
        if answer.url is None:
            # Published before, and the answer with the address was lost: nobody has the
            # address, so take that page down and publish a new one.
            active.revoke_share(UUID(record.data["share_id"]))
            space.delete_sync_records([record.id])
            record, answer = _publish(space, active, shown, heading[:500], comments, expires_at)
    finally:
        if client is None:
            active.close()
    data = {**record.data, "state": "published", "url": answer.url,
            "comments_enabled": answer.comments_enabled,
            "expires_at": kinds.iso(answer.expires_at) if answer.expires_at else None,
            "revoked": answer.revoked}  # fmt: skip
    return space.put_sync_record(SyncRecord(record.id, record.kind, data, record.asset_ids))


def _publish(
    space: Space, client: WorkspaceClient, shown: Preview, title: str, comments: bool,
    expires_at: datetime | None,
) -> tuple[SyncRecord, ShareResponse]:  # fmt: skip
    share_id = uuid.uuid4()
    payload = SharePayload(
        share_id=share_id, identity_key=space.identity_public_key().hex(), title=title,
        created_at=kinds.utc_now(), assets=list(shown.snapshots),
    )  # fmt: skip
    body = canonical_json(payload)
    if len(body) > MAX_BODY_BYTES:
        raise DisclosureError("there is too much text to share on one page; choose fewer assets")
    signed = sign_document_with_space(space, SHARE_FORMAT, body)
    record = space.put_sync_record(SyncRecord(
        kinds.derived_id(kinds.SHARE, str(share_id)), kinds.SHARE,
        {"share_id": str(share_id), "account_id": shown.account_id,
         "server_url": shown.server_url, "workspace_name": shown.workspace_name,
         "title": title, "titles": [a.title for a in shown.assets], "state": "publishing",
         "url": None, "comments_enabled": comments,
         "expires_at": kinds.iso(expires_at) if expires_at else None, "revoked": False,
         "created_at": kinds.iso(payload.created_at), "snapshot": signed.model_dump()},
        [a.asset_id for a in shown.assets],
    ))  # fmt: skip
    answer = client.publish_share(ShareRequest(
        share_id=share_id, snapshot=signed, comments_enabled=comments, expires_at=expires_at,
    ))  # fmt: skip
    return record, answer


def update_share(
    space: Space,
    share_id: str,
    *,
    comments: bool | None = None,
    expires_at: datetime | None | str = "keep",
    client: WorkspaceClient | None = None,
) -> SyncRecord:
    """Turn comments on or off, or change the expiry (``None`` removes it)."""
    record = _share_record(space, share_id)
    change: dict[str, Any] = {}
    if comments is not None:
        change["comments_enabled"] = comments
    if expires_at != "keep":
        change["expires_at"] = expires_at
    answer = _call(space, record, client,
                   lambda c: c.update_share(UUID(record.data["share_id"]),
                                            ShareUpdate(**change)))  # fmt: skip
    return _keep(space, record, answer)


def revoke_share(
    space: Space, share_id: str, *, client: WorkspaceClient | None = None
) -> SyncRecord:
    """Take the page down for good; the record stays, marked revoked."""
    record = _share_record(space, share_id)
    answer = _call(space, record, client,
                   lambda c: c.revoke_share(UUID(record.data["share_id"])))  # fmt: skip
    return _keep(space, record, answer)


def _call(
    space: Space, record: SyncRecord, client: WorkspaceClient | None,
    action: Callable[[WorkspaceClient], ShareResponse],
) -> ShareResponse:  # fmt: skip
    active = client or client_for(space, get_account(space, str(record.data["account_id"])))
    try:
        return action(active)
    finally:
        if client is None:
            active.close()


def _keep(space: Space, record: SyncRecord, answer: ShareResponse) -> SyncRecord:
    data = {**record.data, "comments_enabled": answer.comments_enabled,
            "expires_at": kinds.iso(answer.expires_at) if answer.expires_at else None,
            "revoked": answer.revoked}  # fmt: skip
    return space.put_sync_record(SyncRecord(record.id, record.kind, data, record.asset_ids))
