"""The Space's sync records: what the sync client will keep, through the facade the
desktop app and the command line share."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.portable import export_portable
from app.space import Space
from app.transfer import ExportJob, TransferReport
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


def test_an_archive_says_which_workspace_records_it_leaves_behind(
    space: Space, tmp_path: Path
) -> None:
    """Format 2 of the portable archive carries the person's workspace records
    (tests/app/test_portable*.py). This device's account and outbox are never
    exported, and the person is told what that means; records the archive could not
    bring back (an unknown kind, a malformed receipt) are named, not dropped silently."""
    plan = space.add_asset("builtin/smart-plan", "Learn Rust", {})

    def export(name: str) -> TransferReport:
        job = ExportJob(space, tmp_path / name, archive_passphrase="archive passphrase",
                        archive_work_factor=10)  # fmt: skip
        return export_portable(job)

    assert export("empty.cairn-archive").warnings == []
    space.put_sync_records(
        [
            SyncRecord("", "account", {"server": "https://learning.example", "token": "t"}),
            SyncRecord("", "outbox", {"state": "queued"}, [plan.id]),
        ]
    )
    connection, waiting = export("device-only.cairn-archive").warnings
    assert connection.endswith("connect again with a new invite")
    assert waiting.startswith("1 submission(s) not yet delivered")
    space.put_sync_records(
        [
            SyncRecord("", "receipt", {"document": "e30="}, [plan.id]),
            SyncRecord("", "event", {"type": "feedback", "text": "Good"}, [plan.id]),
        ]
    )
    report = export("with-receipts.cairn-archive")
    assert report.warnings[2].startswith("1 workspace record(s) of a kind this version of Cairn")
    [skipped] = report.skipped
    assert "(receipt) lacks submission_id in its data; it is not in the archive" in skipped
