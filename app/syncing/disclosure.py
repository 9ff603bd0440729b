"""Choosing what to send: a preview of exactly what would leave the device, and the
signed, frozen submission that goes into the outbox once the person confirms.

Nothing here talks to a server. ``preview`` builds the very snapshots that will be
signed, so what the person sees is what is sent: every answered field with the label
they saw, every attachment with its size, and, for their information, the assets the
chosen ones link to that are *not* included (their titles stay on the device; links to
them are left out of the snapshot).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.forms.library import TemplateLibrary
from app.forms.model import FieldSpec, Template
from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import Account
from app.syncing.errors import DisclosureError
from store.errors import NoSuchAsset
from store.records import AssetRecord, AttachmentInfo, SyncRecord
from sync.protocol import (
    MAX_ASSETS,
    MAX_ATTACHMENTS,
    SUBMISSION_FORMAT,
    AssetSnapshot,
    AttachmentRef,
    SignedDocument,
    SnapshotField,
    SubmissionPayload,
    canonical_json,
    key_id,
    signing_message,
    verify_bytes,
)

#: Largest signed body the server takes (base64 of it must stay under 12,000,000).
MAX_BODY_BYTES = 8_900_000
_MAX_TITLE = 500
_MAX_LABEL = 500


@dataclass(frozen=True)
class PreviewField:
    """One answer as it will be sent: its label, type, the value, and the value as text."""

    name: str
    label: str
    type: str
    value: Any
    text: str


@dataclass(frozen=True)
class PreviewAttachment:
    attachment_id: str
    name: str
    size: int
    sha256: str
    media_type: str


@dataclass(frozen=True)
class PreviewAsset:
    asset_id: str
    version: int
    title: str
    template: str
    fields: tuple[PreviewField, ...]
    attachments: tuple[PreviewAttachment, ...]
    tags: tuple[str, ...]
    skills: tuple[str, ...]
    status: str


@dataclass(frozen=True)
class LinkedAsset:
    """An asset that a chosen one links to, which is *not* included."""

    asset_id: str
    title: str
    linked_from: tuple[str, ...]


@dataclass(frozen=True)
class Preview:
    """Exactly what a submission would disclose, and where it would go."""

    account_id: str
    server_url: str
    workspace_id: str
    workspace_name: str
    point_id: str
    point_name: str
    assets: tuple[PreviewAsset, ...]
    not_included: tuple[LinkedAsset, ...]
    snapshots: tuple[AssetSnapshot, ...] = field(repr=False)

    @property
    def attachment_bytes(self) -> int:
        return sum(a.size for asset in self.assets for a in asset.attachments)

    @property
    def attachment_count(self) -> int:
        return sum(len(asset.attachments) for asset in self.assets)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the command line's ``--json`` and anything that wants to show it."""
        return {
            "account_id": self.account_id,
            "server_url": self.server_url,
            "workspace": {"id": self.workspace_id, "name": self.workspace_name},
            "point": {"id": self.point_id, "name": self.point_name},
            "assets": [
                {
                    "id": a.asset_id, "version": a.version, "title": a.title,
                    "template": a.template, "tags": list(a.tags), "skills": list(a.skills),
                    "status": a.status,
                    "fields": [{"name": f.name, "label": f.label, "type": f.type,
                                "value": f.value} for f in a.fields],
                    "attachments": [{"id": x.attachment_id, "name": x.name, "size": x.size,
                                     "sha256": x.sha256, "media_type": x.media_type}
                                    for x in a.attachments],
                }  # fmt: skip
                for a in self.assets
            ],
            "not_included": [
                {"id": n.asset_id, "title": n.title, "linked_from": list(n.linked_from)}
                for n in self.not_included
            ],
            "attachment_count": self.attachment_count,
            "attachment_bytes": self.attachment_bytes,
        }


# ------------------------------------------------------------------ preview


def preview(
    space: Space,
    asset_ids: Sequence[str],
    account: Account,
    point_id: str,
    *,
    library: TemplateLibrary | None = None,
    include_tags: bool = False,
) -> Preview:
    """What sending these assets to this submission point would disclose.

    Ids may be unique prefixes. Tags are personal and stay on the device unless
    ``include_tags``. DisclosureError if nothing (or too much) is chosen or an asset
    cannot be put in a snapshot; NoSuchAsset for an id that is not there.
    """
    chosen = list(dict.fromkeys(space.resolve_asset_id(a) for a in asset_ids))
    if not chosen:
        raise DisclosureError("choose at least one asset to send")
    if len(chosen) > MAX_ASSETS:
        raise DisclosureError(f"a submission holds at most {MAX_ASSETS} assets; choose fewer")
    point_name = next((p["name"] for p in account.points if p["id"] == point_id), point_id)
    assets, snapshots = _snapshots(space, chosen, library or TemplateLibrary.load(), include_tags)
    return Preview(
        account_id=account.id,
        server_url=account.server_url,
        workspace_id=account.workspace_id,
        workspace_name=account.workspace_name,
        point_id=point_id,
        point_name=point_name,
        assets=tuple(assets),
        not_included=tuple(_not_included(space, chosen)),
        snapshots=tuple(snapshots),
    )


