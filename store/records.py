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
