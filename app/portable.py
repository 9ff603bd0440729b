"""The portable archive: the whole space in one age file that opens without Cairn.

The payload is a POSIX tar stream (see docs/portable-format.md):

    manifest.json                  first: format, version, space id, every file's size and SHA-256
    identity/identity.json         the space's Ed25519 key pair
    templates/<qualified id>.toml  the templates the assets use, as their TOML source
    capture/records.json           what the capture service took in
    disclosures/<record id>.json   sync records (format 2): receipts and shares, signed as sent
    feedback/<record id>.json      feedback, decisions, review requests, comments on shares
    resources/<record id>.json     what the organisations published
    assets/<asset id>.json         one document per asset: every version, attachment records
    attachments/<attachment id>    the files, byte for byte
    thumbnails/<attachment id>.png their previews

Tar streams: the export writes it straight into the age writer and the import
reads it straight from the age reader, so memory stays at about one chunk
whatever the size. The manifest comes first, so an import checks the format
version before anything else, and every file against its hash as it passes.
Attachment hashes come from the space's own records (and are checked while
streaming); the documents are small and are built twice, once to hash them.

Format 2 adds the workspace sync records, each exactly as the space keeps it, except
the two kinds that belong to the device: accounts (they hold its token) and the
outbox. Format 1 archives still import.

An import is one transaction: a wrong passphrase, a bit flip, a truncated or
extended file, a file that does not match the manifest, an unsafe name or a
limit reached leaves the space as it was (and a new space is not created).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import tarfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.age import DEFAULT_WORK_FACTOR, AgeDamaged, AgeError, AgeReader, AgeWriter
from app.age import AgeWrongPassphrase as _AgeWrongPassphrase
from app.files import atomic_writer
from app.forms.library import BUILTIN, USER, TemplateLibrary, _source_text, user_template_folder
from app.forms.loader import TemplateError, parse_template
from app.space import Space
from app.syncing import kinds
from app.syncing.pulling import install_organisation_templates
from app.transfer import (
    DEFAULT_LIMITS,
    Cancelled,
    CancelledCallback,
    DamagedArchive,
    ExportJob,
    ImportJob,
    InvalidInput,
    Limits,
    ProgressCallback,
    TransferError,
    TransferReport,
    UnsupportedArchive,
    WrongArchivePassphrase,
    register_exporter,
    register_importer,
    safe_member_name,
)
from store.errors import DamagedRecord, DamagedSpace
from store.kdf import PRODUCTION_POLICY, KdfPolicy
from store.records import AssetRecord, AttachmentInfo, SyncRecord, now_iso
from store.spacefile import MAX_THUMBNAIL_BYTES, CaptureRecord, ImportBatch
from sync.protocol import SignedDocument

FORMAT_NAME = "cairn-portable"
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
IDENTITY_NAME = "identity/identity.json"
CAPTURE_NAME = "capture/records.json"
#: Folders format 1 reserved and left empty (its readers skip what they find there).
RESERVED_FOLDERS = ("feedback", "disclosures")
#: Sync records that belong to this device, not to the person, and never go in an
#: archive: connected accounts hold this device's token, the outbox what it has yet
#: to send. An archive is detached from any employer (see docs/portable-format.md).
DEVICE_SYNC_KINDS = frozenset({kinds.ACCOUNT, kinds.OUTBOX})
#: The record that holds the bytes of a document an organisation published, beside
#: its "resource" record (app/syncing/resources.py).
RESOURCE_FILE = "resource_file"
#: Where each kind of sync record goes from format 2: what the person disclosed, what
#: came back from the workspace, and what the organisation published.
SYNC_FOLDERS = {
    kinds.RECEIPT: "disclosures",
    kinds.SHARE: "disclosures",
    kinds.FEEDBACK: "feedback",
    kinds.REVIEW_REQUEST: "feedback",
    kinds.SHARE_COMMENT: "feedback",
    kinds.RESOURCE: "resources",
    RESOURCE_FILE: "resources",
}
SYNC_FOLDER_NAMES = ("disclosures", "feedback", "resources")
SYNC_RECORD_KEYS = frozenset({"id", "kind", "asset_ids", "version", "updated", "data"})
#: A submission holds at most 200 assets (sync.protocol.MAX_ASSETS); this is a bound
#: against hostile archives, not a rule of the sync client.
MAX_SYNC_ASSET_IDS = 10_000
COPY_CHUNK = 1024 * 1024
TAR_BLOCK = 512
TAR_RECORD = 20 * TAR_BLOCK
#: PAX records (long names, sizes over 8 GiB) are a few hundred bytes at most.
MAX_TAR_EXTENSION = 64 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TEMPLATE_PATH = re.compile(r"templates/((?:builtin|user|org/[^/]+)/[^/]+)\.toml")


def _json_bytes(value: Any, *, indent: int | None = None) -> bytes:
    """The archive's JSON: UTF-8 with sorted keys, one line (the C encoder: several
    times faster than indenting, which is kept for the manifest)."""
    if indent is None:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=indent)
    return (text + "\n").encode()


def _generator() -> str:
    try:
        return f"cairn {metadata.version('cairn')}"
    except metadata.PackageNotFoundError:
        return "cairn"


def _is_uuid(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


# ------------------------------------------------------------------ documents


def version_document(record: AssetRecord) -> dict[str, Any]:
    """One version of an asset as the archive stores it (every key always present)."""
    return {
        "version": record.version,
        "title": record.title,
        "template": {"id": record.template_id, "version": record.template_version},
        "tags": record.tags,
        "links": record.links,
        "skills": record.skills,
        "status": record.status,
        "created": record.created,
        "updated": record.updated,
        "fields": record.fields,
        "earlier": record.earlier,
    }


def attachment_document(info: AttachmentInfo, has_thumbnail: bool) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "media_type": info.media_type,
        "size": info.size,
        "sha256": info.sha256,
        "created": info.created,
        "file": f"attachments/{info.id}",
        "thumbnail": f"thumbnails/{info.id}.png" if has_thumbnail else None,
    }


def _identity_document(private_key: bytes) -> dict[str, Any]:
    public = Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()
    return {
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(public).decode("ascii"),
        "private_key": base64.b64encode(private_key).decode("ascii"),
    }


def sync_record_document(record: SyncRecord) -> dict[str, Any]:
    """One sync record as the archive stores it: everything the space keeps of it."""
    return {
        "id": record.id,
        "kind": record.kind,
        "asset_ids": record.asset_ids,
        "version": record.version,
        "updated": record.updated,
        "data": record.data,
    }


def _capture_document(records: list[CaptureRecord]) -> dict[str, Any]:
    return {
        "records": [
            {"id": record.id, **record.sealed_part()}
            for record in sorted(records, key=lambda r: r.id)
        ]
    }


# ------------------------------------------------------------------- tar out


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


class _TarWriter:
    """A POSIX (pax) tar stream written to any file-like object, one member at a time."""

    def __init__(self, sink: _Writable, mtime: int) -> None:
        self._sink = sink
        self._mtime = mtime
        self._written = 0

    def _write(self, data: bytes) -> None:
        self._sink.write(data)
        self._written += len(data)

    def _header(self, name: str, size: int, kind: bytes = tarfile.REGTYPE) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.type, info.mtime = size, kind, self._mtime
        info.mode = 0o700 if kind == tarfile.DIRTYPE else 0o600
        info.uname = info.gname = ""
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict"))

    def _pad(self, size: int) -> None:
        if size % TAR_BLOCK:
            self._write(bytes(TAR_BLOCK - size % TAR_BLOCK))

    def add_folder(self, name: str) -> None:
        self._header(name.rstrip("/") + "/", 0, tarfile.DIRTYPE)

    def add_bytes(self, name: str, data: bytes) -> None:
        self._header(name, len(data))
        self._write(data)
        self._pad(len(data))

    def add_stream(self, name: str, size: int, chunks: Iterable[bytes]) -> str:
        """Write `size` bytes from `chunks`; returns their SHA-256 (DamagedSpace if the
        source gives a different number of bytes than announced)."""
        self._header(name, size)
        digest = hashlib.sha256()
        written = 0
        for chunk in chunks:
            written += len(chunk)
            if written > size:
                break
            digest.update(chunk)
            self._write(chunk)
        if written != size:
            raise DamagedSpace(f"{name} is not the size its record says; run 'cairn verify'")
        self._pad(size)
        return digest.hexdigest()

    def close(self) -> None:
        """The end-of-archive marker, padded to a whole record as tar(1) writes it."""
        self._write(bytes(2 * TAR_BLOCK))
        if self._written % TAR_RECORD:
            self._write(bytes(TAR_RECORD - self._written % TAR_RECORD))


# --------------------------------------------------------------------- export


@dataclass
class _Entry:
    """One file of the archive, planned before writing: its hash goes in the manifest."""

    path: str
    size: int
    sha256: str
    produce: Callable[[], bytes] | None = None
    attachment: AttachmentInfo | None = None
    #: An asset document (built by _asset_documents while writing).
    asset_id: str | None = None


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _json_producer(value: Any) -> Callable[[], bytes]:
    return lambda: _json_bytes(value)


def _hashed(path: str, produce: Callable[[], bytes]) -> _Entry:
    data = produce()
    return _Entry(path, len(data), hashlib.sha256(data).hexdigest(), produce)


@dataclass
class _ExportPlan:
    entries: list[_Entry] = field(default_factory=list)
    contents: dict[str, int] = field(default_factory=dict)
    #: Each asset's attachments (in document order) and those with a thumbnail.
    assets: dict[str, tuple[list[AttachmentInfo], frozenset[str]]] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)


def _plan_export(space: Space, report: TransferReport, job: ExportJob) -> _ExportPlan:
    """Walk the space once: what goes in the archive, with each file's size and hash."""
    attachments, damaged_attachments = space.all_attachments()
    report.damaged += [f"attachment {item}: cannot be read" for item in damaged_attachments]
    by_asset: dict[str, list[AttachmentInfo]] = {}
    for info in attachments:
        by_asset.setdefault(info.asset_id, []).append(info)

    private_key = space.export_identity()
    plan = _ExportPlan()
    asset_entries: list[_Entry] = []
    template_ids: set[str] = set()
    counts = dict.fromkeys(("assets", "versions", "attachments", "attachment_bytes",
                            "thumbnails", "templates", "capture_records", "sync_records"),
                           0)  # fmt: skip
    for item in space.iter_asset_versions():
        job.check_cancelled()
        if isinstance(item, DamagedRecord):
            report.damaged.append(f"asset {item.row_id}: {item.column or 'it'} cannot be read")
            continue
        asset_id = item[-1].id
        template_ids.update(version.template_id for version in item)
        files = sorted(by_asset.get(asset_id, []), key=lambda a: (a.created, a.name, a.id))
        thumbnails: dict[str, _Entry] = {}
        for info in files:
            entry = _thumbnail_entry(space, info, report)
            if entry is not None:
                thumbnails[info.id] = entry
        plan.assets[asset_id] = (files, frozenset(thumbnails))
        data = _asset_bytes(item, *plan.assets[asset_id])
        digest = hashlib.sha256(data).hexdigest()
        asset_entries.append(
            _Entry(f"assets/{asset_id}.json", len(data), digest, asset_id=asset_id)
        )
        counts["assets"] += 1
        counts["versions"] += len(item)
        for info in files:
            asset_entries.append(_Entry(f"attachments/{info.id}", info.size, info.sha256,
                                        attachment=info))  # fmt: skip
            counts["attachments"] += 1
            counts["attachment_bytes"] += info.size
            if info.id in thumbnails:
                asset_entries.append(thumbnails[info.id])
                counts["thumbnails"] += 1

    plan.entries.append(
        _hashed(IDENTITY_NAME, lambda: _json_bytes(_identity_document(private_key)))
    )
    library = TemplateLibrary.load()
    for template_id in sorted(template_ids):
        template = library.exact(template_id)
        path = f"templates/{template_id}.toml"
        if template is None or not _TEMPLATE_PATH.fullmatch(path):
            report.warnings.append(
                f"template {template_id} is not installed here, so it is not in the archive "
                "(the assets keep their answers)"
            )
            continue
        text = _source_text(template).encode("utf-8")
        plan.entries.append(_hashed(path, _constant(text)))
        counts["templates"] += 1
    records, damaged_records = space.capture_records()
    report.damaged += [f"capture record {item}: cannot be read" for item in damaged_records]
    plan.entries.append(_hashed(CAPTURE_NAME, lambda: _json_bytes(_capture_document(records))))
    counts["capture_records"] = len(records)
    sync_entries = _plan_sync_records(space, report)
    plan.entries += sync_entries
    counts["sync_records"] = len(sync_entries)
    plan.entries += asset_entries
    plan.contents = counts
    return plan


