"""The space file: create, unlock and lock it, and read and write its records.

Everything here runs on plain data and raises the errors in store.errors. A
SpaceFile is safe to share between threads: one lock serialises its work on
the single SQLite connection it owns.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar

import sqlalchemy.exc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from store import migrations
from store.database import open_engine, session_scope
from store.errors import (
    DamagedRecord,
    DamagedSpace,
    NoSuchAsset,
    NoSuchAttachment,
    NoSuchVersion,
    NotASpace,
    SpaceLocked,
    StoreError,
    UnsupportedVersion,
    WeakPassphrase,
    WrongPassphrase,
)
from store.kdf import PRODUCTION_POLICY, KdfParams, KdfPolicy
from store.keys import DATA_KEY_LENGTH, DataKey
from store.keyslots import (
    PASSPHRASE,
    RECOVERY,
    KeySlot,
    check_passphrase_slot,
    make_passphrase_slot,
    make_recovery_slot,
    open_passphrase_slot,
    open_recovery_slot,
)
from store.manifest import ManifestKey, ManifestState
from store.records import (
    AssetRecord,
    AssetSummary,
    AttachmentInfo,
    Problem,
    SpaceHeader,
    SyncRecord,
    VerifyReport,
    VersionInfo,
    now_iso,
)
from store.recovery import format_recovery_key, new_recovery_secret, parse_recovery_key
from store.sealing import FieldSealer, uuid_bytes
from store.stream import CHUNK_SIZE, ChunkCipher
from store.tables import (
    AssetRow,
    AssetVersionRow,
    AttachmentChunkRow,
    AttachmentRow,
    AttachmentThumbnailRow,
    CaptureRecordRow,
    IdentityRow,
    KeySlotRow,
    Meta,
    SyncRecordRow,
)

FORMAT_NAME = "cairn-space"
FORMAT_VERSION = 1
STORE_TABLES = (Meta, KeySlotRow, AssetRow, AssetVersionRow, AttachmentRow,
                AttachmentChunkRow, IdentityRow, AttachmentThumbnailRow,
                CaptureRecordRow, SyncRecordRow)  # fmt: skip

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: A thumbnail is a preview a few hundred pixels wide: anything bigger is refused.
MAX_THUMBNAIL_BYTES = 1024 * 1024

P = ParamSpec("P")
R = TypeVar("R")


class ConflictError(StoreError):
    """The asset changed since it was read (another window or process saved it)."""


def _store_error(exc: sqlalchemy.exc.DatabaseError) -> StoreError:
    """The store error for an SQLite failure: busy stays busy, the rest is damage."""
    message = str(exc.orig) if exc.orig else str(exc)
    if isinstance(exc, sqlalchemy.exc.OperationalError):
        if "locked" in message or "busy" in message:
            return StoreError("the space is busy in another program; try again")
        if "readonly" in message or "unable to open" in message:
            return StoreError(f"the space file cannot be written here ({message})")
        if "no such table" in message:
            return NotASpace("the file is not a Cairn space")
    return DamagedSpace(f"the space file cannot be read ({message})")


def _database_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn SQLite failures into store errors (see _store_error)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except sqlalchemy.exc.DatabaseError as exc:
            raise _store_error(exc) from exc

    return wrapper


class _ManifestDelta:
    """The rows a transaction adds to and removes from the manifest."""

    def __init__(self, key: ManifestKey) -> None:
        self.key = key
        self.xor = 0
        self.count = 0

    def add(self, table: str, row_id: str, version: int) -> None:
        self.xor ^= self.key.term(table, row_id, version)
        self.count += 1

    def remove(self, table: str, row_id: str, version: int) -> None:
        self.xor ^= self.key.term(table, row_id, version)
        self.count -= 1


def _database_errors_in_generator(
    function: Callable[P, Iterator[R]],
) -> Callable[P, Iterator[R]]:
    """The same mapping for generators, whose errors surface while iterating."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Iterator[R]:
        iterator = function(*args, **kwargs)
        while True:
            try:
                item = _checked_next(iterator)
            except StopIteration:
                return
            yield item

    return wrapper


@_database_errors
def _checked_next(iterator: Iterator[R]) -> R:
    return next(iterator)


def _read_meta(session: Session) -> dict[str, str]:
    return {row.key: row.value for row in session.exec(select(Meta))}


def _set_meta(session: Session, key: str, value: str) -> None:
    session.merge(Meta(key=key, value=value))


