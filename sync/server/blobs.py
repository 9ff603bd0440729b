"""Attachments: resumable, content-addressed uploads, and the files they end up in.

A device uploads an attachment in pieces, each appended at the offset the server has
received so far; when the last piece arrives the server checks the SHA-256 and moves
the file to ``files/blobs/ab/abcdef...``. Upload records are per membership: a member
may only reference attachments they uploaded themselves, so nobody can learn whether
the server holds a file by naming its hash.

Two requests for the same upload never corrupt it. A piece is first streamed to a file
of its own, with no lock held (a slow connection must not block other writers); then,
holding the upload's row lock (``SELECT ... FOR UPDATE`` on PostgreSQL, the database
write lock on SQLite, where every transaction is ``BEGIN IMMEDIATE``), the offset is
checked again and the piece copied into place. The partial file is cut back to the
recorded count before each append, so bytes written before a crash that never reached
the database are dropped rather than kept.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sync.protocol import AttachmentRef, UploadStatus, is_sha256_hex
from sync.server.config import ServerSettings
from sync.server.db import READ_ONLY, detached, table_of
from sync.server.deps import DeviceContext
from sync.server.errors import ApiError, Conflict, TooLarge, Unprocessable
from sync.server.models import Blob, Upload, utc_now

_UPLOADS = table_of(Upload)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_COPY_BLOCK = 1024 * 1024


class HashMismatch(Unprocessable):
    code = "hash_mismatch"


class OffsetMismatch(Conflict):
    code = "offset_mismatch"


class UploadInterrupted(ApiError):
    """The connection ended before the piece did; nothing of it was kept."""

    status = 400
    code = "upload_interrupted"


# -------------------------------------------------------------------- paths


def blob_path(settings: ServerSettings, sha256: str) -> Path:
    """Where the complete attachment with this SHA-256 lives (whether or not it exists)."""
    if not is_sha256_hex(sha256):
        raise ValueError("not a lowercase hex SHA-256")
    return settings.files_dir / "blobs" / sha256[:2] / sha256


def _partial_dir(settings: ServerSettings) -> Path:
    folder = settings.files_dir / "partial"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _partial_path(settings: ServerSettings, upload: Upload) -> Path:
    # Named by the upload row, which belongs to one member: two members uploading the
    # same attachment never share a partial file.
    return _partial_dir(settings) / upload.id


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ------------------------------------------------------------------- status


def _status(upload: Upload) -> UploadStatus:
    return UploadStatus(
        sha256=upload.sha256,
        size=upload.size,
        received=upload.received,
        complete=upload.received == upload.size,
    )


def _check_request(settings: ServerSettings, sha256: str, size: int) -> None:
    if not is_sha256_hex(sha256):
        raise Unprocessable("an attachment is named by its SHA-256 in lowercase hex",
                            code="invalid_sha256")  # fmt: skip
    if size < 0:
        raise Unprocessable("the size cannot be negative", code="invalid_size")
    if size > settings.max_attachment_bytes:
        raise TooLarge(
            f"an attachment may be at most {settings.max_attachment_bytes} bytes",
            details=[{"limit": settings.max_attachment_bytes}],
        )


def _locked_upload(session: Session, membership_id: str, sha256: str) -> Upload | None:
    # populate_existing: sessions keep loaded rows across commits here, and the count
    # must be read afresh under the lock, not taken from before the body was streamed.
    return session.exec(
        select(Upload)
        .where(col(Upload.membership_id) == membership_id, col(Upload.sha256) == sha256)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _upload_for(
    session: Session, settings: ServerSettings, ctx: DeviceContext, sha256: str, size: int
) -> Upload:
    """This member's upload of ``sha256`` (locked), made if new. A new or unfinished
    upload announced with another size starts again at that size; a finished one cannot
    change size (its bytes proved what it is)."""
    upload = _locked_upload(session, ctx.membership.id, sha256)
    if upload is None:
        if size == 0:
            # Nothing will ever be sent for an empty attachment: prove it now.
            if sha256 != EMPTY_SHA256:
                raise HashMismatch("an empty attachment has another SHA-256 than this one")
            _store_blob(session, settings, sha256, 0, source=None)
        upload = Upload(membership_id=ctx.membership.id, sha256=sha256, size=size)
        session.add(upload)
        try:
            session.flush()
        except IntegrityError:
            # The same upload was started at the same moment on another connection.
            session.rollback()
            upload = _locked_upload(session, ctx.membership.id, sha256)
            if upload is None:
                raise
    if upload.size != size:
        if upload.received == upload.size:
            raise Conflict(
                f"this attachment was uploaded in full and is {upload.size} bytes",
                code="size_mismatch",
                details=[{"size": upload.size}],
            )
        if size == 0 and sha256 != EMPTY_SHA256:
            raise HashMismatch("an empty attachment has another SHA-256 than this one")
        _discard_partial(settings, upload)
        upload.size, upload.received, upload.updated_at = size, 0, utc_now()
        if size == 0:
            _store_blob(session, settings, sha256, 0, source=None)
        session.add(upload)
        session.flush()
    return upload


def peek_status(
    session: Session, settings: ServerSettings, ctx: DeviceContext, sha256: str, size: int
) -> UploadStatus | None:
    """`status` of an upload that exists already at this size, reading only; None when
    it must be made or started again first (then `status`)."""
    _check_request(settings, sha256, size)
    upload = _read_upload(session, ctx.membership.id, sha256)
    if upload is None or upload.size != size:
        return None
    return _status(upload)


def _read_upload(session: Session, membership_id: str, sha256: str) -> Upload | None:
    """This member's upload of ``sha256``, in a read-only transaction (committed)."""
    reading = session.connection(execution_options={READ_ONLY: True})
    upload = detached(Upload, reading.execute(
        select_columns(_UPLOADS).where(
            _UPLOADS.c.membership_id == membership_id, _UPLOADS.c.sha256 == sha256
        )
    ).first())  # fmt: skip
    session.commit()
    return upload