def _plan_sync_records(space: Space, report: TransferReport) -> list[_Entry]:
    """The person's sync records, one file each (in path order); what stays on this
    device is said, not left out silently."""
    records, damaged = space.all_sync_records()
    report.damaged += [f"sync record {item}: cannot be read" for item in damaged]
    entries: list[_Entry] = []
    connections = waiting = colleagues = 0
    unknown: dict[str, int] = {}
    for found in records:
        record = found
        if found.kind == kinds.REVIEW_REQUEST:
            own = _own_part_of_review(found)
            if own is None:
                colleagues += 1
                continue
            record = own
        folder = SYNC_FOLDERS.get(record.kind)
        if record.kind == kinds.ACCOUNT:
            connections += 1
        elif record.kind == kinds.OUTBOX:
            # A delivered entry's story is in its receipt, which goes.
            waiting += record.data.get("state") != "delivered"
        elif folder is None:
            unknown[record.kind] = unknown.get(record.kind, 0) + 1
        else:
            document = sync_record_document(record)
            # Never write what an import would refuse: the archive must restore.
            problem = _sync_record_problem(folder, record.id, document)
            if problem is not None:
                report.skipped.append(f"workspace record {record.id} ({record.kind}) {problem}; "
                                      "it is not in the archive")  # fmt: skip
                continue
            path = f"{folder}/{record.id}.json"
            entries.append(_hashed(path, _json_producer(document)))
    if connections:
        report.warnings.append(
            f"the connection to {connections} workspace(s) stays on this device (an archive "
            "holds no credentials): after restoring the archive, connect again with a new invite"
        )
    if waiting:
        report.warnings.append(
            f"{waiting} submission(s) not yet delivered stay in this device's outbox and are "
            "not in the archive: send them first, or share them again after restoring"
        )
    if colleagues:
        report.warnings.append(
            f"{colleagues} request(s) to review a colleague's submission, not answered, are "
            "not in the archive: what a colleague submitted stays with the organisation "
            "(the reviews you wrote go, without their submissions)"
        )
    if unknown:
        names = ", ".join(sorted(unknown))
        report.warnings.append(
            f"{sum(unknown.values())} workspace record(s) of a kind this version of Cairn does "
            f"not know ({names}) are not in the archive"
        )
    return sorted(entries, key=lambda entry: entry.path)


