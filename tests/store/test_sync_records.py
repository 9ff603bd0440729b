"""Sync records (schema 3): what the sync client keeps, sealed whole and covered by the
manifest; updating, deleting, tampering with them, and the upgrade of a schema 2 file."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from store import migrations, spacefile
from store.errors import DamagedRecord, DamagedSpace
from store.kdf import KdfPolicy
from store.records import AssetRecord, SyncRecord
from store.spacefile import CaptureRecord, NewAsset, SpaceFile
from store.tables import SyncRecordRow
from tests.conftest import PASSPHRASE
from tests.support import raw_db

ASSET = "6f2c1d7e-3b7a-4e4b-9d51-0c9e3f1a2b3c"
OTHER_ASSET = "0b1e2d3c-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
NOBODY = "00000000-0000-4000-8000-000000000000"
# The store checks only the signature; these bytes need not decode.
TINY_PNG = b"\x89PNG\r\n\x1a\n" + b"not decoded here"


@pytest.fixture
def store(space_path: Path, kdf_policy: KdfPolicy) -> Iterator[SpaceFile]:
    created, _ = SpaceFile.create(space_path, PASSPHRASE, kdf_policy)
    yield created
    created.lock()


def reopen(path: Path, kdf_policy: KdfPolicy) -> SpaceFile:
    return SpaceFile.unlock(path, PASSPHRASE, kdf_policy)


@contextmanager
def opened(path: Path, kdf_policy: KdfPolicy) -> Iterator[SpaceFile]:
    """The space unlocked for the block, locked after it."""
    store = reopen(path, kdf_policy)
    try:
        yield store
    finally:
        store.lock()


def account(**data: object) -> SyncRecord:
    return SyncRecord("", "account", {"server": "https://learning.example", **data})


def feedback(asset_id: str, text: str) -> SyncRecord:
    return SyncRecord("", "event", {"type": "feedback", "text": text}, [asset_id])


# ------------------------------------------------------------------ round trip


def test_records_survive_lock_and_unlock(
    store: SpaceFile, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    connected = store.put_sync_record(account(device="d-1", token="secret-token"))
    assert connected.version == 1
    assert connected.updated
    uuid.UUID(connected.id)  # the store chose an id
    chosen = str(uuid.uuid4())
    receipt = store.put_sync_record(
        SyncRecord(chosen, "receipt", {"document": "eyJzaWduZWQiOnRydWV9"}, [ASSET, OTHER_ASSET])
    )
    assert receipt.id == chosen
    pulled = store.put_sync_records([feedback(ASSET, "Well argued"), feedback(OTHER_ASSET, "Cite")])
    store.lock()

    with opened(space_path, kdf_policy) as again:
        assert again.integrity_problem is None
        assert again.sync_record(connected.id) == connected
        assert again.sync_record(chosen) == receipt
        assert again.sync_record(NOBODY) is None
        assert again.sync_records() == [connected, receipt, *pulled]
        assert again.sync_records(kind="account") == [connected]
        assert again.sync_records(kind="event") == pulled
        assert again.sync_records(asset_id=ASSET) == [receipt, pulled[0]]
        assert again.sync_records(kind="event", asset_id=OTHER_ASSET) == [pulled[1]]
        assert again.sync_records(kind="outbox") == []
        report = again.verify()
        assert report.ok, report.problems
        assert report.sync_records == 4


def test_an_update_bumps_the_version_and_replaces_the_contents(
    store: SpaceFile, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    queued = store.put_sync_record(
        SyncRecord("", "outbox", {"state": "queued", "attempts": 0}, [ASSET])
    )
    sending = store.put_sync_record(
        SyncRecord(queued.id, "outbox", {"state": "sending", "attempts": 1}, [ASSET])
    )
    # The version passed in does not matter: the store counts (the last write wins).
    failed = store.put_sync_record(
        SyncRecord(queued.id, "outbox", {"state": "failed", "error": "timeout"}, [ASSET], 1)
    )
    assert [queued.version, sending.version, failed.version] == [1, 2, 3]
    assert queued.updated <= sending.updated <= failed.updated
    store.lock()
    with opened(space_path, kdf_policy) as again:
        assert again.integrity_problem is None  # the manifest followed every version
        assert again.sync_records() == [failed]
        assert again.sync_record(queued.id) == failed
        assert again.verify().ok


def test_deleted_records_are_gone_and_the_space_still_verifies(
    store: SpaceFile, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    first, second, third = store.put_sync_records(
        [feedback(ASSET, "one"), feedback(ASSET, "two"), feedback(ASSET, "three")]
    )
    assert store.delete_sync_records([first.id, third.id, NOBODY, first.id]) == 2
    assert store.delete_sync_records([first.id]) == 0  # deleting again is harmless
    store.lock()
    with opened(space_path, kdf_policy) as again:
        assert again.integrity_problem is None
        assert again.sync_records() == [second]
        assert again.sync_record(first.id) is None
        assert again.verify().ok
    db = raw_db(space_path)
    assert db.execute("SELECT count(*) FROM sync_record").fetchone() == (1,)
    db.close()


def test_a_batch_of_events_and_the_new_cursor_are_stored_together(
    store: SpaceFile, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    """What the sync client does after a pull: events, cursor and a cleared outbox
    entry in one transaction."""
    connected = store.put_sync_record(account(cursor=0))
    sent = store.put_sync_record(SyncRecord("", "outbox", {"state": "delivered"}, [ASSET]))
    stored = store.put_sync_records(
        [
            feedback(ASSET, "Good"),
            SyncRecord("", "receipt", {"document": "…"}, [ASSET]),
            SyncRecord(connected.id, "account", {**connected.data, "cursor": 42}),
        ],
        delete=[sent.id],
    )
    assert [record.version for record in stored] == [1, 1, 2]
    store.lock()
    with opened(space_path, kdf_policy) as again:
        assert again.integrity_problem is None
        assert again.sync_record(connected.id) == stored[2]
        assert again.sync_record(connected.id).data["cursor"] == 42  # type: ignore[union-attr]
        assert again.sync_record(sent.id) is None
        assert {record.kind for record in again.sync_records()} == {"account", "event", "receipt"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (SyncRecord("cursor-1", "account", {}), "UUID"),
        (SyncRecord(str(uuid.uuid4()).upper(), "account", {}), "UUID"),
        (SyncRecord("", "", {}), "kind"),
        (SyncRecord("", "receipt", {"document": b"raw bytes"}), "JSON"),
        (SyncRecord("", "receipt", {"score": float("nan")}), "JSON"),
        (SyncRecord("", "receipt", {}, [ASSET, 7]), "asset_ids"),  # type: ignore[list-item]
    ],
)
def test_a_record_the_store_cannot_keep_is_refused_and_nothing_of_its_batch_is_written(
    store: SpaceFile, record: SyncRecord, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.put_sync_records([feedback(ASSET, "would be lost"), record])
    assert store.sync_records() == []


def test_a_record_both_put_and_deleted_is_refused(store: SpaceFile) -> None:
    kept = store.put_sync_record(feedback(ASSET, "kept"))
    with pytest.raises(ValueError, match="both put and deleted"):
        store.put_sync_records([kept], delete=[kept.id])
    assert store.sync_records() == [kept]


def test_data_reads_back_as_stored(store: SpaceFile) -> None:
    """What put returns is what a read gives: JSON, so a tuple comes back a list."""
    stored = store.put_sync_record(
        SyncRecord("", "resource", {"sizes": (1, 2), "nested": {"ok": True}}, (ASSET,))  # type: ignore[arg-type]
    )
    assert stored.data == {"sizes": [1, 2], "nested": {"ok": True}}
    assert stored.asset_ids == [ASSET]
    assert store.sync_record(stored.id) == stored


def test_nothing_about_a_record_is_readable_in_the_file(store: SpaceFile, space_path: Path) -> None:
    store.put_sync_record(
        SyncRecord("", "kind-marker-7f3a", {"server": "https://marker-server.example"}, [ASSET])
    )
    store.lock()
    raw = space_path.read_bytes()
    for secret in (b"kind-marker-7f3a", b"marker-server", ASSET.encode(), uuid.UUID(ASSET).bytes):
        assert secret not in raw


# ---------------------------------------------------------------------- tamper


@pytest.fixture
def two_records(store: SpaceFile, space_path: Path) -> tuple[str, str]:
    first = store.put_sync_record(feedback(ASSET, "first"))
    second = store.put_sync_record(feedback(ASSET, "second"))
    store.lock()
    return first.id, second.id


def _set_data(path: Path, record_id: str, data: bytes) -> None:
    db = raw_db(path)
    db.execute("UPDATE sync_record SET data=? WHERE id=?", (data, record_id))
    db.close()


def test_a_flipped_bit_is_detected_on_read_and_by_verify(
    cli,  # type: ignore[no-untyped-def]
    two_records: tuple[str, str],
    space_path: Path,
    kdf_policy: KdfPolicy,
) -> None:
    hurt, intact = two_records
    db = raw_db(space_path)
    blob = bytearray(db.execute("SELECT data FROM sync_record WHERE id=?", (hurt,)).fetchone()[0])
    db.close()
    blob[30] ^= 0x01
    _set_data(space_path, hurt, bytes(blob))
    with opened(space_path, kdf_policy) as space:
        assert space.integrity_problem is None  # the manifest covers ids and versions
        with pytest.raises(DamagedRecord) as raised:
            space.sync_record(hurt)
        assert raised.value.row_id == hurt
        with pytest.raises(DamagedSpace):
            space.sync_records(kind="event")
        assert space.sync_record(intact) is not None
        problems = space.verify().problems
        assert [(p.where, p.what) for p in problems] == [
            (f"sync record {hurt}", "damaged or tampered with")
        ]
    result = cli("verify", space_path)
    assert result.code == 4
    assert f"sync record {hurt}" in result.out
    # Deleting the damaged record is how it is cleaned up.
    with opened(space_path, kdf_policy) as space:
        assert space.delete_sync_records([hurt]) == 1
        assert [record.id for record in space.sync_records()] == [intact]
        assert space.verify().ok


def test_data_swapped_between_records_is_detected(
    two_records: tuple[str, str], space_path: Path, kdf_policy: KdfPolicy
) -> None:
    first, second = two_records
    db = raw_db(space_path)
    blobs = dict(db.execute("SELECT id, data FROM sync_record").fetchall())
    db.close()
    _set_data(space_path, first, blobs[second])
    _set_data(space_path, second, blobs[first])
    with opened(space_path, kdf_policy) as space:
        for record_id in (first, second):
            with pytest.raises(DamagedRecord):
                space.sync_record(record_id)
        assert len(space.verify().problems) == 2


def test_a_record_rolled_back_to_an_older_version_is_detected(
    store: SpaceFile, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    """An attacker puts back a record as it was (say, an outbox entry still queued, to
    have it sent again): it opens, but the manifest knows its version."""
    queued = store.put_sync_record(SyncRecord("", "outbox", {"state": "queued"}, [ASSET]))
    db = raw_db(space_path)
    old = db.execute("SELECT version, data FROM sync_record").fetchone()
    db.close()
    store.put_sync_record(SyncRecord(queued.id, "outbox", {"state": "delivered"}, [ASSET]))
    store.lock()
    db = raw_db(space_path)
    db.execute("UPDATE sync_record SET version=?, data=? WHERE id=?", (*old, queued.id))
    db.close()
    with opened(space_path, kdf_policy) as space:
        assert space.integrity_problem == "records were replaced or rolled back to older versions"
        with pytest.raises(DamagedSpace, match="read-only"):
            space.put_sync_record(SyncRecord(queued.id, "outbox", {"state": "queued"}))


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("DELETE FROM sync_record", "1 record(s) are missing"),
        (
            "INSERT INTO sync_record (id, version, data) VALUES ('cursor', 1, x'00')",
            "a record with an id Cairn never writes was added from outside Cairn",
        ),
        (
            f"INSERT INTO sync_record (id, version, data) VALUES ('{NOBODY}', 1, x'00')",
            "1 record(s) were added from outside Cairn",
        ),
    ],
)
def test_a_deleted_or_added_row_makes_the_space_read_only(
    cli,  # type: ignore[no-untyped-def]
    store: SpaceFile,
    space_path: Path,
    kdf_policy: KdfPolicy,
    sql: str,
    problem: str,
) -> None:
    store.put_sync_record(feedback(ASSET, "only one"))
    store.lock()
    db = raw_db(space_path)
    db.execute(sql)
    db.close()
    with opened(space_path, kdf_policy) as damaged:
        assert damaged.integrity_problem is not None
        assert damaged.integrity_problem.startswith(problem)
        with pytest.raises(DamagedSpace, match="read-only"):
            damaged.put_sync_record(feedback(ASSET, "another"))
        with pytest.raises(DamagedSpace, match="read-only"):
            damaged.delete_sync_records([NOBODY])
    assert cli("verify", space_path).code == 4


# ------------------------------------------------------------------- migration

V2_TABLES = tuple(table for table in spacefile.STORE_TABLES if table is not SyncRecordRow)


@pytest.fixture
def v2_space(space_path: Path, kdf_policy: KdfPolicy, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A schema 2 file, written the way Cairn wrote it before schema 3: the tables of
    schema 2 only, every value sealed with schema version 2, one of each kind of row."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "SCHEMA_VERSION", 2)
        patch.setattr(spacefile, "STORE_TABLES", V2_TABLES)
        store, _ = SpaceFile.create(space_path, PASSPHRASE, kdf_policy)
        try:
            [asset] = store.insert_assets(
                [NewAsset("builtin/evidence", "Before sync", {"caption": "old"}, ["t"], [])]
            )
            store.update_asset(AssetRecord(**{**asset.__dict__, "title": "Before sync, edited"}), 1)
            info = store.add_attachment(asset.id, io.BytesIO(b"evidence" * 1000), "e.bin")
            store.set_thumbnail(info.id, TINY_PNG)
            store.add_capture_record(
                CaptureRecord("a" * 64, "/inbox", "e.bin", 8000, 1, asset_id=asset.id)
            )
        finally:
            store.lock()
    db = raw_db(space_path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert "sync_record" not in tables
    assert "capture_record" in tables
    return space_path


def _schema(path: Path) -> set[tuple[str, str]]:
    db = raw_db(path)
    try:
        return {(name, sql) for name, sql in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}  # fmt: skip
    finally:
        db.close()


def test_a_schema_2_file_is_upgraded_at_unlock_and_loses_nothing(
    v2_space: Path, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    with opened(v2_space, kdf_policy) as space:
        assert space.integrity_problem is None
        assert space.schema_version == 3
        [summary], damaged = space.list_summaries()
        assert damaged == []
        assert summary.title == "Before sync, edited"
        assert space.get_version(summary.id, 1).title == "Before sync"
        assert space.get_asset(summary.id).fields == {"caption": "old"}
        [info] = space.list_attachments(summary.id)
        assert b"".join(space.read_attachment(info.id)) == b"evidence" * 1000
        assert space.thumbnail(info.id) == TINY_PNG
        [captured], _ = space.capture_records()
        assert captured.asset_id == summary.id
        public = space.identity_public_key()
        assert space.sync_records() == []
        stored = space.put_sync_record(feedback(summary.id, "after the upgrade"))
        assert space.verify().ok
    db = raw_db(v2_space)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("3",)
    db.close()
    fresh = SpaceFile.create(tmp_path / "fresh.cairn", PASSPHRASE, kdf_policy)[0]
    fresh.lock()
    assert _schema(v2_space) == _schema(tmp_path / "fresh.cairn")
    with opened(v2_space, kdf_policy) as again:
        assert again.integrity_problem is None
        assert again.sync_records(asset_id=summary.id) == [stored]
        assert again.identity_public_key() == public
        assert again.verify().ok


def test_a_damaged_schema_2_file_opens_read_only_without_upgrading(
    v2_space: Path, kdf_policy: KdfPolicy
) -> None:
    db = raw_db(v2_space)
    db.execute("DELETE FROM capture_record")
    db.close()
    with opened(v2_space, kdf_policy) as space:
        assert space.integrity_problem is not None
        assert space.schema_version == 2
        assert space.sync_records() == []
        assert space.sync_record(NOBODY) is None
        with pytest.raises(DamagedSpace, match="read-only"):
            space.put_sync_record(feedback(ASSET, "nowhere to go"))
        assert [p.where for p in space.verify().problems] == ["manifest"]
    assert "sync_record" not in {name for name, _ in _schema(v2_space)}


# ---------------------------------------------------------------------- timing


def test_five_thousand_records_time(
    store: SpaceFile, space_path: Path, kdf_policy: KdfPolicy, capsys: pytest.CaptureFixture[str]
) -> None:
    """Filtering opens every record; the figures are printed, not asserted (the
    timing is for the report and for docs, not a test that fails on a slow CI box)."""
    assets = [str(uuid.uuid4()) for _ in range(50)]
    records = [
        SyncRecord(
            "",
            "event",
            {"type": "feedback", "seq": n, "text": "Well argued. " * 20, "signature": "A" * 88},
            [assets[n % 50]],
        )  # fmt: skip
        for n in range(5000)
    ]
    started = time.perf_counter()
    stored = store.put_sync_records(records)
    put_seconds = time.perf_counter() - started
    store.lock()
    store = reopen(space_path, kdf_policy)
    try:
        started = time.perf_counter()
        everything = store.sync_records()
        all_seconds = time.perf_counter() - started
        started = time.perf_counter()
        mine = store.sync_records(kind="event", asset_id=assets[7])
        filtered_seconds = time.perf_counter() - started
        started = time.perf_counter()
        one = store.sync_record(stored[4321].id)
        one_seconds = time.perf_counter() - started
        started = time.perf_counter()
        update = store.put_sync_record(dataclass_with(stored[10], {"read": True}))
        update_seconds = time.perf_counter() - started
    finally:
        store.lock()
    assert everything == stored  # one call: one update time, in the order given
    assert len(mine) == 100
    assert one == stored[4321]
    assert update.version == 2
    with capsys.disabled():
        print(
            f"\n5,000 sync records: put in one transaction {put_seconds * 1000:.0f} ms; "
            f"sync_records() {all_seconds * 1000:.0f} ms; filtered by kind and asset "
            f"{filtered_seconds * 1000:.0f} ms; sync_record(id) {one_seconds * 1000:.1f} ms; "
            f"one update {update_seconds * 1000:.1f} ms"
        )


def dataclass_with(record: SyncRecord, data: dict[str, object]) -> SyncRecord:
    return SyncRecord(record.id, record.kind, {**record.data, **data}, record.asset_ids)
