"""The Space's sync records: what the sync client will keep, through the facade the
desktop app and the command line share."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.space import Space
from store.errors import SpaceLocked
from store.kdf import KdfPolicy
from store.records import SyncRecord
from tests.conftest import PASSPHRASE


def test_feedback_on_an_asset_is_kept_beside_it_across_lock_and_unlock(
    space: Space, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    plan = space.add_asset("plan", "Learn Rust", {"goal": "ship a CLI"})
    other = space.add_asset("journal", "Tuesday", {"body": "pairing"})
    connected = space.put_sync_record(
        SyncRecord("", "account", {"server": "https://learning.example", "cursor": 0})
    )
    entry = space.put_sync_record(
        SyncRecord("", "outbox", {"state": "queued", "attempts": 0}, [plan.id])
    )
    # A pull: the feedback, the receipt for the delivered entry and the new cursor at once.
    pulled = space.put_sync_records(
        [
            SyncRecord("", "event", {"type": "feedback", "text": "Good plan"}, [plan.id]),
            SyncRecord("", "receipt", {"document": "e30="}, [plan.id]),
            SyncRecord(connected.id, "account", {**connected.data, "cursor": 17}),
        ],
        delete=[entry.id],
    )
    space.lock()

    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as again:
        assert again.integrity_problem is None
        assert again.sync_records(asset_id=plan.id) == pulled[:2]
        assert again.sync_records(asset_id=other.id) == []
        assert again.sync_record(connected.id) == pulled[2]
        assert again.sync_record(entry.id) is None
        assert again.sync_records(kind="event")[0].data["text"] == "Good plan"
        assert again.delete_sync_records([pulled[0].id]) == 1
        assert [r.kind for r in again.sync_records(asset_id=plan.id)] == ["receipt"]
        assert again.verify().ok


def test_a_locked_space_refuses_sync_records(space: Space) -> None:
    space.lock()
    with pytest.raises(SpaceLocked):
        space.sync_records()
    with pytest.raises(SpaceLocked):
        space.put_sync_record(SyncRecord("", "event", {}))
