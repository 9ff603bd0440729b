"""Schema versions of the space file and the steps that upgrade an older file.

A step takes the open write session of the unlocking space and changes the
tables (DDL or plaintext columns). Because every sealed value is bound to the
schema version, the space file re-seals every value after the last step, in
the same transaction: an upgrade either happens completely or not at all.

Steps hold their own DDL, frozen as it was at that version, so that a later
change to the models in store/tables.py never changes what an old step does.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

#: The schema this version of Cairn writes.
SCHEMA_VERSION = 3

MigrationStep = Callable[[Session], None]

# Schema 2: thumbnails of image attachments and the capture service's records.
# The same statements SQLModel emits for AttachmentThumbnailRow and CaptureRecordRow.
_SCHEMA_2_DDL = (
    "CREATE TABLE attachment_thumbnail (\n\tattachment_id VARCHAR NOT NULL, \n"
    "\tasset_id VARCHAR NOT NULL, \n\tversion INTEGER NOT NULL, \n\tdata BLOB NOT NULL, \n"
    "\tPRIMARY KEY (attachment_id)\n)",
    "CREATE INDEX ix_attachment_thumbnail_asset_id ON attachment_thumbnail (asset_id)",
    "CREATE TABLE capture_record (\n\tid VARCHAR NOT NULL, \n\tversion INTEGER NOT NULL, \n"
    "\tdata BLOB NOT NULL, \n\tPRIMARY KEY (id)\n)",
)


def _add_thumbnails_and_capture_records(session: Session) -> None:
    connection = session.connection()
    for statement in _SCHEMA_2_DDL:
        connection.exec_driver_sql(statement)


# Schema 3: what the sync client keeps (accounts, outbox, receipts, pulled events,
# organisation resources), one generic table. The statement SQLModel emits for
# SyncRecordRow.
_SCHEMA_3_DDL = (
    "CREATE TABLE sync_record (\n\tid VARCHAR NOT NULL, \n\tversion INTEGER NOT NULL, \n"
    "\tdata BLOB NOT NULL, \n\tPRIMARY KEY (id)\n)",
)


def _add_sync_records(session: Session) -> None:
    connection = session.connection()
    for statement in _SCHEMA_3_DDL:
        connection.exec_driver_sql(statement)


#: from_version -> the step that upgrades a file from that version to the next.
MIGRATIONS: dict[int, MigrationStep] = {
    1: _add_thumbnails_and_capture_records,
    2: _add_sync_records,
}


def steps_from(version: int, target: int) -> list[MigrationStep]:
    """The steps from `version` up to `target`; a gap is a programming error."""
    steps = []
    for current in range(version, target):
        if current not in MIGRATIONS:
            raise RuntimeError(f"no migration from schema version {current}")
        steps.append(MIGRATIONS[current])
    return steps


def tables_at(version: int) -> frozenset[str]:
    """The tables that exist in a file of this schema version."""
    tables = {"meta", "keyslot", "asset", "asset_version", "attachment", "attachment_chunk",
              "identity"}  # fmt: skip
    if version >= 2:
        tables |= {"attachment_thumbnail", "capture_record"}
    if version >= 3:
        tables.add("sync_record")
    return frozenset(tables)
