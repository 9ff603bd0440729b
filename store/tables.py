"""SQLModel tables of the space file.

Plaintext columns are only: row ids, foreign ids, row versions, key-slot
parameters, blob sizes and the meta rows (format, schema version, space id,
manifest state). Every user-written or identifying value is a sealed blob.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

# Tables whose rows the manifest covers (each row counts by its id and version).
MANIFEST_TABLES = (
    "asset", "asset_version", "attachment", "identity", "attachment_thumbnail", "capture_record",
    "sync_record",
)  # fmt: skip


class Meta(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


class KeySlotRow(SQLModel, table=True):
    __tablename__ = "keyslot"
    id: str = Field(primary_key=True)
    kind: str
    params: str
    wrapped: bytes
    check: bytes
    digest: bytes


class AssetRow(SQLModel, table=True):
    """The current version of an asset: `summary` is what lists need, `body` the rest."""

    __tablename__ = "asset"
    id: str = Field(primary_key=True)
    version: int
    summary: bytes
    body: bytes


class AssetVersionRow(SQLModel, table=True):
    """A previous version of an asset, kept when a newer one is saved."""

    __tablename__ = "asset_version"
    id: str = Field(primary_key=True)
    asset_id: str = Field(index=True)
    version: int
    document: bytes


class AttachmentRow(SQLModel, table=True):
    __tablename__ = "attachment"
    id: str = Field(primary_key=True)
    asset_id: str = Field(index=True)
    version: int
    size: int
    chunk_count: int
    meta: bytes


class AttachmentChunkRow(SQLModel, table=True):
    __tablename__ = "attachment_chunk"
    attachment_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    data: bytes


class IdentityRow(SQLModel, table=True):
    """The space's Ed25519 identity; the private half sealed with its own sub-key."""

    __tablename__ = "identity"
    id: str = Field(primary_key=True)
    version: int
    public_key: bytes
    private_key: bytes


class AttachmentThumbnailRow(SQLModel, table=True):
    """A small PNG preview of an image attachment (schema 2).

    Sealed with the fields sub-key and bound to the attachment id and to the
    asset it belongs to; deleted with its attachment.
    """

    __tablename__ = "attachment_thumbnail"
    attachment_id: str = Field(primary_key=True)
    asset_id: str = Field(index=True)
    version: int
    data: bytes


class CaptureRecordRow(SQLModel, table=True):
    """One file taken in from a watched inbox folder (schema 2): where it came
    from, its hash and what became of it, all sealed; see docs/capture.md."""

    __tablename__ = "capture_record"
    id: str = Field(primary_key=True)
    version: int
    data: bytes


class SyncRecordRow(SQLModel, table=True):
    """One thing the sync client keeps (schema 3): a connected account, an outbox
    entry, a receipt, a pulled event, an organisation resource...

    Only the id and version are plaintext. The kind, the assets it concerns and
    its contents are all sealed in `data`, so the file does not show what is
    synced, with whom, or about which asset; see store.records.SyncRecord.
    """

    __tablename__ = "sync_record"
    id: str = Field(primary_key=True)
    version: int
    data: bytes
