"""LEAP2A export: a zip with `leap2a.xml` (an Atom feed) and the attachments.

Follows the Leap2A 2010-07 specification as Mahara and PebblePad read it
(namespace http://terms.leapspecs.org/, CURIE-style types and relations such
as `leap2:plan`, `leap2:has_part`). How each template maps is in docs/exports.md:
journal entries become blog-post entries in a Blog selection, plans become
`leap2:plan` with their actions as `leap2:plan` parts, records of experiences
become activities or meetings, evidence becomes a `leap2:resource` whose files
are resource items with an `enclosure`, skills become `leap2:ability` items.
Tags are plain Atom categories. Every asset also carries its template id and
answers in Cairn's own namespace, which other systems ignore and Cairn's
importer uses to bring the asset back exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from app.exports.bundle import (
    ExportItem,
    OutputTree,
    Steps,
    UniqueNames,
    attachment_file_names,
    gather,
    read_attachment,
    selected_records,
    slug,
)
from app.forms.library import TemplateLibrary
from app.forms.render import markdown_to_html, to_markdown
from app.imports.leap2a import CAIRN
from app.space import Space
from app.transfer import ExportJob, TransferReport
from store.records import AttachmentInfo

ATOM = "http://www.w3.org/2005/Atom"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
LEAP2 = "http://terms.leapspecs.org/"
CATEGORIES = "http://wiki.leapspecs.org/2A/categories/"
VERSION = "http://www.leapspecs.org/2010-07/2A/"
ENTRY_PREFIX = "portfolio:"

#: Template kind -> Leap2A item type.
KIND_TYPES = {
    "journal": "entry",
    "reflection": "entry",
    "plan": "plan",
    "record": "activity",
    "log": "activity",
    "notes": "entry",
    "evidence": "resource",
    "assessment": "ability",
}
#: Templates that are better described by a narrower type than their kind's.
TEMPLATE_TYPES = {
    "builtin/coaching-session": "meeting",
    "builtin/interaction": "meeting",
    "builtin/event-notes": "activity",
    "builtin/reading-notes": "publication",
}
#: Date fields that say something Leap2A has a place for: field id -> date point.
DATE_POINTS = {"deadline": "target", "due": "target", "period_start": "start", "period_end": "end"}
_STAGES = (
    ("completed", ("done", "complete", "completed", "achieved", "met")),
    ("suspended", ("dropped", "cancelled", "canceled", "paused", "on-hold", "abandoned")),
    ("planned", ("not-started", "planned", "todo", "to-do")),
)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text made safe for XML 1.0 content (invalid characters dropped, markup escaped)."""
    return escape(_XML_INVALID.sub("", text))


def xml_attr(text: str) -> str:
    return quoteattr(_XML_INVALID.sub("", text))


def stage_for(status: str) -> str:
    """A Leap2A status stage for a template's status value."""
    value = status.strip().lower()
    for stage, words in _STAGES:
        if value in words:
            return stage
    return "progressing"


def leap_type(item: ExportItem) -> str:
    if item.record.template_id in TEMPLATE_TYPES:
        return TEMPLATE_TYPES[item.record.template_id]
    return KIND_TYPES.get(item.kind, "entry")


def asset_entry_id(asset_id: str) -> str:
    return f"{ENTRY_PREFIX}asset-{asset_id}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stamp(value: str) -> str:
    """An RFC 3339 time for Atom (a bare date becomes midnight UTC)."""
    if not value:
        return _now()
    if len(value) == 10:
        return f"{value}T00:00:00Z"
    return value


def body_html(item: ExportItem, names: dict[str, str]) -> str:
    """The asset's answers as sanitised HTML, without its title and facts line."""
    record = item.record
    if item.kind == "journal" and isinstance(record.fields.get("entry"), str):
        return markdown_to_html(record.fields["entry"])
    text = to_markdown(record, item.template, names.get)
    # to_markdown starts "# Title", "", "*facts*", "": the entry has its own title.
    lines = text.split("\n")
    return markdown_to_html("\n".join(lines[4:]))


