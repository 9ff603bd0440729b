"""Imports are staged in full, then written in one transaction: all or nothing.

An importer first reads and checks everything (parsing, every referenced file
present and within limits) into StagedAssets; only then does `write_staged`
touch the space, through `Space.import_batch()`: one SQLite transaction in
which every asset (with its own date), every attachment and thumbnail, and
every link is written. Ids are chosen before writing, so answers that name an
attachment or another imported asset are right in the first version. An
error, a cancel or a crash before the commit leaves the space as it was.
"""

from __future__ import annotations

import io
import mimetypes
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from app.forms.answers import link_targets, summary_facts
from app.forms.model import Template
from app.space import (
    THUMBNAIL_SOURCE_LIMIT,
    Space,
    looks_like_image,
    make_thumbnail,
    normalise_tags,
)
from app.transfer import ImportJob, TransferReport
from store.records import AssetRecord, AttachmentInfo, now_iso
from store.spacefile import ImportBatch


@dataclass
class StagedFile:
    """A file to attach, not yet read: `open` gives its bytes when written."""

    key: str  # the source's own id for it (an entry id, a path)
    name: str
    size: int
    open: Callable[[], IO[bytes]]
    media_type: str = ""

    def __post_init__(self) -> None:
        if not self.media_type:
            self.media_type = mimetypes.guess_type(self.name)[0] or "application/octet-stream"


@dataclass
class StagedAsset:
    """One asset to create, with its files and references to other staged assets."""

    key: str  # the source's own id (an entry id, a file path), for references
    template: Template
    title: str
    fields: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    created: str | None = None
    files: list[StagedFile] = field(default_factory=list)
    #: The attachment field that lists all the files (evidence's "file")...
    attachment_field: str | None = None
    #: ...or attachment field id -> keys of the files it lists.
    attachment_fields: dict[str, list[str]] = field(default_factory=dict)
    #: Link field id -> keys of other staged assets it names.
    links: dict[str, list[str]] = field(default_factory=dict)
    #: Keys of other staged assets to link to by hand (not through a field).
    related: list[str] = field(default_factory=list)
    earlier: dict[str, Any] = field(default_factory=dict)
    #: The template version the answers were written against, when the source says
    #: (None: unknown); by default the template's current version.
    template_version: str | None = None
    keep_template_version: bool = False


def _record(
    staged: StagedAsset, asset_id: str, fields: dict[str, Any], hand_links: list[str]
) -> AssetRecord:
    template = staged.template
    links = [{"target": target} for target in dict.fromkeys(hand_links)]
    seen: set[tuple[str, str]] = set()
    for field_id, target in link_targets(template, fields):
        if (target, field_id) not in seen:
            seen.add((target, field_id))
            links.append({"target": target, "field": field_id})
    skills, status = summary_facts(template, fields)
    stamp = staged.created or now_iso()
    return AssetRecord(
        id=asset_id,
        version=1,
        template_id=template.qualified_id,
        template_version=(
            staged.template_version if staged.keep_template_version else template.version
        ),
        title=staged.title,
        fields=fields,
        tags=normalise_tags(staged.tags),
        links=links,
        created=stamp,
        updated=stamp,
        earlier=dict(staged.earlier),
        skills=skills,
        status=status,
    )


def write_staged(
    space: Space, staged: list[StagedAsset], job: ImportJob, report: TransferReport
) -> None:
    """Write the staged assets and their files in one transaction (or nothing, and raise)."""
    job.check_cancelled()
    asset_ids = {s.key: str(uuid.uuid4()) for s in staged}
    file_ids = {(s.key, f.key): str(uuid.uuid4()) for s in staged for f in s.files}
    total = len(staged) + sum(len(s.files) for s in staged)
    done = files = size = 0
    with space.import_batch() as batch:
        for s in staged:
            fields = dict(s.fields)
            own_files = [file_ids[(s.key, f.key)] for f in s.files]
            if s.attachment_field and own_files:
                fields[s.attachment_field] = own_files
            for field_id, keys in s.attachment_fields.items():
                ids = [file_ids[(s.key, key)] for key in keys if (s.key, key) in file_ids]
                if ids:
                    fields[field_id] = ids
            for field_id, keys in s.links.items():
                targets = [asset_ids[key] for key in keys if key in asset_ids]
                if targets:
                    fields[field_id] = list(dict.fromkeys(targets))
            hand_links = [asset_ids[key] for key in s.related if key in asset_ids and key != s.key]
            batch.put_current(_record(s, asset_ids[s.key], fields, hand_links), None)
            done += 1
            job.report_progress(done, total)
        job.check_cancelled()
        for s in staged:
            for staged_file in s.files:
                job.check_cancelled()
                attachment_id = file_ids[(s.key, staged_file.key)]
                info = _put_file(batch, attachment_id, asset_ids[s.key], staged_file)
                files += 1
                size += info.size
                done += 1
                job.report_progress(done, total)
        job.check_cancelled()
    report.assets += len(staged)
    report.files += files
    report.bytes += size


def _put_file(
    batch: ImportBatch, attachment_id: str, asset_id: str, staged: StagedFile
) -> AttachmentInfo:
    """Stream a file in; an image small enough also gets its thumbnail."""
    created = now_iso()
    with staged.open() as source:
        if looks_like_image(staged.media_type) and staged.size <= THUMBNAIL_SOURCE_LIMIT:
            data = source.read(THUMBNAIL_SOURCE_LIMIT + 1)
            info = batch.put_attachment(
                attachment_id, asset_id, io.BytesIO(data), staged.name, staged.media_type, created
            )
            png = make_thumbnail(data)
            if png is not None:
                batch.put_thumbnail(attachment_id, png)
            return info
        return batch.put_attachment(
            attachment_id, asset_id, source, staged.name, staged.media_type, created
        )