#: What a review request holds of a colleague's work: their submission as the server
#: sent it (the signed event carries it too). It is theirs, shown to this person to
#: review, and does not leave with this person's archive.
_COLLEAGUE_CONTENT = ("assets", "event")


def _own_part_of_review(record: SyncRecord) -> SyncRecord | None:
    """What of a review request is this person's to take: the review they wrote, with
    what it was about (ids) and the server's answer; None when they never answered."""
    if not record.data.get("reviewed_at"):
        return None
    data = {k: v for k, v in record.data.items() if k not in _COLLEAGUE_CONTENT}
    return replace(record, data=data)


def _asset_bytes(
    versions: list[AssetRecord], files: list[AttachmentInfo], previews: frozenset[str]
) -> bytes:
    return _json_bytes(
        {
            "id": versions[-1].id,
            "versions": [version_document(version) for version in versions],
            "attachments": [attachment_document(a, a.id in previews) for a in files],
        }
    )


def _asset_documents(space: Space, plan: _ExportPlan) -> Iterator[tuple[str, bytes]]:
    """The planned asset documents again, in the same (id) order, built afresh."""
    for item in space.iter_asset_versions():
        if isinstance(item, DamagedRecord) or item[-1].id not in plan.assets:
            continue  # damaged: reported by the plan; new since: not in this archive
        yield item[-1].id, _asset_bytes(item, *plan.assets[item[-1].id])


def _thumbnail_entry(space: Space, info: AttachmentInfo, report: TransferReport) -> _Entry | None:
    try:
        if space.thumbnail(info.id) is None:
            return None
    except DamagedRecord:
        report.warnings.append(f"the thumbnail of attachment {info.id} cannot be read; left out")
        return None

    def produce() -> bytes:
        png = space.thumbnail(info.id)
        if png is None:
            raise TransferError("the space changed during the export; export again")
        return png

    return _hashed(f"thumbnails/{info.id}.png", produce)


def export_portable(job: ExportJob) -> TransferReport:
    """Write the whole space to `job.out` as a portable archive (atomically: on any
    error or cancellation nothing is left at `job.out`)."""
    if not job.selection.everything:
        raise InvalidInput(
            "a portable archive always holds the whole space; leave out ids and tags"
        )
    if not job.archive_passphrase:
        raise InvalidInput("a portable archive needs a passphrase of its own")
    space = job.space
    report = TransferReport("portable", path=Path(job.out))
    created = now_iso()
    plan = _plan_export(space, report, job)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "space_id": space.space_id,
        "created": created,
        "generator": _generator(),
        "contents": plan.contents,
        "files": {entry.path: {"size": entry.size, "sha256": entry.sha256}
                  for entry in plan.entries},
    }  # fmt: skip
    total, done = plan.total_bytes, 0
    job.report_progress(0, total)
    mtime = int(datetime.fromisoformat(created).timestamp())
    work_factor = job.archive_work_factor or DEFAULT_WORK_FACTOR
    with (
        atomic_writer(Path(job.out)) as handle,
        AgeWriter(handle, job.archive_passphrase, work_factor=work_factor) as encrypted,
    ):
        tar = _TarWriter(encrypted, mtime)
        tar.add_bytes(MANIFEST_NAME, _json_bytes(manifest, indent=2))
        for folder in SYNC_FOLDER_NAMES:  # there even when empty
            tar.add_folder(folder)
        documents = _asset_documents(space, plan)
        for entry in plan.entries:
            job.check_cancelled()
            if entry.attachment is not None:
                chunks = _progressing(space.read_attachment(entry.attachment.id), job, done, total)
                digest = tar.add_stream(entry.path, entry.size, chunks)
                report.files += 1
                report.bytes += entry.size
            else:
                if entry.asset_id is not None:
                    asset_id, data = next(documents, ("", b""))
                    if asset_id != entry.asset_id:
                        raise TransferError("the space changed during the export; export again")
                else:
                    data = entry.produce() if entry.produce else b""
                    entry.produce = None  # let a written record go before the attachments
                digest = hashlib.sha256(data).hexdigest()
                if len(data) == entry.size:
                    tar.add_bytes(entry.path, data)
            if digest != entry.sha256:
                if entry.attachment is not None:
                    raise DamagedSpace(
                        f"attachment {entry.attachment.id} does not match its record; "
                        "run 'cairn verify'"
                    )
                raise TransferError("the space changed during the export; export again")
            done += entry.size
            job.report_progress(done, total)
        tar.close()
    report.assets = plan.contents["assets"]
    report.details.update(plan.contents)
    return report


def _progressing(chunks: Iterable[bytes], job: ExportJob, done: int, total: int) -> Iterator[bytes]:
    for chunk in chunks:
        job.check_cancelled()
        done += len(chunk)
        job.report_progress(done, total)
        yield chunk


# -------------------------------------------------------------------- tar in


@dataclass
class _Member:
    name: str
    size: int
    is_folder: bool


