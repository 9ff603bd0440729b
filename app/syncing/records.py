"""Reading a space's sync records once for several questions.

The store opens (decrypts) every sync record whatever is asked of it, since their kinds
are sealed too; a view that asks five questions (the accounts, the outbox, the badges,
the review requests...) would open every record five times, documents from the
organisation included. ``RecordsRead`` reads them once and answers the same calls as
the Space; the read-only functions of this package take either (``RecordSource``).
"""

from __future__ import annotations

from typing import Protocol

from app.space import Space
from store.records import SyncRecord


class RecordSource(Protocol):
    """What reading sync records takes: a Space, or a ``RecordsRead`` of one."""

    def sync_record(self, record_id: str) -> SyncRecord | None: ...

    def sync_records(
        self, kind: str | None = None, asset_id: str | None = None
    ) -> list[SyncRecord]: ...


class RecordsRead:
    """Every sync record of a space as it was when read, answering like the Space does
    (oldest update first). Changes made afterwards are not seen: read again for them."""

    def __init__(self, space: Space) -> None:
        self._records = space.sync_records()
        self._by_id = {record.id: record for record in self._records}

    def sync_record(self, record_id: str) -> SyncRecord | None:
        return self._by_id.get(record_id)

    def sync_records(
        self, kind: str | None = None, asset_id: str | None = None
    ) -> list[SyncRecord]:
        return [
            r for r in self._records
            if (kind is None or r.kind == kind) and (asset_id is None or asset_id in r.asset_ids)
        ]  # fmt: skip
