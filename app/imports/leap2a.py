"""LEAP2A import (Mahara, PebblePad, Cairn): a zip with leap2a.xml and files, or bare XML.

The XML is parsed with defusedxml: a DTD, entities (billion laughs) and
external references are refused before anything is read into the space.
Namespaces are recognised by what they point at, so the spec's
`http://terms.leapspecs.org/`, Mahara's web.archive.org-wrapped copies of it,
the CETIS 2011 terms and the 2009 draft predicates and types all read alike.

What becomes what (see docs/exports.md for the whole table): blog posts and
plain entries become journal entries; plans and their task parts become SMART
action plans with checklist actions; activities become learning experiences;
resources and files become evidence with attachments; abilities and
achievements become skills (in the skills field of the items they are linked
to, and a skill self-assessment when they say more than their name);
selections become tags. Whatever cannot be mapped is named in the report's
warnings. Entries written by Cairn carry their template and answers, and come
back exactly.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from app.forms.answers import summary_facts
from app.forms.library import TemplateLibrary
from app.forms.model import Template
from app.imports.htmltext import html_to_markdown, plain_to_markdown
from app.imports.sources import Files, FolderFiles, ZipFiles, resolve_relative
from app.imports.staging import StagedAsset, StagedFile, write_staged
from app.space import Space
from app.transfer import DamagedArchive, ImportJob, InvalidInput, Limits, TransferReport

ATOM = "http://www.w3.org/2005/Atom"
#: Cairn's extension elements in LEAP2A (template id and answers); others ignore them.
CAIRN = "urn:cairn:leap2a:1"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XHTML = "http://www.w3.org/1999/xhtml"
THREADING = "http://purl.org/syndication/thread/1.0"
MAHARA_MARK = "mahara.org"
#: Where Leap2A terms live, without scheme (compared lower-case, categories first).
CATEGORY_BASES = (
    "wiki.leapspecs.org/2a/categories",
    "www.leapspecs.org/2a/categories",
    "www.cetis.org.uk/leap2/a/categories",
    "wiki.cetis.ac.uk/2009-03/leap2a_categories",
)
TERM_BASES = (
    "terms.leapspecs.org",
    "www.cetis.org.uk/leap2/terms",
    "wiki.leapspecs.org/2a",
    "wiki.cetis.ac.uk/2009-03/leap2a_predicates",
    "wiki.cetis.ac.uk/2009-03/leap2a_types",
)
XML_NAMES = ("leap2a.xml", "leap2.xml", "leap.xml")
#: Relations by which an item points at a file item it holds or uses.
FILE_RELS_OUT = {
    "has_part",
    "related",
    "relation",
    "enclosure",
    "has_evidence",
    "supported_by",
    "has_attachment",
    "attachment",
}
#: Relations by which a file item points back at the item holding it.
FILE_RELS_IN = {"is_part_of", "related", "relation", "is_evidence_of", "supports"}
#: Relations that become links between imported assets.
RELATION_RELS = {
    "related",
    "relation",
    "supports",
    "supported_by",
    "reflects_on",
    "reflected_on_by",
    "has_evidence",
    "is_evidence_of",
    "has_outcome",
    "is_outcome_of",
    "has_agenda",
    "is_agenda_of",
    "attends",
    "attended_by",
}
SKILL_TYPES = ("ability", "achievement")
EVIDENCE_RELS = {"has_evidence", "is_evidence_of", "supports", "supported_by", "related"}
STAGE_STATUS = {
    "planned": "not-started",
    "progressing": "in-progress",
    "completed": "done",
    "suspended": "dropped",
}
_ARCHIVE_PREFIX = re.compile(r"^https?://web\.archive\.org/web/[0-9]+[a-z_]*/", re.IGNORECASE)


def _plain_uri(uri: str) -> str:
    """A namespace or term URI without archive wrapper, scheme or :80, for comparing."""
    uri = _ARCHIVE_PREFIX.sub("", uri.strip())
    uri = re.sub(r"^https?://", "", uri, flags=re.IGNORECASE)
    return re.sub(r"^([^/]+):80(?=/|$)", r"\1", uri)


def classify(uri: str) -> tuple[str, str] | None:
    """("category", scheme) or ("term", name) for a Leap2A URI, else None."""
    plain = _plain_uri(uri)
    lowered = plain.lower()
    for kind, bases in (("category", CATEGORY_BASES), ("term", TERM_BASES)):
        for base in bases:
            if lowered.startswith(base):
                rest = plain[len(base) :].strip("/#")
                return kind, rest
    return None


def is_leap_namespace(namespace: str) -> bool:
    found = classify(namespace)
    return found is not None and found[0] == "term" and not found[1]


@dataclass
class Link:
    rel: str  # a Leap2A term ("has_part") or an Atom relation ("enclosure")
    href: str
    media_type: str = ""
    order: int | None = None


@dataclass(eq=False)
class Entry:
    """One Atom entry, read into plain values."""

    id: str
    title: str
    position: int
    types: list[str] = field(default_factory=list)
    content: str = ""  # Markdown
    content_src: str | None = None
    published: str | None = None
    updated: str | None = None
    links: list[Link] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    categories: list[tuple[str, str, str]] = field(default_factory=list)  # scheme, term, label
    dates: dict[str, str] = field(default_factory=dict)  # point -> value or label
    stage: str | None = None
    extras: list[str] = field(default_factory=list)  # degraded facts, "My role: ..."
    reply: bool = False
    mahara_type: str = ""
    mahara_plugin: str = ""
    cairn_template: str | None = None
    cairn_version: str | None = None
    cairn_fields: str | None = None
    cairn_earlier: str | None = None

    @property
    def leap_type(self) -> str:
        return self.types[0] if self.types else "entry"

    def category(self, scheme: str) -> str | None:
        return next((term for s, term, _label in self.categories if s == scheme), None)


@dataclass
class Feed:
    entries: list[Entry]
    author: str = ""
    generator: str = ""
    ignored: Counter[str] = field(default_factory=Counter)


# ------------------------------------------------------------------ parsing


def _namespaces(data: bytes) -> dict[str, str]:
    """Every prefix the document declares (Leap2A uses them inside attribute values)."""
    prefixes: dict[str, str] = {}
    for _event, (prefix, uri) in SafeET.iterparse(
        _BytesSource(data), events=("start-ns",), forbid_dtd=True
    ):
        prefixes.setdefault(prefix, uri)
    return prefixes


class _BytesSource:
    """A file-like object over bytes (iterparse wants something with read())."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else min(len(self._data), self._at + size)
        chunk = bytes(self._data[self._at : end])
        self._at = end
        return chunk