def status(
    session: Session, settings: ServerSettings, ctx: DeviceContext, sha256: str, size: int
) -> UploadStatus:
    """How much of this member's upload of ``sha256`` has arrived; starts it if new.
    Commits."""
    _check_request(settings, sha256, size)
    upload = _upload_for(session, settings, ctx, sha256, size)
    session.commit()
    return _status(upload)


# ------------------------------------------------------------------- pieces


def start_piece(
    session: Session,
    settings: ServerSettings,
    ctx: DeviceContext,
    sha256: str,
    offset: int,
    size: int,
) -> UploadStatus | str:
    """Before a piece of this member's upload of ``sha256`` is read from the network:
    the upload's id if the piece may come at ``offset``, or its status if it is complete
    already and ``offset`` is its end (an empty file). Commits, so that no lock is held
    while the body arrives.

    Raises OffsetMismatch (409) unless ``offset`` is exactly what was received, with
    the count received in the details so the client can resume from there (a retry of
    a last piece that was answered learns so that it is complete).
    """
    _check_request(settings, sha256, size)
    if offset < 0:
        raise Unprocessable("the offset cannot be negative", code="invalid_offset")
    upload = _upload_for(session, settings, ctx, sha256, size)
    _expect_offset(upload, offset)
    session.commit()
    if upload.received == upload.size:
        return _status(upload)
    return upload.id


def peek_piece(
    session: Session,
    settings: ServerSettings,
    ctx: DeviceContext,
    sha256: str,
    offset: int,
    size: int,
) -> UploadStatus | str | None:
    """`start_piece` for an upload that exists already at this size, reading only: on
    SQLite it needs no turn at the writer. None when the upload must be made or
    restarted first (then `start_piece`). The checks that count are made again under
    the upload's lock when the piece is kept (`finish_piece`)."""
    _check_request(settings, sha256, size)
    if offset < 0:
        raise Unprocessable("the offset cannot be negative", code="invalid_offset")
    upload = _read_upload(session, ctx.membership.id, sha256)
    if upload is None or upload.size != size:
        return None
    _expect_offset(upload, offset)
    if upload.received == upload.size:
        return _status(upload)
    return upload.id


