"""Events: what a member's devices pull, numbered per member, signed by the server.

Sequence numbers come from ``membership.event_seq``, incremented with an UPDATE that
holds the membership's row lock until the transaction commits. Events of one member
therefore commit in sequence order, and a device that pulls "everything after N"
can never miss one that commits later with a smaller number.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from sync.protocol import (
    EVENT_FORMAT,
    EventDocument,
    EventKind,
    PullItem,
    PullResponse,
    SignedDocument,
)
from sync.server import keys
from sync.server.db import table_of
from sync.server.models import Event, Membership, new_id, utc_now


def publish(
    session: Session, membership: Membership, kind: EventKind, data: dict[str, Any]
) -> Event:
    """Queue one signed event for ``membership``'s devices (the caller commits)."""
    seq = session.execute(
        update(Membership)
        .where(col(Membership.id) == membership.id)
        .values(event_seq=Membership.event_seq + 1)
        .returning(col(Membership.event_seq))
    ).scalar_one()
    event_id = new_id()
    document = EventDocument(
        event_id=UUID(event_id),
        member_id=UUID(membership.id),
        workspace_id=UUID(membership.workspace_id),
        kind=kind,
        created_at=utc_now(),
        data=data,
    )
    signed = keys.sign(session, EVENT_FORMAT, document)
    row = Event(
        id=event_id, membership_id=membership.id, seq=seq, kind=kind,
        document=signed.model_dump_json(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


_EVENTS = table_of(Event)
_PULL_QUERY = (
    select(_EVENTS.c.seq, _EVENTS.c.kind, _EVENTS.c.document)
    .where(_EVENTS.c.membership_id == bindparam("membership_id"),
           _EVENTS.c.seq > bindparam("after"))
    .order_by(_EVENTS.c.seq)
    .limit(bindparam("limit"))
)  # fmt: skip


def pull(session: Session, membership_id: str, after: int, limit: int) -> PullResponse:
    """Events with ``seq > after``, oldest first, at most ``limit``."""
    # Devices pull often, mostly finding nothing new: a Core query, the cheapest way.
    rows = (
        session.connection()
        .execute(_PULL_QUERY, {"membership_id": membership_id, "after": after, "limit": limit + 1})
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        PullItem(seq=row.seq, kind=row.kind, event=SignedDocument.model_validate_json(row.document))
        for row in rows
    ]
    return PullResponse(items=items, cursor=rows[-1].seq if rows else after, more=more)