class _TarReader:
    """Reads a tar stream member by member, refusing anything but plain files and
    folders with safe names, and counting against the limits."""

    def __init__(self, stream: AgeReader, limits: Limits) -> None:
        self._stream = stream
        self._limits = limits
        self._left = 0  # unread bytes of the current member
        self._padding = 0
        self.entries = 0
        self.total = 0

    def _exact(self, size: int) -> bytes:
        if size < 0:  # read(-1) would mean "everything that is left"
            raise DamagedArchive("the archive holds a damaged tar header")
        data = self._stream.read(size)
        if len(data) != size:
            raise DamagedArchive("the archive is truncated")
        return data

    def _skip_rest(self) -> None:
        while self._left:
            self._left -= len(self._exact(min(self._left, COPY_CHUNK)))
        if self._padding:
            self._exact(self._padding)
            self._padding = 0

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of the current member (b"" at its end)."""
        data = self._exact(min(size, self._left)) if self._left else b""
        self._left -= len(data)
        return data

    def _extension(self, size: int) -> bytes:
        if size < 0:
            raise DamagedArchive("the archive holds a damaged tar header")
        if size > MAX_TAR_EXTENSION:
            raise DamagedArchive("the archive holds an oversized tar extension header")
        data = self._exact(size)
        if size % TAR_BLOCK:
            self._exact(TAR_BLOCK - size % TAR_BLOCK)
        return data

    def members(self) -> Iterator[_Member]:
        overrides: dict[str, str] = {}
        while True:
            self._skip_rest()
            block = self._exact(TAR_BLOCK)
            if block == bytes(TAR_BLOCK):
                return
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
            except (tarfile.HeaderError, UnicodeDecodeError) as exc:
                raise DamagedArchive("the archive holds a damaged tar header") from exc
            if info.type == tarfile.XHDTYPE:
                overrides.update(_pax_records(self._extension(info.size)))
                continue
            if info.type == tarfile.XGLTYPE:
                self._extension(info.size)
                continue
            if info.type == tarfile.GNUTYPE_LONGNAME:
                try:
                    overrides["path"] = (
                        self._extension(info.size).rstrip(b"\0").decode("utf-8", "strict")
                    )
                except UnicodeDecodeError as exc:
                    raise DamagedArchive("the archive holds a damaged tar header") from exc
                continue
            name = overrides.get("path", info.name)
            size = info.size
            if "size" in overrides:
                text = overrides["size"]
                if not (text.isascii() and text.isdigit()):  # int() takes "-1", "+1", "1_0"
                    raise DamagedArchive("the archive holds a damaged tar header")
                size = int(text)
            if size < 0:
                raise DamagedArchive("the archive holds a damaged tar header")
            overrides = {}
            is_folder = info.type == tarfile.DIRTYPE
            if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) and not is_folder:
                raise DamagedArchive(f"the archive holds a link or special file {name!r}")
            path = str(safe_member_name(name))
            self.entries += 1
            self.total += size
            if self.entries > self._limits.max_entries:
                raise DamagedArchive("the archive holds more files than the import allows")
            if size > self._limits.max_file_bytes or self.total > self._limits.max_total_bytes:
                raise DamagedArchive("the archive is larger than the import allows")
            self._left = 0 if is_folder else size
            self._padding = 0 if is_folder else -size % TAR_BLOCK
            yield _Member(path, self._left, is_folder)

    def finish(self) -> None:
        """After the end marker: read the rest of the age stream, which proves it complete."""
        self._stream.read_to_end()


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    position = 0
    try:
        while position < len(data):
            space = data.index(b" ", position)
            length = int(data[position:space])
            record = data[space + 1 : position + length]
            if length <= 0 or not record.endswith(b"\n"):
                raise ValueError("bad record")
            key, _, value = record[:-1].partition(b"=")
            records[key.decode("utf-8")] = value.decode("utf-8")
            position += length
    except (ValueError, UnicodeDecodeError) as exc:
        raise DamagedArchive("the archive holds a damaged tar extension header") from exc
    return records


class _MemberStream:
    """A tar member as a readable file, checking cancellation and reporting progress."""

    def __init__(
        self, tar: _TarReader, progress: Callable[[int], None], cancelled: Callable[[], None]
    ) -> None:
        self._tar = tar
        self._progress = progress
        self._cancelled = cancelled
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        self._cancelled()
        data = self._tar.read(COPY_CHUNK if size < 0 else size)
        self.digest.update(data)
        self._progress(len(data))
        return data

    def drain(self) -> str:
        """Read to the member's end; its SHA-256."""
        while self.read(COPY_CHUNK):
            pass
        return self.digest.hexdigest()


# --------------------------------------------------------------------- import


@dataclass
class NewSpace:
    """Where an import creates a space, and the passphrase that will open it."""

    path: Path
    passphrase: str
    kdf_policy: KdfPolicy = PRODUCTION_POLICY


@dataclass
class PortableImportReport(TransferReport):
    #: A new space's recovery key, to show the person once.
    recovery_key: str | None = None
    space_id: str = ""


@dataclass
class _Manifest:
    space_id: str
    created: str
    files: dict[str, tuple[int, str]]
    version: int = FORMAT_VERSION


def _check(condition: object, message: str) -> None:
    if not condition:
        raise DamagedArchive(message)


def _parse_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # nested too deep
        raise DamagedArchive(f"{name} in the archive is not valid JSON") from exc


def _parse_manifest(data: bytes, limits: Limits) -> _Manifest:
    value = _parse_json(data, MANIFEST_NAME)
    _check(isinstance(value, dict) and value.get("format") == FORMAT_NAME,
           "this is not a Cairn portable archive (its manifest does not say so)")  # fmt: skip
    version = value.get("format_version")
    _check(isinstance(version, int) and not isinstance(version, bool) and version >= 1,
           "the archive's format version is missing or malformed")  # fmt: skip
    if version > FORMAT_VERSION:
        raise UnsupportedArchive(
            f"the archive is in portable format {version}, newer than this Cairn reads "
            f"({FORMAT_VERSION}); update Cairn to import it"
        )
    files = value.get("files")
    _check(_is_uuid(value.get("space_id")) and isinstance(value.get("created"), str)
           and isinstance(files, dict), "the archive's manifest is malformed")  # fmt: skip
    assert isinstance(files, dict)
    _check(len(files) <= limits.max_entries, "the archive holds more files than the import allows")
    parsed: dict[str, tuple[int, str]] = {}
    total = 0
    for name, item in files.items():
        _check(str(safe_member_name(name)) == name and name != MANIFEST_NAME,
               f"the manifest lists an unsafe file name {name!r}")  # fmt: skip
        _check(isinstance(item, dict), "the archive's manifest is malformed")
        size, digest = item.get("size"), item.get("sha256")
        _check(isinstance(size, int) and not isinstance(size, bool) and size >= 0
               and isinstance(digest, str) and _HEX64.fullmatch(digest),
               f"the manifest's entry for {name} is malformed")  # fmt: skip
        assert isinstance(size, int)
        assert isinstance(digest, str)
        total += size
        _check(size <= limits.max_file_bytes and total <= limits.max_total_bytes,
               "the archive is larger than the import allows")  # fmt: skip
        parsed[name] = (size, digest)
    return _Manifest(str(value["space_id"]), str(value["created"]), parsed, version)