def new_piece(settings: ServerSettings) -> Path:
    """Where a piece's bytes go while they arrive (removed by the caller afterwards)."""
    return _partial_dir(settings) / f"piece.{secrets.token_hex(8)}.piece"


def finish_piece(
    session: Session,
    settings: ServerSettings,
    ctx: DeviceContext,
    sha256: str,
    offset: int,
    size: int,
    upload_id: str,
    piece: Path,
    length: int,
) -> UploadStatus:
    """Append a piece that arrived whole in the file ``piece`` (``length`` bytes) to the
    upload `start_piece` named; when the upload is complete, verify it and keep it.
    Commits."""
    ahead = _hash_ahead(session, settings, upload_id, offset, size, piece, length)
    # A piece that is the whole attachment, with the right hash, goes straight into the
    # store: written to disk now, before the lock, and only renamed under it.
    whole = offset == 0 and length == size and ahead is not None and ahead[1] == sha256
    if whole:
        _fsync(piece)
    current = _locked_upload(session, ctx.membership.id, sha256)
    if current is None or current.id != upload_id or current.size != size:
        raise Conflict("this upload was started again with another size meanwhile",
                       code="upload_restarted")  # fmt: skip
    upload = current
    seen = upload.updated_at
    _expect_offset(upload, offset)
    if not _partial_intact(settings, upload):
        _discard_partial(settings, upload)
        upload.received = 0
        upload.updated_at = utc_now()
        session.add(upload)
        session.commit()
        raise OffsetMismatch(
            "the bytes received so far were lost; send this attachment again from 0",
            details=[{"received": 0, "size": upload.size}],
        )
    if whole and ahead is not None and ahead[0] == seen:
        # Nothing changed the upload since the hash was taken (see below).
        _discard_partial(settings, upload)
        upload.received = size
        upload.updated_at = utc_now()
        session.add(upload)
        _store_blob(session, settings, sha256, size, source=piece)
        session.commit()
        return _status(upload)
    if length:
        _append(settings, upload, piece)
        upload.received += length
        upload.updated_at = utc_now()
        session.add(upload)
    if upload.received == upload.size and length:
        # The hash taken ahead holds if nothing changed the upload since (every change
        # to its partial file also changes updated_at).
        _finish(session, settings, upload, ahead[1] if ahead and ahead[0] == seen else None)
    session.commit()
    return _status(upload)


def _hash_ahead(
    session: Session, settings: ServerSettings, upload_id: str, offset: int, size: int,
    piece: Path, length: int,
) -> tuple[datetime, str] | None:  # fmt: skip
    """For the last piece of an upload: the SHA-256 of the whole attachment (what was
    received, then the piece), and the upload's ``updated_at`` when it was taken; None
    for any other piece, or if the upload is not as expected.

    Taken before the upload's lock: on SQLite, while that is held, nothing else on the
    server can change (a 4 GiB attachment takes seconds to hash). Commits.
    """
    if not length or offset + length != size:
        return None
    row = (
        session.connection(execution_options={READ_ONLY: True})
        .execute(
            select_columns(_UPLOADS.c.received, _UPLOADS.c.updated_at).where(
                _UPLOADS.c.id == upload_id
            )
        )
        .first()
    )
    session.commit()
    if row is None or row.received != offset:
        return None
    digest = hashlib.sha256()
    try:
        if offset:
            with (_partial_dir(settings) / upload_id).open("rb") as source:
                left = offset
                while left and (block := source.read(min(_COPY_BLOCK, left))):
                    digest.update(block)
                    left -= len(block)
            if left:
                return None  # cut short: the lock's checks will say so
        with piece.open("rb") as source:
            while block := source.read(_COPY_BLOCK):
                digest.update(block)
    except FileNotFoundError:
        return None
    return row.updated_at, digest.hexdigest()


def _expect_offset(upload: Upload, offset: int) -> None:
    if offset != upload.received:
        raise OffsetMismatch(
            f"this upload has {upload.received} bytes; send the next piece from there",
            details=[{"received": upload.received, "size": upload.size}],
        )


