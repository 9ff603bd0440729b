"""Damage and tampering: `verify` reports it (exit 4), reads never return wrong data,
and intact assets still open."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.space import Space
from store.errors import DamagedRecord, DamagedSpace
from store.stream import CHUNK_SIZE
from tests.conftest import PASSPHRASE
from tests.support import raw_db


@dataclass
class Fixture:
    path: Path
    intact: str
    victim: str
    other: str
    attachment: str
    content: bytes


@pytest.fixture
def populated(space: Space, space_path: Path, tmp_path: Path) -> Fixture:
    """Three assets (one edited twice), and a 3.5-chunk attachment on the victim."""
    intact = space.add_asset("journal", "Intact entry", {"body": "nothing to see"}, ["safe"])
    victim = space.add_asset("reflection", "Victim", {"what": "first"}, ["target"])
    other = space.add_asset("plan", "Other", {"goal": "learn"}, [])
    space.edit_asset(victim.id, set_fields={"what": "second"})
    space.edit_asset(victim.id, set_fields={"what": "third"})
    content = os.urandom(3 * CHUNK_SIZE + CHUNK_SIZE // 2)
    source = tmp_path / "evidence.bin"
    source.write_bytes(content)
    attachment = space.attach(victim.id, source)
    space.lock()
    return Fixture(space_path, intact.id, victim.id, other.id, attachment.id, content)


def _verify_exit(cli, path: Path) -> int:  # type: ignore[no-untyped-def]
    return int(cli("verify", path).code)


def _assert_intact_still_opens(cli, fx: Fixture) -> None:  # type: ignore[no-untyped-def]
    shown = cli("show", fx.path, fx.intact, "--json")
    assert shown.code == 0, shown.err
    assert '"Intact entry"' in shown.out


def _blob(path: Path, sql: str, *params: object) -> bytes:
    db = raw_db(path)
    value = db.execute(sql, params).fetchone()[0]
    db.close()
    return bytes(value)


def test_clean_space_verifies(cli, populated: Fixture) -> None:  # type: ignore[no-untyped-def]
    result = cli("verify", populated.path)
    assert result.code == 0, result.out
    assert "ok: checked 3 assets, 2 earlier versions, 1 attachments" in result.out


@pytest.mark.parametrize(
    ("table", "column", "key"),
    [
        ("asset", "summary", "victim"),
        ("asset", "body", "victim"),
        ("asset_version", "document", "victim_history"),
        ("attachment", "meta", "attachment"),
        ("attachment_chunk", "data", "chunk"),
    ],
)
def test_bit_flips_in_the_file_bytes_are_detected(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, kdf_policy, table: str, column: str, key: str
) -> None:
    fx = populated
    where = {
        "victim": ("id = ?", fx.victim),
        "victim_history": ("asset_id = ? AND version = 1", fx.victim),
        "attachment": ("id = ?", fx.attachment),
        "chunk": ("attachment_id = ? AND seq = 2", fx.attachment),
    }[key]
    blob = _blob(fx.path, f"SELECT {column} FROM {table} WHERE {where[0]}", where[1])
    raw = bytearray(fx.path.read_bytes())
    # Chunks span overflow pages, so locate a 64-byte slice rather than the whole blob.
    probe = blob[:64]
    offset = raw.find(probe)
    assert offset > 0
    assert raw.find(probe, offset + 1) == -1
    rng = random.Random(f"{table}.{column}")
    position = offset + rng.randrange(len(probe))
    raw[position] ^= 1 << rng.randrange(8)
    fx.path.write_bytes(bytes(raw))

    assert _verify_exit(cli, fx.path) == 4
    _assert_intact_still_opens(cli, fx)
    with Space.open(fx.path, PASSPHRASE, kdf_policy=kdf_policy) as space:
        if table == "attachment_chunk":
            with pytest.raises(DamagedRecord):
                b"".join(space.read_attachment(fx.attachment))
        elif table == "asset_version":
            with pytest.raises(DamagedRecord):
                space.get_version(fx.victim, 1)
            assert space.get_asset(fx.victim).fields == {"what": "third"}
        elif table == "attachment":
            with pytest.raises(DamagedRecord):
                space.get_attachment(fx.attachment)
        else:
            with pytest.raises(DamagedRecord):
                space.get_asset(fx.victim)
        assert space.get_asset(fx.other).title == "Other"


def test_extract_of_a_damaged_attachment_leaves_no_file(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, tmp_path: Path
) -> None:
    fx = populated
    db = raw_db(fx.path)
    data = bytearray(db.execute(
        "SELECT data FROM attachment_chunk WHERE attachment_id=? AND seq=3", (fx.attachment,)
    ).fetchone()[0])  # fmt: skip
    data[-1] ^= 0x80
    db.execute("UPDATE attachment_chunk SET data=? WHERE attachment_id=? AND seq=3",
               (bytes(data), fx.attachment))  # fmt: skip
    db.close()
    out = tmp_path / "out" / "evidence.bin"
    out.parent.mkdir()
    result = cli("extract", fx.path, fx.attachment, out)
    assert result.code == 4
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    "move",
    ["summary-to-other-row", "summary-to-body", "body-to-other-row", "history-to-other-version",
     "current-to-older-version", "attachment-meta-to-other-row"],
)  # fmt: skip
def test_blobs_moved_between_rows_columns_or_versions_fail(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, kdf_policy, move: str
) -> None:
    fx = populated
    db = raw_db(fx.path)
    if move == "summary-to-other-row":
        db.execute("UPDATE asset SET summary=(SELECT summary FROM asset WHERE id=?) WHERE id=?",
                   (fx.other, fx.victim))  # fmt: skip
    elif move == "summary-to-body":
        db.execute("UPDATE asset SET body=summary WHERE id=?", (fx.victim,))
    elif move == "body-to-other-row":
        db.execute("UPDATE asset SET body=(SELECT body FROM asset WHERE id=?) WHERE id=?",
                   (fx.other, fx.victim))  # fmt: skip
    elif move == "history-to-other-version":
        db.execute(
            "UPDATE asset_version SET document=(SELECT document FROM asset_version "
            "WHERE asset_id=? AND version=1) WHERE asset_id=? AND version=2",
            (fx.victim, fx.victim),
        )
    elif move == "current-to-older-version":
        # Claim the current row is version 2 again: its blobs are bound to version 3.
        db.execute("UPDATE asset SET version=2 WHERE id=?", (fx.victim,))
    else:
        db.execute(
            "INSERT INTO attachment SELECT ?, asset_id, version, size, chunk_count, meta "
            "FROM attachment WHERE id=?",
            ("0" * 8 + fx.attachment[8:], fx.attachment),
        )
    db.close()
    assert _verify_exit(cli, fx.path) == 4
    _assert_intact_still_opens(cli, fx)
    with Space.open(fx.path, PASSPHRASE, kdf_policy=kdf_policy) as space:
        if move == "history-to-other-version":
            assert space.get_version(fx.victim, 1).fields == {"what": "first"}
            with pytest.raises(DamagedRecord):
                space.get_version(fx.victim, 2)
        elif move == "attachment-meta-to-other-row":
            with pytest.raises(DamagedRecord):
                space.get_attachment("0" * 8 + fx.attachment[8:])
        else:
            with pytest.raises(DamagedRecord):
                space.get_asset(fx.victim)


def test_a_deleted_asset_row_is_detected_and_named(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, kdf_policy
) -> None:
    fx = populated
    db = raw_db(fx.path)
    db.execute("DELETE FROM asset WHERE id=?", (fx.victim,))
    db.close()
    result = cli("verify", fx.path)
    assert result.code == 4
    assert "1 record(s) are missing" in result.out
    assert f"asset {fx.victim}: missing, but its earlier versions are present" in result.out
    listing = cli("list", fx.path, "--json")
    assert "integrity check" in listing.err
    _assert_intact_still_opens(cli, fx)
    # The space is read-only until repaired: no write could paper over the gap.
    edit = cli("edit", fx.path, fx.intact, "--title", "changed")
    assert edit.code == 4
    with Space.open(fx.path, PASSPHRASE, kdf_policy=kdf_policy) as space:
        assert space.integrity_problem
        with pytest.raises(DamagedSpace):
            space.add_asset("journal", "new", {})


def test_a_deleted_row_without_history_is_still_detected(  # type: ignore[no-untyped-def]
    cli, populated: Fixture
) -> None:
    db = raw_db(populated.path)
    db.execute("DELETE FROM asset WHERE id=?", (populated.other,))
    db.close()
    result = cli("verify", populated.path)
    assert result.code == 4
    assert "missing" in result.out


def test_a_rolled_back_asset_row_is_detected(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, tmp_path: Path, kdf_policy
) -> None:
    fx = populated
    # Keep a consistent copy of the victim row at version 3, then edit, then put it back.
    saved = (
        raw_db(fx.path)
        .execute("SELECT version, summary, body FROM asset WHERE id=?", (fx.victim,))
        .fetchone()
    )
    assert cli("edit", fx.path, fx.victim, "--set", "what=fourth").code == 0
    db = raw_db(fx.path)
    db.execute("UPDATE asset SET version=?, summary=?, body=? WHERE id=?", (*saved, fx.victim))
    db.close()
    result = cli("verify", fx.path)
    assert result.code == 4
    assert "manifest" in result.out


@pytest.mark.parametrize("attack", ["drop-middle", "drop-last", "swap", "append", "drop-all"])
def test_chunk_attacks_are_detected(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, kdf_policy, tmp_path: Path, attack: str
) -> None:
    fx = populated
    db = raw_db(fx.path)
    a = fx.attachment
    if attack == "drop-middle":
        db.execute("DELETE FROM attachment_chunk WHERE attachment_id=? AND seq=1", (a,))
    elif attack == "drop-last":
        db.execute("DELETE FROM attachment_chunk WHERE attachment_id=? AND seq=3", (a,))
    elif attack == "drop-all":
        db.execute("DELETE FROM attachment_chunk WHERE attachment_id=?", (a,))
    elif attack == "swap":
        db.execute("UPDATE attachment_chunk SET seq=-1 WHERE attachment_id=? AND seq=1", (a,))
        db.execute("UPDATE attachment_chunk SET seq=1 WHERE attachment_id=? AND seq=2", (a,))
        db.execute("UPDATE attachment_chunk SET seq=2 WHERE attachment_id=? AND seq=-1", (a,))
    else:
        db.execute("INSERT INTO attachment_chunk SELECT attachment_id, 4, data "
                   "FROM attachment_chunk WHERE attachment_id=? AND seq=3", (a,))  # fmt: skip
    db.close()
    assert _verify_exit(cli, fx.path) == 4
    out = tmp_path / "extracted.bin"
    assert cli("extract", fx.path, a, out).code == 4
    assert not out.exists()
    _assert_intact_still_opens(cli, fx)
    with Space.open(fx.path, PASSPHRASE, kdf_policy=kdf_policy) as space:
        received = bytearray()

        def read_all() -> None:
            for chunk in space.read_attachment(a):
                received.extend(chunk)

        with pytest.raises(DamagedRecord):
            read_all()
        assert fx.content.startswith(bytes(received))  # never wrong data, at most a prefix


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_a_truncated_file_is_reported_damaged(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, keep: float
) -> None:
    raw = populated.path.read_bytes()
    populated.path.write_bytes(raw[: int(len(raw) * keep)])
    result = cli("verify", populated.path)
    assert result.code == 4, (result.out, result.err)
    assert "Traceback" not in result.err


def test_a_file_that_is_not_a_space(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n")
    assert cli("list", text).code == 6
    empty_db = tmp_path / "other.sqlite"
    raw_db(empty_db).execute("CREATE TABLE t (x)").connection.close()
    result = cli("list", empty_db)
    assert result.code == 6, result.err
    assert cli("list", tmp_path / "missing.cairn").code == 6


@pytest.mark.parametrize("what", ["attachment", "history"])
def test_moving_an_attachment_or_version_to_another_asset_is_detected(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, kdf_policy, what: str
) -> None:
    fx = populated
    db = raw_db(fx.path)
    if what == "attachment":
        db.execute("UPDATE attachment SET asset_id=? WHERE id=?", (fx.other, fx.attachment))
    else:
        db.execute("UPDATE asset_version SET asset_id=? WHERE asset_id=?", (fx.other, fx.victim))
    db.close()
    assert _verify_exit(cli, fx.path) == 4
    with Space.open(fx.path, PASSPHRASE, kdf_policy=kdf_policy) as space:
        if what == "attachment":
            with pytest.raises(DamagedRecord):
                space.attachments(fx.other)
        else:
            with pytest.raises(DamagedRecord):
                space.history(fx.other)


def test_a_changed_attachment_size_is_detected_before_reading(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, kdf_policy
) -> None:
    db = raw_db(populated.path)
    db.execute("UPDATE attachment SET size=size-1 WHERE id=?", (populated.attachment,))
    db.close()
    assert _verify_exit(cli, populated.path) == 4
    with (
        Space.open(populated.path, PASSPHRASE, kdf_policy=kdf_policy) as space,
        pytest.raises(DamagedRecord),
    ):
        space.get_attachment(populated.attachment)


def test_key_slot_tampering_is_reported(cli, populated: Fixture) -> None:  # type: ignore[no-untyped-def]
    db = raw_db(populated.path)
    db.execute("DELETE FROM keyslot WHERE kind='recovery'")
    db.close()
    result = cli("verify", populated.path)
    assert result.code == 4
    assert "recovery key slot: 0 found, expected 1" in result.out
    db = raw_db(populated.path)
    db.execute("INSERT INTO keyslot SELECT 'x' || id, kind, params, wrapped, \"check\", digest "
               "FROM keyslot WHERE kind='passphrase'")  # fmt: skip
    db.close()
    refused = cli("list", populated.path)
    assert refused.code == 4
    assert "2 passphrase key slots" in refused.err


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE meta SET value='0' WHERE key='schema_version'",
        "UPDATE meta SET value='not json' WHERE key='manifest'",
        "DELETE FROM meta WHERE key='manifest'",
        "UPDATE keyslot SET params='{not json' WHERE kind='passphrase'",
        "UPDATE meta SET value='not-a-uuid' WHERE key='space_id'",
    ],
)
def test_damaged_header_values_are_exit_4_not_a_crash(  # type: ignore[no-untyped-def]
    cli, populated: Fixture, sql: str
) -> None:
    db = raw_db(populated.path)
    db.execute(sql)
    db.close()
    result = cli("verify", populated.path)
    assert result.code == 4, result.err
    assert "internal error" not in result.err
    if "manifest" in sql:  # intact assets still open, read-only
        assert cli("show", populated.path, populated.intact).code == 0