def parse_feed(data: bytes) -> Feed:
    """Read leap2a.xml; refuses DTDs, entities and external references (InvalidInput)."""
    try:
        prefixes = _namespaces(data)
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidInput(
            "the LEAP2A file declares a DTD or entities, which are refused for safety"
            f" ({type(exc).__name__})"
        ) from exc
    except ParseError as exc:
        raise InvalidInput(f"the LEAP2A file is not well-formed XML: {exc}") from exc
    if root.tag != f"{{{ATOM}}}feed":
        raise InvalidInput("the LEAP2A file is not an Atom feed (no <feed> element)")
    reader = _Reader(prefixes)
    feed = Feed([], ignored=reader.ignored)
    author = root.find(f"{{{ATOM}}}author/{{{ATOM}}}name")
    feed.author = (author.text or "").strip() if author is not None else ""
    generator = root.find(f"{{{ATOM}}}generator")
    if generator is not None:
        feed.generator = f"{generator.text or ''} {generator.get('uri') or ''}".strip()
    for position, element in enumerate(root.findall(f"{{{ATOM}}}entry")):
        feed.entries.append(reader.entry(element, position))
    return feed


class _Reader:
    def __init__(self, prefixes: dict[str, str]) -> None:
        self.prefixes = prefixes
        self.ignored: Counter[str] = Counter()

    def expand(self, value: str) -> str:
        """A CURIE such as "leap2:plan" as the full URI its prefix stands for."""
        prefix, colon, rest = value.strip().partition(":")
        if colon and prefix in self.prefixes and not rest.startswith("//"):
            return self.prefixes[prefix] + rest
        return value.strip()

    def term(self, value: str) -> str | None:
        found = classify(self.expand(value))
        return found[1] if found and found[0] == "term" else None

    def scheme(self, value: str) -> str | None:
        found = classify(self.expand(value))
        if found and found[0] == "category":
            return found[1].rstrip("#/")
        return None

    def entry(self, element: Element, position: int) -> Entry:
        def text(tag: str) -> str | None:
            found = element.find(f"{{{ATOM}}}{tag}")
            return (found.text or "").strip() if found is not None else None

        entry = Entry(
            id=text("id") or f"entry-{position}", title=text("title") or "", position=position
        )
        entry.published = text("published")
        entry.updated = text("updated")
        for child in element:
            self._child(entry, child)
        if not entry.title:
            entry.title = "Untitled"
        return entry

    def _child(self, entry: Entry, child: Element) -> None:
        namespace, _, local = (
            child.tag[1:].partition("}") if child.tag.startswith("{") else ("", "", child.tag)
        )
        if namespace == ATOM:
            if local == "content":
                self._content(entry, child)
            elif local == "link":
                self._link(entry, child)
            elif local == "category":
                self._category(entry, child)
            elif local == "summary" and not entry.content:
                pass  # the content says it; a summary alone is kept below
            elif local not in (
                "id",
                "title",
                "published",
                "updated",
                "author",
                "contributor",
                "rights",
                "source",
                "summary",
            ):
                self.ignored[f"Atom <{local}>"] += 1
            if local == "summary" and (child.text or len(child)):
                summary = self._markdown(child)
                if summary.strip():
                    entry.extras.insert(0, summary.strip())
        elif namespace == RDF and local == "type":
            resource = child.get(f"{{{RDF}}}resource") or ""
            term = self.term(resource)
            entry.types.append(term or resource)
        elif namespace == THREADING and local == "in-reply-to":
            entry.reply = True
        elif namespace == CAIRN:
            if local == "template":
                entry.cairn_template = (child.text or "").strip()
                entry.cairn_version = child.get(f"{{{CAIRN}}}version") or None
            elif local == "fields":
                entry.cairn_fields = child.text or ""
            elif local == "earlier":
                entry.cairn_earlier = child.text or ""
        elif MAHARA_MARK in namespace and local == "artefactplugin":
            entry.mahara_type = child.get(f"{{{namespace}}}type") or ""
            entry.mahara_plugin = child.get(f"{{{namespace}}}plugin") or ""
        elif is_leap_namespace(namespace):
            self._leap(entry, child, namespace, local)
        else:
            self.ignored[f"<{local}> ({namespace or 'no namespace'})"] += 1

    def _leap(self, entry: Entry, child: Element, namespace: str, local: str) -> None:
        def attribute(name: str) -> str:
            return child.get(f"{{{namespace}}}{name}") or child.get(name) or ""

        value = "".join(child.itertext()).strip()
        if local == "date":
            point = attribute("point") or "date"
            entry.dates[point] = value or attribute("label")
        elif local == "status":
            entry.stage = attribute("stage").lower() or None
        elif local == "myrole" and value:
            entry.extras.append(f"My role: {value}")
        elif local == "spatial" and value:
            entry.extras.append("Location: " + " ".join(value.split()))
        elif local == "activetime" and value:
            entry.extras.append(f"Time spent: {value}")
        elif local == "roleid" and value:
            entry.extras.append(f"ID in this role: {value}")
        elif local in ("persondata", "orgdata"):
            self.ignored[f"leap2:{local}"] += 1
        else:
            self.ignored[f"leap2:{local}"] += 1

    def _content(self, entry: Entry, child: Element) -> None:
        if child.get("src"):
            entry.content_src = child.get("src")
            return
        entry.content = self._markdown(child)

    def _markdown(self, child: Element) -> str:
        kind = (child.get("type") or "text").lower()
        if kind == "xhtml":
            inner = "".join(_xhtml_to_html(part) for part in child)
            return html_to_markdown(inner)
        if kind in ("html", "text/html"):
            return html_to_markdown(child.text or "")
        return plain_to_markdown(child.text or "")

    def _link(self, entry: Entry, child: Element) -> None:
        rel_value = child.get("rel") or "alternate"
        rel = self.term(rel_value) or rel_value.strip().lower()
        order_text = next((v for k, v in child.attrib.items() if k.endswith("display_order")), "")
        entry.links.append(
            Link(
                rel=rel,
                href=(child.get("href") or "").strip(),
                media_type=child.get("type") or "",
                order=int(order_text) if order_text.strip().isdigit() else None,
            )
        )

    def _category(self, entry: Entry, child: Element) -> None:
        term = (child.get("term") or "").strip()
        scheme_value = child.get("scheme") or ""
        label = child.get("label") or ""
        if not term:
            return
        if not scheme_value:
            entry.tags.append(term)
            return
        scheme = self.scheme(scheme_value)
        if scheme is None:
            # A system's own scheme (not Leap2A's): its terms read as tags, like Mahara's.
            entry.tags.append(label or term)
            return
        entry.categories.append((scheme, term, label))


