"""Plain data the store hands out: decrypted assets, summaries, versions, attachments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class AssetRecord:
    """One asset as the person wrote it (one version)."""

    id: str
    version: int
    template_id: str
    title: str
    fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    template_version: str | None = None
    created: str = ""
    updated: str = ""
    #: Answers to fields that the current template version no longer has.
    earlier: dict[str, Any] = field(default_factory=dict)
    #: Facts the library lists without decrypting bodies (see app.forms.answers.summary_facts).
    skills: list[str] = field(default_factory=list)
    status: str = ""

    def summary_part(self) -> dict[str, Any]:
        part: dict[str, Any] = {
            "title": self.title,
            "template": {"id": self.template_id, "version": self.template_version},
            "tags": self.tags,
            "links": self.links,
            "created": self.created,
            "updated": self.updated,
        }
        if self.skills:
            part["skills"] = self.skills
        if self.status:
            part["status"] = self.status
        return part

    def body_part(self) -> dict[str, Any]:
        if self.earlier:
            return {"fields": self.fields, "earlier": self.earlier}
        return {"fields": self.fields}

    def document(self) -> dict[str, Any]:
        return {**self.summary_part(), **self.body_part()}

    @classmethod
    def from_parts(
        cls, asset_id: str, version: int, summary: dict[str, Any], body: dict[str, Any]
    ) -> AssetRecord:
        template = summary.get("template") or {}
        return cls(
            id=asset_id,
            version=version,
            template_id=str(template.get("id", "")),
            template_version=template.get("version"),
            title=str(summary.get("title", "")),
            fields=dict(body.get("fields") or {}),
            tags=list(summary.get("tags") or []),
            links=list(summary.get("links") or []),
            created=str(summary.get("created", "")),
            updated=str(summary.get("updated", "")),
            earlier=dict(body.get("earlier") or {}),
            skills=[str(s) for s in summary.get("skills") or []],
            status=str(summary.get("status") or ""),
        )


@dataclass
class AssetSummary:
    """What a list of assets needs, without the fields."""

    id: str
    version: int
    title: str
    template_id: str
    template_version: str | None
    tags: list[str]
    links: list[dict[str, str]]
    created: str
    updated: str
    skills: list[str] = field(default_factory=list)
    status: str = ""

    @classmethod
    def from_summary(cls, asset_id: str, version: int, summary: dict[str, Any]) -> AssetSummary:
        template = summary.get("template") or {}
        return cls(
            id=asset_id,
            version=version,
            title=str(summary.get("title", "")),
            template_id=str(template.get("id", "")),
            template_version=template.get("version"),
            tags=list(summary.get("tags") or []),
            links=list(summary.get("links") or []),
            created=str(summary.get("created", "")),
            updated=str(summary.get("updated", "")),
            skills=[str(s) for s in summary.get("skills") or []],
            status=str(summary.get("status") or ""),
        )


@dataclass(frozen=True)
class VersionInfo:
    version: int
    saved: str
    title: str
    current: bool


@dataclass(frozen=True)
class AttachmentInfo:
    id: str
    asset_id: str
    name: str
    size: int
    sha256: str
    media_type: str
    created: str


@dataclass(frozen=True)
class Problem:
    """One finding of `verify`: where, and what is wrong there."""

    where: str
    what: str


@dataclass
class VerifyReport:
    problems: list[Problem] = field(default_factory=list)
    assets: int = 0
    versions: int = 0
    attachments: int = 0
    attachment_bytes: int = 0
    sync_records: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class SpaceHeader:
    """What anyone holding the file can read without a passphrase."""

    format_version: int
    schema_version: int
    space_id: str
    assets: int
    versions: int
    attachments: int
    attachment_bytes: int
    kdf: dict[str, Any]


@dataclass(frozen=True)
class SyncRecord:
    """One thing the sync client keeps in the space, sealed whole (see docs/security.md).

    `kind` says what it is ("account", "outbox", "receipt", "event", "resource"...;
    the store does not interpret it), `data` holds its contents as JSON (binary
    values, such as signed documents as received, go in as base64 text), and
    `asset_ids` names the assets it concerns, so that records can be found by
    asset. `id` is a canonical UUID, or "" for the store to choose one. The
    store sets `version` (1 on insert, one more on each update) and `updated`
    when it writes the record; the values passed in are ignored.
    """

    id: str
    kind: str
    data: dict[str, Any]
    asset_ids: list[str] = field(default_factory=list)
    version: int = 1
    updated: str = ""

    def sealed_part(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "asset_ids": self.asset_ids, "data": self.data,
            "updated": self.updated,
        }  # fmt: skip

    @classmethod
    def from_sealed(cls, row_id: str, version: int, sealed: Any) -> SyncRecord:
        """The record a sealed value describes; ValueError if it is not one."""
        if not isinstance(sealed, dict):
            raise ValueError("not a sync record")
        kind, asset_ids = sealed.get("kind"), sealed.get("asset_ids")
        data, updated = sealed.get("data"), sealed.get("updated")
        if (
            not isinstance(kind, str)
            or not isinstance(data, dict)
            or not isinstance(updated, str)
            or not isinstance(asset_ids, list)
            or not all(isinstance(item, str) for item in asset_ids)
        ):
            raise ValueError("not a sync record")
        return cls(row_id, kind, data, asset_ids, version, updated)
