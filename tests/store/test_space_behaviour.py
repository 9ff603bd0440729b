"""What the store does for a person: history, attachments, search, identity, upgrades."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.space import Space
from store import migrations
from store.errors import NoSuchAsset, NoSuchVersion
from store.spacefile import ConflictError
from store.stream import CHUNK_SIZE
from tests.conftest import PASSPHRASE
from tests.support import raw_db


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE])
def test_attachments_round_trip_at_chunk_boundaries(
    space: Space, tmp_path: Path, size: int
) -> None:
    asset = space.add_asset("evidence", "Scan", {})
    content = os.urandom(size)
    info = space.attach(asset.id, io.BytesIO(content), name="scan.bin")
    assert info.size == size
    assert info.sha256 == hashlib.sha256(content).hexdigest()
    out = tmp_path / "out.bin"
    space.extract(info.id, out)
    assert out.read_bytes() == content
    assert oct(out.stat().st_mode & 0o777) == "0o600"


class TrickleReader(io.RawIOBase):
    """A source that returns a few bytes per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        part = self.data[self.offset : self.offset + min(size, 4093)]
        self.offset += len(part)
        return part


def test_short_reads_still_give_full_chunks(space: Space) -> None:
    asset = space.add_asset("evidence", "Piped", {})
    content = os.urandom(2 * CHUNK_SIZE + 17)
    info = space.attach(asset.id, TrickleReader(content), name="piped")  # type: ignore[arg-type]
    assert b"".join(space.read_attachment(info.id)) == content
    db = raw_db(space.path)
    assert db.execute("SELECT count(*) FROM attachment_chunk").fetchone()[0] == 3


def test_attachment_to_a_missing_asset_leaves_nothing(space: Space) -> None:
    with pytest.raises(NoSuchAsset):
        space.attach("00000000-0000-4000-8000-000000000000", io.BytesIO(b"x" * 10), name="x")
    assert raw_db(space.path).execute("SELECT count(*) FROM attachment_chunk").fetchone()[0] == 0


def test_history_keeps_every_version_and_restore_adds_one(space: Space) -> None:
    asset = space.add_asset("reflection", "v1", {"feelings": "nervous"}, ["a"])
    space.edit_asset(asset.id, title="v2", set_fields={"feelings": "calmer"})
    space.edit_asset(asset.id, title="v3", unset_fields=["feelings"], add_tags=["b"])
    assert [(v.version, v.title, v.current) for v in space.history(asset.id)] == [
        (1, "v1", False), (2, "v2", False), (3, "v3", True)
    ]  # fmt: skip
    assert space.get_version(asset.id, 1).fields == {"feelings": "nervous"}
    restored = space.restore_version(asset.id, 1)
    assert (restored.version, restored.title, restored.tags) == (4, "v1", ["a"])
    assert restored.created == asset.created
    assert len(space.history(asset.id)) == 4
    with pytest.raises(NoSuchVersion):
        space.get_version(asset.id, 9)


def test_a_stale_edit_is_refused_not_lost(space: Space, space_path: Path, kdf_policy) -> None:  # type: ignore[no-untyped-def]
    asset = space.add_asset("journal", "Shared", {})
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as other:
        other.edit_asset(asset.id, title="Saved elsewhere")
    stale = space.get_asset(asset.id)
    stale.version = 1
    with pytest.raises(ConflictError):
        space._store.update_asset(stale, expected_version=1)
    assert space.get_asset(asset.id).title == "Saved elsewhere"


def test_links_are_visible_from_both_sides(space: Space) -> None:
    plan = space.add_asset("smart-plan", "Plan", {})
    evidence = space.add_asset("reflection", "Did it", {}, links=[plan.id])
    assert [s.id for s in space.linked_from(plan.id)] == [evidence.id]
    space.edit_asset(evidence.id, remove_links=[plan.id])
    assert space.linked_from(plan.id) == []