def _manifest_from_meta(meta: dict[str, str]) -> ManifestState:
    try:
        data = json.loads(meta["manifest"])
        return ManifestState(
            generation=int(data["generation"]),
            count=int(data["count"]),
            accumulator=int(data["acc"], 16),
            tag=bytes.fromhex(data["tag"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DamagedSpace("the space's manifest is missing or unreadable") from exc


def _manifest_to_meta(state: ManifestState) -> str:
    return json.dumps(
        {
            "generation": state.generation,
            "count": state.count,
            "acc": format(state.accumulator, "064x"),
            "tag": state.tag.hex(),
        }
    )


def _check_header(meta: dict[str, str]) -> tuple[int, bytes]:
    """Validate format and versions; returns (schema version, space id bytes)."""
    if meta.get("format") != FORMAT_NAME:
        raise NotASpace("the file is not a Cairn space")
    try:
        format_version = int(meta["format_version"])
        schema_version = int(meta["schema_version"])
        space_id = uuid.UUID(meta["space_id"]).bytes
    except (KeyError, ValueError) as exc:
        raise DamagedSpace("the space's header is damaged") from exc
    if format_version < 1 or schema_version < 1:
        raise DamagedSpace("the space's header is damaged")
    if format_version > FORMAT_VERSION or schema_version > migrations.SCHEMA_VERSION:
        raise UnsupportedVersion(
            "the space was written by a newer version of Cairn; update Cairn to open it"
        )
    return schema_version, space_id


def _slot_from_row(row: KeySlotRow) -> KeySlot:
    return KeySlot(row.id, row.kind, row.params, row.wrapped, row.check, row.digest)


def _fsync_folder(folder: Path) -> None:
    """Make a rename or link in `folder` durable (POSIX; a no-op elsewhere)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _read_full(source: IO[bytes], size: int) -> bytes:
    """Read up to `size` bytes, looping over short reads (pipes, sockets)."""
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


@dataclass(frozen=True)
class NewAsset:
    """An asset to create; the store gives it an id, version 1 and timestamps."""

    template_id: str
    title: str
    fields: dict[str, Any]
    tags: list[str]
    links: list[dict[str, str]]
    template_version: str | None = None
    created: str | None = None
    skills: list[str] = field(default_factory=list)
    status: str = ""


def _checked_sync_record(record: SyncRecord) -> SyncRecord:
    """The record with its sealed part as it will read back; ValueError if the store
    cannot keep it."""
    if record.id:
        try:
            uuid_bytes(record.id)
        except ValueError:
            raise ValueError(f"a sync record's id must be a UUID, not {record.id!r}") from None
    if not isinstance(record.kind, str) or not record.kind:
        raise ValueError("a sync record needs a kind")
    if not isinstance(record.data, dict):
        raise ValueError("a sync record's data must be a dict")
    if not isinstance(record.asset_ids, list | tuple) or not all(
        isinstance(item, str) for item in record.asset_ids
    ):
        raise ValueError("a sync record's asset_ids must be a list of strings")
    try:
        # A round trip through JSON: what is stored is exactly what a read returns.
        data = json.loads(json.dumps(record.data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a sync record's data must be JSON ({exc})") from exc
    return SyncRecord(record.id, record.kind, data, list(record.asset_ids))


@dataclass(frozen=True)
class CaptureRecord:
    """A file the capture service took in from an inbox folder, and what became of it.

    `folder` and `name` are the keys the service matches files by (see
    app.capture); `outcome` is "imported" or "duplicate"; `kept` says whether
    the original was left where it was. The whole record is sealed.
    """

    sha256: str
    folder: str
    name: str
    size: int
    mtime_ns: int
    asset_id: str = ""
    outcome: str = "imported"
    kept: bool = True
    captured: str = ""
    id: str = ""

    def sealed_part(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256, "folder": self.folder, "name": self.name, "size": self.size,
            "mtime_ns": self.mtime_ns, "asset_id": self.asset_id, "outcome": self.outcome,
            "kept": self.kept, "captured": self.captured,
        }  # fmt: skip

    @classmethod
    def from_sealed(cls, row_id: str, data: dict[str, Any]) -> CaptureRecord:
        return cls(
            sha256=str(data.get("sha256", "")),
            folder=str(data.get("folder", "")),
            name=str(data.get("name", "")),
            size=int(data.get("size", 0)),
            mtime_ns=int(data.get("mtime_ns", 0)),
            asset_id=str(data.get("asset_id", "")),
            outcome=str(data.get("outcome", "imported")),
            kept=bool(data.get("kept", True)),
            captured=str(data.get("captured", "")),
            id=row_id,
        )


class SpaceFile:
    """An unlocked space file."""

    def __init__(
        self,
        path: Path,
        engine: Engine,
        key: DataKey,
        schema_version: int,
        policy: KdfPolicy,
    ) -> None:
        self.path = path
        self.space_id = str(uuid.UUID(bytes=key.space_id))
        self.policy = policy
        self._engine: Engine | None = engine
        self._reader: Engine | None = None  # opened on first read
        self._key: DataKey | None = key
        self._lock = threading.RLock()
        self._bind_keys(schema_version)
        #: Set at unlock when the manifest does not match the rows (deleted or
        #: rolled-back records); the space is then read-only until repaired.
        self.integrity_problem: str | None = None

    def _bind_keys(self, schema_version: int) -> None:
        assert self._key is not None
        key = self._key
        self.schema_version = schema_version
        self._fields = FieldSealer(key.subkey("fields"), key.key_id, key.space_id, schema_version)
        self._identity = FieldSealer(
            key.subkey("identity"), key.key_id, key.space_id, schema_version
        )
        self._manifest = ManifestKey(key.subkey("manifest"), key.space_id)
        # The DataKey's own buffer, so that wiping the key wipes this too.
        self._attachments_key = key.subkey("attachments")

    # ----------------------------------------------------------------- opening

    @classmethod
    @_database_errors
    def create(
        cls,
        path: Path,
        passphrase: str,
        policy: KdfPolicy = PRODUCTION_POLICY,
        *,
        space_id: str | None = None,
    ) -> tuple[SpaceFile, str]:
        """Create a new space; returns it unlocked with its recovery key (shown once).

        `space_id` keeps the id of a space restored from a portable archive;
        a new one is random.
        """
        if not passphrase:
            raise WeakPassphrase("the passphrase must not be empty")
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        space_uuid = uuid.UUID(space_id) if space_id is not None else uuid.uuid4()
        dek = bytearray(os.urandom(DATA_KEY_LENGTH))
        secret = new_recovery_secret()
        slots = [
            make_passphrase_slot(dek, passphrase, space_uuid.bytes, policy),
            make_recovery_slot(dek, secret, space_uuid.bytes),
        ]
        recovery_key = format_recovery_key(secret)
        secret[:] = bytes(len(secret))

        # Build the file under a temporary name and move it into place only when
        # complete, so a crash never leaves a half-created space behind.
        staging = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.creating")
        os.close(os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            engine = open_engine(staging, create=True)
            key = DataKey(dek, space_uuid.bytes)
            space = cls(staging, engine, key, migrations.SCHEMA_VERSION, policy)
            SQLModel.metadata.create_all(
                engine,
                tables=[model.__table__ for model in STORE_TABLES],  # type: ignore[union-attr]
            )
            with session_scope(engine) as session:
                for name, value in (
                    ("format", FORMAT_NAME),
                    ("format_version", str(FORMAT_VERSION)),
                    ("schema_version", str(migrations.SCHEMA_VERSION)),
                    ("space_id", str(space_uuid)),
                    ("manifest", _manifest_to_meta(space._manifest.state(0, 0, 0))),
                ):
                    session.add(Meta(key=name, value=value))
                for slot in slots:
                    session.add(KeySlotRow(**slot.__dict__))
            with space._write() as (session, delta):
                space._create_identity(session, delta)
            space.lock()
            # link() refuses to overwrite a file that appeared meanwhile; rename would not.
            try:
                os.link(staging, path)
                staging.unlink()
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                if path.exists():
                    raise FileExistsError(f"{path} already exists") from None
                os.rename(staging, path)
            _fsync_folder(path.parent)
        except BaseException:
            for suffix in ("", "-wal", "-shm"):
                staging.with_name(staging.name + suffix).unlink(missing_ok=True)
            raise
        try:
            space = cls(path, open_engine(path), DataKey(dek, space_uuid.bytes),
                        migrations.SCHEMA_VERSION, policy)  # fmt: skip
        finally:
            dek[:] = bytes(len(dek))
        return space, recovery_key

    @staticmethod
    @_database_errors
    def read_header(path: Path) -> SpaceHeader:
        """Read what the file shows without a passphrase (also a quick format check)."""
        engine = open_engine(Path(path), writer=False)
        try:
            with Session(engine) as session:
                meta = _read_meta(session)
                schema_version, _ = _check_header(meta)
                kdf: dict[str, Any] = {}
                for row in session.exec(select(KeySlotRow).where(KeySlotRow.kind == PASSPHRASE)):
                    try:
                        kdf = json.loads(row.params)
                    except ValueError as exc:
                        raise DamagedSpace("the passphrase key slot is damaged") from exc
                    if not isinstance(kdf, dict):
                        raise DamagedSpace("the passphrase key slot is damaged")
                size = session.exec(select(func.coalesce(func.sum(AttachmentRow.size), 0))).one()
                return SpaceHeader(
                    format_version=int(meta["format_version"]),
                    schema_version=schema_version,
                    space_id=meta["space_id"],
                    assets=session.exec(select(func.count()).select_from(AssetRow)).one(),
                    versions=session.exec(select(func.count()).select_from(AssetVersionRow)).one(),
                    attachments=session.exec(select(func.count()).select_from(AttachmentRow)).one(),
                    attachment_bytes=int(size),
                    kdf=kdf,
                )
        finally:
            engine.dispose()

    @classmethod
    def unlock(
        cls, path: Path, passphrase: str, policy: KdfPolicy = PRODUCTION_POLICY
    ) -> SpaceFile:
        """Open with a passphrase; raises WrongPassphrase, DamagedSpace or NotASpace."""

        def opener(slots: list[KeySlot], space_id: bytes) -> bytearray:
            candidates = [slot for slot in slots if slot.kind == PASSPHRASE]
            if len(candidates) != 1:
                # More slots would only multiply the work an edited file can demand.
                raise DamagedSpace(f"the space has {len(candidates)} passphrase key slots, not 1")
            # Check every slot's parameters before deriving anything at all.
            for slot in candidates:
                check_passphrase_slot(slot, policy)
            for slot in candidates:
                try:
                    return open_passphrase_slot(slot, passphrase, space_id, policy)
                except WrongPassphrase:
                    continue
            raise WrongPassphrase("the passphrase is not correct")

        return cls._unlock(Path(path), policy, opener)

    @classmethod
    def unlock_with_recovery_key(
        cls, path: Path, recovery_key: str, policy: KdfPolicy = PRODUCTION_POLICY
    ) -> SpaceFile:
        secret = parse_recovery_key(recovery_key)

        def opener(slots: list[KeySlot], space_id: bytes) -> bytearray:
            candidates = [slot for slot in slots if slot.kind == RECOVERY]
            if len(candidates) != 1:
                raise DamagedSpace(f"the space has {len(candidates)} recovery key slots, not 1")
            return open_recovery_slot(candidates[0], secret, space_id)

        try:
            return cls._unlock(Path(path), policy, opener)
        finally:
            secret[:] = bytes(len(secret))

    @classmethod
    @_database_errors
    def _unlock(
        cls,
        path: Path,
        policy: KdfPolicy,
        opener: Callable[[list[KeySlot], bytes], bytearray],
    ) -> SpaceFile:
        probe = open_engine(path, writer=False)
        try:
            with Session(probe) as session:
                meta = _read_meta(session)
                schema_version, space_id = _check_header(meta)
                slots = [_slot_from_row(row) for row in session.exec(select(KeySlotRow))]
        finally:
            probe.dispose()
        dek = opener(slots, space_id)
        key = DataKey(dek, space_id)
        dek[:] = bytes(len(dek))
        space = cls(path, open_engine(path), key, schema_version, policy)
        try:
            space.integrity_problem = space._check_manifest()
            # A space that failed its check stays as it is (read-only, old schema).
            if schema_version < migrations.SCHEMA_VERSION and not space.integrity_problem:
                space._migrate(schema_version)
        except BaseException:
            space.lock()
            raise
        return space

    def lock(self) -> None:
        """Close the file and drop the keys; the object is unusable afterwards."""
        with self._lock:
            for engine in (self._reader, self._engine):
                if engine is not None:
                    engine.dispose()
            self._engine = self._reader = None
            if self._key is not None:
                self._key.wipe()  # also the manifest and attachment sub-key buffers
                self._key = None
            # The cipher objects keep copies Python cannot wipe; at least drop them.
            for name in ("_fields", "_identity", "_manifest", "_attachments_key"):
                self.__dict__.pop(name, None)

    @property
    def is_locked(self) -> bool:
        return self._engine is None

    def _require_engine(self) -> Engine:
        if self._engine is None:
            raise SpaceLocked("the space is locked")
        return self._engine

    # ----------------------------------------------------------- transactions

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._lock:
            self._require_engine()
            if self._reader is None:
                self._reader = open_engine(self.path, writer=False)
            reader = self._reader
        with self._lock, Session(reader) as session:
            yield session

    @contextmanager
    def _write(self, *, allow_damaged: bool = False) -> Iterator[tuple[Session, _ManifestDelta]]:
        """One durable transaction that also moves the manifest forward."""
        with self._lock:
            engine = self._require_engine()
            if self.integrity_problem and not allow_damaged:
                raise DamagedSpace(
                    f"the space is read-only because it failed its integrity check: "
                    f"{self.integrity_problem}"
                )
            with session_scope(engine) as session:
                delta = _ManifestDelta(self._manifest)
                yield session, delta
                session.flush()
                state = _manifest_from_meta(_read_meta(session))
                if not self._manifest.tag_is_valid(state):
                    raise DamagedSpace("the space's manifest has been tampered with")
                new_state = self._manifest.state(
                    state.generation + 1, state.count + delta.count, state.accumulator ^ delta.xor
                )
                _set_meta(session, "manifest", _manifest_to_meta(new_state))

    def _check_manifest(self) -> str | None:
        """Compare the manifest with the rows; None when they match."""
        with self._read() as session:
            try:
                state = _manifest_from_meta(_read_meta(session))
            except DamagedSpace as damage:
                return str(damage)
            if not self._manifest.tag_is_valid(state):
                return "the manifest's seal is broken (it was edited or damaged)"
            try:
                accumulator, count = self._manifest_sum(session)
            except ValueError:  # uuid_bytes: Cairn only writes canonical UUIDs
                return "a record with an id Cairn never writes was added from outside Cairn"
        if count != state.count:
            missing = state.count - count
            if missing > 0:
                return f"{missing} record(s) are missing (deleted, or an older copy restored)"
            return f"{-missing} record(s) were added from outside Cairn"
        if accumulator != state.accumulator:
            return "records were replaced or rolled back to older versions"
        return None

    def _manifest_sum(self, session: Session) -> tuple[int, int]:
        accumulator = count = 0
        term = self._manifest.term
        # Runs at unlock before any upgrade, so only the tables of the file's own schema.
        present = migrations.tables_at(self.schema_version)
        for table, id_column, version_column in (
            ("asset", AssetRow.id, AssetRow.version),
            ("asset_version", AssetVersionRow.id, AssetVersionRow.version),
            ("attachment", AttachmentRow.id, AttachmentRow.version),
            ("identity", IdentityRow.id, IdentityRow.version),
            ("attachment_thumbnail", AttachmentThumbnailRow.attachment_id,
             AttachmentThumbnailRow.version),
            ("capture_record", CaptureRecordRow.id, CaptureRecordRow.version),
            ("sync_record", SyncRecordRow.id, SyncRecordRow.version),
        ):  # fmt: skip
            if table not in present:
                continue
            for row_id, version in session.exec(select(id_column, version_column)):
                accumulator ^= term(table, row_id, version)
                count += 1
        return accumulator, count

    def _has_schema_2(self) -> bool:
        """Whether this file has thumbnails and capture records (a read-only
        space that failed its check may still be at schema 1)."""
        return self.schema_version >= 2

    def _has_schema_3(self) -> bool:
        """Whether this file has sync records (see _has_schema_2)."""
        return self.schema_version >= 3

    # -------------------------------------------------------------- migrations

    def _migrate(self, from_version: int) -> None:
        """Upgrade an older file in one transaction, re-sealing every value."""
        target = migrations.SCHEMA_VERSION
        steps = migrations.steps_from(from_version, target)
        old_fields, old_identity = self._fields, self._identity
        with self._lock, session_scope(self._require_engine()) as session:
            for step in steps:
                step(session)
            self._bind_keys(target)
            self._reseal(session, (old_fields, old_identity), (self._fields, self._identity))
            _set_meta(session, "schema_version", str(target))

    def _reseal(
        self,
        session: Session,
        old: tuple[FieldSealer, FieldSealer],
        new: tuple[FieldSealer, FieldSealer],
    ) -> None:
        # (model, table, id column, column, sealer, owner column or None)
        columns: list[tuple[type[SQLModel], str, str, str, int, str | None]] = [
            (AssetRow, "asset", "id", "summary", 0, None),
            (AssetRow, "asset", "id", "body", 0, None),
            (AssetVersionRow, "asset_version", "id", "document", 0, "asset_id"),
            (AttachmentRow, "attachment", "id", "meta", 0, "asset_id"),
            (IdentityRow, "identity", "id", "public_key", 0, None),
            (IdentityRow, "identity", "id", "private_key", 1, None),
            (AttachmentThumbnailRow, "attachment_thumbnail", "attachment_id", "data", 0,
             "asset_id"),
            (CaptureRecordRow, "capture_record", "id", "data", 0, None),
            (SyncRecordRow, "sync_record", "id", "data", 0, None),
        ]  # fmt: skip
        present = migrations.tables_at(new[0].schema_version)
        for model, table, id_name, column, which, owner_column in columns:
            if table not in present:
                continue
            id_column = getattr(model, id_name)
            owner_expression = getattr(model, owner_column or id_name)
            rows = session.exec(
                select(id_column, model.version, getattr(model, column), owner_expression)  # type: ignore[attr-defined]
            ).all()
            for row_id, version, blob, owner_value in rows:
                owner = owner_value if owner_column else None
                value = old[which].open(blob, table, column, row_id, version, owner)
                sealed = new[which].seal(table, column, row_id, version, value, owner)
                session.execute(update(model).where(id_column == row_id).values({column: sealed}))

    # ---------------------------------------------------------------- identity

    def _create_identity(
        self, session: Session, delta: _ManifestDelta, private: Ed25519PrivateKey | None = None
    ) -> None:
        private = private or Ed25519PrivateKey.generate()
        row_id = str(uuid.uuid4())
        public_raw = private.public_key().public_bytes_raw()
        session.add(
            IdentityRow(
                id=row_id,
                version=1,
                public_key=self._fields.seal("identity", "public_key", row_id, 1, public_raw.hex()),
                private_key=self._identity.seal(
                    "identity", "private_key", row_id, 1, private.private_bytes_raw().hex()
                ),
            )
        )
        delta.add("identity", row_id, 1)

    @_database_errors
    def identity_public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key of this space."""
        with self._read() as session:
            row = session.exec(select(IdentityRow)).first()
            if row is None:
                raise DamagedSpace("the space's identity key is missing")
            return bytes.fromhex(
                self._fields.open(row.public_key, "identity", "public_key", row.id, row.version)
            )

    @_database_errors
    def export_identity(self) -> bytes:
        """The raw 32-byte Ed25519 private key (for signing, and for the encrypted portable
        archive; never written anywhere else)."""
        with self._read() as session:
            row = session.exec(select(IdentityRow)).first()
            if row is None:
                raise DamagedSpace("the space's identity key is missing")
            raw = self._identity.open(
                row.private_key, "identity", "private_key", row.id, row.version
            )
        return bytes.fromhex(raw)

    @_database_errors
    def sign(self, data: bytes) -> bytes:
        """Sign with the space's Ed25519 identity key."""
        return Ed25519PrivateKey.from_private_bytes(self.export_identity()).sign(data)

    # ------------------------------------------------------------------ assets

    def _seal_asset(self, record: AssetRecord) -> tuple[bytes, bytes]:
        return (
            self._fields.seal("asset", "summary", record.id, record.version, record.summary_part()),
            self._fields.seal("asset", "body", record.id, record.version, record.body_part()),
        )

    def _open_asset(self, row: AssetRow) -> AssetRecord:
        return self._open_asset_columns(row.id, row.version, row.summary, row.body)

    def _open_asset_columns(
        self, row_id: str, version: int, summary_blob: bytes, body_blob: bytes
    ) -> AssetRecord:
        summary = self._fields.open(summary_blob, "asset", "summary", row_id, version)
        body = self._fields.open(body_blob, "asset", "body", row_id, version)
        return AssetRecord.from_parts(row_id, version, summary, body)

    @staticmethod
    def _new_record(new: NewAsset, asset_id: str) -> AssetRecord:
        stamp = new.created or now_iso()
        return AssetRecord(
            id=asset_id,
            version=1,
            template_id=new.template_id,
            template_version=new.template_version,
            title=new.title,
            fields=new.fields,
            tags=new.tags,
            links=new.links,
            created=stamp,
            updated=stamp,
            skills=list(new.skills),
            status=new.status,
        )

    @_database_errors
    def insert_assets(self, assets: Iterable[NewAsset]) -> list[AssetRecord]:
        """Create assets in one transaction (one durable commit for the batch)."""
        created: list[AssetRecord] = []
        with self._write() as (session, delta):
            rows = []
            for new in assets:
                record = self._new_record(new, str(uuid.uuid4()))
                summary, body = self._seal_asset(record)
                rows.append({"id": record.id, "version": 1, "summary": summary, "body": body})
                delta.add("asset", record.id, 1)
                created.append(record)
            if rows:
                session.execute(insert(AssetRow), rows)
        return created

    @_database_errors
    def update_asset(self, record: AssetRecord, expected_version: int) -> AssetRecord:
        """Save a new version; the previous one goes to history."""
        with self._write() as (session, delta):
            row = session.get(AssetRow, record.id)
            if row is None:
                raise NoSuchAsset(record.id)
            if row.version != expected_version:
                raise ConflictError("the asset was changed elsewhere since it was opened")
            previous = self._open_asset(row)
            history_id = str(uuid.uuid4())
            session.add(
                AssetVersionRow(
                    id=history_id,
                    asset_id=row.id,
                    version=row.version,
                    document=self._fields.seal(
                        "asset_version",
                        "document",
                        history_id,
                        row.version,
                        previous.document(),
                        owner=row.id,
                    ),
                )
            )
            delta.add("asset_version", history_id, row.version)
            delta.remove("asset", row.id, row.version)
            saved = AssetRecord(**{**record.__dict__, "version": row.version + 1})
            saved.created = previous.created
            saved.updated = now_iso()
            row.version = saved.version
            row.summary, row.body = self._seal_asset(saved)
            session.add(row)
            delta.add("asset", row.id, row.version)
        return saved

    @_database_errors
    def get_asset(self, asset_id: str) -> AssetRecord:
        with self._read() as session:
            row = session.get(AssetRow, asset_id)
            if row is None:
                raise NoSuchAsset(asset_id)
            return self._open_asset(row)

    @_database_errors
    def asset_ids(self) -> list[str]:
        """Ids of every asset (plaintext; no decryption)."""
        with self._read() as session:
            return list(session.exec(select(AssetRow.id)))

    @_database_errors
    def list_summaries(self) -> tuple[list[AssetSummary], list[str]]:
        """Every readable asset's summary, and the ids of those that are damaged."""
        summaries: list[AssetSummary] = []
        damaged: list[str] = []
        with self._read() as session:
            rows = session.exec(select(AssetRow.id, AssetRow.version, AssetRow.summary)).all()
        open_ = self._fields.open
        for row_id, version, blob in rows:
            try:
                summary = open_(blob, "asset", "summary", row_id, version)
            except DamagedRecord:
                damaged.append(row_id)
                continue
            summaries.append(AssetSummary.from_summary(row_id, version, summary))
        return summaries, damaged

    @_database_errors_in_generator
    def iter_assets(self, batch: int = 500) -> Iterator[AssetRecord | DamagedRecord]:
        """Every asset in full, in batches so writers are never held up for long."""
        last = ""
        while True:
            with self._read() as session:
                # Plain tuples: building ORM objects would cost more than decrypting.
                rows = session.exec(
                    select(AssetRow.id, AssetRow.version, AssetRow.summary, AssetRow.body)
                    .where(col(AssetRow.id) > last)
                    .order_by(col(AssetRow.id))
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row_id, version, summary, body in rows:
                try:
                    yield self._open_asset_columns(row_id, version, summary, body)
                except DamagedRecord as damage:
                    yield damage
            last = rows[-1][0]

    @_database_errors
    def history(self, asset_id: str) -> list[VersionInfo]:
        """Every version of an asset, oldest first; the last one is current."""
        current = self.get_asset(asset_id)
        versions: list[VersionInfo] = []
        with self._read() as session:
            rows = session.exec(
                select(AssetVersionRow).where(AssetVersionRow.asset_id == asset_id)
            ).all()
        for row in sorted(rows, key=lambda r: r.version):
            document = self._fields.open(
                row.document, "asset_version", "document", row.id, row.version, row.asset_id
            )
            versions.append(
                VersionInfo(
                    row.version,
                    str(document.get("updated", "")),
                    str(document.get("title", "")),
                    False,
                )
            )
        versions.append(VersionInfo(current.version, current.updated, current.title, True))
        return versions

    @_database_errors
    def asset_versions(self, asset_id: str) -> list[AssetRecord]:
        """Every version of an asset in full, oldest first; the last one is current."""
        current = self.get_asset(asset_id)
        with self._read() as session:
            rows = session.exec(
                select(AssetVersionRow.id, AssetVersionRow.version, AssetVersionRow.document)
                .where(AssetVersionRow.asset_id == asset_id)
                .order_by(col(AssetVersionRow.version))
            ).all()
        versions = []
        for row_id, version, blob in rows:
            document = self._fields.open(
                blob, "asset_version", "document", row_id, version, asset_id
            )
            versions.append(AssetRecord.from_parts(asset_id, version, document, document))
        return [*versions, current]

    @_database_errors_in_generator
    def iter_asset_versions(self, batch: int = 200) -> Iterator[list[AssetRecord] | DamagedRecord]:
        """Every asset with every version (as asset_versions), in id order and in batches
        read in one transaction each; an asset with any damaged version as DamagedRecord."""
        last = ""
        open_ = self._fields.open
        while True:
            with self._read() as session:
                connection = session.connection()
                rows = list(connection.exec_driver_sql(
                    "SELECT id, version, summary, body FROM asset WHERE id > ? ORDER BY id "
                    "LIMIT ?", (last, batch),
                ))  # fmt: skip
                if not rows:
                    return
                history: dict[str, list[tuple[str, int, bytes]]] = {}
                for row_id, asset_id, version, blob in connection.exec_driver_sql(
                    "SELECT id, asset_id, version, document FROM asset_version "
                    "WHERE asset_id > ? AND asset_id <= ? ORDER BY asset_id, version",
                    (last, rows[-1][0]),
                ):
                    history.setdefault(asset_id, []).append((row_id, version, blob))
            for asset_id, version, summary, body in rows:
                versions = []
                try:
                    for row_id, number, blob in history.get(asset_id, []):
                        document = open_(
                            blob, "asset_version", "document", row_id, number, asset_id
                        )
                        versions.append(
                            AssetRecord.from_parts(asset_id, number, document, document)
                        )
                    versions.append(self._open_asset_columns(asset_id, version, summary, body))
                except DamagedRecord as damage:
                    # Named by the asset, whichever of its versions failed.
                    where = damage.column if damage.table == "asset" else "an earlier version"
                    yield DamagedRecord("asset", asset_id, where)
                    continue
                yield versions
            last = rows[-1][0]

    @_database_errors
    def get_version(self, asset_id: str, version: int) -> AssetRecord:
        current = self.get_asset(asset_id)
        if version == current.version:
            return current
        with self._read() as session:
            row = session.exec(
                select(AssetVersionRow).where(
                    AssetVersionRow.asset_id == asset_id, AssetVersionRow.version == version
                )
            ).first()
        if row is None:
            raise NoSuchVersion(f"asset {asset_id} has no version {version}")
        document = self._fields.open(
            row.document, "asset_version", "document", row.id, row.version, row.asset_id
        )
        return AssetRecord.from_parts(asset_id, version, document, document)

    @_database_errors
    def delete_asset(self, asset_id: str) -> None:
        """Delete an asset with its history and attachments, in one transaction."""
        # Deleting a damaged asset is how a person cleans up, so it is allowed.
        with self._write() as (session, delta):
            row = session.get(AssetRow, asset_id)
            if row is None:
                raise NoSuchAsset(asset_id)
            delta.remove("asset", row.id, row.version)
            for history_id, version in session.exec(
                select(AssetVersionRow.id, AssetVersionRow.version).where(
                    AssetVersionRow.asset_id == asset_id
                )
            ).all():
                delta.remove("asset_version", history_id, version)
            attachment_ids = []
            for attachment_id, version in session.exec(
                select(AttachmentRow.id, AttachmentRow.version).where(
                    AttachmentRow.asset_id == asset_id
                )
            ).all():
                delta.remove("attachment", attachment_id, version)
                attachment_ids.append(attachment_id)
            session.execute(
                delete(AssetVersionRow).where(col(AssetVersionRow.asset_id) == asset_id)
            )
            for attachment_id in attachment_ids:
                session.execute(
                    delete(AttachmentChunkRow).where(
                        col(AttachmentChunkRow.attachment_id) == attachment_id
                    )
                )
            session.execute(delete(AttachmentRow).where(col(AttachmentRow.asset_id) == asset_id))
            if self._has_schema_2():
                for attachment_id in attachment_ids:
                    self._delete_thumbnail(session, delta, attachment_id)
            session.delete(row)

    # ------------------------------------------------------------- attachments

    def _open_attachment_meta(self, row: AttachmentRow) -> AttachmentInfo:
        meta = self._fields.open(row.meta, "attachment", "meta", row.id, row.version, row.asset_id)
        # The plaintext size and chunk count must agree with the sealed ones.
        if meta.get("size") != row.size or meta.get("chunks") != row.chunk_count:
            raise DamagedRecord("attachment", row.id, "size does not match its record")
        return AttachmentInfo(
            id=row.id,
            asset_id=row.asset_id,
            name=str(meta.get("name", "")),
            size=row.size,
            sha256=str(meta.get("sha256", "")),
            media_type=str(meta.get("media_type", "application/octet-stream")),
            created=str(meta.get("created", "")),
        )

    @_database_errors
    def add_attachment(
        self,
        asset_id: str,
        source: IO[bytes],
        name: str,
        media_type: str = "application/octet-stream",
        progress: Callable[[int], None] | None = None,
        thumbnail: bytes | None = None,
    ) -> AttachmentInfo:
        """Stream a file into the space in 1 MiB sealed chunks, in one transaction.

        One transaction keeps it all-or-nothing: a crash half-way leaves no
        trace, and SQLite spills to the WAL so memory stays at a few chunks.
        A `thumbnail` (PNG) is stored in the same transaction.
        """
        with self._write() as (session, delta):
            if session.get(AssetRow, asset_id) is None:
                raise NoSuchAsset(asset_id)
            info = self._stream_attachment(
                session, delta, str(uuid.uuid4()), asset_id, source, name, media_type, progress
            )
            if thumbnail is not None:
                self._put_thumbnail(session, delta, info.id, asset_id, thumbnail)
        return info

    @_database_errors
    def add_asset_with_attachment(
        self,
        new: NewAsset,
        source: IO[bytes],
        name: str,
        media_type: str = "application/octet-stream",
        *,
        attachment_field: str | None = None,
        thumbnail: bytes | None = None,
        capture: CaptureRecord | None = None,
        before_commit: Callable[[AttachmentInfo], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[AssetRecord, AttachmentInfo, CaptureRecord | None]:
        """Create an asset with one attachment, its thumbnail and a capture record,
        all in one transaction (so a crash never leaves an asset without its file).

        `attachment_field` names the field that lists the attachment's id.
        `capture` gets the stored content's SHA-256 and the new asset's id.
        `before_commit` sees the stored attachment before the commit; whatever
        it raises rolls everything back and propagates (so do `progress`'s).
        """
        asset_id, attachment_id = str(uuid.uuid4()), str(uuid.uuid4())
        if attachment_field:
            new = dataclasses.replace(new, fields={**new.fields, attachment_field: [attachment_id]})
        record = self._new_record(new, asset_id)
        stored: CaptureRecord | None = None
        with self._write() as (session, delta):
            info = self._stream_attachment(
                session, delta, attachment_id, asset_id, source, name, media_type, progress
            )
            if before_commit is not None:
                before_commit(info)
            summary, body = self._seal_asset(record)
            session.add(AssetRow(id=asset_id, version=1, summary=summary, body=body))
            delta.add("asset", asset_id, 1)
            if thumbnail is not None:
                self._put_thumbnail(session, delta, attachment_id, asset_id, thumbnail)
            if capture is not None:
                stored = self._put_capture_record(
                    session,
                    delta,
                    dataclasses.replace(capture, sha256=info.sha256, asset_id=asset_id),
                )
        return record, info, stored

    def _stream_attachment(
        self,
        session: Session,
        delta: _ManifestDelta,
        attachment_id: str,
        asset_id: str,
        source: IO[bytes],
        name: str,
        media_type: str,
        progress: Callable[[int], None] | None,
        created: str | None = None,
    ) -> AttachmentInfo:
        digest = hashlib.sha256()
        # SHA-256 runs on a helper thread: hashlib and SQLite both release the GIL,
        # so hashing chunk n overlaps with writing it. At most one chunk is in
        # flight, which keeps memory bounded.
        hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-sha256")
        hashing: Future[None] | None = None
        try:
            cipher = ChunkCipher(self._attachments_key, attachment_id)
            connection = session.connection()
            size = index = 0
            current = _read_full(source, CHUNK_SIZE)
            while True:
                following = _read_full(source, CHUNK_SIZE) if len(current) == CHUNK_SIZE else b""
                last = not following
                if hashing is not None:
                    hashing.result()
                hashing = hasher.submit(digest.update, current)
                size += len(current)
                connection.exec_driver_sql(
                    "INSERT INTO attachment_chunk (attachment_id, seq, data) VALUES (?, ?, ?)",
                    (attachment_id, index, cipher.seal(index, current, last)),
                )
                if progress is not None:
                    progress(size)
                if last:
                    break
                current, index = following, index + 1
            hashing.result()
        finally:
            hasher.shutdown(wait=True)
        info = AttachmentInfo(
            id=attachment_id,
            asset_id=asset_id,
            name=name,
            size=size,
            sha256=digest.hexdigest(),
            media_type=media_type,
            created=created or now_iso(),
        )
        meta = {
            "name": name,
            "sha256": info.sha256,
            "media_type": media_type,
            "created": info.created,
            "size": size,
            "chunks": index + 1,
        }
        session.add(
            AttachmentRow(
                id=attachment_id,
                asset_id=asset_id,
                version=1,
                size=size,
                chunk_count=index + 1,
                meta=self._fields.seal(
                    "attachment", "meta", attachment_id, 1, meta, owner=asset_id
                ),
            )
        )
        delta.add("attachment", attachment_id, 1)
        return info

    @_database_errors
    def attachment_ids(self) -> list[str]:
        with self._read() as session:
            return list(session.exec(select(AttachmentRow.id)))

    @_database_errors
    def get_attachment(self, attachment_id: str) -> AttachmentInfo:
        with self._read() as session:
            row = session.get(AttachmentRow, attachment_id)
        if row is None:
            raise NoSuchAttachment(attachment_id)
        return self._open_attachment_meta(row)

    @_database_errors
    def list_attachments(self, asset_id: str) -> list[AttachmentInfo]:
        with self._read() as session:
            rows = session.exec(
                select(AttachmentRow).where(AttachmentRow.asset_id == asset_id)
            ).all()
        infos = [self._open_attachment_meta(row) for row in rows]
        return sorted(infos, key=lambda info: (info.created, info.name))

    @_database_errors
    def list_all_attachments(self) -> tuple[list[AttachmentInfo], list[str]]:
        """Every readable attachment's record (no content), and the ids of damaged ones."""
        with self._read() as session:
            rows = session.exec(select(AttachmentRow)).all()
        infos: list[AttachmentInfo] = []
        damaged: list[str] = []
        for row in rows:
            try:
                infos.append(self._open_attachment_meta(row))
            except DamagedRecord:
                damaged.append(row.id)
        return infos, damaged

    @_database_errors_in_generator
    def read_attachment(self, attachment_id: str, *, check_digest: bool = False) -> Iterator[bytes]:
        """Yield the plaintext chunk by chunk; raises DamagedRecord before the end
        if anything is missing, reordered, appended or altered, so a caller that
        writes to a temporary file and renames on success never keeps wrong data."""
        info = self.get_attachment(attachment_id)
        with self._read() as session:
            row = session.get(AttachmentRow, attachment_id)
        if row is None:  # deleted meanwhile
            raise NoSuchAttachment(attachment_id)
        cipher = ChunkCipher(self._attachments_key, attachment_id)
        # The chunk AEAD with its counter and last flag, plus the sealed size and
        # chunk count, already prove the content; `verify` re-hashes as well.
        digest = hashlib.sha256() if check_digest else None
        size = index = 0
        while True:
            with self._read() as session:
                blob = session.exec(
                    select(AttachmentChunkRow.data).where(
                        AttachmentChunkRow.attachment_id == attachment_id,
                        AttachmentChunkRow.seq == index,
                    )
                ).first()
            if blob is None:
                raise DamagedRecord("attachment", attachment_id, f"chunk {index} is missing")
            plaintext, last = cipher.open(index, blob)
            if digest is not None:
                digest.update(plaintext)
            size += len(plaintext)
            if last:
                break
            yield plaintext
            index += 1
        with self._read() as session:
            extra = session.exec(
                select(func.count())
                .select_from(AttachmentChunkRow)
                .where(
                    AttachmentChunkRow.attachment_id == attachment_id,
                    col(AttachmentChunkRow.seq) > index,
                )
            ).one()
        if (
            extra
            or index + 1 != row.chunk_count
            or size != row.size
            or (digest is not None and digest.hexdigest() != info.sha256)
        ):
            raise DamagedRecord("attachment", attachment_id, "content does not match its record")
        yield plaintext

    @_database_errors
    def delete_attachment(self, attachment_id: str) -> None:
        with self._write() as (session, delta):
            row = session.get(AttachmentRow, attachment_id)
            if row is None:
                raise NoSuchAttachment(attachment_id)
            delta.remove("attachment", row.id, row.version)
            session.execute(
                delete(AttachmentChunkRow).where(
                    col(AttachmentChunkRow.attachment_id) == attachment_id
                )
            )
            if self._has_schema_2():
                self._delete_thumbnail(session, delta, attachment_id)
            session.delete(row)

    # -------------------------------------------------------------- thumbnails

    def _require_schema_2(self) -> None:
        if not self._has_schema_2():
            raise DamagedSpace(
                "the space is read-only at an older schema (it failed its integrity check)"
            )

    def _put_thumbnail(
        self,
        session: Session,
        delta: _ManifestDelta,
        attachment_id: str,
        asset_id: str,
        png: bytes,
    ) -> None:
        if not png.startswith(PNG_SIGNATURE) or len(png) > MAX_THUMBNAIL_BYTES:
            raise ValueError("a thumbnail must be a PNG of at most 1 MiB")
        row = session.get(AttachmentThumbnailRow, attachment_id)
        version = 1
        if row is not None:
            delta.remove("attachment_thumbnail", attachment_id, row.version)
            version = row.version + 1
        else:
            row = AttachmentThumbnailRow(
                attachment_id=attachment_id, asset_id=asset_id, version=version, data=b""
            )
        row.asset_id, row.version = asset_id, version
        # Sealed values are JSON, so the PNG travels as base64 (thumbnails are small).
        value = {"png": base64.b64encode(png).decode("ascii")}
        row.data = self._fields.seal(
            "attachment_thumbnail", "data", attachment_id, version, value, owner=asset_id
        )
        session.add(row)
        delta.add("attachment_thumbnail", attachment_id, version)

    def _delete_thumbnail(
        self, session: Session, delta: _ManifestDelta, attachment_id: str
    ) -> None:
        row = session.get(AttachmentThumbnailRow, attachment_id)
        if row is not None:
            delta.remove("attachment_thumbnail", attachment_id, row.version)
            session.delete(row)

    def _open_thumbnail(self, row: AttachmentThumbnailRow, asset_id: str) -> bytes:
        """The PNG of a thumbnail row, bound to the asset its attachment belongs to."""
        if row.asset_id != asset_id:
            raise DamagedRecord("attachment_thumbnail", row.attachment_id, "owner")
        value = self._fields.open(
            row.data, "attachment_thumbnail", "data", row.attachment_id, row.version, asset_id
        )
        try:
            png = base64.b64decode(value["png"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise DamagedRecord("attachment_thumbnail", row.attachment_id, "data") from exc
        if not png.startswith(PNG_SIGNATURE):
            raise DamagedRecord("attachment_thumbnail", row.attachment_id, "data")
        return png

    @_database_errors
    def set_thumbnail(self, attachment_id: str, png: bytes) -> None:
        """Store (or replace) the PNG thumbnail of an attachment, sealed."""
        self._require_schema_2()
        with self._write() as (session, delta):
            attachment = session.get(AttachmentRow, attachment_id)
            if attachment is None:
                raise NoSuchAttachment(attachment_id)
            self._put_thumbnail(session, delta, attachment_id, attachment.asset_id, png)

    @_database_errors
    def thumbnail(self, attachment_id: str) -> bytes | None:
        """The attachment's PNG thumbnail, or None if it has none; DamagedRecord
        if the stored one was altered, moved or belongs to another attachment."""
        with self._read() as session:
            attachment = session.get(AttachmentRow, attachment_id)
            if attachment is None:
                raise NoSuchAttachment(attachment_id)
            if not self._has_schema_2():
                return None
            row = session.get(AttachmentThumbnailRow, attachment_id)
        if row is None:
            return None
        return self._open_thumbnail(row, attachment.asset_id)

    # --------------------------------------------------------- capture records

    def _put_capture_record(
        self, session: Session, delta: _ManifestDelta, record: CaptureRecord
    ) -> CaptureRecord:
        record = dataclasses.replace(
            record, id=str(uuid.uuid4()), captured=record.captured or now_iso()
        )
        session.add(
            CaptureRecordRow(
                id=record.id,
                version=1,
                data=self._fields.seal(
                    "capture_record", "data", record.id, 1, record.sealed_part()
                ),
            )  # fmt: skip
        )
        delta.add("capture_record", record.id, 1)
        return record

    @_database_errors
    def add_capture_record(self, record: CaptureRecord) -> CaptureRecord:
        """Store a record (e.g. of a duplicate not imported); returns it with its id."""
        self._require_schema_2()
        with self._write() as (session, delta):
            return self._put_capture_record(session, delta, record)

    @_database_errors
    def capture_records(self) -> tuple[list[CaptureRecord], list[str]]:
        """Every readable capture record, and the ids of damaged ones."""
        if not self._has_schema_2():
            return [], []
        with self._read() as session:
            rows = session.exec(
                select(CaptureRecordRow.id, CaptureRecordRow.version, CaptureRecordRow.data)
            ).all()
        records: list[CaptureRecord] = []
        damaged: list[str] = []
        for row_id, version, blob in rows:
            try:
                data = self._fields.open(blob, "capture_record", "data", row_id, version)
                records.append(CaptureRecord.from_sealed(row_id, data))
            except (DamagedRecord, TypeError, ValueError):
                damaged.append(row_id)
        return records, damaged

    # ------------------------------------------------------------ sync records

    def _require_schema_3(self) -> None:
        if not self._has_schema_3():
            raise DamagedSpace(
                "the space is read-only at an older schema (it failed its integrity check)"
            )

    @staticmethod
    def _sync_record_rows(session: Session) -> list[tuple[str, int, bytes]]:
        # Plain driver SQL: for thousands of rows the ORM costs as much as decrypting.
        # In rowid order, which is the order the rows were first stored.
        result = session.connection().exec_driver_sql(
            "SELECT id, version, data FROM sync_record ORDER BY rowid"
        )
        return [(row_id, int(version), bytes(blob)) for row_id, version, blob in result]

    def _open_sync_record(self, row_id: str, version: int, blob: bytes) -> SyncRecord:
        sealed = self._fields.open(blob, "sync_record", "data", row_id, version)
        try:
            return SyncRecord.from_sealed(row_id, version, sealed)
        except ValueError as exc:
            raise DamagedRecord("sync_record", row_id, "data") from exc

    @staticmethod
    def _sync_record_versions(session: Session, ids: Iterable[str]) -> dict[str, int]:
        """The stored version of each of these ids that is stored."""
        connection = session.connection()
        wanted = list(dict.fromkeys(ids))
        versions: dict[str, int] = {}
        for start in range(0, len(wanted), 500):  # within any SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row_id, version in connection.exec_driver_sql(
                f"SELECT id, version FROM sync_record WHERE id IN ({marks})", tuple(chunk)
            ):
                versions[row_id] = int(version)
        return versions

    def _put_sync_records(
        self, session: Session, delta: _ManifestDelta, records: list[SyncRecord]
    ) -> list[SyncRecord]:
        """Insert or update records (already checked); returns them as stored."""
        # One lookup and two executemany for the batch: statement by statement,
        # SQLAlchemy's overhead would cost more than the cryptography.
        stored_versions = self._sync_record_versions(session, (r.id for r in records if r.id))
        current = dict(stored_versions)  # follows the batch, which may name an id twice
        rows: dict[str, tuple[int, bytes]] = {}
        stored: list[SyncRecord] = []
        stamp = now_iso()
        for record in records:
            row_id = record.id or str(uuid.uuid4())
            previous = current.get(row_id)
            version = 1 if previous is None else previous + 1
            saved = SyncRecord(row_id, record.kind, record.data, record.asset_ids, version, stamp)
            blob = self._fields.seal("sync_record", "data", row_id, version, saved.sealed_part())
            if previous is not None:
                delta.remove("sync_record", row_id, previous)
            delta.add("sync_record", row_id, version)
            current[row_id] = version
            rows[row_id] = (version, blob)
            stored.append(saved)
        connection = session.connection()
        inserts = [(i, v, b) for i, (v, b) in rows.items() if i not in stored_versions]
        updates = [(v, b, i) for i, (v, b) in rows.items() if i in stored_versions]
        if inserts:
            connection.exec_driver_sql(
                "INSERT INTO sync_record (id, version, data) VALUES (?, ?, ?)", inserts
            )
        if updates:
            connection.exec_driver_sql(
                "UPDATE sync_record SET version = ?, data = ? WHERE id = ?", updates
            )
        return stored

    def _delete_sync_records(
        self, session: Session, delta: _ManifestDelta, ids: Iterable[str]
    ) -> int:
        versions = self._sync_record_versions(session, ids)
        # No need to open the rows: deleting a damaged record is how it is cleaned up.
        for row_id, version in versions.items():
            delta.remove("sync_record", row_id, version)
        if versions:
            session.connection().exec_driver_sql(
                "DELETE FROM sync_record WHERE id = ?", [(row_id,) for row_id in versions]
            )
        return len(versions)

    @_database_errors
    def put_sync_record(self, record: SyncRecord) -> SyncRecord:
        """Insert or update one sync record; returns it as stored (see put_sync_records)."""
        return self.put_sync_records([record])[0]

    @_database_errors
    def put_sync_records(
        self, records: Iterable[SyncRecord], *, delete: Iterable[str] = ()
    ) -> list[SyncRecord]:
        """Insert or update sync records and delete others, all in one transaction.

        A record whose id is "" gets a new one; a record whose id is stored
        replaces it, one version up, whatever version it says (the last write
        wins). Returns the records as stored: with their ids, versions, update
        times, and `data` as it reads back (JSON: tuples become lists).
        ValueError, before anything is written, for a record the store cannot
        keep, or an id both put and deleted.
        """
        self._require_schema_3()
        checked = [_checked_sync_record(record) for record in records]
        removed = list(delete)
        both = {record.id for record in checked} & set(removed)
        if both:
            raise ValueError(f"sync record {sorted(both)[0]} is both put and deleted")
        with self._write() as (session, delta):
            stored = self._put_sync_records(session, delta, checked)
            self._delete_sync_records(session, delta, removed)
        return stored

    @_database_errors
    def sync_record(self, record_id: str) -> SyncRecord | None:
        """The sync record with this id, or None; DamagedRecord if it does not open."""
        if not self._has_schema_3():
            return None
        with self._read() as session:
            row = session.exec(
                select(SyncRecordRow.version, SyncRecordRow.data).where(
                    SyncRecordRow.id == record_id
                )
            ).first()
        if row is None:
            return None
        return self._open_sync_record(record_id, row[0], row[1])

    @_database_errors
    def sync_records(
        self, kind: str | None = None, asset_id: str | None = None
    ) -> list[SyncRecord]:
        """The sync records of this kind and concerning this asset (None: any), oldest
        update first; records written by one call share their update time and come
        in the order they were first stored.

        The kind and asset ids are sealed, so every record is opened to filter:
        some 0.1 to 0.5 s for 5,000 records (tests/store/test_sync_records.py
        prints it), so call it from a worker, not the GUI thread. Any damaged
        record raises DamagedRecord, naming it, since it might have been one of these.
        """
        if not self._has_schema_3():
            return []
        with self._read() as session:
            rows = self._sync_record_rows(session)
        found = []
        for row_id, version, blob in rows:
            record = self._open_sync_record(row_id, version, blob)
            if (kind is None or record.kind == kind) and (
                asset_id is None or asset_id in record.asset_ids
            ):
                found.append(record)
        found.sort(key=lambda record: record.updated)  # stable: keeps the rowid order
        return found

    @_database_errors
    def all_sync_records(self) -> tuple[list[SyncRecord], list[str]]:
        """Every sync record that opens, in sync_records' order, and the ids of those
        that do not: an export takes the readable ones and names the others."""
        if not self._has_schema_3():
            return [], []
        with self._read() as session:
            rows = self._sync_record_rows(session)
        found: list[SyncRecord] = []
        damaged: list[str] = []
        for row_id, version, blob in rows:
            try:
                found.append(self._open_sync_record(row_id, version, blob))
            except DamagedRecord:
                damaged.append(row_id)
        found.sort(key=lambda record: record.updated)
        return found, damaged

    @_database_errors
    def delete_sync_records(self, record_ids: Iterable[str]) -> int:
        """Delete sync records (damaged ones too) in one transaction; ids that are not
        stored are skipped. Returns how many were deleted."""
        self._require_schema_3()
        with self._write() as (session, delta):
            return self._delete_sync_records(session, delta, record_ids)

    # ----------------------------------------------------------------- imports

    @contextmanager
    def import_batch(self) -> Iterator[ImportBatch]:
        """One transaction for a whole import: everything written through the batch
        is committed together when the block ends, or nothing if it raises."""
        try:
            with self._write() as (session, delta):
                yield ImportBatch(self, session, delta)
        except sqlalchemy.exc.DatabaseError as exc:
            raise _store_error(exc) from exc

    # -------------------------------------------------------------- key slots

    @_database_errors
    def change_passphrase(self, new_passphrase: str) -> None:
        """Rewrap the data key for a new passphrase in one transaction."""
        if not new_passphrase:
            raise WeakPassphrase("the new passphrase must not be empty")
        self._require_engine()
        assert self._key is not None
        slot = make_passphrase_slot(self._key.dek, new_passphrase, self._key.space_id, self.policy)
        with self._lock, session_scope(self._require_engine()) as session:
            session.execute(delete(KeySlotRow).where(col(KeySlotRow.kind) == PASSPHRASE))
            session.add(KeySlotRow(**slot.__dict__))
        self._checkpoint()

    @_database_errors
    def recalibrate(self, passphrase: str) -> tuple[KdfParams, KdfParams]:
        """Re-derive the passphrase slot at a cost calibrated on this machine now.

        The passphrase is checked against the current slot first, so a typo can
        never replace it. Returns the old and the new parameters.
        """
        engine = self._require_engine()
        assert self._key is not None
        with Session(engine) as session:
            rows = list(session.exec(select(KeySlotRow).where(col(KeySlotRow.kind) == PASSPHRASE)))
        if len(rows) != 1:
            raise DamagedSpace(f"the space has {len(rows)} passphrase key slots, not 1")
        current = _slot_from_row(rows[0])
        old = check_passphrase_slot(current, self.policy)
        dek = open_passphrase_slot(current, passphrase, self._key.space_id, self.policy)
        dek[:] = bytes(len(dek))
        slot = make_passphrase_slot(self._key.dek, passphrase, self._key.space_id, self.policy)
        with self._lock, session_scope(engine) as session:
            session.execute(delete(KeySlotRow).where(col(KeySlotRow.kind) == PASSPHRASE))
            session.add(KeySlotRow(**slot.__dict__))
        self._checkpoint()
        return old, KdfParams.from_json(json.loads(slot.params))

    @_database_errors
    def replace_recovery_key(self) -> str:
        """Issue a new recovery key; the old one stops working (one transaction)."""
        self._require_engine()
        assert self._key is not None
        secret = new_recovery_secret()
        try:
            slot = make_recovery_slot(self._key.dek, secret, self._key.space_id)
            recovery_key = format_recovery_key(secret)
        finally:
            secret[:] = bytes(len(secret))
        with self._lock, session_scope(self._require_engine()) as session:
            session.execute(delete(KeySlotRow).where(col(KeySlotRow.kind) == RECOVERY))
            session.add(KeySlotRow(**slot.__dict__))
        self._checkpoint()
        return recovery_key

    def _checkpoint(self) -> None:
        """Fold the WAL into the file and truncate it (drops old page copies)."""
        with self._lock:
            connection = self._require_engine().raw_connection()
            try:
                # Another program reading the space can hold the checkpoint back;
                # retry for a while. If it still cannot finish, the last close does it.
                # Short waits here: the connection's usual busy timeout is 30 s.
                connection.execute("PRAGMA busy_timeout=100").fetchall()
                for _ in range(10):
                    busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if not busy:
                        break
                    time.sleep(0.05)
            finally:
                connection.execute("PRAGMA busy_timeout=30000").fetchall()
                connection.close()

    # ----------------------------------------------------------------- verify

    @_database_errors
    def verify(self) -> VerifyReport:
        """Check every record, attachment chunk, key slot and the manifest."""
        report = VerifyReport()
        problems = report.problems
        with self._read() as session:
            quick = [row[0] for row in session.connection().exec_driver_sql("PRAGMA quick_check")]
            if quick != ["ok"]:
                problems.extend(Problem("file", line) for line in quick[:20])
            kinds: list[str] = []
            for slot_row in session.exec(select(KeySlotRow)):
                kinds.append(slot_row.kind)
                if not _slot_from_row(slot_row).is_intact():
                    problems.append(Problem(f"{slot_row.kind} key slot", "damaged"))
            for kind in (PASSPHRASE, RECOVERY):
                if kinds.count(kind) != 1:
                    problems.append(
                        Problem(f"{kind} key slot", f"{kinds.count(kind)} found, expected 1")
                    )
            if set(kinds) - {PASSPHRASE, RECOVERY}:
                problems.append(Problem("key slots", "a key slot of an unknown kind is present"))
            asset_versions = dict(session.exec(select(AssetRow.id, AssetRow.version)).all())
            history_rows = session.exec(select(AssetVersionRow.id, AssetVersionRow.asset_id)).all()
            attachment_rows = session.exec(select(AttachmentRow.id, AttachmentRow.asset_id)).all()
            chunk_owners = set(session.exec(select(AttachmentChunkRow.attachment_id).distinct()))
            identity_rows = session.exec(select(IdentityRow)).all()
        problem = self._check_manifest()
        if problem:
            problems.append(Problem("manifest", problem))
        for record in self.iter_assets():
            if isinstance(record, DamagedRecord):
                problems.append(Problem(f"asset {record.row_id}", "damaged or tampered with"))
            report.assets += 1
        for history_id, asset_id in history_rows:
            report.versions += 1
            if asset_id not in asset_versions:
                problems.append(
                    Problem(f"asset {asset_id}", "missing, but its earlier versions are present")
                )
            with self._read() as session:
                row = session.get(AssetVersionRow, history_id)
            assert row is not None
            try:
                self._fields.open(
                    row.document, "asset_version", "document", row.id, row.version, row.asset_id
                )
            except DamagedRecord:
                problems.append(
                    Problem(f"asset {asset_id} version {row.version}", "damaged or tampered with")
                )
        attachment_ids = set()
        for attachment_id, asset_id in attachment_rows:
            attachment_ids.add(attachment_id)
            report.attachments += 1
            if asset_id not in asset_versions:
                problems.append(
                    Problem(f"attachment {attachment_id}", f"belongs to missing asset {asset_id}")
                )
            try:
                for chunk in self.read_attachment(attachment_id, check_digest=True):
                    report.attachment_bytes += len(chunk)
            except DamagedRecord as damage:
                problems.append(
                    Problem(f"attachment {attachment_id}", str(damage.column or damage))
                )
        for orphan in sorted(chunk_owners - attachment_ids):
            problems.append(
                Problem(f"attachment {orphan}", "its record is missing (chunks remain)")
            )
        if self._has_schema_2():
            self._verify_schema_2(problems)
        if self._has_schema_3():
            self._verify_schema_3(report)
        if len(identity_rows) != 1:
            problems.append(
                Problem("identity", f"{len(identity_rows)} identity keys found, expected 1")
            )
        for identity in identity_rows:
            try:
                public = self._fields.open(
                    identity.public_key, "identity", "public_key", identity.id, identity.version
                )
                private = self._identity.open(
                    identity.private_key, "identity", "private_key", identity.id, identity.version
                )
                derived = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private)).public_key()
                if derived.public_bytes_raw().hex() != public:
                    problems.append(Problem("identity", "the key pair does not match"))
            except (DamagedRecord, ValueError):
                problems.append(Problem("identity", "damaged or tampered with"))
        return report

    def _verify_schema_2(self, problems: list[Problem]) -> None:
        """Thumbnails open and belong to a present attachment; capture records open."""
        with self._read() as session:
            owners = dict(session.exec(select(AttachmentRow.id, AttachmentRow.asset_id)).all())
            thumbnail_ids = list(session.exec(select(AttachmentThumbnailRow.attachment_id)))
        for attachment_id in thumbnail_ids:
            with self._read() as session:
                row = session.get(AttachmentThumbnailRow, attachment_id)
            if row is None:  # deleted meanwhile
                continue
            if attachment_id not in owners:
                problems.append(Problem(f"thumbnail {attachment_id}", "its attachment is missing"))
                continue
            try:
                self._open_thumbnail(row, owners[attachment_id])
            except DamagedRecord:
                problems.append(Problem(f"thumbnail {attachment_id}", "damaged or tampered with"))
        _, damaged = self.capture_records()
        for record_id in damaged:
            problems.append(Problem(f"capture record {record_id}", "damaged or tampered with"))

    def _verify_schema_3(self, report: VerifyReport) -> None:
        """Every sync record opens and is well formed."""
        with self._read() as session:
            rows = self._sync_record_rows(session)
        for row_id, version, blob in rows:
            report.sync_records += 1
            try:
                self._open_sync_record(row_id, version, blob)
            except DamagedRecord:
                report.problems.append(Problem(f"sync record {row_id}", "damaged or tampered with"))


class ImportBatch:
    """Writes inside one import transaction (SpaceFile.import_batch).

    Unlike the everyday methods, these keep what the records say: asset and
    attachment ids, version numbers and timestamps, so that a space restored
    from an archive is the space that was exported. Reads see the batch's own
    writes. The caller decides what to write (app.portable merges); the batch
    only refuses what would break the space's invariants.
    """

    def __init__(self, store: SpaceFile, session: Session, delta: _ManifestDelta) -> None:
        self._store = store
        self._session = session
        self._delta = delta
        #: Ids of the assets whose current version this batch wrote.
        self.touched: set[str] = set()

    # ------------------------------------------------------------------ assets

    # Plain driver SQL on the batch's connection: an import runs these for every
    # asset, and building ORM statements would cost more than the cryptography.

    def _sql(self, statement: str, parameters: tuple[Any, ...]) -> list[Any]:
        result = self._session.connection().exec_driver_sql(statement, parameters)
        return list(result) if result.returns_rows else []

    def versions(self, asset_id: str) -> list[AssetRecord]:
        """Every version of an asset, oldest first (current last); [] if there is none."""
        rows = self._sql("SELECT version, summary, body FROM asset WHERE id = ?", (asset_id,))
        if not rows:
            return []
        current = self._store._open_asset_columns(asset_id, *rows[0])
        history = []
        for row_id, version, blob in self._sql(
            "SELECT id, version, document FROM asset_version WHERE asset_id = ? ORDER BY version",
            (asset_id,),
        ):
            document = self._store._fields.open(
                blob, "asset_version", "document", row_id, version, asset_id
            )
            history.append(AssetRecord.from_parts(asset_id, version, document, document))
        return [*history, current]

    def put_history(self, record: AssetRecord) -> None:
        """Store `record` as an earlier version (number `record.version`) of its asset."""
        taken = self._sql(
            "SELECT 1 FROM asset_version WHERE asset_id = ? AND version = ?",
            (record.id, record.version),
        )
        if taken or record.version < 1:
            raise ValueError(f"asset {record.id} already has a version {record.version}")
        history_id = str(uuid.uuid4())
        document = self._store._fields.seal(
            "asset_version", "document", history_id, record.version, record.document(),
            owner=record.id,
        )  # fmt: skip
        self._sql(
            "INSERT INTO asset_version (id, asset_id, version, document) VALUES (?, ?, ?, ?)",
            (history_id, record.id, record.version, document),
        )
        self._delta.add("asset_version", history_id, record.version)

    def put_current(self, record: AssetRecord, replaces: int | None) -> None:
        """Make `record` the asset's current version: a new asset when `replaces` is
        None, else in place of the current version numbered `replaces` (which is not
        kept: store it with put_history first to keep it)."""
        ((newest,),) = self._sql(
            "SELECT max(version) FROM asset_version WHERE asset_id = ?", (record.id,)
        )
        if newest is not None and newest >= record.version:
            raise ValueError(f"asset {record.id}: version {record.version} is not the newest")
        existing = self._sql("SELECT version FROM asset WHERE id = ?", (record.id,))
        summary, body = self._store._seal_asset(record)
        if replaces is None:
            if existing:
                raise ValueError(f"asset {record.id} already exists")
            self._sql(
                "INSERT INTO asset (id, version, summary, body) VALUES (?, ?, ?, ?)",
                (record.id, record.version, summary, body),
            )
        else:
            if not existing or existing[0][0] != replaces:
                raise ValueError(f"asset {record.id} is not at version {replaces}")
            self._delta.remove("asset", record.id, replaces)
            self._sql(
                "UPDATE asset SET version = ?, summary = ?, body = ? WHERE id = ?",
                (record.version, summary, body, record.id),
            )
        self._delta.add("asset", record.id, record.version)
        self.touched.add(record.id)

    # ------------------------------------------------------------- attachments

    def attachment(self, attachment_id: str) -> AttachmentInfo | None:
        row = self._session.get(AttachmentRow, attachment_id)
        return None if row is None else self._store._open_attachment_meta(row)

    def put_attachment(
        self,
        attachment_id: str,
        asset_id: str,
        source: IO[bytes],
        name: str,
        media_type: str,
        created: str,
        progress: Callable[[int], None] | None = None,
    ) -> AttachmentInfo:
        """Stream an attachment in under the given id; returns what was stored
        (its SHA-256 and size, for the caller to check)."""
        session = self._session
        if session.exec(select(AssetRow.id).where(AssetRow.id == asset_id)).first() is None:
            raise NoSuchAsset(asset_id)
        if session.get(AttachmentRow, attachment_id) is not None:
            raise ValueError(f"attachment {attachment_id} already exists")
        info = self._store._stream_attachment(
            session, self._delta, attachment_id, asset_id, source, name, media_type, progress,
            created=created,
        )  # fmt: skip
        # Written out and forgotten, so a large import does not pile up ORM objects.
        session.flush()
        session.expunge_all()
        return info

    def has_thumbnail(self, attachment_id: str) -> bool:
        return self._session.get(AttachmentThumbnailRow, attachment_id) is not None

    def put_thumbnail(self, attachment_id: str, png: bytes) -> None:
        """Store (or replace) an attachment's PNG thumbnail (ValueError if not a PNG)."""
        row = self._session.get(AttachmentRow, attachment_id)
        if row is None:
            raise NoSuchAttachment(attachment_id)
        self._store._put_thumbnail(self._session, self._delta, attachment_id, row.asset_id, png)

    # ---------------------------------------------------- identity and capture

    def replace_identity(self, private_key: bytes) -> None:
        """Make the raw Ed25519 private key the space's identity (a restored space)."""
        key = Ed25519PrivateKey.from_private_bytes(private_key)
        for row_id, version in self._session.exec(
            select(IdentityRow.id, IdentityRow.version)
        ).all():
            self._delta.remove("identity", row_id, version)
        self._session.execute(delete(IdentityRow))
        self._store._create_identity(self._session, self._delta, key)

    def capture_record_ids(self) -> set[str]:
        return set(self._session.exec(select(CaptureRecordRow.id)))

    def put_capture_record(self, record: CaptureRecord) -> None:
        """Store a capture record under its own id and date (ValueError if taken)."""
        if not record.id or self._session.get(CaptureRecordRow, record.id) is not None:
            raise ValueError(f"capture record {record.id!r} already exists")
        data = self._store._fields.seal(
            "capture_record", "data", record.id, 1, record.sealed_part()
        )
        self._session.execute(insert(CaptureRecordRow), [{"id": record.id, "version": 1,
                                                           "data": data}])  # fmt: skip
        self._delta.add("capture_record", record.id, 1)

    # ------------------------------------------------------------ sync records

    def sync_record(self, record_id: str) -> SyncRecord | None:
        """The sync record stored under this id (the batch's own writes included), or
        None; DamagedRecord if it does not open."""
        self._store._require_schema_3()
        rows = self._sql("SELECT version, data FROM sync_record WHERE id = ?", (record_id,))
        if not rows:
            return None
        return self._store._open_sync_record(record_id, int(rows[0][0]), bytes(rows[0][1]))

    def put_sync_record(self, record: SyncRecord) -> None:
        """Store a sync record with the id, version and update time it has (everyday
        writes set the last two), replacing any record of that id. ValueError if the
        store cannot keep it."""
        self._store._require_schema_3()
        checked = _checked_sync_record(record)
        version = record.version
        if not record.id or isinstance(version, bool) or not isinstance(version, int):
            raise ValueError("an imported sync record needs its id and version")
        if not 1 <= version < 1 << 62 or not isinstance(record.updated, str):
            raise ValueError(f"sync record {record.id}: bad version or update time")
        saved = dataclasses.replace(checked, version=version, updated=record.updated)
        blob = self._store._fields.seal("sync_record", "data", saved.id, version,
                                        saved.sealed_part())  # fmt: skip
        previous = self._sql("SELECT version FROM sync_record WHERE id = ?", (saved.id,))
        if previous:
            self._delta.remove("sync_record", saved.id, int(previous[0][0]))
            self._sql("UPDATE sync_record SET version = ?, data = ? WHERE id = ?",
                      (version, blob, saved.id))  # fmt: skip
        else:
            self._sql("INSERT INTO sync_record (id, version, data) VALUES (?, ?, ?)",
                      (saved.id, version, blob))  # fmt: skip
        self._delta.add("sync_record", saved.id, version)