def _partial_intact(settings: ServerSettings, upload: Upload) -> bool:
    """Whether the partial file still holds every byte the database counts (it may have
    been removed or cut short by hand; then the upload must start again)."""
    try:
        return _partial_path(settings, upload).stat().st_size >= upload.received
    except FileNotFoundError:
        return upload.received == 0


def _append(settings: ServerSettings, upload: Upload, piece: Path) -> None:
    path = _partial_path(settings, upload)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+b") as out:
        out.truncate(upload.received)
        out.seek(upload.received)
        with piece.open("rb") as source:
            shutil.copyfileobj(source, out, _COPY_BLOCK)
        out.flush()
        os.fsync(out.fileno())


def _finish(
    session: Session, settings: ServerSettings, upload: Upload, hexdigest: str | None = None
) -> None:
    """Verify a complete upload (its SHA-256 is ``hexdigest`` if known already) and move
    it into the blob store; on a wrong hash the upload starts again from 0 (committed)
    and HashMismatch is raised."""
    partial = _partial_path(settings, upload)
    if hexdigest is None:
        digest = hashlib.sha256()
        with partial.open("rb") as source:
            while block := source.read(_COPY_BLOCK):
                digest.update(block)
        hexdigest = digest.hexdigest()
    if hexdigest != upload.sha256:
        _discard_partial(settings, upload)
        upload.received = 0
        upload.updated_at = utc_now()
        session.add(upload)
        session.commit()
        raise HashMismatch(
            "the bytes received do not have this SHA-256; they were discarded, "
            "send the attachment again from 0",
            details=[{"received": 0, "size": upload.size}],
        )
    _store_blob(session, settings, upload.sha256, upload.size, source=partial)


def _store_blob(
    session: Session, settings: ServerSettings, sha256: str, size: int, *, source: Path | None
) -> None:
    """Put a verified file (or an empty one) at its place in the store, once, and record
    it. ``source`` is moved, or removed if the store already has these bytes."""
    target = blob_path(settings, sha256)
    if target.exists():
        if source is not None:
            source.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if source is None:
            source = _partial_dir(settings) / f"empty.{secrets.token_hex(8)}"
            descriptor = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.fsync(descriptor)
            os.close(descriptor)
        os.replace(source, target)
        _fsync(target.parent)
    _record_blob(session, sha256, size)


def _record_blob(session: Session, sha256: str, size: int) -> None:
    # Two members may finish the same attachment at the same moment.
    values = {"sha256": sha256, "size": size, "created_at": utc_now()}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(Blob).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(Blob).values(values).on_conflict_do_nothing())


def _discard_partial(settings: ServerSettings, upload: Upload) -> None:
    with suppress(FileNotFoundError):
        _partial_path(settings, upload).unlink()


# ---------------------------------------------------------------- other users


def store_bytes(session: Session, settings: ServerSettings, content: bytes) -> str:
    """Keep ``content`` in the blob store (resources published by the server, not uploads);
    returns its SHA-256. The caller commits."""
    sha256 = hashlib.sha256(content).hexdigest()
    if blob_path(settings, sha256).exists():
        _record_blob(session, sha256, len(content))
        return sha256
    temporary = _partial_dir(settings) / f"content.{secrets.token_hex(8)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        _store_blob(session, settings, sha256, len(content), source=temporary)
    finally:
        with suppress(FileNotFoundError):
            temporary.unlink()
    return sha256


def require_uploaded(
    session: Session, membership_id: str, attachments: Iterable[AttachmentRef]
) -> None:
    """Conflict ``attachment_missing`` unless this member uploaded every attachment in full."""
    wanted = {(a.sha256, a.size) for a in attachments}
    if not wanted:
        return
    uploads = session.exec(
        select(Upload).where(
            col(Upload.membership_id) == membership_id,
            col(Upload.sha256).in_([sha for sha, _ in wanted]),
        )
    ).all()
    complete = {(u.sha256, u.size) for u in uploads if u.received == u.size}
    missing = sorted(wanted - complete)
    if missing:
        raise Conflict(
            f"{len(missing)} attachment(s) have not been uploaded in full yet",
            code="attachment_missing",
            details=[{"sha256": sha, "size": size} for sha, size in missing[:50]],
        )
