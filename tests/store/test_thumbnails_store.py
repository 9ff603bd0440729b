"""Thumbnails stored encrypted beside their attachments (schema 2), tampering with
them, their deletion with the attachment, and the upgrade of a schema 1 file."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage, QImageWriter

import app.space
from app.space import Space
from store import migrations, spacefile
from store.errors import DamagedRecord, DamagedSpace, NoSuchAttachment
from store.kdf import KdfPolicy
from store.spacefile import CaptureRecord
from store.tables import (
    AssetRow,
    AssetVersionRow,
    AttachmentChunkRow,
    AttachmentRow,
    IdentityRow,
    KeySlotRow,
    Meta,
)
from tests.conftest import PASSPHRASE
from tests.support import raw_db

V1_TABLES = (Meta, KeySlotRow, AssetRow, AssetVersionRow, AttachmentRow, AttachmentChunkRow,
             IdentityRow)  # fmt: skip


def image_bytes(width: int = 400, height: int = 300, image_format: str = "PNG") -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(0x3366CC)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert QImageWriter(buffer, QByteArray(image_format.encode())).write(image)
    return bytes(buffer.data().data())


def png_size(png: bytes) -> tuple[int, int]:
    image = QImage.fromData(png)
    assert not image.isNull()
    return image.width(), image.height()


def count(path: Path, table: str) -> int:
    db = raw_db(path)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


@dataclass
class TwoImages:
    path: Path
    asset: str
    first: str
    second: str


@pytest.fixture
def two_images(space: Space, space_path: Path) -> TwoImages:
    """One evidence asset with two image attachments, each with a stored thumbnail."""
    asset = space.add_asset("builtin/evidence", "Whiteboards", {})
    first = space.attach(asset.id, io.BytesIO(image_bytes()), "one.png", "image/png",
                         thumbnail=True)  # fmt: skip
    second = space.attach(asset.id, io.BytesIO(image_bytes(300, 600, "JPEG")), "two.jpg",
                          "image/jpeg", thumbnail=True)  # fmt: skip
    space.lock()
    return TwoImages(space_path, asset.id, first.id, second.id)


def reopen(path: Path, kdf_policy: KdfPolicy) -> Space:
    return Space.open(path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy")


# ------------------------------------------------------------------ round trip


def test_an_image_gets_a_thumbnail_that_survives_reopening(
    two_images: TwoImages, kdf_policy: KdfPolicy
) -> None:
    with reopen(two_images.path, kdf_policy) as space:
        assert space.integrity_problem is None
        assert png_size(space.thumbnail(two_images.first) or b"") == (160, 120)
        assert png_size(space.thumbnail(two_images.second) or b"") == (80, 160)
        assert space.verify().ok
    # Sealed: the PNG's bytes appear nowhere in the file.
    with reopen(two_images.path, kdf_policy) as space:
        png = space.thumbnail(two_images.first)
    assert png is not None
    assert png[8:40] not in two_images.path.read_bytes()


def test_other_files_and_big_images_get_no_thumbnail(
    space: Space, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset = space.add_asset("builtin/evidence", "Files", {})
    text = space.attach(asset.id, io.BytesIO(b"notes"), "notes.txt", "text/plain", thumbnail=True)
    garbage = space.attach(asset.id, io.BytesIO(b"not a png"), "fake.png", "image/png",
                           thumbnail=True)  # fmt: skip
    plain = space.attach(asset.id, io.BytesIO(image_bytes()), "later.png", "image/png")
    decoded: list[int] = []
    monkeypatch.setattr(app.space, "THUMBNAIL_SOURCE_LIMIT", 1000)
    monkeypatch.setattr(app.space, "make_thumbnail", lambda data: decoded.append(len(data)))
    big = space.attach(asset.id, io.BytesIO(image_bytes()), "big.png", "image/png",
                       thumbnail=True)  # fmt: skip
    assert decoded == []  # bigger than the limit: never decoded
    for info in (text, garbage, plain, big):
        assert space.thumbnail(info.id) is None
    assert b"".join(space.read_attachment(big.id)) == image_bytes()


def test_a_thumbnail_can_be_set_and_replaced(space: Space, space_path: Path, kdf_policy) -> None:  # type: ignore[no-untyped-def]
    asset = space.add_asset("builtin/evidence", "Scan", {})
    info = space.attach(asset.id, io.BytesIO(b"%PDF-1.7 ..."), "scan.pdf", "application/pdf")
    small, other = image_bytes(16, 16), image_bytes(32, 8)
    space.set_thumbnail(info.id, small)
    space.set_thumbnail(info.id, other)
    assert space.thumbnail(info.id) == other
    with pytest.raises(ValueError, match="PNG"):
        space.set_thumbnail(info.id, b"GIF89a")
    with pytest.raises(NoSuchAttachment):
        space.set_thumbnail("00000000-0000-4000-8000-000000000000", small)
    with pytest.raises(NoSuchAttachment):
        space.thumbnail("00000000-0000-4000-8000-000000000000")
    space.lock()
    with reopen(space_path, kdf_policy) as again:
        assert again.integrity_problem is None
        assert again.thumbnail(info.id) == other
        assert again.verify().ok


# ---------------------------------------------------------------------- tamper


def test_a_flipped_bit_in_a_thumbnail_is_detected(
    cli,  # type: ignore[no-untyped-def]
    two_images: TwoImages,
    kdf_policy: KdfPolicy,
) -> None:
    db = raw_db(two_images.path)
    blob = bytearray(db.execute("SELECT data FROM attachment_thumbnail WHERE attachment_id=?",
                                (two_images.first,)).fetchone()[0])  # fmt: skip
    blob[40] ^= 0x04
    db.execute("UPDATE attachment_thumbnail SET data=? WHERE attachment_id=?",
               (bytes(blob), two_images.first))  # fmt: skip
    db.close()
    with reopen(two_images.path, kdf_policy) as space:
        with pytest.raises(DamagedRecord):
            space.thumbnail(two_images.first)
        assert space.thumbnail(two_images.second) is not None
    result = cli("verify", two_images.path)
    assert result.code == 4
    assert f"thumbnail {two_images.first}: damaged or tampered with" in result.out


def test_thumbnails_swapped_between_attachments_are_detected(
    cli,  # type: ignore[no-untyped-def]
    two_images: TwoImages,
    kdf_policy: KdfPolicy,
) -> None:
    db = raw_db(two_images.path)
    rows = dict(db.execute("SELECT attachment_id, data FROM attachment_thumbnail").fetchall())
    for attachment_id, other in ((two_images.first, two_images.second),
                                 (two_images.second, two_images.first)):  # fmt: skip
        db.execute("UPDATE attachment_thumbnail SET data=? WHERE attachment_id=?",
                   (rows[other], attachment_id))  # fmt: skip
    db.close()
    with reopen(two_images.path, kdf_policy) as space:
        for attachment_id in (two_images.first, two_images.second):
            with pytest.raises(DamagedRecord):
                space.thumbnail(attachment_id)
    result = cli("verify", two_images.path)
    assert result.code == 4
    assert result.out.count("damaged or tampered with") == 2


def test_a_thumbnail_row_moved_to_another_attachment_is_detected(
    cli,  # type: ignore[no-untyped-def]
    two_images: TwoImages,
    kdf_policy: KdfPolicy,
) -> None:
    """The row itself re-keyed: the second attachment's thumbnail replaced by the first's."""
    db = raw_db(two_images.path)
    db.execute("DELETE FROM attachment_thumbnail WHERE attachment_id=?", (two_images.second,))
    db.execute("UPDATE attachment_thumbnail SET attachment_id=? WHERE attachment_id=?",
               (two_images.second, two_images.first))  # fmt: skip
    db.close()
    with reopen(two_images.path, kdf_policy) as space:
        assert space.integrity_problem is not None
        with pytest.raises(DamagedRecord):
            space.thumbnail(two_images.second)
        assert space.thumbnail(two_images.first) is None
    assert cli("verify", two_images.path).code == 4


def test_a_thumbnail_moved_to_another_asset_is_detected(
    two_images: TwoImages, kdf_policy: KdfPolicy
) -> None:
    db = raw_db(two_images.path)
    db.execute("UPDATE attachment_thumbnail SET asset_id=? WHERE attachment_id=?",
               ("00000000-0000-4000-8000-000000000000", two_images.first))  # fmt: skip
    db.close()
    with reopen(two_images.path, kdf_policy) as space, pytest.raises(DamagedRecord):
        space.thumbnail(two_images.first)


@pytest.mark.parametrize("table", ["attachment_thumbnail", "capture_record"])
def test_a_deleted_row_makes_the_space_read_only(
    cli,  # type: ignore[no-untyped-def]
    space: Space,
    space_path: Path,
    kdf_policy: KdfPolicy,
    table: str,
) -> None:
    asset = space.add_asset("builtin/evidence", "Photo", {})
    info = space.attach(asset.id, io.BytesIO(image_bytes()), "p.png", "image/png", thumbnail=True)
    record = CaptureRecord(info.sha256, "/inbox", "p.png", info.size, 1, asset_id=asset.id)
    space.add_capture_record(record)
    space.lock()
    db = raw_db(space_path)
    db.execute(f"DELETE FROM {table}")
    db.close()
    with reopen(space_path, kdf_policy) as damaged:
        assert (
            damaged.integrity_problem
            == "1 record(s) are missing (deleted, or an older copy restored)"
        )
        with pytest.raises(DamagedSpace, match="read-only"):
            damaged.set_thumbnail(info.id, image_bytes(8, 8))
    result = cli("verify", space_path)
    assert result.code == 4
    assert "1 record(s) are missing" in result.out


def test_a_damaged_capture_record_is_reported_not_returned(
    space: Space, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    kept = space.add_capture_record(CaptureRecord(sha256="a" * 64, folder="/in", name="a.jpg",
                                                  size=1, mtime_ns=1))  # fmt: skip
    hurt = space.add_capture_record(CaptureRecord(sha256="b" * 64, folder="/in", name="b.jpg",
                                                  size=1, mtime_ns=1))  # fmt: skip
    space.lock()
    db = raw_db(space_path)
    db.execute("UPDATE capture_record SET data=(SELECT data FROM capture_record WHERE id=?) "
               "WHERE id=?", (kept.id, hurt.id))  # fmt: skip
    db.close()
    with reopen(space_path, kdf_policy) as again:
        records, damaged = again.capture_records()
        assert [r.name for r in records] == ["a.jpg"]
        assert damaged == [hurt.id]
        assert any(p.where == f"capture record {hurt.id}" for p in again.verify().problems)


# -------------------------------------------------------------------- deletion


def test_thumbnails_go_with_their_attachment_and_asset(
    space: Space, space_path: Path, kdf_policy: KdfPolicy
) -> None:
    keep = space.add_asset("builtin/evidence", "Kept", {})
    kept = space.attach(keep.id, io.BytesIO(image_bytes()), "k.png", "image/png", thumbnail=True)
    gone = space.add_asset("builtin/evidence", "Deleted", {})
    first = space.attach(gone.id, io.BytesIO(image_bytes()), "a.png", "image/png", thumbnail=True)
    space.attach(gone.id, io.BytesIO(image_bytes(50, 50)), "b.png", "image/png", thumbnail=True)
    assert count(space_path, "attachment_thumbnail") == 3
    space.delete_attachment(first.id)
    assert count(space_path, "attachment_thumbnail") == 2
    space.delete_asset(gone.id)
    assert count(space_path, "attachment_thumbnail") == 1
    space.lock()
    with reopen(space_path, kdf_policy) as again:
        assert again.integrity_problem is None
        assert again.thumbnail(kept.id) is not None
        assert again.verify().ok


# ------------------------------------------------------------------- migration


@pytest.fixture
def v1_space(space_path: Path, kdf_policy: KdfPolicy, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A schema 1 file, written the way Cairn wrote it before schema 2: only the
    seven tables of schema 1, every value sealed with schema version 1."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "SCHEMA_VERSION", 1)
        patch.setattr(spacefile, "STORE_TABLES", V1_TABLES)
        space, _ = Space.create(space_path, PASSPHRASE, kdf_policy=kdf_policy)
        with space:
            asset = space.add_asset("builtin/evidence", "Before thumbnails", {"caption": "old"})
            space.edit_asset(asset.id, title="Before thumbnails, edited")
            space.attach(asset.id, io.BytesIO(image_bytes()), "old.png", "image/png")
    db = raw_db(space_path)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    db.close()
    assert tables == {t.__tablename__ for t in V1_TABLES}  # type: ignore[attr-defined]
    return space_path


def _schema(path: Path) -> set[tuple[str, str]]:
    db = raw_db(path)
    try:
        return {(name, sql) for name, sql in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}  # fmt: skip
    finally:
        db.close()


def test_a_schema_1_file_is_upgraded_at_unlock_and_still_verifies(
    v1_space: Path, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    with reopen(v1_space, kdf_policy) as space:
        assert space.integrity_problem is None
        [summary], _ = space.list_assets()
        assert summary.title == "Before thumbnails, edited"
        assert space.get_version(summary.id, 1).title == "Before thumbnails"
        [info] = space.attachments(summary.id)
        assert space.thumbnail(info.id) is None
        space.set_thumbnail(info.id, image_bytes(20, 20))
        assert space.capture_records() == ([], [])
        assert space.verify().ok
    db = raw_db(v1_space)
    schema = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert schema == (str(migrations.SCHEMA_VERSION),)  # upgraded through every step
    db.close()
    # The upgraded file has exactly the tables and indexes of a new one.
    fresh, _ = Space.create(tmp_path / "fresh.cairn", PASSPHRASE, kdf_policy=kdf_policy)
    fresh.lock()
    assert _schema(v1_space) == _schema(tmp_path / "fresh.cairn")
    with reopen(v1_space, kdf_policy) as again:
        assert again.integrity_problem is None
        assert again.thumbnail(info.id) == image_bytes(20, 20)


def test_a_damaged_schema_1_file_opens_read_only_without_upgrading(
    v1_space: Path, kdf_policy: KdfPolicy
) -> None:
    db = raw_db(v1_space)
    db.execute("DELETE FROM asset_version")
    db.close()
    with reopen(v1_space, kdf_policy) as space:
        assert space.integrity_problem is not None
        [summary], _ = space.list_assets()
        [info] = space.attachments(summary.id)
        assert space.thumbnail(info.id) is None
        assert space.capture_records() == ([], [])
        report = space.verify()
        assert [p.where for p in report.problems] == ["manifest"]
    assert "attachment_thumbnail" not in {name for name, _ in _schema(v1_space)}