class _Feed:
    """Collects the feed's entries and the files they enclose."""

    def __init__(self, items: list[ExportItem]) -> None:
        self.items = items
        self.entries: list[str] = []
        self.files: list[tuple[AttachmentInfo, str]] = []
        self.names = {info.id: info.name for item in items for info in item.attachments}
        titles = {item.record.id: item.record.title for item in items}
        self.names.update(titles)
        self.exported = set(titles)
        folders = UniqueNames(separator="-")
        self.file_paths: dict[str, str] = {}
        for item in items:
            if item.attachments:
                folder = folders.take(slug(item.record.title, "asset"))
                names = attachment_file_names(item.attachments)
                for info in item.attachments:
                    self.file_paths[info.id] = f"files/{folder}/{names[info.id]}"
        self.abilities = self._abilities()

    def _abilities(self) -> dict[str, str]:
        """Skill name (casefolded) -> the entry id of its ability item."""
        abilities: dict[str, str] = {}
        for item in self.items:
            if leap_type(item) == "ability":
                for skill in item.record.skills or [item.record.title]:
                    abilities.setdefault(skill.casefold(), asset_entry_id(item.record.id))
        return abilities

    def ability_for(self, skill: str) -> str:
        key = skill.casefold()
        if key not in self.abilities:
            self.abilities[key] = (
                f"{ENTRY_PREFIX}ability-{slug(skill, 'skill')}-{len(self.abilities)}"
            )
            self.entries.append(
                _entry(
                    title=skill,
                    entry_id=self.abilities[key],
                    updated=_now(),
                    content="",
                    content_type="text",
                    leap="ability",
                    extra=[
                        _link("leap2:has_evidence", asset_entry_id(item.record.id))
                        for item in self.items
                        if key in {s.casefold() for s in item.record.skills}
                        and leap_type(item) != "ability"
                    ],
                )  # fmt: skip
            )
        return self.abilities[key]


def _link(rel: str, href: str, **attributes: str) -> str:
    extra = "".join(f" {name.replace('__', ':')}={xml_attr(value)}"
                    for name, value in attributes.items())  # fmt: skip
    return f"<link rel={xml_attr(rel)} href={xml_attr(href)}{extra}/>"


def _category(term: str, scheme: str | None = None, label: str | None = None) -> str:
    parts = [f"term={xml_attr(term)}"]
    if scheme:
        parts.append(f"scheme={xml_attr('categories:' + scheme + '#')}")
    if label:
        parts.append(f"label={xml_attr(label)}")
    return f"<category {' '.join(parts)}/>"


def _entry(
    *,
    title: str,
    entry_id: str,
    updated: str,
    content: str,
    content_type: str,
    leap: str,
    published: str | None = None,
    extra: list[str] | None = None,
) -> str:
    lines = [
        "  <entry>",
        f"    <title>{xml_text(title)}</title>",
        f"    <id>{xml_text(entry_id)}</id>",
        f"    <updated>{xml_text(_stamp(updated))}</updated>",
    ]
    if published:
        lines.append(f"    <published>{xml_text(_stamp(published))}</published>")
    lines.append(f'    <content type="{content_type}">{xml_text(content)}</content>')
    lines.append(f'    <rdf:type rdf:resource="leap2:{leap}"/>')
    lines += [f"    {line}" for line in extra or []]
    lines.append("  </entry>")
    return "\n".join(lines)