def test_search_ranks_titles_and_follows_edits_and_deletes(space: Space) -> None:
    a = space.add_asset("journal", "Negotiation workshop", {"body": "role play"}, ["sales"])
    b = space.add_asset("journal", "Tuesday", {"body": "I read about negotiation tactics"})
    space.wait_for_index()
    assert [h.asset_id for h in space.search("negotiat")] == [a.id, b.id]
    assert [h.asset_id for h in space.search("SALES")] == [a.id]
    space.edit_asset(b.id, set_fields={"body": "gardening"})
    assert [h.asset_id for h in space.search("negotiation")] == [a.id]
    space.delete_asset(a.id)
    assert space.search("negotiation") == []
    assert space.search("") == []
    assert space.search('AND OR NOT ( " *') == []


def test_search_ignores_accents(space: Space) -> None:
    asset = space.add_asset("journal", "Café à Genève", {"body": "réunion"})
    assert [h.asset_id for h in space.search("geneve reunion")] == [asset.id]


def test_index_builds_in_the_background_after_unlock(
    space: Space, space_path: Path, kdf_policy
) -> None:  # type: ignore[no-untyped-def]
    for n in range(300):
        space.add_asset("journal", f"Entry {n}", {"body": f"word{n}"})
    space.lock()
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy) as reopened:
        assert reopened.wait_for_index(timeout=30)
        assert [h.title for h in reopened.search("word299")] == ["Entry 299"]


def test_identity_signs_verifiably_and_stays_after_reopen(
    space: Space, space_path: Path, kdf_policy
) -> None:  # type: ignore[no-untyped-def]
    public = space.identity_public_key()
    signature = space.sign(b"disclosure")
    Ed25519PublicKey.from_public_bytes(public).verify(signature, b"disclosure")
    space.lock()
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as again:
        assert again.identity_public_key() == public


def test_an_older_schema_is_upgraded_and_resealed(
    space: Space,
    space_path: Path,
    kdf_policy,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    asset = space.add_asset("journal", "Old format", {"body": "kept"})
    space.edit_asset(asset.id, title="Old format, edited")
    space.lock()
    ran: list[int] = []

    def step(session) -> None:  # type: ignore[no-untyped-def]
        session.connection().exec_driver_sql("CREATE TABLE upgraded (x INTEGER)")
        ran.append(1)

    current = migrations.SCHEMA_VERSION
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(migrations.MIGRATIONS, current, step)
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy) as upgraded:
        assert ran == [1]
        assert upgraded.get_asset(asset.id).title == "Old format, edited"
        assert upgraded.get_version(asset.id, 1).title == "Old format"
        assert upgraded.verify().ok
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy) as again:
        assert ran == [1]  # upgraded once
        assert again.get_asset(asset.id).fields == {"body": "kept"}
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", current)
    from store.errors import UnsupportedVersion

    with pytest.raises(UnsupportedVersion):
        Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=st.text(max_size=200),
    fields=st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.text(max_size=300) | st.integers() | st.lists(st.text(max_size=20), max_size=4),
        max_size=6,
    ),  # fmt: skip
    tags=st.lists(st.text(min_size=1, max_size=15), max_size=5),
)
def test_any_text_round_trips(space: Space, title: str, fields: dict, tags: list[str]) -> None:  # type: ignore[type-arg]
    record = space.add_asset("journal", title, fields, tags)
    again = space.get_asset(record.id)
    assert (again.title, again.fields, again.tags) == (title, fields, record.tags)


def test_reads_go_on_while_another_program_is_writing(space: Space) -> None:
    asset = space.add_asset("journal", "Readable during imports", {"body": "x"})
    other = raw_db(space.path)
    other.execute("BEGIN IMMEDIATE")  # e.g. another process streaming a large attachment
    other.execute("INSERT INTO meta VALUES ('probe', 'x')")
    try:
        assert space.get_asset(asset.id).title == "Readable during imports"
        assert [s.id for s in space.list_assets()[0]] == [asset.id]
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_locked_space_says_so(space: Space) -> None:
    from store.errors import SpaceLocked

    asset = space.add_asset("journal", "x", {})
    space.lock()
    for attempt in (
        lambda: space.get_asset(asset.id),
        lambda: space.attach(asset.id, io.BytesIO(b"data"), name="d"),
        lambda: space.change_passphrase("new one"),
        lambda: space.add_asset("journal", "y", {}),
    ):
        with pytest.raises(SpaceLocked):
            attempt()
