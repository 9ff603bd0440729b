"""The portable archive: round trips, merging, interoperability, bad archives, memory."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import pyrage
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.age import AgeReader, AgeWriter
from app.forms.library import TemplateLibrary
from app.portable import (
    FORMAT_NAME,
    NewSpace,
    _TarWriter,
    export_portable,
    import_portable,
)
from app.space import Space
from app.syncing import kinds
from app.syncing.disclosure import sign_document_with_space
from app.transfer import (
    Cancelled,
    DamagedArchive,
    ExportJob,
    InvalidInput,
    Limits,
    Selection,
    UnsupportedArchive,
    WrongArchivePassphrase,
    detect_format,
)
from store.kdf import KdfPolicy
from store.records import SyncRecord
from store.spacefile import CaptureRecord
from sync.protocol import (
    EVENT_FORMAT,
    FEEDBACK_FORMAT,
    RECEIPT_FORMAT,
    SHARE_FORMAT,
    SUBMISSION_FORMAT,
    canonical_json,
    sign_document,
)
from tests.support import raw_db

ARCHIVE_PASSPHRASE = "a different passphrase for the archive"
REPO = Path(__file__).resolve().parents[2]
#: Written by Cairn's format 1 exporter (commit 5a123c4): a plan in two versions with
#: an attachment, and a receipt that format 1 left out (with a warning).
FORMAT_1_ARCHIVE = Path(__file__).parent / "data" / "portable-format-1.cairn-archive"
FORMAT_1_PASSPHRASE = "format one"
FORMAT_1_PLAN = "abc03096-159c-44b1-a4dc-4c6676ec0e64"
SCHEMAS = REPO / "docs" / "schemas"
#: Every test archive uses a cheap scrypt (age's default is 18).
WORK_FACTOR = 10
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(40)


@dataclass
class Rich:
    """A space with something of everything, and the ids the tests look at."""

    space: Space
    plan: str
    journal: str
    reflection: str
    pdf: str
    photo: str
    empty: str


@pytest.fixture
def rich(space: Space) -> Rich:
    TemplateLibrary.load().copy_to_user("builtin/journal", "my-journal")
    plan = space.add_asset("builtin/smart-plan", "Learn Rust", {"goal": "ship a CLI"},
                           tags=["work", "Rust"], template_version="1.0.0")  # fmt: skip
    space.edit_asset(plan.id, set_fields={"goal": "ship a CLI in Rust"})
    space.edit_asset(plan.id, title="Learn Rust properly", add_tags=["2026"])
    journal = space.add_asset("user/my-journal", "Day one", {"entry": "Café, naïve — ünïcode"},
                              links=[plan.id])  # fmt: skip
    reflection = space.add_asset("builtin/reflection", "What went well", {"what": "pairing"})
    space.edit_asset(reflection.id, earlier={"retired_field": "kept from v1"})
    pdf = space.attach(plan.id, io.BytesIO(os.urandom(300 * 1024 + 5)), "notes.pdf",
                       "application/pdf")  # fmt: skip
    photo = space.attach(journal.id, io.BytesIO(os.urandom(2048)), "photo.png", "image/png")
    space.set_thumbnail(photo.id, PNG)
    empty = space.attach(journal.id, io.BytesIO(b""), "empty.txt", "text/plain")
    space.add_capture_record(
        CaptureRecord(
            sha256=pdf.sha256,
            folder="/home/me/Inbox",
            name="notes.pdf",
            size=pdf.size,
            mtime_ns=1,
            asset_id=plan.id,
        )  # fmt: skip
    )
    return Rich(space, plan.id, journal.id, reflection.id, pdf.id, photo.id, empty.id)


def export(space: Space, out: Path, **options: object) -> Path:
    job = ExportJob(space, out, archive_passphrase=ARCHIVE_PASSPHRASE,
                    archive_work_factor=WORK_FACTOR, **options)  # type: ignore[arg-type]  # fmt: skip
    export_portable(job)
    return out


def members(archive: Path, passphrase: str = ARCHIVE_PASSPHRASE) -> dict[str, bytes]:
    """Every file in the archive (decrypted with our reader, unpacked with tarfile)."""
    with archive.open("rb") as handle:
        plain = AgeReader(handle, passphrase).read()
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def without_dates(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = json.loads(files["manifest.json"])
    del manifest["created"]
    return {**files, "manifest.json": json.dumps(manifest, sort_keys=True).encode()}


def craft(
    path: Path,
    files: list[tuple[str, bytes]],
    *,
    kind: bytes = tarfile.REGTYPE,
    manifest: dict[str, object] | None = None,
    version: int = 2,
) -> Path:
    """An archive holding `files` (with a matching manifest unless one is given)."""
    if manifest is None:
        manifest = {
            "format": FORMAT_NAME, "format_version": version,
            "created": "2026-01-01T00:00:00+00:00",
            "space_id": "5f0f5f0f-0000-4000-8000-000000000000",
            "files": {name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                      for name, data in files},
        }  # fmt: skip
    with path.open("wb") as handle, AgeWriter(handle, ARCHIVE_PASSPHRASE, work_factor=10) as age:
        tar = _TarWriter(age, 0)
        tar.add_bytes("manifest.json", json.dumps(manifest).encode())
        for name, data in files:
            if kind == tarfile.REGTYPE:
                tar.add_bytes(name, data)
            else:
                tar._header(name, 0, kind)
        tar.close()
    return path


def rewrite(source: Path, target: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """Re-pack an archive after `edit` changed its files (manifest untouched unless edited)."""
    files = members(source)
    edit(files)
    with target.open("wb") as handle, AgeWriter(handle, ARCHIVE_PASSPHRASE, work_factor=10) as age:
        tar = _TarWriter(age, 0)
        for name, data in files.items():
            tar.add_bytes(name, data)
        tar.close()
    return target


def relisted(source: Path, target: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """Re-pack after `edit`, with a manifest that lists the files as they are now, so
    that only the importer's checks of their contents can refuse them."""

    def edit_and_list(files: dict[str, bytes]) -> None:
        edit(files)
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items() if name != "manifest.json"
        }  # fmt: skip
        files["manifest.json"] = json.dumps(manifest).encode()

    return rewrite(source, target, edit_and_list)