def _asset_entry(feed: _Feed, item: ExportItem, journal_id: str | None) -> None:
    record = item.record
    kind = leap_type(item)
    extra: list[str] = []
    if item.template is not None:
        extra.append(
            f"<cairn:template cairn:version={xml_attr(record.template_version or '')}>"
            f"{xml_text(record.template_id)}</cairn:template>"
        )
    else:
        extra.append(f"<cairn:template>{xml_text(record.template_id)}</cairn:template>")
    fields = json.dumps(record.fields, ensure_ascii=False, sort_keys=True)
    extra.append(f"<cairn:fields>{xml_text(fields)}</cairn:fields>")
    if record.earlier:
        earlier = json.dumps(record.earlier, ensure_ascii=False, sort_keys=True)
        extra.append(f"<cairn:earlier>{xml_text(earlier)}</cairn:earlier>")
    if journal_id is not None:
        extra.append(_link("leap2:is_part_of", journal_id))
    if item.kind == "reflection":
        extra.append(_category("Reflecting", "learning_cycle"))
    if kind == "resource":
        extra.append(_category("Offline", "resource_type", "Evidence"))
    if kind == "publication":
        extra.append(_category("Printed", "resource_type"))
    extra += [_category(tag) for tag in record.tags]
    # Relations to other exported assets: a link field says the asset supports the
    # other (evidence's "supports") or relates to it; links made by hand are "related".
    for link in record.links:
        target = str(link.get("target", ""))
        if target in feed.exported:
            field_id = link.get("field")
            rel = "related" if not field_id else "leap2:relation"
            if field_id == "supports":
                rel = "leap2:supports"
            extra.append(_link(rel, asset_entry_id(target)))
    if kind != "ability":
        for skill in record.skills:
            extra.append(_link("leap2:is_evidence_of", feed.ability_for(skill)))
    # Files: parts of a piece of evidence, otherwise related to the asset.
    for info in item.attachments:
        rel = "leap2:has_part" if kind == "resource" else "related"
        extra.append(_link(rel, f"{ENTRY_PREFIX}file-{info.id}"))
    # Dates and status where Leap2A has a place for them.
    for field_id, value in record.fields.items():
        point = DATE_POINTS.get(field_id)
        if point is None and field_id == "date" and item.kind != "journal":
            point = "start" if kind in ("activity", "meeting") else "end"
        if point and isinstance(value, str) and value:
            extra.append(f'<leap2:date leap2:point="{point}">{xml_text(value)}</leap2:date>')
    status = record.fields.get("status")
    if kind == "plan" and isinstance(status, str) and status:
        extra.append(
            f'<leap2:status leap2:stage="{stage_for(status)}"'
            f" leap2:label={xml_attr(record.status or status)}/>"
        )
    actions = _plan_actions(item) if kind == "plan" else []
    for number, _action in enumerate(actions, start=1):
        extra.append(
            _link(
                "leap2:has_part",
                f"{asset_entry_id(record.id)}-action-{number}",
                leap2__display_order=str(number),
            )  # fmt: skip
        )
    feed.entries.append(
        _entry(
            title=record.title,
            entry_id=asset_entry_id(record.id),
            updated=record.updated,
            published=record.created,
            content=body_html(item, feed.names),
            content_type="html",
            leap=kind,
            extra=extra,
        )
    )
    for number, action in enumerate(actions, start=1):
        _action_entry(feed, item, number, action)
    for info in item.attachments:
        _file_entry(feed, item, info, kind)


def _plan_actions(item: ExportItem) -> list[dict[str, object]]:
    """The checklist items of a plan's checklist fields, in order."""
    actions: list[dict[str, object]] = []
    for spec in item.template.fields if item.template else ():
        value = item.record.fields.get(spec.id)
        if spec.type == "checklist" and isinstance(value, list):
            actions += [a for a in value if isinstance(a, dict) and str(a.get("text", "")).strip()]
    return actions


def _action_entry(feed: _Feed, item: ExportItem, number: int, action: dict[str, object]) -> None:
    plan_id = asset_entry_id(item.record.id)
    extra = [_link("leap2:is_part_of", plan_id, leap2__display_order=str(number))]
    if action.get("due"):
        extra.append(
            f'<leap2:date leap2:point="target">{xml_text(str(action["due"]))}</leap2:date>'
        )
    stage = "completed" if action.get("done") else "planned"
    extra.append(f'<leap2:status leap2:stage="{stage}"/>')
    feed.entries.append(
        _entry(
            title=str(action.get("text", "")),
            entry_id=f"{plan_id}-action-{number}",
            updated=item.record.updated,
            content="",
            content_type="text",
            leap="plan",
            extra=extra,
        )
    )