MAX_XHTML_DEPTH = 200


def _xhtml_to_html(element: Element, depth: int = 0) -> str:
    """An XHTML element (namespaced tags) serialised as plain HTML."""
    if depth > MAX_XHTML_DEPTH:
        raise InvalidInput("an entry's content is nested too deeply to be real text")
    tag = element.tag.rsplit("}", 1)[-1]
    attributes = "".join(
        f' {name.rsplit("}", 1)[-1]}="{_html_attr(value)}"'
        for name, value in element.attrib.items()
    )
    inner = _html_text(element.text or "") + "".join(
        _xhtml_to_html(child, depth + 1) for child in element
    )
    return f"<{tag}{attributes}>{inner}</{tag}>" + _html_text(element.tail or "")


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html_attr(text: str) -> str:
    return _html_text(text).replace('"', "&quot;")


# ------------------------------------------------------------------ opening


def open_package(source: Path, limits: Limits) -> tuple[Files, str, str]:
    """The package's files, the XML's name among them, and the folder file links start from."""
    source = Path(source)
    if zipfile.is_zipfile(source):
        files: Files = ZipFiles(source, limits)
        names = files.names()
        candidates = [n for n in names if n.lower() in XML_NAMES]
        if not candidates:
            candidates = [n for n in names if n.rsplit("/", 1)[-1].lower() in XML_NAMES]
        if not candidates:
            files.close()
            raise InvalidInput(f"{source.name} holds no leap2a.xml")
        xml_name = min(
            candidates, key=lambda n: (n.count("/"), XML_NAMES.index(n.rsplit("/", 1)[-1].lower()))
        )
        return files, xml_name, xml_name
    folder = FolderFiles(source.parent, limits)
    return folder, source.name, source.name