def state(space: Space) -> dict[str, object]:
    """What a person would see: every asset's versions and every attachment's bytes."""
    assets = {s.id: [v.document() for v in space.asset_versions(s.id)]
              for s in space.list_assets()[0]}  # fmt: skip
    files = {a.id: hashlib.sha256(b"".join(space.read_attachment(a.id))).hexdigest()
             for a in space.all_attachments()[0]}  # fmt: skip
    return {"assets": assets, "files": files}


@pytest.fixture
def other(tmp_path: Path, kdf_policy: KdfPolicy) -> Iterator[Space]:
    """A second, empty space to import into."""
    created, _ = Space.create(tmp_path / "other.cairn", "pw", kdf_policy=kdf_policy)
    yield created
    created.lock()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".importing" in p.name or ".part" in p.name)


# ----------------------------------------------------------------- round trip


def test_export_then_import_restores_the_whole_space(
    rich: Rich, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    report = import_portable(
        archive, NewSpace(tmp_path / "restored.cairn", "new passphrase", kdf_policy),
        ARCHIVE_PASSPHRASE,
    )  # fmt: skip
    assert report.recovery_key
    assert report.details["new"] == 3
    restored = Space.open(tmp_path / "restored.cairn", "new passphrase", kdf_policy=kdf_policy)
    try:
        assert restored.space_id == rich.space.space_id
        assert state(restored) == state(rich.space)
        history = restored.history(rich.plan)
        assert [v.title for v in history] == ["Learn Rust", "Learn Rust", "Learn Rust properly"]
        assert restored.get_asset(rich.reflection).earlier == {"retired_field": "kept from v1"}
        assert restored.get_asset(rich.journal).links == [{"target": rich.plan}]
        assert restored.thumbnail(rich.photo) == PNG
        assert restored.get_attachment(rich.pdf) == rich.space.get_attachment(rich.pdf)
        assert [r.id for r in restored.capture_records()[0]] == [
            r.id for r in rich.space.capture_records()[0]
        ]
        # The identity travels: the restored space signs as the old one did.
        assert restored.identity_public_key() == rich.space.identity_public_key()
        assert restored.sign(b"receipt") == rich.space.sign(b"receipt")
        assert restored.verify().ok
        assert restored.search("naïve")[0].asset_id == rich.journal
        again = export(restored, tmp_path / "again.cairn-archive")
    finally:
        restored.lock()
    assert without_dates(members(again)) == without_dates(members(archive))


def test_the_archive_layout_and_manifest(rich: Rich, tmp_path: Path) -> None:
    files = members(export(rich.space, tmp_path / "me.cairn-archive"))
    manifest = json.loads(files.pop("manifest.json"))
    assert manifest["format"] == "cairn-portable"
    assert manifest["format_version"] == 2
    assert manifest["space_id"] == rich.space.space_id
    assert set(manifest["files"]) == set(files)
    for name, data in files.items():
        assert manifest["files"][name] == {
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()
        }  # fmt: skip
    assert files[f"attachments/{rich.empty}"] == b""
    assert files[f"thumbnails/{rich.photo}.png"] == PNG
    assert {"templates/builtin/smart-plan.toml", "templates/user/my-journal.toml",
            "templates/builtin/reflection.toml", "identity/identity.json",
            "capture/records.json"} <= set(files)  # fmt: skip
    plan = json.loads(files[f"assets/{rich.plan}.json"])
    assert [v["version"] for v in plan["versions"]] == [1, 2, 3]
    assert plan["versions"][0]["fields"] == {"goal": "ship a CLI"}
    assert plan["attachments"][0]["name"] == "notes.pdf"
    assert manifest["contents"]["versions"] == 3 + 1 + 2
    assert manifest["contents"]["sync_records"] == 0


def test_documents_match_the_published_schemas(rich: Rich, tmp_path: Path) -> None:
    files = members(export(rich.space, tmp_path / "me.cairn-archive"))
    manifest_schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    asset_schema = json.loads((SCHEMAS / "asset.schema.json").read_text())
    for schema in (manifest_schema, asset_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(files["manifest.json"]), manifest_schema,
                        cls=jsonschema.Draft202012Validator)  # fmt: skip
    documents = [name for name in files if name.startswith("assets/")]
    assert len(documents) == 3
    for name in documents:
        jsonschema.validate(json.loads(files[name]), asset_schema,
                            cls=jsonschema.Draft202012Validator)  # fmt: skip


def test_an_independent_age_implementation_opens_the_archive(rich: Rich, tmp_path: Path) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    plain = pyrage.passphrase.decrypt(archive.read_bytes(), ARCHIVE_PASSPHRASE)
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:  # what `age -d | tar x` does
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        pdf = tar.extractfile(f"attachments/{rich.pdf}").read()  # type: ignore[union-attr]
    assert names[0] == "manifest.json"
    assert {"disclosures", "feedback", "resources"} <= set(names)  # there, though empty
    assert manifest["space_id"] == rich.space.space_id
    assert pdf == b"".join(rich.space.read_attachment(rich.pdf))
    assert detect_format(archive) == "portable"


def test_damaged_records_are_reported_and_everything_else_exported(
    rich: Rich, tmp_path: Path
) -> None:
    db = raw_db(rich.space.path)
    (body,) = db.execute("SELECT body FROM asset WHERE id = ?", (rich.reflection,)).fetchone()
    damaged = body[:40] + bytes([body[40] ^ 1]) + body[41:]
    db.execute("UPDATE asset SET body = ? WHERE id = ?", (damaged, rich.reflection))
    db.close()
    out = tmp_path / "me.cairn-archive"
    report = export_portable(ExportJob(rich.space, out, archive_passphrase=ARCHIVE_PASSPHRASE,
                                       archive_work_factor=WORK_FACTOR))  # fmt: skip
    assert [line for line in report.damaged if rich.reflection in line]
    files = members(out)
    assert f"assets/{rich.reflection}.json" not in files
    assert f"assets/{rich.plan}.json" in files
    assert json.loads(files["manifest.json"])["contents"]["assets"] == 2


def test_a_portable_export_is_the_whole_space(rich: Rich, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        export(rich.space, tmp_path / "x", selection=Selection(tag="work"))
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------- merge


def test_importing_an_archive_twice_changes_nothing(rich: Rich, tmp_path: Path) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    before = state(rich.space)
    report = import_portable(archive, rich.space, ARCHIVE_PASSPHRASE)
    assert report.details == {"new": 0, "merged": 0, "unchanged": 3}
    assert report.files == 0
    assert state(rich.space) == before


def test_merge_keeps_both_sides_and_the_newer_wins(
    rich: Rich, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    laptop_path = tmp_path / "laptop.cairn"
    import_portable(archive, NewSpace(laptop_path, "pw", kdf_policy), ARCHIVE_PASSPHRASE)
    with Space.open(laptop_path, "pw", kdf_policy=kdf_policy) as laptop:
        laptop.edit_asset(rich.plan, title="Edited on the laptop first")
        laptop.edit_asset(rich.journal, title="Journal edited on the laptop")
        laptop.add_asset("builtin/journal", "Only on the laptop", {})
        laptop.delete_asset(rich.reflection)
        laptop_archive = export(laptop, tmp_path / "laptop.cairn-archive")
    # Edited here after the laptop: this side is newer for the plan only.
    rich.space.edit_asset(rich.plan, title="Edited here later")

    report = import_portable(laptop_archive, rich.space, ARCHIVE_PASSPHRASE)

    assert report.details == {"new": 1, "merged": 2, "unchanged": 0}
    plan_titles = [v.title for v in rich.space.history(rich.plan)]
    assert plan_titles[:3] == ["Learn Rust", "Learn Rust", "Learn Rust properly"]
    assert plan_titles[-1] == "Edited here later"  # newer, so still current
    assert "Edited on the laptop first" in plan_titles[3:-1]  # kept in history
    journal = rich.space.history(rich.journal)
    assert [v.title for v in journal] == ["Day one", "Journal edited on the laptop"]
    # The reflection the laptop deleted stays; the laptop's new asset arrives.
    assert rich.space.has_asset(rich.reflection)
    titles = {s.title for s in rich.space.list_assets()[0]}
    assert "Only on the laptop" in titles
    assert len(rich.space.all_attachments()[0]) == 3  # same ids: not duplicated
    assert rich.space.verify().ok
    # And again: nothing new.
    again = import_portable(laptop_archive, rich.space, ARCHIVE_PASSPHRASE)
    assert again.details == {"new": 0, "merged": 0, "unchanged": 3}


def test_merge_warns_about_another_identity(
    rich: Rich, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    other, _ = Space.create(tmp_path / "other.cairn", "pw", kdf_policy=kdf_policy)
    with other:
        other.add_asset("builtin/journal", "From another space", {})
        archive = export(other, tmp_path / "other.cairn-archive")
    report = import_portable(archive, rich.space, ARCHIVE_PASSPHRASE)
    assert report.details["new"] == 1
    assert any("identity key differs" in warning for warning in report.warnings)


# -------------------------------------------------------------- bad archives


def test_a_wrong_passphrase_creates_nothing(
    rich: Rich, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    target = tmp_path / "new" / "restored.cairn"
    target.parent.mkdir()
    with pytest.raises(WrongArchivePassphrase):
        import_portable(archive, NewSpace(target, "pw", kdf_policy), "not it")
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated", "bit flip", "extended"])
def test_a_damaged_archive_is_refused_whole(
    rich: Rich, tmp_path: Path, kdf_policy: KdfPolicy, damage: str
) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    data = bytearray(archive.read_bytes())
    if damage == "truncated":
        del data[len(data) * 2 // 3 :]
    elif damage == "bit flip":
        data[len(data) // 2] ^= 0x10
    else:
        data += data[-100:]
    archive.write_bytes(bytes(data))
    folder = tmp_path / "new"
    folder.mkdir()
    with pytest.raises(DamagedArchive):
        import_portable(archive, NewSpace(folder / "s.cairn", "pw", kdf_policy), ARCHIVE_PASSPHRASE)
    assert list(folder.iterdir()) == []


def test_a_file_that_does_not_match_the_manifest_rolls_everything_back(
    rich: Rich, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    """The asset document comes before its attachment: the asset must not stay either."""
    archive = export(rich.space, tmp_path / "me.cairn-archive")

    def flip_attachment(files: dict[str, bytes]) -> None:
        name = f"attachments/{rich.pdf}"
        files[name] = bytes([files[name][0] ^ 1]) + files[name][1:]

    bad = rewrite(archive, tmp_path / "bad.cairn-archive", flip_attachment)
    other_path = tmp_path / "other.cairn"
    other, _ = Space.create(other_path, "pw", kdf_policy=kdf_policy)
    with other:
        before = state(other)
        with pytest.raises(DamagedArchive, match="does not match"):
            import_portable(bad, other, ARCHIVE_PASSPHRASE)
        assert state(other) == before
        assert other.verify().ok


def test_an_unknown_format_version_is_refused(
    tmp_path: Path, space: Space, kdf_policy: KdfPolicy
) -> None:
    manifest = {"format": FORMAT_NAME, "format_version": 3, "space_id": space.space_id,
                "created": "2030-01-01T00:00:00+00:00", "files": {}}  # fmt: skip
    archive = craft(tmp_path / "future.cairn-archive", [], manifest=manifest)
    with pytest.raises(UnsupportedArchive, match="portable format 3, newer"):
        import_portable(archive, space, ARCHIVE_PASSPHRASE)
    with pytest.raises(UnsupportedArchive):
        import_portable(archive, NewSpace(tmp_path / "s.cairn", "pw", kdf_policy),
                        ARCHIVE_PASSPHRASE)  # fmt: skip
    assert not (tmp_path / "s.cairn").exists()


@pytest.mark.parametrize(
    "name", ["../evil.json", "/etc/passwd", "assets/../../x", "a\\b", "C:/windows/x"]
)
def test_unsafe_names_are_refused(tmp_path: Path, space: Space, name: str) -> None:
    archive = craft(tmp_path / "evil.cairn-archive", [(name, b"{}")])
    with pytest.raises(DamagedArchive, match="file name"):
        import_portable(archive, space, ARCHIVE_PASSPHRASE)
    assert space.list_assets() == ([], [])


def test_links_and_special_files_are_refused(tmp_path: Path, space: Space) -> None:
    archive = craft(tmp_path / "link.cairn-archive", [("assets/x.json", b"")],
                    kind=tarfile.SYMTYPE)  # fmt: skip
    with pytest.raises(DamagedArchive, match="link or special"):
        import_portable(archive, space, ARCHIVE_PASSPHRASE)


def test_a_file_the_manifest_does_not_list_is_refused(
    rich: Rich, tmp_path: Path, other: Space
) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")

    def smuggle(files: dict[str, bytes]) -> None:
        files["assets/smuggled.json"] = b"{}"

    bad = rewrite(archive, tmp_path / "bad.cairn-archive", smuggle)
    with pytest.raises(DamagedArchive, match="manifest omits"):
        import_portable(bad, other, ARCHIVE_PASSPHRASE)
    assert other.list_assets() == ([], [])


def test_limits_on_count_and_size(rich: Rich, tmp_path: Path, other: Space) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    with pytest.raises(DamagedArchive, match="more files"):
        import_portable(archive, other, ARCHIVE_PASSPHRASE, limits=Limits(max_entries=5))
    with pytest.raises(DamagedArchive, match="larger"):
        import_portable(archive, other, ARCHIVE_PASSPHRASE, limits=Limits(max_total_bytes=100_000))
    with pytest.raises(DamagedArchive, match="larger"):
        import_portable(archive, other, ARCHIVE_PASSPHRASE, limits=Limits(max_document_bytes=64))
    big = craft(tmp_path / "big.cairn-archive", [(f"assets/{rich.plan}.json", b" " * 4000)])
    with pytest.raises(DamagedArchive, match="larger"):
        import_portable(big, other, ARCHIVE_PASSPHRASE, limits=Limits(max_document_bytes=1000))
    assert other.list_assets() == ([], [])


def test_the_manifest_must_come_first(tmp_path: Path, space: Space) -> None:
    with (
        (tmp_path / "late.cairn-archive").open("wb") as handle,
        AgeWriter(handle, ARCHIVE_PASSPHRASE, work_factor=WORK_FACTOR) as age,
    ):
        tar = _TarWriter(age, 0)
        tar.add_bytes("identity/identity.json", b"{}")
        tar.add_bytes("manifest.json", b"{}")
        tar.close()
    with pytest.raises(DamagedArchive, match="start with its manifest"):
        import_portable(tmp_path / "late.cairn-archive", space, ARCHIVE_PASSPHRASE)


# ------------------------------------------------------------ format 1 still reads


def test_a_format_1_archive_still_restores_and_merges(
    tmp_path: Path, kdf_policy: KdfPolicy, other: Space
) -> None:
    target = tmp_path / "restored.cairn"
    report = import_portable(FORMAT_1_ARCHIVE, NewSpace(target, "pw", kdf_policy),
                             FORMAT_1_PASSPHRASE)  # fmt: skip
    assert (report.details["new"], report.skipped, report.warnings) == (1, [], [])
    with Space.open(target, "pw", kdf_policy=kdf_policy) as restored:
        assert [v.title for v in restored.history(FORMAT_1_PLAN)] == [
            "Learn Rust", "Learn Rust properly"
        ]  # fmt: skip
        [notes] = restored.attachments(FORMAT_1_PLAN)
        assert b"".join(restored.read_attachment(notes.id)) == b"format 1 notes\n"
        assert restored.sync_records() == []  # format 1 had no place for the receipt
        assert restored.verify().ok
    merged = import_portable(FORMAT_1_ARCHIVE, other, FORMAT_1_PASSPHRASE)
    assert merged.details == {"new": 1, "merged": 0, "unchanged": 0}
    assert other.get_asset(FORMAT_1_PLAN).title == "Learn Rust properly"


def test_format_1_skips_what_it_finds_in_its_reserved_folders(tmp_path: Path, space: Space) -> None:
    """Version 1 reserved feedback/ and disclosures/: a file there is not read as a
    sync record, but skipped and named, as format 1 always did."""
    record = {"id": str(uuid4()), "kind": "feedback"}
    archive = craft(tmp_path / "v1.cairn-archive",
                    [(f"feedback/{record['id']}.json", json.dumps(record).encode())],
                    version=1)  # fmt: skip
    report = import_portable(archive, space, ARCHIVE_PASSPHRASE)
    [skipped] = report.skipped
    assert "reserved for a later format" in skipped
    assert space.sync_records() == []


# ---------------------------------------------- workspace records (format 2)


@dataclass
class Workspace:
    """A space's workspace records: the person's, by kind, and the device's."""

    space: Space
    plan: str
    persons: dict[str, SyncRecord]
    devices: list[SyncRecord]


#: A document an organisation published, kept in the space (app/syncing/resources.py).
HANDBOOK = b"%PDF-1.7 the team handbook" + bytes(range(256))


def _event(server: Ed25519PrivateKey, kind: str, **data: object) -> dict[str, Any]:
    document = {"format": EVENT_FORMAT, "event_id": str(uuid4()), "kind": kind, "data": data}
    return sign_document(server, EVENT_FORMAT, document).model_dump()


@pytest.fixture
def workspace(space: Space) -> Workspace:
    """One record of each kind, shaped as app/syncing keeps them, with real signatures:
    the server's (a key made here) and the space's own. tests/app/test_portable_sync.py
    makes them with the sync client against a real server."""
    plan = space.add_asset("builtin/smart-plan", "Learn Rust", {"goal": "ship a CLI"})
    server = Ed25519PrivateKey.generate()
    account_id, submission_id, share_id = str(uuid4()), str(uuid4()), str(uuid4())
    base = {"account_id": account_id, "workspace_id": str(uuid4()),
            "workspace_name": "Acme learning", "seq": 1, "event_id": str(uuid4()),
            "received": "2026-11-20T09:00:00.000000+00:00"}  # fmt: skip
    sent = sign_document_with_space(space, SUBMISSION_FORMAT, canonical_json(
        {"format": SUBMISSION_FORMAT, "submission_id": submission_id, "assets": ["Learn Rust"]}
    )).model_dump()  # fmt: skip
    receipt = sign_document(server, RECEIPT_FORMAT, {
        "format": RECEIPT_FORMAT, "submission_id": submission_id,
        "received_at": "2026-11-20T09:00:01+00:00",
    }).model_dump()  # fmt: skip
    feedback = sign_document(server, FEEDBACK_FORMAT, {"text": "Well evidenced."}).model_dump()
    snapshot = sign_document_with_space(space, SHARE_FORMAT, canonical_json(
        {"format": SHARE_FORMAT, "share_id": share_id}
    )).model_dump()  # fmt: skip
    persons = [
        SyncRecord(kinds.derived_id(kinds.RECEIPT, submission_id), kinds.RECEIPT, {
            "submission_id": submission_id, "account_id": account_id,
            "workspace_name": "Acme learning", "point_name": "Q3 evidence",
            "titles": ["Learn Rust"], "status": "received",
            "received_at": "2026-11-20T09:00:01.000000+00:00", "payload_sha256": "ab" * 32,
            "receipt": receipt, "submission": sent,
        }, [plan.id]),
        SyncRecord(kinds.derived_id(kinds.FEEDBACK, "f1"), kinds.FEEDBACK, {
            **base, "submission_id": submission_id, "feedback_id": "f1", "kind": "decision",
            "author": "Ada", "author_role": "manager", "text": "Well evidenced.",
            "decision": "validated", "rating": None, "rubric": None,
            "created_at": "2026-11-21T10:00:00.000000+00:00", "feedback": feedback,
            "event": _event(server, "feedback", text="Well evidenced."),
        }, [plan.id]),
        SyncRecord(kinds.derived_id(kinds.REVIEW_REQUEST, "a1"), kinds.REVIEW_REQUEST, {
            **base, "submission_id": str(uuid4()), "assignment_id": "a1",
            "reviewed_at": "2026-11-21T12:00:00.000000+00:00",
            "review_text": "Clear goals.", "review_rating": 4,
        }),
        SyncRecord(kinds.derived_id(kinds.SHARE, share_id), kinds.SHARE, {
            "share_id": share_id, "account_id": account_id, "title": "My plan",
            "state": "published", "url": "https://learning.example/s/abc",
            "comments_enabled": True, "expires_at": None, "revoked": False,
            "created_at": "2026-11-21T11:00:00.000000+00:00", "snapshot": snapshot,
        }, [plan.id]),
        SyncRecord(kinds.derived_id(kinds.SHARE_COMMENT, "c1"), kinds.SHARE_COMMENT, {
            **base, "share_id": share_id, "comment_id": "c1", "title": "My plan",
            "author_name": "Grace", "text": "Nice one — ünïcode", "created_at": None,
            "event": _event(server, "share_comment", text="Nice one"),
        }, [plan.id]),
        SyncRecord(kinds.derived_id(kinds.RESOURCE, account_id, "r1"), kinds.RESOURCE, {
            **base, "resource_id": "r1", "id": "r1", "name": "Handbook", "kind": "document",
            "version": 1, "sha256": hashlib.sha256(HANDBOOK).hexdigest(), "size": len(HANDBOOK),
            "file_record": kinds.derived_id("resource_file", account_id, "r1"),
            "event": _event(server, "resource", name="Handbook"),
        }),
        SyncRecord(kinds.derived_id("resource_file", account_id, "r1"), "resource_file", {
            "account_id": account_id, "resource_id": "r1", "version": 1,
            "sha256": hashlib.sha256(HANDBOOK).hexdigest(), "size": len(HANDBOOK),
            "content": base64.b64encode(HANDBOOK).decode("ascii"),
        }),
    ]  # fmt: skip
    # A colleague's submission, sent to this person for review: as the space keeps it,
    # and once answered (only the review travels), and not answered (nothing travels).
    colleagues = {"assets": [{"title": "A colleague's plan"}],
                  "event": _event(server, "review_request", assignment_id="a1")}  # fmt: skip
    persons[2] = replace(persons[2], data={**persons[2].data, **colleagues})
    devices = [
        SyncRecord(kinds.derived_id(kinds.REVIEW_REQUEST, "a2"), kinds.REVIEW_REQUEST, {
            **base, "submission_id": str(uuid4()), "assignment_id": "a2", **colleagues,
        }),
        SyncRecord(account_id, kinds.ACCOUNT, {"server_url": "https://learning.example",
                                               "device_token": "device-token-never-exported"}),
        SyncRecord(submission_id, kinds.OUTBOX, {"state": "delivered", "titles": ["Learn Rust"]},
                   [plan.id]),
        SyncRecord(str(uuid4()), kinds.OUTBOX, {"state": "queued", "document": sent}, [plan.id]),
    ]  # fmt: skip
    stored = space.put_sync_records([*persons, *devices])
    # Written again, as a sync round would: versions and update times differ per record.
    again = space.put_sync_record(stored[0])
    kept = {record.kind: record for record in [again, *stored[1 : len(persons)]]}
    # As the archive carries it: the review, without the colleague's submission.
    request = kept[kinds.REVIEW_REQUEST]
    kept[kinds.REVIEW_REQUEST] = replace(
        request, data={k: v for k, v in request.data.items() if k not in colleagues}
    )
    return Workspace(space, plan.id, kept, stored[len(persons) :])


def record_path(record: SyncRecord) -> str:
    folder = {"receipt": "disclosures", "share": "disclosures", "resource": "resources",
              "resource_file": "resources"}  # fmt: skip
    return f"{folder.get(record.kind, 'feedback')}/{record.id}.json"


def test_every_kind_of_workspace_record_travels_exactly_and_the_devices_stay(
    workspace: Workspace, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    archive = tmp_path / "me.cairn-archive"
    report = export_portable(ExportJob(workspace.space, archive,
                                       archive_passphrase=ARCHIVE_PASSPHRASE,
                                       archive_work_factor=WORK_FACTOR))  # fmt: skip
    assert report.warnings == [
        "the connection to 1 workspace(s) stays on this device (an archive holds no "
        "credentials): after restoring the archive, connect again with a new invite",
        "1 submission(s) not yet delivered stay in this device's outbox and are not in the "
        "archive: send them first, or share them again after restoring",
        "1 request(s) to review a colleague's submission, not answered, are not in the "
        "archive: what a colleague submitted stays with the organisation (the reviews you "
        "wrote go, without their submissions)",
    ]
    files = members(archive)
    assert b"A colleague's plan" not in b"".join(files.values())
    records = {name: json.loads(data) for name, data in files.items()
               if name.split("/")[0] in ("disclosures", "feedback", "resources")}  # fmt: skip
    assert set(records) == {record_path(r) for r in workspace.persons.values()}
    receipt = workspace.persons[kinds.RECEIPT]
    assert receipt.version == 2
    assert records[record_path(receipt)] == {
        "id": receipt.id, "kind": "receipt", "asset_ids": [workspace.plan], "version": 2,
        "updated": receipt.updated, "data": receipt.data,
    }  # fmt: skip
    assert b"device-token-never-exported" not in b"".join(files.values())
    assert json.loads(files["manifest.json"])["contents"]["sync_records"] == 7
    schema = json.loads((SCHEMAS / "sync-record.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for document in records.values():
        jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)

    target = tmp_path / "restored.cairn"
    restored_report = import_portable(archive, NewSpace(target, "pw", kdf_policy),
                                      ARCHIVE_PASSPHRASE)  # fmt: skip
    assert restored_report.details["sync_records_new"] == 7
    with Space.open(target, "pw", kdf_policy=kdf_policy) as restored:
        assert {r.kind: r for r in restored.sync_records()} == workspace.persons
        assert restored.verify().ok


def test_the_same_archive_merged_twice_changes_no_record(
    workspace: Workspace, tmp_path: Path, other: Space
) -> None:
    archive = export(workspace.space, tmp_path / "me.cairn-archive")
    before = workspace.space.sync_records()
    first = import_portable(archive, workspace.space, ARCHIVE_PASSPHRASE)
    # The space's review request has the colleague's submission, the archive's not: kept.
    assert (first.details["sync_records_unchanged"], first.details["sync_records_new"]) == (6, 0)
    assert first.details["sync_records_kept"] == 1
    assert workspace.space.sync_records() == before
    import_portable(archive, other, ARCHIVE_PASSPHRASE)
    again = import_portable(archive, other, ARCHIVE_PASSPHRASE)
    assert again.details["sync_records_unchanged"] == 7
    assert {r.kind: r for r in other.sync_records()} == workspace.persons


def test_the_spaces_own_account_is_never_replaced_by_an_archives_record(
    workspace: Workspace, tmp_path: Path, other: Space
) -> None:
    """Cairn's ids never collide across kinds; a hostile archive could try. The
    device's account under a receipt's id stays the account."""
    archive = export(workspace.space, tmp_path / "me.cairn-archive")
    receipt = workspace.persons[kinds.RECEIPT]
    account = other.put_sync_record(SyncRecord(receipt.id, kinds.ACCOUNT, {"device_token": "t"}))
    report = import_portable(archive, other, ARCHIVE_PASSPHRASE)
    assert report.details["sync_records_clash"] == 1
    assert any("the space's was kept" in warning for warning in report.warnings)
    assert other.sync_record(receipt.id) == account


def test_a_record_the_space_cannot_read_is_replaced_by_the_archives(
    workspace: Workspace, tmp_path: Path
) -> None:
    archive = export(workspace.space, tmp_path / "me.cairn-archive")
    share = workspace.persons[kinds.SHARE]
    db = raw_db(workspace.space.path)
    (blob,) = db.execute("SELECT data FROM sync_record WHERE id = ?", (share.id,)).fetchone()
    db.execute("UPDATE sync_record SET data = ? WHERE id = ?",
               (blob[:-1] + bytes([blob[-1] ^ 1]), share.id))  # fmt: skip
    db.close()
    assert not workspace.space.verify().ok

    report = import_portable(archive, workspace.space, ARCHIVE_PASSPHRASE)

    assert any("could not be read in this space" in w for w in report.warnings)
    assert workspace.space.sync_record(share.id) == share
    assert workspace.space.verify().ok


def test_a_damaged_record_is_named_and_the_others_exported(
    workspace: Workspace, tmp_path: Path
) -> None:
    feedback = workspace.persons[kinds.FEEDBACK]
    db = raw_db(workspace.space.path)
    db.execute("UPDATE sync_record SET data = zeroblob(80) WHERE id = ?", (feedback.id,))
    db.close()
    out = tmp_path / "me.cairn-archive"
    report = export_portable(ExportJob(workspace.space, out, archive_passphrase=ARCHIVE_PASSPHRASE,
                                       archive_work_factor=WORK_FACTOR))  # fmt: skip
    assert report.damaged == [f"sync record {feedback.id}: cannot be read"]
    files = members(out)
    assert record_path(feedback) not in files
    assert record_path(workspace.persons[kinds.RECEIPT]) in files


def test_a_record_of_a_kind_cairn_does_not_know_is_left_out_with_a_warning(
    space: Space, tmp_path: Path, other: Space
) -> None:
    space.put_sync_record(SyncRecord("", "event", {"text": "from a newer Cairn"}))
    out = tmp_path / "me.cairn-archive"
    report = export_portable(ExportJob(space, out, archive_passphrase=ARCHIVE_PASSPHRASE,
                                       archive_work_factor=WORK_FACTOR))  # fmt: skip
    assert report.warnings == [
        "1 workspace record(s) of a kind this version of Cairn does not know (event) are "
        "not in the archive"
    ]
    import_portable(out, other, ARCHIVE_PASSPHRASE)
    assert other.sync_records() == []


Edit = Callable[[Workspace, dict[str, bytes]], None]


def _record_edit(kind: str, change: Callable[[dict[str, Any]], object]) -> Edit:
    """Change the JSON of the record of `kind` in place."""

    def edit(workspace: Workspace, files: dict[str, bytes]) -> None:
        path = record_path(workspace.persons[kind])
        document = json.loads(files[path])
        change(document)
        files[path] = json.dumps(document).encode()

    return edit


def _moved(kind: str, folder: str, name: str | None = None) -> Edit:
    def edit(workspace: Workspace, files: dict[str, bytes]) -> None:
        record = workspace.persons[kind]
        data = files.pop(record_path(record))
        files[f"{folder}/{name or record.id}.json"] = data

    return edit


def _replaced(kind: str, content: bytes) -> Edit:
    def edit(workspace: Workspace, files: dict[str, bytes]) -> None:
        files[record_path(workspace.persons[kind])] = content

    return edit


def _twice(workspace: Workspace, files: dict[str, bytes]) -> None:
    """The feedback record under the receipt's id: each file alone is well formed."""
    receipt, feedback = workspace.persons[kinds.RECEIPT], workspace.persons[kinds.FEEDBACK]
    document = json.loads(files.pop(record_path(feedback)))
    document["id"] = receipt.id
    files[f"feedback/{receipt.id}.json"] = json.dumps(document).encode()


def _set(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda document: document.__setitem__(key, value)


def _set_data(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda document: document["data"].__setitem__(key, value)


BAD_RECORDS: dict[str, tuple[Edit, str]] = {
    "not an object": (_replaced(kinds.RESOURCE, b"[]"), "is not a sync record"),
    "not JSON": (_replaced(kinds.RESOURCE, b"{"), "not valid JSON"),
    "nested too deep": (_replaced(kinds.RESOURCE, b"[" * 100_000 + b"]" * 100_000),
                        "not valid JSON"),
    "no version": (_record_edit(kinds.RESOURCE, lambda d: d.pop("version")), "lacks version"),
    "a key format 2 lacks": (_record_edit(kinds.RESOURCE, _set("verified", True)),
                             "keys format 2 does not define: verified"),
    "another id": (_record_edit(kinds.RESOURCE, _set("id", str(uuid4()))),
                   "does not hold the record its name says"),
    "an id that is no UUID": (_moved(kinds.RESOURCE, "resources", "handbook"),
                              "does not hold the record its name says"),
    "an account": (_record_edit(kinds.RESOURCE, _set("kind", "account")),
                   "a device's account record, which an archive never carries"),
    "an outbox entry": (_record_edit(kinds.RECEIPT, _set("kind", "outbox")),
                        "a device's outbox record"),
    "an unknown kind": (_record_edit(kinds.RESOURCE, _set("kind", "event")), "unknown kind"),
    "a kind that is no text": (_record_edit(kinds.RESOURCE, _set("kind", ["resource"])),
                               "malformed kind"),
    "the wrong folder": (_moved(kinds.RECEIPT, "feedback"), "belongs in disclosures/"),
    "asset ids that are no UUIDs": (_record_edit(kinds.RECEIPT, _set("asset_ids", ["plan"])),
                                    "malformed asset ids"),
    "too many asset ids": (_record_edit(kinds.RECEIPT, _set("asset_ids", [str(uuid4())] * 10_001)),
                           "malformed asset ids"),
    "version 0": (_record_edit(kinds.RESOURCE, _set("version", 0)), "malformed version"),
    "version true": (_record_edit(kinds.RESOURCE, _set("version", True)), "malformed version"),
    "version as text": (_record_edit(kinds.RESOURCE, _set("version", "1")), "malformed version"),
    "a time that is none": (_record_edit(kinds.RESOURCE, _set("updated", "yesterday")),
                            "malformed update time"),
    "data that is a list": (_record_edit(kinds.RESOURCE, _set("data", [])), "malformed data"),
    "a receipt without the receipt": (_record_edit(kinds.RECEIPT,
                                                   lambda d: d["data"].pop("receipt")),
                                      "lacks receipt in its data"),
    "a signed document reshaped": (_record_edit(kinds.RECEIPT, lambda d: d["data"]["receipt"]
                                                .__setitem__("key_id", "server")),
                                   "malformed receipt in its data"),
    "a share id that is no UUID": (_record_edit(kinds.SHARE, _set_data("share_id", "abc")),
                                   "malformed share_id in its data"),
    "a rating that is text": (_record_edit(kinds.FEEDBACK, _set_data("rating", "5")),
                              "malformed rating in its data"),
    "a document without its bytes": (_record_edit("resource_file",
                                                  lambda d: d["data"].pop("content")),
                                     "lacks content in its data"),
    "one id twice": (_twice, "appears twice"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_a_malformed_record_file_is_refused_and_nothing_is_written(
    workspace: Workspace, tmp_path: Path, other: Space, kdf_policy: KdfPolicy, case: str
) -> None:
    edit, message = BAD_RECORDS[case]
    archive = export(workspace.space, tmp_path / "me.cairn-archive")
    bad = relisted(archive, tmp_path / "bad.cairn-archive", lambda files: edit(workspace, files))
    with pytest.raises(DamagedArchive, match=message):
        import_portable(bad, other, ARCHIVE_PASSPHRASE)
    # The records before it in the archive were written in the same transaction.
    assert other.sync_records() == []
    assert other.list_assets() == ([], [])
    assert other.verify().ok
    target = tmp_path / "restored.cairn"
    with pytest.raises(DamagedArchive, match=message):
        import_portable(bad, NewSpace(target, "pw", kdf_policy), ARCHIVE_PASSPHRASE)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_records_are_rolled_back_when_a_later_file_fails(
    workspace: Workspace, tmp_path: Path, other: Space
) -> None:
    """The records come before the assets: a bad attachment after them undoes them too."""
    pdf = workspace.space.attach(workspace.plan, io.BytesIO(os.urandom(5000)), "notes.pdf")
    archive = export(workspace.space, tmp_path / "me.cairn-archive")

    def flip(files: dict[str, bytes]) -> None:
        name = f"attachments/{pdf.id}"
        files[name] = bytes([files[name][0] ^ 1]) + files[name][1:]

    bad = rewrite(archive, tmp_path / "bad.cairn-archive", flip)
    with pytest.raises(DamagedArchive, match="does not match"):
        import_portable(bad, other, ARCHIVE_PASSPHRASE)
    assert other.sync_records() == []
    assert other.verify().ok


# ---------------------------------------------------------------- cancelling


def test_cancelling_an_export_leaves_no_file(rich: Rich, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    out = tmp_path / "me.cairn-archive"
    with pytest.raises(Cancelled):
        export(rich.space, out, progress=lambda d, t: calls.append((d, t)),
               cancelled=lambda: len(calls) > 3)  # fmt: skip
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_cancelling_an_import_leaves_nothing(
    rich: Rich, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    archive = export(rich.space, tmp_path / "me.cairn-archive")
    progress: list[tuple[int, int]] = []
    target = tmp_path / "restored.cairn"
    with pytest.raises(Cancelled):
        import_portable(archive, NewSpace(target, "pw", kdf_policy), ARCHIVE_PASSPHRASE,
                        progress=lambda d, t: progress.append((d, t)),
                        cancelled=lambda: len(progress) > 4)  # fmt: skip
    assert not target.exists()
    assert leftovers(tmp_path) == []
    assert progress[-1][1] > 300 * 1024  # the total is known from the manifest


# --------------------------------------------------------------------- memory

_MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from app.space import Space
    from app.transfer import ExportJob
    from app.portable import NewSpace, export_portable, import_portable
    from tests.support import TEST_KDF_POLICY

    step, folder = sys.argv[1], Path(sys.argv[2])
    space = Space.open(folder / "big.cairn", "pw", kdf_policy=TEST_KDF_POLICY, index="lazy")

    def status_kib(key):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise OSError(key)

    try:  # Linux: reset the peak to now, so start-up does not count
        Path("/proc/self/clear_refs").write_text("5")
        before, peak = status_kib("VmRSS"), lambda: status_kib("VmHWM")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if step == "export":
        export_portable(ExportJob(space, folder / "big.cairn-archive", archive_passphrase="ap",
                                  archive_work_factor=10))
    else:
        space.lock()
        import_portable(folder / "big.cairn-archive",
                        NewSpace(folder / "restored.cairn", "pw", TEST_KDF_POLICY), "ap")
    print(json.dumps({"growth_kib": peak() - before}))
    """
)


class _Noise(io.RawIOBase):
    """`size` pseudo-random bytes, made as they are read."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(1024 * 1024)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return (self.block * (size // len(self.block) + 1))[:size]


def _peak_growth(tmp_path: Path, kdf_policy: KdfPolicy, mib: int) -> Iterator[int]:
    space, _ = Space.create(tmp_path / "big.cairn", "pw", kdf_policy=kdf_policy)
    with space:
        asset = space.add_asset("builtin/evidence", "Big files", {})
        for index in range(4):
            space.attach(asset.id, _Noise(mib * 1024 * 1024 // 4), f"part{index}.bin")
    for step in ("export", "import"):
        result = subprocess.run(
            [sys.executable, "-c", _MEASURE, step, str(tmp_path)],
            cwd=REPO, capture_output=True, text=True, check=True, timeout=1800,
        )  # fmt: skip
        yield json.loads(result.stdout)["growth_kib"] // 1024


def test_memory_stays_bounded_with_300_mib_of_attachments(
    tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    for growth_mib in _peak_growth(tmp_path, kdf_policy, 300):
        assert growth_mib < 48, f"peak memory grew by {growth_mib} MiB"
    assert (tmp_path / "restored.cairn").stat().st_size > 300 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CAIRN_TEST_2GIB"),
                    reason="writes ~8 GiB to disk; set CAIRN_TEST_2GIB=1")  # fmt: skip
def test_memory_stays_bounded_with_2_gib_of_attachments(
    tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    for growth_mib in _peak_growth(tmp_path, kdf_policy, 2048):
        assert growth_mib < 48, f"peak memory grew by {growth_mib} MiB"


def _with_raw_member(path: Path, header: bytes, body: bytes) -> Path:
    """An archive whose first member has a hand-made (hostile) tar header."""
    with path.open("wb") as handle, AgeWriter(handle, ARCHIVE_PASSPHRASE, work_factor=10) as age:
        tar = _TarWriter(age, 0)
        tar._write(header)
        tar._write(body)
        tar.close()
    return path


def _negative_binary_size_header(name: str) -> bytes:
    block = bytearray(tarfile.TarInfo(name).tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"))
    block[124:136] = b"\xff" * 12  # base-256 size field meaning -1
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


@pytest.mark.parametrize("how", ["pax", "binary"])
def test_a_negative_member_size_is_refused_without_reading_the_rest(
    tmp_path: Path, space: Space, how: str
) -> None:
    if how == "pax":
        info = tarfile.TarInfo("manifest.json")
        info.pax_headers = {"size": "-1"}
        header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")
    else:
        header = _negative_binary_size_header("manifest.json")
    archive = _with_raw_member(tmp_path / "negative.cairn-archive", header, bytes(5 << 20))
    with pytest.raises(DamagedArchive, match="damaged tar header"):
        import_portable(archive, space, ARCHIVE_PASSPHRASE)
    assert space.list_assets() == ([], [])