def _string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _parse_version(asset_id: str, value: object) -> AssetRecord:
    where = f"asset {asset_id}"
    _check(isinstance(value, dict), f"{where}: a version is malformed")
    assert isinstance(value, dict)
    version, template = value.get("version"), value.get("template")
    links = value.get("links", [])
    _check(
        isinstance(version, int) and not isinstance(version, bool) and version >= 1
        and isinstance(value.get("title"), str)
        and isinstance(template, dict) and isinstance(template.get("id"), str)
        and (template.get("version") is None or isinstance(template.get("version"), str))
        and isinstance(value.get("fields"), dict)
        and isinstance(value.get("earlier", {}), dict)
        and _string_list(value.get("tags", [])) and _string_list(value.get("skills", []))
        and isinstance(value.get("status", ""), str)
        and isinstance(value.get("created"), str) and isinstance(value.get("updated"), str)
        and isinstance(links, list)
        and all(isinstance(link, dict) and all(isinstance(v, str) for v in link.values())
                for link in links),
        f"{where}: a version is malformed",
    )  # fmt: skip
    assert isinstance(version, int)
    return AssetRecord.from_parts(asset_id, version, value, value)


@dataclass
class _AttachmentPlan:
    asset_id: str
    meta: dict[str, Any]
    #: The id it is stored under ("" when the space already has it).
    target: str


def _parse_attachment(asset_id: str, value: object) -> dict[str, Any]:
    _check(isinstance(value, dict), f"asset {asset_id}: an attachment record is malformed")
    assert isinstance(value, dict)
    size, digest = value.get("size"), value.get("sha256")
    _check(
        _is_uuid(value.get("id")) and isinstance(value.get("name"), str)
        and isinstance(value.get("media_type"), str) and isinstance(value.get("created"), str)
        and isinstance(size, int) and not isinstance(size, bool) and size >= 0
        and isinstance(digest, str) and bool(_HEX64.fullmatch(digest)),
        f"asset {asset_id}: an attachment record is malformed",
    )  # fmt: skip
    return value


def _signed_document(value: object) -> bool:
    """Whether `value` has the shape of a signed document as the sync client keeps it
    (base64 body and signature, the signer's key id); the signature is not checked."""
    try:
        SignedDocument.model_validate(value)
    except ValueError:  # pydantic's ValidationError is one
        return False
    return True


def _text(value: object) -> bool:
    return isinstance(value, str)


