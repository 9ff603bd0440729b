"""The Space: an unlocked personal learning space and what a person can do with it.

This is the facade the desktop app and the command line share. It composes
the encrypted store with the in-memory search index, which is built after
unlock (in a background thread unless asked otherwise).
"""

from __future__ import annotations

import io
import mimetypes
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from app.forms.answers import link_targets, summary_facts
from app.forms.model import Template
from store.errors import DamagedRecord, NoSuchAsset, NoSuchAttachment, StoreError
from store.kdf import PRODUCTION_POLICY, KdfParams, KdfPolicy
from store.records import (
    AssetRecord,
    AssetSummary,
    AttachmentInfo,
    SpaceHeader,
    SyncRecord,
    VerifyReport,
    VersionInfo,
)
from store.search import SearchHit, SearchIndex, flatten_text
from store.spacefile import CaptureRecord, ImportBatch, NewAsset, SpaceFile

MIN_ID_PREFIX = 4
#: Only images up to this size are decoded for a thumbnail (app.thumbnails.MAX_THUMBNAIL_SOURCE;
#: repeated here so that attaching a file never imports Qt unless an image needs it).
THUMBNAIL_SOURCE_LIMIT = 64 * 1024 * 1024


class AmbiguousId(StoreError):
    """An id prefix matches more than one asset or attachment."""


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Trim, drop empties and case-insensitive duplicates, keep the first spelling."""
    seen: set[str] = set()
    result: list[str] = []
    for tag in tags:
        cleaned = " ".join(tag.split())
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            result.append(cleaned)
    return result


def _resolve(prefix: str, ids: Iterable[str], missing: Exception) -> str:
    prefix = prefix.strip().lower()
    candidates = [item for item in ids if item.startswith(prefix)]
    if prefix in candidates:
        return prefix
    if len(prefix) < MIN_ID_PREFIX or not candidates:
        raise missing
    if len(candidates) > 1:
        raise AmbiguousId(f"{prefix!r} matches {len(candidates)} items; give more characters")
    return candidates[0]


def looks_like_image(media_type: str) -> bool:
    """True for an image/* media type (the same test as app.thumbnails.is_image, without Qt)."""
    return media_type.split(";", 1)[0].strip().lower().startswith("image/")


def make_thumbnail(data: bytes) -> bytes | None:
    """A PNG thumbnail of image bytes, or None (not an image, too big, or no QtGui here)."""
    if not data or len(data) > THUMBNAIL_SOURCE_LIMIT:
        return None
    try:  # QtGui is imported only when an image needs it; a headless box may lack its libraries
        from app.thumbnails import thumbnail_png
    except ImportError:
        return None
    return thumbnail_png(data)


def _source_size(source: IO[bytes]) -> int | None:
    """Bytes left to read, when that can be known without reading."""
    if isinstance(source, io.BytesIO):
        return len(source.getbuffer()) - source.tell()
    try:
        return os.fstat(source.fileno()).st_size - source.tell()
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None


class Space:
    """An unlocked space. Call `lock()` when done; keys and index go with it."""

    def __init__(self, store: SpaceFile, *, index: str = "background") -> None:
        self._store = store
        self._index = SearchIndex()
        self._index_ready = threading.Event()
        self._index_error: BaseException | None = None
        self._index_thread: threading.Thread | None = None
        if index == "background":
            self._index_thread = threading.Thread(
                target=self._build_index, name="cairn-index", daemon=True
            )
            self._index_thread.start()
        elif index == "now":
            self._build_index()

    # ----------------------------------------------------------------- opening

    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: str,
        *,
        kdf_policy: KdfPolicy = PRODUCTION_POLICY,
        space_id: str | None = None,
    ) -> tuple[Space, str]:
        """Create a space; returns it with the recovery key, which is shown only once.
        `space_id` is for restoring a space from an archive under its own id."""
        store, recovery_key = SpaceFile.create(Path(path), passphrase, kdf_policy,
                                               space_id=space_id)  # fmt: skip
        return cls(store, index="lazy"), recovery_key

    @classmethod
    def open(
        cls,
        path: Path,
        passphrase: str,
        *,
        kdf_policy: KdfPolicy = PRODUCTION_POLICY,
        index: str = "background",
    ) -> Space:
        """Unlock with the passphrase. `index`: "background", "now" or "lazy"."""
        return cls(SpaceFile.unlock(Path(path), passphrase, kdf_policy), index=index)

    @classmethod
    def open_with_recovery_key(
        cls,
        path: Path,
        recovery_key: str,
        *,
        kdf_policy: KdfPolicy = PRODUCTION_POLICY,
        index: str = "lazy",
    ) -> Space:
        store = SpaceFile.unlock_with_recovery_key(Path(path), recovery_key, kdf_policy)
        return cls(store, index=index)

    @staticmethod
    def read_header(path: Path) -> SpaceHeader:
        return SpaceFile.read_header(Path(path))

    def lock(self) -> None:
        """Drop the keys and the search index and close the file."""
        self._store.lock()
        if self._index_thread is not None:
            self._index_thread.join(timeout=10)
        self._index.close()

    def __enter__(self) -> Space:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock()

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def space_id(self) -> str:
        return self._store.space_id

    @property
    def integrity_problem(self) -> str | None:
        """Why the space is read-only (failed manifest check), or None."""
        return self._store.integrity_problem

    # ------------------------------------------------------------------ assets

    def resolve_asset_id(self, prefix: str) -> str:
        return _resolve(prefix, self._store.asset_ids(), NoSuchAsset(prefix))

    def resolve_attachment_id(self, prefix: str) -> str:
        return _resolve(prefix, self._store.attachment_ids(), NoSuchAttachment(prefix))

    def add_asset(
        self,
        template_id: str,
        title: str,
        fields: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        links: Iterable[str] = (),
        template_version: str | None = None,
        template: Template | None = None,
    ) -> AssetRecord:
        """Create an asset. With its `template`, the summary also gets the skills
        and status, and every asset named in a link field is linked."""
        values = dict(fields or {})
        explicit = [{"target": self.resolve_asset_id(link)} for link in links]
        skills, status = summary_facts(template, values) if template else ([], "")
        return self.add_assets(
            [
                NewAsset(
                    template_id=template_id,
                    title=title,
                    fields=values,
                    tags=normalise_tags(tags),
                    links=self._with_field_links(explicit, template, values),
                    template_version=template_version or (template.version if template else None),
                    skills=skills,
                    status=status,
                )
            ]
        )[0]

    def _with_field_links(
        self, links: list[dict[str, str]], template: Template | None, values: dict[str, Any]
    ) -> list[dict[str, str]]:
        """Links made by hand, then one per asset named in the template's link fields."""
        result = [link for link in links if "field" not in link]
        if template is None:
            return result + [link for link in links if "field" in link]
        targets = link_targets(template, values)
        known = set(self._store.asset_ids()) if targets else set()
        seen = {(link["target"], "") for link in result}
        for field_id, target in targets:
            if target in known and (target, field_id) not in seen:
                seen.add((target, field_id))
                result.append({"target": target, "field": field_id})
        return result

    def add_assets(self, assets: Iterable[NewAsset]) -> list[AssetRecord]:
        """Create many assets in one durable commit (imports, benchmarks)."""
        records = self._store.insert_assets(assets)
        for record in records:
            self._index_record(record)
        return records

    def get_asset(self, asset_id: str) -> AssetRecord:
        return self._store.get_asset(asset_id)

    def iter_assets(self) -> Iterable[AssetRecord | DamagedRecord]:
        """Every asset in full (damaged ones as DamagedRecord), in batches."""
        return self._store.iter_assets()

    def list_assets(self) -> tuple[list[AssetSummary], list[str]]:
        """Readable assets, most recently updated first, and the ids of damaged ones."""
        summaries, damaged = self._store.list_summaries()
        summaries.sort(key=lambda s: (s.updated, s.created, s.id), reverse=True)
        return summaries, damaged

    def edit_asset(
        self,
        asset_id: str,
        *,
        title: str | None = None,
        set_fields: Mapping[str, Any] | None = None,
        unset_fields: Iterable[str] = (),
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        add_links: Iterable[str] = (),
        remove_links: Iterable[str] = (),
        fields: Mapping[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        links: Iterable[Mapping[str, str]] | None = None,
        template_version: str | None = None,
        earlier: Mapping[str, Any] | None = None,
        template: Template | None = None,
    ) -> AssetRecord:
        """Save a new version; the previous one is kept in history.

        `links` replaces the links made by hand (as `{"target": id}`); `add_links`
        and `remove_links` change them. `template_version` and `earlier` record
        an upgrade to a newer version of the asset's template (see
        app.forms.answers.upgrade_answers). With the `template`, the skills,
        status and link-field links are recomputed from the answers.
        """
        current = self._store.get_asset(asset_id)
        record = AssetRecord(**current.__dict__)
        if title is not None:
            record.title = title
        if template_version is not None:
            record.template_version = template_version
        if earlier is not None:
            record.earlier = dict(earlier)
        record.fields = dict(fields) if fields is not None else dict(current.fields)
        record.fields.update(set_fields or {})
        for name in unset_fields:
            record.fields.pop(name, None)
        removed = {tag.casefold() for tag in remove_tags}
        base = list(tags) if tags is not None else current.tags
        record.tags = [t for t in normalise_tags([*base, *add_tags]) if t.casefold() not in removed]
        unlinked = {self.resolve_asset_id(link) for link in remove_links}
        if links is not None:
            kept = [{"target": self.resolve_asset_id(str(link["target"]))} for link in links]
            kept += [link for link in current.links if "field" in link]
        else:
            kept = list(current.links)
        kept = [link for link in kept if link.get("target") not in unlinked]
        for link in add_links:
            target = self.resolve_asset_id(link)
            if all(existing.get("target") != target or "field" in existing for existing in kept):
                kept.append({"target": target})
        record.links = self._with_field_links(kept, template, record.fields)
        if template is not None:
            record.skills, record.status = summary_facts(template, record.fields)
        saved = self._store.update_asset(record, current.version)
        self._index_record(saved)
        return saved

    def history(self, asset_id: str) -> list[VersionInfo]:
        return self._store.history(asset_id)

    def get_version(self, asset_id: str, version: int) -> AssetRecord:
        return self._store.get_version(asset_id, version)

    def asset_versions(self, asset_id: str) -> list[AssetRecord]:
        """Every version in full, oldest first; the last is current (for the archive)."""
        return self._store.asset_versions(asset_id)

    def iter_asset_versions(self) -> Iterable[list[AssetRecord] | DamagedRecord]:
        """Every asset with every version, in id order, in batches (for the archive)."""
        return self._store.iter_asset_versions()

    def restore_version(self, asset_id: str, version: int) -> AssetRecord:
        """Make an earlier version current again (as a new version; nothing is lost)."""
        old = self._store.get_version(asset_id, version)
        current = self._store.get_asset(asset_id)
        record = AssetRecord(**{**old.__dict__, "id": asset_id, "version": current.version})
        saved = self._store.update_asset(record, current.version)
        self._index_record(saved)
        return saved

    def delete_asset(self, asset_id: str) -> None:
        self._store.delete_asset(asset_id)
        self._index.remove(asset_id)

    def linked_from(self, asset_id: str) -> list[AssetSummary]:
        """Assets whose links point at this one (the other side of a link)."""
        summaries, _ = self._store.list_summaries()
        return [s for s in summaries if any(link.get("target") == asset_id for link in s.links)]

    # ------------------------------------------------------------- attachments

    def attach(
        self,
        asset_id: str,
        source: Path | IO[bytes],
        name: str | None = None,
        media_type: str | None = None,
        progress: Callable[[int], None] | None = None,
        *,
        thumbnail: bool = False,
    ) -> AttachmentInfo:
        """Stream a file into the space as an attachment of the asset.

        With `thumbnail`, an image of at most THUMBNAIL_SOURCE_LIMIT bytes also
        gets a PNG thumbnail, stored encrypted in the same transaction. Such an
        image is read into memory once and streamed from there; bigger files
        and other types are streamed as always and never decoded.
        """
        if isinstance(source, Path):
            name = name or source.name
            media_type = media_type or mimetypes.guess_type(source.name)[0]
            with source.open("rb") as handle:
                return self.attach(asset_id, handle, name, media_type, progress,
                                   thumbnail=thumbnail)  # fmt: skip
        media_type = media_type or "application/octet-stream"
        png = None
        if thumbnail and looks_like_image(media_type):
            size = _source_size(source)
            if size is not None and size <= THUMBNAIL_SOURCE_LIMIT:
                data = source.read()
                png = make_thumbnail(data)
                source = io.BytesIO(data)
        return self._store.add_attachment(
            asset_id, source, name or "attachment", media_type, progress, png
        )

    def add_asset_with_file(
        self,
        template_id: str,
        title: str,
        source: IO[bytes],
        *,
        name: str,
        media_type: str | None = None,
        fields: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        attachment_field: str | None = None,
        template: Template | None = None,
        template_version: str | None = None,
        thumbnail: bytes | None = None,
        capture: CaptureRecord | None = None,
        before_commit: Callable[[AttachmentInfo], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[AssetRecord, AttachmentInfo, CaptureRecord | None]:
        """Create an asset with one file, in one transaction: the asset, the
        attachment (listed in `attachment_field`), its `thumbnail` PNG and a
        capture record. See SpaceFile.add_asset_with_attachment."""
        values = dict(fields or {})
        skills, status = summary_facts(template, values) if template else ([], "")
        new = NewAsset(
            template_id=template_id,
            title=title,
            fields=values,
            tags=normalise_tags(tags),
            links=[],
            template_version=template_version,
            skills=skills,
            status=status,
        )
        record, info, stored = self._store.add_asset_with_attachment(
            new,
            source,
            name,
            media_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
            attachment_field=attachment_field,
            thumbnail=thumbnail,
            capture=capture,
            before_commit=before_commit,
            progress=progress,
        )
        self._index_record(record)
        return record, info, stored

    def set_thumbnail(self, attachment_id: str, png: bytes) -> None:
        """Store (or replace) an attachment's PNG thumbnail, encrypted."""
        self._store.set_thumbnail(attachment_id, png)

    def thumbnail(self, attachment_id: str) -> bytes | None:
        """The attachment's stored PNG thumbnail, or None if it has none."""
        return self._store.thumbnail(attachment_id)

    def all_attachments(self) -> tuple[list[AttachmentInfo], list[str]]:
        """Every readable attachment's record (not its content), and the ids of damaged ones."""
        return self._store.list_all_attachments()

    # ----------------------------------------------------------------- capture

    def capture_records(self) -> tuple[list[CaptureRecord], list[str]]:
        """What the capture service took in so far (readable records, damaged ids)."""
        return self._store.capture_records()

    def add_capture_record(self, record: CaptureRecord) -> CaptureRecord:
        return self._store.add_capture_record(record)

    def has_asset(self, asset_id: str) -> bool:
        """Whether an asset with exactly this id exists (no decryption)."""
        return asset_id in self._store.asset_ids()

    def attachments(self, asset_id: str) -> list[AttachmentInfo]:
        return self._store.list_attachments(asset_id)

    def get_attachment(self, attachment_id: str) -> AttachmentInfo:
        return self._store.get_attachment(attachment_id)

    def read_attachment(self, attachment_id: str) -> Iterable[bytes]:
        """Plaintext chunks; raises DamagedRecord (possibly after some chunks)."""
        return self._store.read_attachment(attachment_id)

    def extract(self, attachment_id: str, out: Path) -> AttachmentInfo:
        """Write an attachment to `out`, byte-identical, or leave nothing behind."""
        from app.files import atomic_writer

        info = self._store.get_attachment(attachment_id)
        with atomic_writer(out) as handle:
            for chunk in self._store.read_attachment(attachment_id):
                handle.write(chunk)
        return info

    def delete_attachment(self, attachment_id: str) -> None:
        self._store.delete_attachment(attachment_id)

    # ------------------------------------------------------------ sync records

    def put_sync_record(self, record: SyncRecord) -> SyncRecord:
        """Insert or update what the sync client keeps; returns it as stored."""
        return self._store.put_sync_record(record)

    def put_sync_records(
        self, records: Iterable[SyncRecord], *, delete: Iterable[str] = ()
    ) -> list[SyncRecord]:
        """Insert or update several records and delete others, all in one transaction."""
        return self._store.put_sync_records(records, delete=delete)

    def sync_record(self, record_id: str) -> SyncRecord | None:
        return self._store.sync_record(record_id)

    def sync_records(
        self, kind: str | None = None, asset_id: str | None = None
    ) -> list[SyncRecord]:
        """Sync records of a kind and/or concerning an asset, oldest update first."""
        return self._store.sync_records(kind, asset_id)

    def all_sync_records(self) -> tuple[list[SyncRecord], list[str]]:
        """Every readable sync record, and the ids of damaged ones (for an export)."""
        return self._store.all_sync_records()

    def delete_sync_records(self, record_ids: Iterable[str]) -> int:
        """Delete sync records in one transaction; returns how many there were."""
        return self._store.delete_sync_records(record_ids)

    # ------------------------------------------------------------------ search

    def _index_record(self, record: AssetRecord) -> None:
        if self._index_ready.is_set() or self._index_thread is not None:
            self._index.put(
                record.id, record.version, record.title, flatten_text(record.fields), record.tags
            )

    def _build_index(self) -> None:
        try:
            for record in self._store.iter_assets():
                if isinstance(record, DamagedRecord):
                    continue
                self._index.put(
                    record.id, record.version, record.title, flatten_text(record.fields),
                    record.tags,
                )  # fmt: skip
        except Exception as exc:  # reported to whoever searches next
            self._index_error = exc
        finally:
            self._index_ready.set()

    def build_index(self) -> None:
        """Build the index now (blocking) unless it is built or being built."""
        if self._index_thread is None and not self._index_ready.is_set():
            self._build_index()

    @property
    def index_ready(self) -> bool:
        return self._index_ready.is_set()

    def wait_for_index(self, timeout: float | None = None) -> bool:
        self.build_index()
        return self._index_ready.wait(timeout)

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Full-text search, best match first; waits for the index if it is building."""
        self.wait_for_index()
        if self._index_error is not None:
            raise self._index_error
        return self._index.search(query, limit)

    # ---------------------------------------------------------- keys & checks

    def change_passphrase(self, new_passphrase: str) -> None:
        self._store.change_passphrase(new_passphrase)

    def recalibrate(self, passphrase: str) -> tuple[KdfParams, KdfParams]:
        """Re-derive the passphrase slot at this machine's cost now; (old, new) parameters."""
        return self._store.recalibrate(passphrase)

    def replace_recovery_key(self) -> str:
        """A new recovery key, shown once; the previous one no longer opens the space."""
        return self._store.replace_recovery_key()

    def verify(self) -> VerifyReport:
        return self._store.verify()

    def identity_public_key(self) -> bytes:
        return self._store.identity_public_key()

    def sign(self, data: bytes) -> bytes:
        return self._store.sign(data)

    def export_identity(self) -> bytes:
        """The raw Ed25519 private key; only the encrypted portable archive writes it."""
        return self._store.export_identity()

    # ----------------------------------------------------------------- imports

    @contextmanager
    def import_batch(self) -> Iterator[ImportBatch]:
        """One all-or-nothing transaction for an import (see store.spacefile.ImportBatch);
        the search index learns the imported assets once it is committed."""
        with self._store.import_batch() as batch:
            yield batch
        if self._index_ready.is_set() or self._index_thread is not None:
            for asset_id in batch.touched:
                self._index_record(self._store.get_asset(asset_id))
