"""What the organisation publishes besides templates: documents (any file) and links, as
the space keeps them after a pull (see ``pulling``).

Each resource has one record (kind "resource": its name, kind, version, size, hash,
address...), replaced by each new version. A document's bytes are in a record of their
own (kind "resource_file"), sealed like every record, fetched by ``pulling`` into
memory only (never a temporary file) and checked against the size and SHA-256 of the
signed event. Every record of the space is opened whenever records are read, so what a
space keeps is bounded: a document of more than ``MAX_DOCUMENT_BYTES``, or one that
would take the organisations' documents past ``MAX_DOCUMENTS_BYTES`` in all, is listed
with the reason and not kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

from app.files import atomic_writer
from app.private_files import safe_file_name
from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import Account
from app.syncing.errors import NoSuchEntry
from app.syncing.records import RecordSource
from store.errors import DamagedRecord
from store.records import SyncRecord

#: The largest document a space keeps (larger ones are listed, with the reason).
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
#: All the organisations' documents a space keeps, together.
MAX_DOCUMENTS_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class OrganisationResource:
    """A document or link from a connected organisation, as the UI and `cairn` show it."""

    id: str  # the resource record's id
    account_id: str
    workspace_name: str
    name: str
    kind: str  # "document" or "link"
    version: int
    received: str
    size: int | None = None
    media_type: str | None = None
    #: A link's address (http or https only; anything else is dropped).
    url: str | None = None
    #: Whether a document's bytes are in the space (``document_content`` gives them).
    kept: bool = False
    #: Why a document is not kept, if it is not.
    problem: str | None = None

    @classmethod
    def from_record(cls, record: SyncRecord) -> OrganisationResource:
        d = record.data
        size = d.get("size")
        return cls(
            id=record.id, account_id=str(d.get("account_id", "")),
            workspace_name=str(d.get("workspace_name", "")), name=str(d.get("name", "")),
            kind=str(d.get("kind", "")), version=int(d.get("version") or 0),
            received=str(d.get("received", "")),
            size=size if isinstance(size, int) else None,
            media_type=d.get("media_type") if isinstance(d.get("media_type"), str) else None,
            url=web_address(d.get("url")), kept=bool(d.get("file_record")),
            problem=d.get("problem") if isinstance(d.get("problem"), str) else None,
        )  # fmt: skip


def web_address(value: object) -> str | None:
    """``value`` if it is an http(s) address a browser may be sent to, else None."""
    if not isinstance(value, str) or len(value) > 2000 or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def organisation_resources(
    space: RecordSource, account_id: str | None = None
) -> list[OrganisationResource]:
    """The documents and links the space holds (of one account, or all), by name."""
    found = [
        OrganisationResource.from_record(r) for r in space.sync_records(kinds.RESOURCE)
        if r.data.get("kind") in ("document", "link")
        and (account_id is None or r.data.get("account_id") == account_id)
    ]  # fmt: skip
    return sorted(found, key=lambda r: (r.workspace_name.casefold(), r.name.casefold(), r.id))


def document_content(space: Space, resource_id: str) -> tuple[OrganisationResource, bytes]:
    """A kept document and its bytes (checked against the hash the server signed).
    NoSuchEntry if it is not a document the space keeps."""
    record = space.sync_record(resource_id)
    if record is None or record.kind != kinds.RESOURCE or record.data.get("kind") != "document":
        raise NoSuchEntry("this document from the organisation is no longer in the space")
    resource = OrganisationResource.from_record(record)
    stored = space.sync_record(str(record.data.get("file_record") or "")) if resource.kept else None
    if stored is None or stored.kind != kinds.RESOURCE_FILE:
        raise NoSuchEntry(f"“{resource.name}” is not kept in the space"
                          + (f": {resource.problem}" if resource.problem else ""))  # fmt: skip
    try:
        content = base64.b64decode(str(stored.data.get("content", "")), validate=True)
    except (binascii.Error, ValueError):
        content = b""
    if hashlib.sha256(content).hexdigest() != record.data.get("sha256"):
        raise DamagedRecord("sync_record", stored.id, "the document does not match its hash")
    return resource, content


def document_file_name(resource: OrganisationResource) -> str:
    """A file name for a document (its name, with the usual suffix of its media type if
    the name has none), safe on every system; for saving or opening it."""
    name = resource.name
    if not PurePath(name).suffix and resource.media_type:
        name += mimetypes.guess_extension(resource.media_type, strict=False) or ""
    return safe_file_name(name)


def save_document(space: Space, resource_id: str, destination: Path) -> OrganisationResource:
    """Write a kept document to ``destination`` whole (or leave nothing there)."""
    resource, content = document_content(space, resource_id)
    with atomic_writer(destination) as handle:
        handle.write(content)
    return resource


def resource_record_ids(account: Account, resource_id: str) -> tuple[str, str]:
    """The ids of the records of an organisation's resource and of its file's bytes.

    They follow from the organisation (the server's address and the workspace), not from
    the account: connecting again, say after restoring an archive, brings the same
    records again rather than a second copy. Another server naming the same resource id
    never touches them."""
    where = (account.server_url.rstrip("/"), account.workspace_id, resource_id)
    return (kinds.derived_id(kinds.RESOURCE, *where),
            kinds.derived_id(kinds.RESOURCE_FILE, *where))  # fmt: skip


def file_record(
    account: Account, resource_id: str, data: dict[str, Any], content: bytes
) -> SyncRecord:
    """The record holding a document's bytes (the latest version replaces the one before)."""
    kept = {"account_id": account.id, "resource_id": resource_id, "version": data.get("version"),
            "sha256": data.get("sha256"), "size": len(content),
            "content": base64.b64encode(content).decode("ascii")}  # fmt: skip
    return SyncRecord(resource_record_ids(account, resource_id)[1], kinds.RESOURCE_FILE, kept)


def kept_document_bytes(space: Space, pending: dict[str, SyncRecord]) -> dict[str, int]:
    """The size of every document the space keeps (or is about to), by file record id."""
    sizes = {r.id: int(r.data.get("size") or 0) for r in space.sync_records(kinds.RESOURCE_FILE)}
    sizes.update({r.id: int(r.data.get("size") or 0) for r in pending.values()
                  if r.kind == kinds.RESOURCE_FILE})  # fmt: skip
    return sizes