def _text_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def _number_or_none(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _flag(value: object) -> bool:
    return isinstance(value, bool)


def _signed_or_none(value: object) -> bool:
    return value is None or _signed_document(value)


#: What Cairn relies on in each kind's data: key -> (check, required). Other keys are
#: kept as they are, whatever JSON they hold.
_SYNC_DATA_RULES: dict[str, dict[str, tuple[Callable[[object], bool], bool]]] = {
    kinds.RECEIPT: {
        "submission_id": (_is_uuid, True), "receipt": (_signed_document, True),
        "submission": (_signed_document, True), "status": (_text, False),
        "received_at": (_text, False), "payload_sha256": (_text, False),
        "workspace_name": (_text_or_none, False), "point_name": (_text_or_none, False),
    },
    kinds.SHARE: {
        "share_id": (_is_uuid, True), "snapshot": (_signed_document, True),
        "title": (_text, False), "url": (_text_or_none, False), "revoked": (_flag, False),
        "comments_enabled": (_flag, False), "expires_at": (_text_or_none, False),
    },
    kinds.FEEDBACK: {
        "submission_id": (_text, True), "feedback_id": (_text, True),
        "event": (_signed_document, True), "feedback": (_signed_or_none, False),
        "kind": (_text, False), "text": (_text, False), "decision": (_text_or_none, False),
        "rating": (_number_or_none, False), "created_at": (_text, False),
    },
    kinds.REVIEW_REQUEST: {
        # Only the reviewer's own part travels (see _own_part_of_review).
        "submission_id": (_text, True), "assignment_id": (_text, True),
        "reviewed_at": (_text, True), "review_text": (_text, False),
        "review_rating": (_number_or_none, False), "event": (_signed_or_none, False),
        "assets": (lambda v: isinstance(v, list), False),
    },
    kinds.SHARE_COMMENT: {
        "share_id": (_text, True), "comment_id": (_text, True),
        "event": (_signed_document, True), "text": (_text, False),
        "author_name": (_text_or_none, False), "created_at": (_text_or_none, False),
    },
    kinds.RESOURCE: {
        "resource_id": (_text, True), "event": (_signed_document, True),
        "kind": (_text, False), "template_text": (_text, False),
        "workspace_id": (_text, False), "workspace_name": (_text, False),
    },
    RESOURCE_FILE: {
        "resource_id": (_text, True), "content": (_text, True), "sha256": (_text_or_none, False),
        "size": (_number_or_none, False),
    },
}  # fmt: skip


def _parse_sync_record(folder: str, stem: str, value: object) -> SyncRecord:
    """A sync record file of a format 2 archive, checked strictly (DamagedArchive)."""
    problem = _sync_record_problem(folder, stem, value)
    if problem is not None:
        raise DamagedArchive(f"{folder}/{stem}.json in the archive {problem}")
    assert isinstance(value, dict)
    return SyncRecord(value["id"], value["kind"], value["data"], list(value["asset_ids"]),
                      value["version"], value["updated"])  # fmt: skip


def _sync_record_problem(folder: str, stem: str, value: object) -> str | None:
    """What is wrong with a sync record document at `folder`/`stem`.json, or None.
    The export asks too, so that it never writes what an import would refuse."""
    if not isinstance(value, dict):
        return "is not a sync record"
    missing, extra = SYNC_RECORD_KEYS - set(value), set(value) - SYNC_RECORD_KEYS
    if missing:
        return f"lacks {', '.join(sorted(missing))}"
    if extra:
        return f"has keys format 2 does not define: {', '.join(sorted(extra))}"
    record_id, kind = value["id"], value["kind"]
    if not (_is_uuid(record_id) and record_id == stem):
        return "does not hold the record its name says"
    if not isinstance(kind, str):
        return "has a malformed kind"
    if kind in DEVICE_SYNC_KINDS:
        return f"holds a device's {kind} record, which an archive never carries"
    if kind not in SYNC_FOLDERS:
        return "is a sync record of an unknown kind"
    if SYNC_FOLDERS[kind] != folder:
        return f"is a {kind} record, which belongs in {SYNC_FOLDERS[kind]}/"
    asset_ids, version, updated = value["asset_ids"], value["version"], value["updated"]
    if not (isinstance(asset_ids, list) and len(asset_ids) <= MAX_SYNC_ASSET_IDS
            and all(_is_uuid(item) for item in asset_ids)):  # fmt: skip
        return "has malformed asset ids"
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 1 << 62:
        return "has a malformed version"
    if not (isinstance(updated, str) and len(updated) <= 64
            and isinstance(_when(updated), datetime)):  # fmt: skip
        return "has a malformed update time"
    data = value["data"]
    if not isinstance(data, dict):
        return "has malformed data"
    for key, (valid, required) in _SYNC_DATA_RULES[kind].items():
        if key not in data and required:
            return f"lacks {key} in its data"
        if key in data and not valid(data[key]):
            return f"has a malformed {key} in its data"
    return None


def _document_key(record: AssetRecord) -> str:
    """What a version says, without its number: equal keys are the same version."""
    return json.dumps(version_document(record) | {"version": None}, sort_keys=True)


def _when(stamp: str) -> datetime | str:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return stamp


def _newer(a: AssetRecord, b: AssetRecord) -> bool:
    """Whether `a` was saved after `b` (timestamps compared as times when they parse)."""
    return _later(a.updated, b.updated)


def _later(a: str, b: str) -> bool:
    """Whether the time stamp `a` is after `b` (as times when they parse, else as text)."""
    left, right = _when(a), _when(b)
    if isinstance(left, datetime) and isinstance(right, datetime):
        try:
            return left > right
        except TypeError:  # one naive, one aware
            pass
    return a > b


def merge_versions(batch: ImportBatch, incoming: list[AssetRecord]) -> str:
    """Bring one asset's versions from an archive into the space; "new", "unchanged"
    or "merged".

    The newer current version (by `updated`) wins; the other side's current
    version and every version only the archive has go into history, ordered by
    when they were saved. Versions both sides have are not duplicated, so
    importing the same archive twice changes nothing.
    """
    asset_id = incoming[-1].id
    local = batch.versions(asset_id)
    if not local:
        for record in incoming[:-1]:
            batch.put_history(record)
        batch.put_current(incoming[-1], replaces=None)
        return "new"
    known = {_document_key(record) for record in local}
    extras, seen = [], set(known)
    for record in incoming:
        key = _document_key(record)
        if key not in seen:
            seen.add(key)
            extras.append(record)
    if not extras:
        return "unchanged"
    mine, theirs = local[-1], incoming[-1]
    archive_wins = _document_key(theirs) not in known and _newer(theirs, mine)
    if archive_wins:
        theirs_key = _document_key(theirs)
        others = [record for record in extras if _document_key(record) != theirs_key]
        earlier = sorted([mine, *others], key=lambda r: _when_key(r.updated))
        winner = theirs
    else:
        earlier = sorted(extras, key=lambda r: _when_key(r.updated))
        winner = mine
    number = mine.version
    for record in earlier:
        batch.put_history(replace(record, version=number))
        number += 1
    batch.put_current(replace(winner, version=number), replaces=mine.version)
    return "merged"


def merge_sync_record(batch: ImportBatch, incoming: SyncRecord) -> str:
    """Bring one sync record from an archive into the space, matched by id: "new",
    "updated", "unchanged", "kept" (the space's is newer), "repaired" or "clash".

    A record the space lacks is stored exactly as the archive has it. One the space
    has with the same contents is left alone; otherwise the one updated later wins
    (the space's on a tie), taking a version above the space's. A record the space
    cannot read is replaced by the archive's ("repaired"); a record of another kind
    under the same id ("clash", which Cairn's derived ids never make) is kept.
    """
    try:
        local = batch.sync_record(incoming.id)
    except DamagedRecord:
        batch.put_sync_record(incoming)
        return "repaired"
    if local is None:
        batch.put_sync_record(incoming)
        return "new"
    if local.kind != incoming.kind:
        return "clash"
    if (local.asset_ids, local.data) == (incoming.asset_ids, incoming.data):
        return "unchanged"
    if not _later(incoming.updated, local.updated):
        return "kept"
    batch.put_sync_record(replace(incoming, version=max(incoming.version, local.version + 1)))
    return "updated"


def _when_key(stamp: str) -> str:
    """A sort key for timestamps: UTC ISO text sorts as time."""
    when = _when(stamp)
    return when.isoformat() if isinstance(when, datetime) else stamp


class _Importer:
    """Applies an archive's members, in order, inside one import batch."""

    def __init__(
        self,
        batch: ImportBatch,
        tar: _TarReader,
        manifest: _Manifest,
        report: PortableImportReport,
        *,
        new_space: bool,
        local_public_key: bytes | None,
        limits: Limits,
        progress: Callable[[int], None],
        cancelled: Callable[[], None],
    ) -> None:
        self.batch = batch
        self.tar = tar
        self.manifest = manifest
        self.report = report
        self.new_space = new_space
        self.local_public_key = local_public_key
        self.limits = limits
        self.progress = progress
        self.cancelled = cancelled
        self.seen: set[str] = set()
        self.attachments: dict[str, _AttachmentPlan] = {}
        self.stored: dict[str, str] = {}  # archive attachment id -> id in the space ("" = had it)
        self.sync_ids: set[str] = set()
        self.templates: list[tuple[str, str]] = []
        self.counts = dict.fromkeys(("new", "merged", "unchanged"), 0)
        self.sync_counts = dict.fromkeys(
            ("new", "updated", "unchanged", "kept", "repaired", "clash"), 0
        )
        #: Whether the archive brought organisation templates (kept in resource records).
        self.organisation_templates = False

    def _document(self, member: _Member) -> bytes:
        _check(member.size <= self.limits.max_document_bytes,
               f"{member.name} in the archive is larger than the import allows")  # fmt: skip
        stream = _MemberStream(self.tar, self.progress, self.cancelled)
        data = stream.read(member.size)
        self._verify(member.name, stream.digest.hexdigest())
        return data

    def _verify(self, name: str, digest: str) -> None:
        if digest != self.manifest.files[name][1]:
            raise DamagedArchive(f"{name} in the archive does not match its manifest entry")

    def take(self, member: _Member) -> None:
        self.cancelled()
        if member.is_folder:
            return
        name = member.name
        _check(name in self.manifest.files, f"the archive holds {name}, which its manifest omits")
        _check(name not in self.seen, f"the archive holds {name} twice")
        self.seen.add(name)
        _check(member.size == self.manifest.files[name][0],
               f"{name} in the archive is not the size its manifest gives")  # fmt: skip
        path = PurePosixPath(name)
        top = path.parts[0]
        if name == IDENTITY_NAME:
            self._identity(self._document(member))
        elif name == CAPTURE_NAME:
            self._capture(self._document(member))
        elif top == "templates" and _TEMPLATE_PATH.fullmatch(name):
            self._template(name, self._document(member))
        elif top == "assets" and len(path.parts) == 2 and path.suffix == ".json":
            self._asset(path.stem, self._document(member))
        elif top == "attachments" and len(path.parts) == 2:
            self._attachment(path.name, member)
        elif top == "thumbnails" and len(path.parts) == 2 and path.suffix == ".png":
            self._thumbnail(path.stem, member)
        elif (self.manifest.version >= 2 and top in SYNC_FOLDER_NAMES and len(path.parts) == 2
              and path.suffix == ".json"):  # fmt: skip
            self._sync_record(top, path.stem, self._document(member))
        else:
            self._verify(name, _MemberStream(self.tar, self.progress, self.cancelled).drain())
            reserved = self.manifest.version == 1 and top in RESERVED_FOLDERS
            what = "is reserved for a later format" if reserved else "is unknown"
            self.report.skipped.append(f"{name}: {what} to this version of Cairn; not imported")

    def _identity(self, data: bytes) -> None:
        value = _parse_json(data, IDENTITY_NAME)
        try:
            private = base64.b64decode(value["private_key"], validate=True)
            public = base64.b64decode(value["public_key"], validate=True)
            key = Ed25519PrivateKey.from_private_bytes(private)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise DamagedArchive("the archive's identity key is malformed") from exc
        _check(value.get("algorithm") == "Ed25519"
               and key.public_key().public_bytes_raw() == public,
               "the archive's identity key pair does not match")  # fmt: skip
        if self.new_space:
            self.batch.replace_identity(private)
        elif public != self.local_public_key:
            self.report.warnings.append(
                "the archive's identity key differs from this space's; the space keeps its own"
            )

    def _capture(self, data: bytes) -> None:
        value = _parse_json(data, CAPTURE_NAME)
        records = value.get("records") if isinstance(value, dict) else None
        _check(isinstance(records, list), "the archive's capture records are malformed")
        assert isinstance(records, list)
        present = self.batch.capture_record_ids()
        for item in records:
            _check(isinstance(item, dict) and _is_uuid(item.get("id")),
                   "the archive's capture records are malformed")  # fmt: skip
            if item["id"] in present:
                continue
            try:
                record = CaptureRecord.from_sealed(item["id"], item)
            except (TypeError, ValueError) as exc:
                raise DamagedArchive("the archive's capture records are malformed") from exc
            self.batch.put_capture_record(record)

    def _sync_record(self, folder: str, stem: str, data: bytes) -> None:
        record = _parse_sync_record(folder, stem, _parse_json(data, f"{folder}/{stem}.json"))
        _check(record.id not in self.sync_ids,
               f"sync record {record.id} appears twice in the archive")  # fmt: skip
        self.sync_ids.add(record.id)
        try:
            outcome = merge_sync_record(self.batch, record)
        except ValueError as exc:  # a record the space cannot hold as given
            raise DamagedArchive(f"sync record {record.id}: {exc}") from exc
        self.sync_counts[outcome] += 1
        if outcome == "clash":
            self.report.warnings.append(
                f"the archive's {record.kind} record {record.id} has the id of another kind of "
                "record in this space; the space's was kept"
            )
        elif outcome == "repaired":
            self.report.warnings.append(
                f"sync record {record.id} could not be read in this space; the archive's copy "
                "replaced it"
            )
        if record.kind == kinds.RESOURCE and isinstance(record.data.get("template_text"), str):
            self.organisation_templates = True

    def _template(self, name: str, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DamagedArchive(f"{name} in the archive is not UTF-8 text") from exc
        match = _TEMPLATE_PATH.fullmatch(name)
        assert match is not None
        self.templates.append((match.group(1), text))

    def _asset(self, asset_id: str, data: bytes) -> None:
        value = _parse_json(data, f"assets/{asset_id}.json")
        _check(_is_uuid(asset_id) and isinstance(value, dict) and value.get("id") == asset_id,
               f"assets/{asset_id}.json in the archive is malformed")  # fmt: skip
        versions = value.get("versions")
        attachments = value.get("attachments", [])
        _check(isinstance(versions, list) and versions and isinstance(attachments, list),
               f"asset {asset_id}: malformed")  # fmt: skip
        records = [_parse_version(asset_id, item) for item in versions]
        numbers = [record.version for record in records]
        _check(numbers == sorted(set(numbers)), f"asset {asset_id}: versions out of order")
        try:
            outcome = merge_versions(self.batch, records)
        except ValueError as exc:  # versions the space cannot hold as given
            raise DamagedArchive(f"asset {asset_id}: {exc}") from exc
        self.counts[outcome] += 1
        for item in attachments:
            meta = _parse_attachment(asset_id, item)
            attachment_id = meta["id"]
            _check(attachment_id not in self.attachments and attachment_id not in self.stored,
                   f"attachment {attachment_id} appears twice in the archive")  # fmt: skip
            listed = self.manifest.files.get(f"attachments/{attachment_id}")
            _check(listed is not None and listed[0] == meta["size"],
                   f"attachment {attachment_id} is missing from the manifest")  # fmt: skip
            existing = self.batch.attachment(attachment_id)
            target = attachment_id
            if existing is not None:
                if existing.sha256 == meta["sha256"]:
                    target = ""
                else:
                    target = str(uuid.uuid4())
                    self.report.warnings.append(
                        f"attachment {attachment_id} of asset {asset_id} differs from the "
                        f"space's file of the same id; imported as {target}"
                    )
            self.attachments[attachment_id] = _AttachmentPlan(asset_id, meta, target)

    def _attachment(self, attachment_id: str, member: _Member) -> None:
        plan = self.attachments.pop(attachment_id, None)
        _check(plan is not None, f"attachment {attachment_id} comes before its asset, or has none")
        assert plan is not None
        stream = _MemberStream(self.tar, self.progress, self.cancelled)
        if not plan.target:  # the space has this very file already
            digest = stream.drain()
        else:
            meta = plan.meta
            source = cast(IO[bytes], stream)
            info = self.batch.put_attachment(
                plan.target, plan.asset_id, source, meta["name"], meta["media_type"],
                meta["created"],
            )  # fmt: skip
            digest = info.sha256
            _check(info.size == member.size, f"attachment {attachment_id} is truncated")
            self.report.files += 1
            self.report.bytes += info.size
        self._verify(f"attachments/{attachment_id}", digest)
        _check(digest == plan.meta["sha256"],
               f"attachment {attachment_id} does not match its asset's record")  # fmt: skip
        self.stored[attachment_id] = plan.target

    def _thumbnail(self, attachment_id: str, member: _Member) -> None:
        _check(attachment_id in self.stored,
               f"thumbnail {attachment_id} comes before its attachment, or has none")  # fmt: skip
        _check(member.size <= MAX_THUMBNAIL_BYTES, f"thumbnail {attachment_id} is too large")
        png = self._document(member)
        target = self.stored[attachment_id] or attachment_id
        if self.stored[attachment_id] or not self.batch.has_thumbnail(target):
            try:
                self.batch.put_thumbnail(target, png)
            except ValueError as exc:
                raise DamagedArchive(f"thumbnail {attachment_id} is not a PNG") from exc

    def finish(self) -> None:
        missing = sorted(set(self.manifest.files) - self.seen)
        _check(not missing, f"the archive is missing {len(missing)} file(s) its manifest lists"
               + (f", such as {missing[0]}" if missing else ""))  # fmt: skip
        _check(not self.attachments, "the archive is missing attachments its assets list")
        if self.new_space and IDENTITY_NAME not in self.seen:
            self.report.warnings.append(
                "the archive holds no identity key; the new space has a new one"
            )
        self.report.assets = self.counts["new"] + self.counts["merged"]
        self.report.details.update(self.counts)
        if self.sync_ids:
            self.report.details.update(
                {f"sync_records_{name}": count for name, count in self.sync_counts.items()
                 if count or name in ("new", "updated", "unchanged")}
            )  # fmt: skip


def _open_archive(handle: IO[bytes], passphrase: str) -> AgeReader:
    try:
        return AgeReader(handle, passphrase)
    except _AgeWrongPassphrase as exc:
        raise WrongArchivePassphrase("the archive passphrase is not correct") from exc
    except AgeError as exc:
        raise DamagedArchive(f"the archive cannot be read: {exc}") from exc


def import_portable(
    source: Path,
    into: Space | NewSpace,
    archive_passphrase: str,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelledCallback | None = None,
    limits: Limits = DEFAULT_LIMITS,
    template_folder: Path | None = None,
) -> PortableImportReport:
    """Import a portable archive into an open space (merging) or a new one (restoring).

    All or nothing: on any error or cancellation the open space is as it was,
    and a new space is not created. Templates the person made (`user/...`)
    that this machine lacks are installed into `template_folder` afterwards
    (default: the person's template folder); nothing there is overwritten.
    """
    source = Path(source)
    report = PortableImportReport("portable")
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    def check_cancelled() -> None:
        if cancelled is not None and cancelled():
            raise Cancelled("cancelled")

    total = 0
    try:
        with source.open("rb") as handle:
            reader = _open_archive(handle, archive_passphrase)
            tar = _TarReader(reader, limits)
            members = tar.members()
            first = next(members, None)
            _check(first is not None and first.name == MANIFEST_NAME and not first.is_folder,
                   "the archive does not start with its manifest")  # fmt: skip
            assert first is not None
            _check(first.size <= limits.max_document_bytes,
                   "the archive's manifest is larger than the import allows")  # fmt: skip
            manifest = _parse_manifest(tar.read(first.size), limits)
            total = sum(size for size, _ in manifest.files.values())
            report.space_id = manifest.space_id
            target = Path(into.path) if isinstance(into, NewSpace) else None
            if isinstance(into, NewSpace):
                space, staging = _create_staging(into, manifest.space_id, report)
            else:
                space, staging = into, None
            try:
                local_key = None if staging else space.identity_public_key()
                with space.import_batch() as batch:
                    importer = _Importer(
                        batch, tar, manifest, report, new_space=staging is not None,
                        local_public_key=local_key, limits=limits, progress=advance,
                        cancelled=check_cancelled,
                    )  # fmt: skip
                    for member in members:
                        importer.take(member)
                    tar.finish()  # before the commit: the age stream must end properly
                    importer.finish()
                if staging is not None and target is not None:
                    if importer.organisation_templates:
                        _restore_organisation_templates(space, report)
                    space.lock()
                    _move_into_place(staging, target)
            except BaseException:
                if staging is not None:
                    space.lock()
                    _remove_space_files(staging)
                raise
    except AgeDamaged as exc:
        raise DamagedArchive(f"the archive is damaged, truncated or was altered ({exc})") from exc
    except AgeError as exc:
        raise DamagedArchive(f"the archive cannot be read: {exc}") from exc
    report.path = target or space.path
    _install_templates(importer.templates, template_folder, report)
    return report


def _restore_organisation_templates(space: Space, report: PortableImportReport) -> None:
    """A restored space on a new computer: put back the templates its organisations
    published (kept in its resource records), as a sync would have installed them."""
    try:
        installed = install_organisation_templates(space)
    except (OSError, DamagedRecord) as error:  # the space is committed; say it, go on
        report.warnings.append(f"the organisations' templates could not be put back: {error}")
        return
    if installed:
        report.details["organisation_templates_installed"] = len(installed)


def _create_staging(
    into: NewSpace, space_id: str, report: PortableImportReport
) -> tuple[Space, Path]:
    target = Path(into.path)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.importing")
    space, report.recovery_key = Space.create(
        staging, into.passphrase, kdf_policy=into.kdf_policy, space_id=space_id
    )
    return space, staging


def _remove_space_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _move_into_place(staging: Path, target: Path) -> None:
    """Give the finished space its name, never replacing a file that appeared meanwhile."""
    for suffix in ("-wal", "-shm"):  # normally gone once the space is locked
        leftover = staging.with_name(staging.name + suffix)
        if leftover.exists():
            os.replace(leftover, target.with_name(target.name + suffix))
    try:
        os.link(staging, target)
        staging.unlink()
    except FileExistsError:
        _remove_space_files(staging)
        raise
    except OSError:  # a file system without hard links
        if target.exists():
            _remove_space_files(staging)
            raise FileExistsError(f"{target} already exists") from None
        os.rename(staging, target)


def _install_templates(
    templates: list[tuple[str, str]], folder: Path | None, report: TransferReport
) -> None:
    """Make the archive's templates available here where that is safe (see import_portable)."""
    if not templates:
        return
    library = TemplateLibrary.load(user_folder=folder)
    folder = user_template_folder() if folder is None else folder
    for qualified_id, text in templates:
        source, _, local_id = qualified_id.rpartition("/")
        installed = library.exact(qualified_id)
        if source == BUILTIN:
            if installed is None:
                report.warnings.append(
                    f"template {qualified_id} is not built into this version of Cairn"
                )
            continue
        if source != USER:
            if installed is None:
                report.warnings.append(
                    f"template {qualified_id} comes from an organisation and is not installed "
                    "here; its assets keep their answers"
                )
            continue
        target = folder / f"{local_id}.toml"
        if installed is not None or target.exists():
            if target.exists() and target.read_text("utf-8", "replace") != text:
                report.warnings.append(
                    f"your template {qualified_id} differs from the archive's; yours was kept"
                )
            continue
        try:
            parse_template(text, str(target), source=USER)
        except TemplateError:
            report.warnings.append(f"template {qualified_id} in the archive has problems; "
                                   "not installed")  # fmt: skip
            continue
        try:  # the space is already committed: a template that cannot be written is told
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_writer(target, mode=0o644) as handle:
                handle.write(text.encode("utf-8"))
        except OSError as error:
            report.warnings.append(f"template {qualified_id} could not be installed in "
                                   f"{folder}: {error.strerror or error}")  # fmt: skip
            continue
        report.details["templates_installed"] = (
            int(report.details.get("templates_installed", 0)) + 1
        )


def _import_job(job: ImportJob) -> TransferReport:
    """The registered importer: merge an archive into the job's open space."""
    if not job.archive_passphrase:
        raise InvalidInput("a portable archive needs its passphrase")
    return import_portable(
        job.source, job.space, job.archive_passphrase,
        progress=job.progress, cancelled=job.cancelled, limits=job.limits,
    )  # fmt: skip


register_exporter("portable", export_portable)
register_importer("portable", _import_job)