# ------------------------------------------------------------------ mapping


def _day(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        return None


def _moment(value: str | None) -> str | None:
    """An Atom time as Cairn's UTC ISO stamp (None if it cannot be read)."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        day = _day(text)
        return f"{day}T00:00:00.000000+00:00" if day else None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _one_line(text: str) -> str:
    return " ".join(text.replace("\\", "").split())


class _Planner:
    """Turns a parsed feed into staged assets, noting all it leaves out."""

    def __init__(
        self, feed: Feed, files: Files, base: str, library: TemplateLibrary, report: TransferReport
    ) -> None:
        self.feed = feed
        self.files = files
        self.base = base
        self.library = library
        self.report = report
        self.by_id = {entry.id: entry for entry in feed.entries}
        self.staged: dict[str, StagedAsset] = {}
        self.warned: Counter[str] = Counter()
        self.consumed: set[str] = set()  # file and task entries taken in by another item
        self.file_names = {name.casefold(): name for name in files.names()}

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.report.warnings.append(message)
        self.warned[message] += 1

    def template(self, template_id: str) -> Template:
        template = self.library.exact(template_id)
        if template is None:  # the built-ins are always there
            raise InvalidInput(f"the built-in template {template_id} is missing")
        return template

    # ---- relations

    def targets(self, entry: Entry, rels: set[str]) -> list[Entry]:
        found = [
            self.by_id[link.href]
            for link in entry.links
            if link.rel in rels and link.href in self.by_id
        ]
        return [e for e in found if e is not entry]

    def pointing_at(self, entry: Entry, rels: set[str]) -> list[Entry]:
        return [
            other
            for other in self.feed.entries
            if other is not entry
            and any(ln.rel in rels and ln.href == entry.id for ln in other.links)
        ]

    # ---- roles

    def file_reference(self, entry: Entry) -> tuple[str | None, Link | None]:
        """(path in the package or None if missing, the enclosure) for a file item."""
        link = next(
            (ln for ln in entry.links if ln.rel == "enclosure" and ln.href not in self.by_id), None
        )
        href = link.href if link else entry.content_src
        if not href:
            return None, None
        if re.match(r"^[a-z][a-z0-9+.-]*://", href, re.IGNORECASE):
            return None, link  # on the web, not in the package
        for candidate in (unquote(href), href):
            path = resolve_relative(self.base, candidate)
            if path and self.files.size(path) is not None:
                return path, link
            if path and path.casefold() in self.file_names:
                return self.file_names[path.casefold()], link
        return None, link or Link("enclosure", href)

    def is_file_item(self, entry: Entry) -> bool:
        has_enclosure = any(
            ln.rel == "enclosure" and ln.href not in self.by_id for ln in entry.links
        )
        return bool(has_enclosure or entry.content_src) and entry.leap_type in (
            "resource",
            "entry",
            "publication",
        )

    def staged_file(self, entry: Entry, owner: str) -> StagedFile | None:
        path, link = self.file_reference(entry)
        if path is None:
            href = (link.href if link else entry.content_src) or ""
            if re.match(r"^[a-z][a-z0-9+.-]*://", href, re.IGNORECASE):
                return None
            self.warn(
                f"the file {href or entry.title!r} of {owner!r} is missing from the package;"
                " imported without it"
            )
            return None
        size = self.files.size(path) or 0
        name = entry.title if "." in entry.title else path.rsplit("/", 1)[-1]
        return StagedFile(
            key=entry.id,
            name=name,
            size=size,
            open=partial(self.files.open, path),
            media_type=(link.media_type if link else "") or "",
        )

    # ---- the plan

    def plan(self) -> list[StagedAsset]:
        entries = self.feed.entries
        skip: set[str] = set()
        selections = [e for e in entries if e.leap_type == "selection"]
        blogs = [
            s
            for s in selections
            if (s.category("selection_type") or "").lower() == "blog" or s.mahara_type == "blog"
        ]
        journal_ids: set[str] = set()
        selection_tags: dict[str, list[str]] = defaultdict(list)
        for selection in selections:
            skip.add(selection.id)
            parts = self.targets(selection, {"has_part"}) + self.pointing_at(
                selection, {"is_part_of"}
            )
            is_blog = selection in blogs
            if is_blog:
                journal_ids.update(p.id for p in parts)
            if not is_blog or len(blogs) > 1:
                for part in parts:
                    if selection.title not in selection_tags[part.id]:
                        selection_tags[part.id].append(selection.title)
            kind = (selection.category("selection_type") or "").lower()
            if kind in ("webpage", "website"):
                self.warn(
                    f"the page {selection.title!r} is not imported as a page;"
                    f" its items are tagged {selection.title!r}"
                )
        for entry in entries:
            if entry.leap_type == "person":
                skip.add(entry.id)
                self.warn(f"person details ({entry.title!r}) are not imported")
            elif entry.leap_type == "organization":
                skip.add(entry.id)
            elif entry.reply or entry.mahara_type == "comment":
                skip.add(entry.id)
                self.warn(f"the comment {entry.title!r} is not imported")
            elif entry.mahara_plugin == "internal":
                skip.add(entry.id)
                self.warn(f"the profile field {entry.title!r} is not imported")
        # Tasks: plans that are part of another plan.
        tasks: dict[str, list[tuple[int, Entry]]] = defaultdict(list)
        for entry in entries:
            if entry.leap_type != "plan" or entry.id in skip:
                continue
            for part_link in entry.links:
                found = self.by_id.get(part_link.href)
                if part_link.rel == "has_part" and found and found.leap_type == "plan":
                    part = found
                    tasks[entry.id].append(
                        (
                            part_link.order
                            if part_link.order is not None
                            else 10**6 + part.position,
                            part,
                        )
                    )
                    self.consumed.add(part.id)
            for parent in self.targets(entry, {"is_part_of"}):
                if parent.leap_type == "plan" and entry.id not in self.consumed:
                    order = next(
                        (
                            ln.order
                            for ln in entry.links
                            if ln.rel == "is_part_of"
                            and ln.href == parent.id
                            and ln.order is not None
                        ),
                        None,
                    )
                    tasks[parent.id].append(
                        (order if order is not None else 10**6 + entry.position, entry)
                    )
                    self.consumed.add(entry.id)
        # Files: file items used by another item become its attachments.
        file_owner: dict[str, list[str]] = defaultdict(list)
        file_items = {e.id for e in entries if self.is_file_item(e) and e.id not in skip}
        for entry in entries:
            # A skill does not hold files: a file that is evidence of it stays evidence.
            if entry.id in skip or entry.id in file_items or entry.leap_type in SKILL_TYPES:
                continue
            for target in self.targets(entry, FILE_RELS_OUT):
                if target.id in file_items and entry.id not in file_owner[target.id]:
                    file_owner[target.id].append(entry.id)
        for file_id in file_items:
            for owner in self.pointing_at_owner(self.by_id[file_id], file_items, skip):
                if owner not in file_owner[file_id]:
                    file_owner[file_id].append(owner)
        owned_files: dict[str, list[str]] = defaultdict(list)
        for file_id, owners in file_owner.items():
            if owners:
                self.consumed.add(file_id)
                for owner in owners:
                    owned_files[owner].append(file_id)
        abilities = [
            e
            for e in entries
            if e.leap_type in ("ability", "achievement")
            and e.id not in skip
            and not e.cairn_template
        ]
        for entry in entries:
            if entry.id in skip or entry.id in self.consumed or entry in abilities:
                continue
            staged = self.stage(
                entry, journal_ids, tasks.get(entry.id, []), owned_files.get(entry.id, [])
            )
            staged.tags = [*entry.tags, *selection_tags.get(entry.id, []), *staged.tags]
            self.staged[entry.id] = staged
        for ability in abilities:
            self.stage_ability(ability, selection_tags.get(ability.id, []))
        self.relations(skip)
        self.report_ignored()
        return sorted(self.staged.values(), key=lambda s: self.by_id[s.key].position)

    def pointing_at_owner(
        self, file_entry: Entry, file_items: set[str], skip: set[str]
    ) -> list[str]:
        """Items a file item says it belongs to (is_part_of, related...)."""
        owners = []
        for target in self.targets(file_entry, FILE_RELS_IN):
            if (
                target.id not in skip
                and target.id not in file_items
                and target.leap_type not in ("selection", *SKILL_TYPES)
            ):
                owners.append(target.id)
        return owners

    def files_for(self, entry: Entry, file_ids: list[str]) -> list[StagedFile]:
        staged = []
        for file_id in file_ids:
            found = self.staged_file(self.by_id[file_id], entry.title)
            if found is not None:
                staged.append(found)
        if self.is_file_item(entry):
            own = self.staged_file(entry, entry.title)
            if own is not None:
                staged.insert(0, own)
        return staged

    def stage(
        self,
        entry: Entry,
        journal_ids: set[str],
        tasks: list[tuple[int, Entry]],
        file_ids: list[str],
    ) -> StagedAsset:
        if entry.cairn_template:
            exact = self.stage_cairn(entry, file_ids)
            if exact is not None:
                return exact
        files = self.files_for(entry, file_ids)
        created = _moment(entry.published) or _moment(entry.updated)
        kind = entry.leap_type
        extras = "\n\n".join(entry.extras)
        text = "\n\n".join(part for part in (entry.content.strip(), extras) if part)
        if kind == "plan":
            return self.stage_plan(entry, tasks, files, created, text)
        if kind in ("activity", "meeting", "affiliation"):
            organisations = [
                o.title
                for o in self.targets(entry, {"supported_by", "supports", "related"})
                if o.leap_type == "organization"
            ]
            organisations += [
                o.title
                for o in self.pointing_at(entry, {"supports"})
                if o.leap_type == "organization" and o.title not in organisations
            ]
            if organisations:
                text += ("\n\n" if text else "") + "Organisation: " + ", ".join(organisations)
            other_dates = [f"{point.capitalize()}: {value}" for point, value in entry.dates.items()]
            if other_dates:
                text += ("\n\n" if text else "") + "  \n".join(other_dates)
            fields: dict[str, Any] = {"what_happened": text}
            when = _day(entry.dates.get("end")) or _day(entry.dates.get("start"))
            if when:
                fields["date"] = when
            return StagedAsset(
                entry.id,
                self.template("builtin/experience"),
                entry.title,
                fields,
                created=created,
                files=files,
            )
        if kind in ("resource", "publication") or files:
            if kind not in ("resource", "publication", "entry"):
                self.warn(f"{entry.title!r} ({kind}) is imported as evidence")
            web = [
                ln.href
                for ln in entry.links
                if ln.rel == "self" or (ln.rel == "enclosure" and "://" in ln.href)
            ]
            context = "\n\n".join(
                f"<{url}>" for url in web if url.lower().startswith(("http://", "https://"))
            )
            fields = {"shows": text}
            if context:
                fields["context"] = context
            day = _day(
                entry.dates.get("end") or entry.dates.get("start") or entry.dates.get("date")
            )
            if day:
                fields["date"] = day
            if entry.id not in journal_ids and (
                kind in ("resource", "publication") or not entry.content.strip()
            ):
                return StagedAsset(
                    entry.id,
                    self.template("builtin/evidence"),
                    entry.title,
                    fields,
                    created=created,
                    files=files,
                    attachment_field="file",
                )
        fields = {"entry": text or entry.title}
        day = _day(entry.published) or _day(entry.updated)
        if (
            kind == "entry"
            and (entry.category("learning_cycle") or "").lower() == "reflecting"
            and entry.id not in journal_ids
        ):
            fields = {"description": text or entry.title}
            day = _day(entry.dates.get("end") or entry.dates.get("start")) or day
            if day:
                fields["date"] = day
            return StagedAsset(
                entry.id,
                self.template("builtin/reflection"),
                entry.title,
                fields,
                created=created,
                files=files,
            )
        if kind not in ("entry", "resource", "publication"):
            self.warn(
                f"{entry.title!r} has the type {kind!r}, which has no counterpart here;"
                " imported as a journal entry"
            )
        if day:
            fields["date"] = day
        return StagedAsset(
            entry.id,
            self.template("builtin/journal"),
            entry.title,
            fields,
            created=created,
            files=files,
        )

    def stage_plan(
        self,
        entry: Entry,
        tasks: list[tuple[int, Entry]],
        files: list[StagedFile],
        created: str | None,
        text: str,
    ) -> StagedAsset:
        fields: dict[str, Any] = {}
        if text:
            fields["specific"] = text
        deadline = _day(entry.dates.get("target")) or _day(entry.dates.get("end"))
        if deadline:
            fields["deadline"] = deadline
        if entry.stage in STAGE_STATUS:
            fields["status"] = STAGE_STATUS[entry.stage]
        actions = []
        for _order, task in sorted(tasks, key=lambda pair: pair[0]):
            label = _one_line(task.title)
            detail = _one_line(task.content)
            if detail and detail != label:
                label = f"{label}: {detail}" if label else detail
            if task.links and any(ln.rel == "has_part" for ln in task.links):
                self.warn(f"the sub-tasks of {task.title!r} are not imported")
            actions.append(
                {
                    "text": label or "Untitled",
                    "done": task.stage == "completed",
                    "due": _day(task.dates.get("target") or task.dates.get("end")),
                }
            )
        if actions:
            fields["actions"] = actions
        return StagedAsset(
            entry.id,
            self.template("builtin/smart-plan"),
            entry.title,
            fields,
            created=created,
            files=files,
        )

    def stage_cairn(self, entry: Entry, file_ids: list[str]) -> StagedAsset | None:
        template = self.library.exact(entry.cairn_template or "")
        if template is None:
            self.warn(
                f"the template {entry.cairn_template!r} of {entry.title!r} is not available here;"
                " imported by its LEAP2A type"
            )
            return None
        try:
            fields = json.loads(entry.cairn_fields or "{}")
            earlier = json.loads(entry.cairn_earlier or "{}")
        except json.JSONDecodeError:
            self.warn(
                f"the saved answers of {entry.title!r} cannot be read; imported by its LEAP2A type"
            )
            return None
        if not isinstance(fields, dict) or not isinstance(earlier, dict):
            return None
        files = self.files_for(entry, file_ids)
        keys = {f.key for f in files}
        staged = StagedAsset(
            entry.id,
            template,
            entry.title,
            fields,
            created=_moment(entry.published) or _moment(entry.updated),
            files=files,
            earlier=earlier,
            template_version=entry.cairn_version,
            keep_template_version=True,
        )
        for spec in template.fields:
            value = fields.get(spec.id)
            if spec.type == "attachment" and isinstance(value, list):
                wanted = [f"portfolio:file-{item}" for item in value]
                staged.attachment_fields[spec.id] = [key for key in wanted if key in keys]
                fields.pop(spec.id)
            elif spec.type == "link" and isinstance(value, list):
                staged.links[spec.id] = [f"portfolio:asset-{item}" for item in value]
                fields.pop(spec.id)
        return staged

    def stage_ability(self, ability: Entry, tags: list[str]) -> None:
        """An ability or achievement: a skill on the items it is linked to, and a skill
        self-assessment of its own when it says more than its name."""
        skill = _one_line(ability.title)
        linked = [
            e
            for e in self.targets(ability, EVIDENCE_RELS)
            + self.pointing_at(ability, EVIDENCE_RELS | {"is_evidence_of"})
            if e.id in self.staged
        ]
        placed = True
        for other in dict.fromkeys(linked):
            staged = self.staged[other.id]
            skills, _status = summary_facts(staged.template, staged.fields)
            if skill.casefold() in {s.casefold() for s in skills}:
                continue
            spec = next(
                (s for s in staged.template.fields if s.type == "skills" and s.max_items is None),
                None,
            )
            if spec is None:
                placed = False
                continue
            staged.fields[spec.id] = [*staged.fields.get(spec.id, []), skill]
        if linked and placed and not ability.content.strip() and not ability.extras:
            return
        why = "\n\n".join(p for p in (ability.content.strip(), *ability.extras) if p)
        if ability.leap_type == "achievement":
            when = (
                ability.dates.get("end") or ability.dates.get("start") or ability.dates.get("date")
            )
            if when:
                why += ("\n\n" if why else "") + f"Achieved: {when}"
        fields: dict[str, Any] = {"skill": [skill]}
        if why:
            fields["why"] = why
        staged = StagedAsset(
            ability.id,
            self.template("builtin/skill-assessment"),
            ability.title,
            fields,
            tags=[*ability.tags, *tags],
            created=_moment(ability.published) or _moment(ability.updated),
            files=self.files_for(ability, []),
        )
        staged.related = [e.id for e in dict.fromkeys(linked)]
        self.staged[ability.id] = staged

    def relations(self, skip: set[str]) -> None:
        """Relations between two imported items become links (once per pair)."""
        seen: set[frozenset[str]] = set()
        for key, staged in self.staged.items():
            entry = self.by_id[key]
            rels = (
                {"related"}
                if staged.template
                and entry.cairn_template
                and self.library.exact(entry.cairn_template)
                else RELATION_RELS
            )
            for target in self.targets(entry, rels):
                pair = frozenset((key, target.id))
                if target.id in self.staged and pair not in seen and target.id != key:
                    seen.add(pair)
                    if target.id not in staged.related:
                        staged.related.append(target.id)
            for target_id in staged.related:
                seen.add(frozenset((key, target_id)))

    def report_ignored(self) -> None:
        for what, count in sorted(self.feed.ignored.items()):
            if what.startswith("<artefactplugin>") or "mahara" in what.lower():
                continue
            self.warn(f"{count} × {what} not imported")


def import_leap2a(job: ImportJob) -> TransferReport:
    """Import a LEAP2A zip or bare XML into `job.space`: all of it, or nothing."""
    report = TransferReport("leap2a", path=job.space.path)
    files, xml_name, base = open_package(job.source, job.limits)
    try:
        feed = parse_feed(files.read_document(xml_name))
        job.check_cancelled()
        planner = _Planner(feed, files, base, TemplateLibrary.load(), report)
        staged = planner.plan()
        _check_sizes(staged, job.limits)
        write_staged(job.space, staged, job, report)
    finally:
        files.close()
    report.details["entries"] = len(feed.entries)
    return report


def _check_sizes(staged: list[StagedAsset], limits: Limits) -> None:
    total = 0
    for asset in staged:
        for staged_file in asset.files:
            if staged_file.size > limits.max_file_bytes:
                raise DamagedArchive(f"{staged_file.name} is over the size limit for one file")
            total += staged_file.size
    if total > limits.max_total_bytes:
        raise DamagedArchive("the files to import are over the total size limit")


def import_leap2a_into(space: Space, source: Path) -> TransferReport:
    """Convenience for scripts and tests: import with default limits, no progress."""
    return import_leap2a(ImportJob(space, Path(source)))