def _file_entry(feed: _Feed, item: ExportItem, info: AttachmentInfo, kind: str) -> None:
    path = feed.file_paths[info.id]
    extra = [
        _category("Offline", "resource_type", "File"),
        _link(
            "enclosure",
            path,
            type=info.media_type or "application/octet-stream",
            length=str(info.size),
        ),  # fmt: skip
        _link(
            "leap2:is_part_of" if kind == "resource" else "related", asset_entry_id(item.record.id)
        ),  # fmt: skip
    ]
    feed.entries.append(
        _entry(
            title=info.name,
            entry_id=f"{ENTRY_PREFIX}file-{info.id}",
            updated=info.created,
            published=info.created,
            content="",
            content_type="text",
            leap="resource",
            extra=extra,
        )
    )
    feed.files.append((info, path))


def feed_xml(space: Space, items: list[ExportItem]) -> tuple[str, list[tuple[AttachmentInfo, str]]]:
    """The whole leap2a.xml text, and (attachment, path in the zip) for every file."""
    feed = _Feed(items)
    journals = [item for item in items if item.kind == "journal"]
    journal_id = f"{ENTRY_PREFIX}journal" if journals else None
    for item in items:
        _asset_entry(feed, item, journal_id if item.kind == "journal" else None)
    if journal_id is not None:
        parts = [_link("leap2:has_part", asset_entry_id(i.record.id)) for i in journals]
        feed.entries.append(
            _entry(
                title="Journal",
                entry_id=journal_id,
                updated=max(i.record.updated for i in journals),
                content="",
                content_type="text",
                leap="selection",
                extra=[_category("Blog", "selection_type"), *parts],
            )
        )
    updated = max((item.record.updated for item in items), default="") or _now()
    head = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="{ATOM}"',
        f'    xmlns:rdf="{RDF}"',
        f'    xmlns:leap2="{LEAP2}"',
        f'    xmlns:categories="{CATEGORIES}"',
        f'    xmlns:portfolio="urn:cairn:space:{space.space_id}/"',
        f'    xmlns:cairn="{CAIRN}">',
        f"  <leap2:version>{VERSION}</leap2:version>",
        f"  <id>urn:cairn:space:{xml_text(space.space_id)}:leap2a:{xml_text(_now())}</id>",
        "  <title>Learning portfolio (Cairn LEAP2A export)</title>",
        f"  <updated>{xml_text(_stamp(updated))}</updated>",
        '  <generator uri="urn:cairn">Cairn</generator>',
        "  <author><name>Portfolio holder</name></author>",
    ]
    return "\n".join([*head, *feed.entries, "</feed>", ""]), feed.files


def export_leap2a(job: ExportJob) -> TransferReport:
    """Write the selection as a LEAP2A zip (leap2a.xml and files/) to `job.out`."""
    space = job.space
    records, skipped = selected_records(job)
    items = gather(space, records, TemplateLibrary.load())
    text, files = feed_xml(space, items)
    steps = Steps(len(files) + 1, job.report_progress, job.cancelled)
    steps.check()
    report = TransferReport("leap2a", assets=len(items), skipped=skipped)
    with OutputTree(job.out, as_zip=True) as tree:
        tree.write_text("leap2a.xml", text)
        for info, path in files:

            def chunks(attachment: AttachmentInfo = info) -> Iterator[bytes]:
                for chunk in read_attachment(space, attachment):
                    yield chunk
                    steps.check()

            tree.write_chunks(path, chunks(), info.media_type)
            report.files += 1
            report.bytes += info.size
            steps.advance()
        report.path = tree.commit()
    steps.advance()
    return report