def _snapshots(
    space: Space, chosen: list[str], library: TemplateLibrary, include_tags: bool
) -> tuple[list[PreviewAsset], list[AssetSnapshot]]:
    records = {asset_id: space.get_asset(asset_id) for asset_id in chosen}
    titles = {asset_id: _clip(r.title, _MAX_TITLE) for asset_id, r in records.items()}
    assets: list[PreviewAsset] = []
    snapshots: list[AssetSnapshot] = []
    for asset_id in chosen:
        record = records[asset_id]
        template = library.exact(record.template_id)
        files = space.attachments(asset_id)
        if len(files) > MAX_ATTACHMENTS:
            raise DisclosureError(
                f"{record.title!r} has {len(files)} attachments; at most {MAX_ATTACHMENTS} "
                "can be sent with one asset"
            )
        names = {f.id: f.name for f in files}
        fields = _fields(record, template, titles, names)
        attachments = [
            PreviewAttachment(f.id, _clip(f.name, 255), f.size, f.sha256,
                              _clip(f.media_type or "application/octet-stream", 127))
            for f in files
        ]  # fmt: skip
        tags = tuple(record.tags) if include_tags else ()
        try:
            snapshot = AssetSnapshot(
                asset_id=record.id, version=record.version, kind=template.kind if template else "",
                title=titles[asset_id] or "Untitled", template=record.template_id[:200],
                template_version=(record.template_version or None) and record.template_version[:40],
                fields=[SnapshotField(name=f.name, label=f.label, type=f.type, value=f.value)
                        for f in fields],
                tags=[t[:200] for t in tags], skills=[s[:200] for s in record.skills if s][:100],
                status=record.status[:100], created=record.created[:40],
                updated=record.updated[:40],
                attachments=[AttachmentRef(sha256=a.sha256, name=a.name, size=a.size,
                                           media_type=a.media_type) for a in attachments],
            )  # fmt: skip
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise DisclosureError(
                f"{record.title!r} cannot be sent as it is ({where}: {problem['msg']})"
            ) from exc
        snapshots.append(snapshot)
        assets.append(
            PreviewAsset(
                asset_id=record.id, version=record.version, title=snapshot.title,
                template=template.name if template else record.template_id,
                fields=tuple(fields), attachments=tuple(attachments), tags=tuple(snapshot.tags),
                skills=tuple(snapshot.skills), status=snapshot.status,
            )  # fmt: skip
        )
    return assets, snapshots


def _fields(
    record: AssetRecord, template: Template | None, titles: dict[str, str], names: dict[str, str]
) -> list[PreviewField]:
    """The answered fields in the template's order (then any it does not know), with the
    values as a reviewer should read them."""
    found: list[PreviewField] = []
    specs = list(template.fields) if template else []
    known = {spec.id for spec in specs}
    for spec in specs:
        value = _sent_value(spec, record.fields.get(spec.id), titles, names)
        if not _is_empty(value):
            found.append(PreviewField(spec.id, _clip(spec.label or spec.id, _MAX_LABEL),
                                      spec.type[:30], value, display_text(value)))  # fmt: skip
    for name in sorted(set(record.fields) - known):
        value = record.fields[name]
        if _is_empty(value) or not 1 <= len(name) <= 100:
            continue
        kind = "markdown" if isinstance(value, str) and "\n" in value else "text"
        label = name.replace("_", " ").capitalize()
        found.append(PreviewField(name, label, kind, value, display_text(value)))
    return found


def _sent_value(
    spec: FieldSpec, value: Any, titles: dict[str, str], names: dict[str, str]
) -> Any:
    """An answer as it goes in a snapshot: attachments and included links by name, links to
    assets that are not included left out, choices by their label, checklist items as
    lines, group rows by their fields' labels."""
    if _is_empty(value):
        return None
    kind = spec.type
    if kind == "attachment" and isinstance(value, list):
        return [names[str(v)] for v in value if str(v) in names]
    if kind == "link" and isinstance(value, list):
        return [titles[str(v)] for v in value if str(v) in titles]
    if kind == "choice" and isinstance(value, str):
        option = next((o for o in spec.options if o.value == value), None)
        return option.label if option else value
    if kind == "multichoice" and isinstance(value, list):
        labels = {o.value: o.label for o in spec.options}
        return [labels.get(str(v), v) for v in value]
    if kind == "checklist" and isinstance(value, list):
        return [_checklist_line(item) for item in value]
    if kind == "group" and isinstance(value, list):
        rows = []
        for row in value:
            if not isinstance(row, dict):
                continue
            shown: dict[str, Any] = {}
            for sub in spec.fields:
                sent = _sent_value(sub, row.get(sub.id), titles, names)
                if not _is_empty(sent):
                    shown[sub.label or sub.id] = sent
            if shown:
                rows.append(shown)
        return rows
    return value


def _checklist_line(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    mark = "[x]" if item.get("done") else "[ ]"
    due = f" (by {item['due']})" if item.get("due") else ""
    return f"{mark} {item.get('text', '')}{due}"


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def display_text(value: Any) -> str:
    """A value as one line of text, for a preview or a terminal."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(display_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {display_text(v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False) if value is not None else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _not_included(space: Space, chosen: list[str]) -> list[LinkedAsset]:
    wanted = set(chosen)
    linking: dict[str, list[str]] = {}
    for asset_id in chosen:
        for link in space.get_asset(asset_id).links:
            target = link.get("target")
            if target and target not in wanted:
                linking.setdefault(target, [])
                if asset_id not in linking[target]:
                    linking[target].append(asset_id)
    found = []
    for target, sources in linking.items():
        try:
            title = space.get_asset(target).title
        except NoSuchAsset:  # a link to an asset deleted since: nothing to leave out
            continue
        found.append(LinkedAsset(target, title, tuple(sources)))
    return found


# -------------------------------------------------------------------- queue


def sign_document_with_space(space: Space, purpose: str, body: bytes) -> SignedDocument:
    """Sign canonical JSON bytes with the space's identity key, the protocol's way."""
    public = space.identity_public_key()
    signature = space.sign(signing_message(purpose, body))
    verify_bytes(public, purpose, body, signature)  # a key that does not sign is caught here
    return SignedDocument(
        body=base64.b64encode(body).decode("ascii"),
        signature=base64.b64encode(signature).decode("ascii"),
        key_id=key_id(public),
    )


def check_unchanged(space: Space, snapshots: Iterable[AssetSnapshot]) -> list[AttachmentInfo]:
    """The attachments of the previewed assets, once each asset is still at the version
    the person saw and each attachment still there as it was; DisclosureError if not."""
    files: list[AttachmentInfo] = []
    for snapshot in snapshots:
        try:
            current = space.get_asset(snapshot.asset_id)
        except NoSuchAsset as exc:
            raise DisclosureError(f"{snapshot.title!r} was deleted after the preview") from exc
        if current.version != snapshot.version:
            raise DisclosureError(
                f"{snapshot.title!r} changed after the preview; look at the preview again"
            )
        present = {f.sha256: f for f in space.attachments(snapshot.asset_id)}
        for ref in snapshot.attachments:
            if ref.sha256 not in present or present[ref.sha256].size != ref.size:
                raise DisclosureError(
                    f"the attachment {ref.name!r} of {snapshot.title!r} changed after the "
                    "preview; look at the preview again"
                )
            files.append(present[ref.sha256])
    return files


def queue_submission(space: Space, shown: Preview) -> SyncRecord:
    """Freeze the previewed snapshots into a submission, sign it with the space's identity
    key and put it in the outbox, in one transaction; returns the outbox entry.

    The submission id is chosen here: it is what makes every later retry idempotent.
    DisclosureError if an asset or attachment changed since the preview.
    """
    files = check_unchanged(space, shown.snapshots)
    payload = SubmissionPayload(
        submission_id=uuid.uuid4(),
        workspace_id=uuid.UUID(shown.workspace_id),
        point_id=uuid.UUID(shown.point_id),
        identity_key=space.identity_public_key().hex(),
        created_at=kinds.utc_now(),
        assets=list(shown.snapshots),
    )
    body = canonical_json(payload)
    if len(body) > MAX_BODY_BYTES:
        raise DisclosureError("there is too much text to send in one submission; choose fewer "
                              "assets")  # fmt: skip
    signed = sign_document_with_space(space, SUBMISSION_FORMAT, body)
    uploads: dict[str, dict[str, Any]] = {}
    for info in files:  # each content once, even if two assets hold it
        uploads.setdefault(info.sha256, {"attachment_id": info.id, "sha256": info.sha256,
                                         "size": info.size, "name": info.name})  # fmt: skip
    submission_id = str(payload.submission_id)
    entry = SyncRecord(
        submission_id,
        kinds.OUTBOX,
        {
            "submission_id": submission_id,
            "account_id": shown.account_id,
            "server_url": shown.server_url,
            "workspace_id": shown.workspace_id,
            "workspace_name": shown.workspace_name,
            "point_id": shown.point_id,
            "point_name": shown.point_name,
            "titles": [a.title for a in shown.assets],
            "document": signed.model_dump(),
            "attachments": list(uploads.values()),
            "attachment_bytes": sum(u["size"] for u in uploads.values()),
            "state": "queued",
            "attempts": 0,
            "last_error": None,
            "error_code": None,
            "next_attempt": None,
            "queued_at": kinds.iso(kinds.utc_now()),
            "delivered_at": None,
            "receipt_id": None,
        },
        [a.asset_id for a in shown.assets],
    )
    return space.put_sync_record(entry)

