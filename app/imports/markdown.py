"""Markdown import: a folder of notes (Obsidian vault, Joplin export) or a zip of one.

Each `.md` file becomes a journal entry. YAML front matter is honoured (title,
tags, created date); files the note links to (`![](x.png)`, `[a](doc.pdf)`,
Obsidian's `![[x.png]]`) are attached. Malformed front matter is reported and
the note imported with its text as written. Everything is staged and checked
before the space is touched (see app.imports.staging).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from app.forms.library import TemplateLibrary
from app.imports.sources import Files, FolderFiles, ZipFiles, resolve_relative
from app.imports.staging import StagedAsset, StagedFile, write_staged
from app.transfer import DamagedArchive, ImportJob, InvalidInput, TransferReport

NOTE_SUFFIXES = (".md", ".markdown")
_FRONT_MATTER = re.compile(
    r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S
)
_MARKDOWN_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*(<[^>\n]+>|[^)\s]+)(?:\s+\"[^\"\n]*\")?\s*\)")
_WIKI_EMBED = re.compile(r"(!?)\[\[([^\]|#\n]+)(?:#[^\]|\n]*)?(?:\|([^\]\n]*))?\]\]")
_HEADING = re.compile(r"\A\s*#\s+(.+?)\s*#*\s*(?:\n|\Z)")
#: Front matter keys read for each purpose, in order of preference.
TITLE_KEYS = ("title",)
TAG_KEYS = ("tags", "tag", "keywords")
CREATED_KEYS = ("created", "date", "created_at", "creation_date", "date_created")
KNOWN_KEYS = {
    *TITLE_KEYS,
    *TAG_KEYS,
    *CREATED_KEYS,
    "updated",
    "modified",
    "updated_at",
    "aliases",
    "id",
    "cssclasses",
    "cssclass",
    "publish",
}


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str, str | None]:
    """(front matter or None, body, problem) for a note's text.

    Without front matter: (None, text, None). With front matter that is not a
    YAML mapping: (None, the whole text, why).
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text.lstrip("\ufeff"), None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        return None, text.lstrip("\ufeff"), f"its front matter is not valid YAML{line}"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, text.lstrip("\ufeff"), "its front matter is not a list of keys and values"
    return {str(k): v for k, v in data.items()}, text[match.end() :], None


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        items = re.split(r"[,\s]+", value) if "," in value or " " in value else [value]
    elif isinstance(value, list):
        items = [str(v) for v in value if v is not None]
    else:
        return []
    return [item.strip().lstrip("#").strip() for item in items if item.strip().lstrip("#").strip()]


def _created(value: Any) -> str | None:
    """A front matter date or time as Cairn's UTC ISO stamp."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # Joplin writes milliseconds
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class _Vault:
    """The notes and other files of the import, with Obsidian-style lookup by name."""

    def __init__(self, files: Files, names: list[str] | None = None) -> None:
        self.files = files
        self.names = files.names() if names is None else names
        self.by_name: dict[str, list[str]] = {}
        for name in self.names:
            self.by_name.setdefault(name.rsplit("/", 1)[-1].casefold(), []).append(name)
        self.by_path = {name.casefold(): name for name in self.names}

    def notes(self) -> list[str]:
        """The notes, leaving out app folders (.obsidian, .trash) and zip debris (__MACOSX)."""
        return [
            name
            for name in self.names
            if name.lower().endswith(NOTE_SUFFIXES)
            and not any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))
        ]

    def find(self, note: str, reference: str, *, by_name: bool) -> str | None:
        """The file a link in `note` names: relative to the note, from the root, or
        (for wiki links) by its name anywhere, as Obsidian resolves them."""
        reference = unquote(reference.strip().strip("<>")).split("#", 1)[0].split("?", 1)[0]
        if not reference:
            return None
        for candidate in (resolve_relative(note, reference), reference.lstrip("/")):
            if candidate and candidate.casefold() in self.by_path:
                return self.by_path[candidate.casefold()]
            if candidate and self.files.size(candidate) is not None:
                return candidate
        if by_name:
            found = self.by_name.get(reference.rsplit("/", 1)[-1].casefold(), [])
            if found:
                return min(found, key=lambda n: (n.count("/"), n))
        return None


def _is_local(target: str) -> bool:
    target = target.strip().strip("<>")
    return (
        bool(target)
        and not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)
        and not target.startswith("#")
    )


def _stage_note(
    vault: _Vault,
    note: str,
    library: TemplateLibrary,
    report: TransferReport,
    unknown_keys: Counter[str],
) -> StagedAsset:
    raw = vault.files.read_document(note)
    text = raw.decode("utf-8", errors="replace")
    if "\ufffd" in text and b"\xef\xbf\xbd" not in raw:
        report.warnings.append(f"{note}: not UTF-8; unreadable characters were replaced")
    matter, body, problem = split_front_matter(text)
    if problem:
        report.warnings.append(f"{note}: {problem}; imported with its text as written")
    matter = matter or {}
    stem = note.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    title = next((str(matter[k]).strip() for k in TITLE_KEYS if matter.get(k)), "")
    heading = _HEADING.match(body)
    if heading and (not title or heading.group(1).strip() == title):
        title = title or heading.group(1).strip()
        body = body[heading.end() :]  # the title is the asset's own
    title = " ".join((title or stem).split()) or "Untitled"
    tags: list[str] = []
    for key in TAG_KEYS:
        tags += _tags(matter.get(key))
    created = next(
        (_created(matter[k]) for k in CREATED_KEYS if k in matter and _created(matter[k])), None
    )
    unknown_keys.update(set(matter) - KNOWN_KEYS)

    files: list[StagedFile] = []
    seen: dict[str, str] = {}

    def attach(reference: str, by_name: bool) -> str | None:
        found = vault.find(note, reference, by_name=by_name)
        if found is None:
            report.warnings.append(
                f"{note}: the linked file {reference!r} is missing; not attached"
            )
            return None
        if found.lower().endswith(NOTE_SUFFIXES):
            return None  # a link to another note, not a file
        if found not in seen:
            name = found.rsplit("/", 1)[-1]
            seen[found] = name
            size = vault.files.size(found) or 0
            files.append(StagedFile(found, name, size, partial(vault.files.open, found)))
        return seen[found]

    def wiki(match: re.Match[str]) -> str:
        target, label = match.group(2).strip(), (match.group(3) or "").strip()
        if not (target.lower().endswith(NOTE_SUFFIXES) or "." not in target.rsplit("/", 1)[-1]):
            name = attach(target, by_name=True)
            if name is not None:
                # Standard Markdown, so other renderers (and Cairn's exports) show it.
                alt = label if label and not label.isdigit() else name
                return f"{match.group(1)}[{alt}](<{name}>)"
        return match.group(0)

    def standard(match: re.Match[str]) -> str:
        target = match.group(3)
        if _is_local(target):
            reference = target.strip("<>")
            if reference in seen.values():
                return match.group(0)  # already rewritten from a wiki embed
            if not reference.lower().endswith(NOTE_SUFFIXES):
                name = attach(reference, by_name=False)
                if name is not None:
                    return f"{match.group(1)}[{match.group(2)}](<{name}>)"
        return match.group(0)

    body = _WIKI_EMBED.sub(wiki, body)
    body = _MARKDOWN_LINK.sub(standard, body)
    fields: dict[str, Any] = {"entry": body.strip() + "\n" if body.strip() else title}
    if created:
        fields["date"] = created[:10]
    template = library.exact("builtin/journal")
    if template is None:
        raise InvalidInput("the built-in journal template is missing")
    staged = StagedAsset(note, template, title, fields, tags=tags, created=created, files=files)
    return staged


def import_markdown(job: ImportJob) -> TransferReport:
    """Import a folder (or a zip, or a single .md file) of notes as journal entries."""
    report = TransferReport("markdown", path=job.space.path)
    source = Path(job.source)
    files: Files
    if source.is_dir():
        files = FolderFiles(source, job.limits)
        notes_only: list[str] | None = None
    elif source.suffix.lower() == ".zip":
        files = ZipFiles(source, job.limits)
        notes_only = None
    elif source.suffix.lower() in NOTE_SUFFIXES:
        files = FolderFiles(source.parent, job.limits)
        notes_only = [source.name]
    else:
        raise InvalidInput(f"{source} is not a folder, a zip or a Markdown file")
    try:
        # A single note: its links are looked up beside it, without listing the folder.
        vault = _Vault(files, notes_only)
        notes = notes_only if notes_only is not None else vault.notes()
        if not notes:
            raise InvalidInput(f"{source} holds no Markdown notes (.md)")
        library = TemplateLibrary.load()
        staged = []
        unknown_keys: Counter[str] = Counter()
        for number, note in enumerate(notes, start=1):
            job.check_cancelled()
            staged.append(_stage_note(vault, note, library, report, unknown_keys))
            job.report_progress(number, len(notes) * 2)
        if unknown_keys:
            listed = ", ".join(
                f"{key} ({count} notes)" if count > 1 else key
                for key, count in sorted(unknown_keys.items())
            )
            report.warnings.append(f"front matter keys not imported: {listed}")
        total = sum(f.size for s in staged for f in s.files)
        if total > job.limits.max_total_bytes:
            raise DamagedArchive("the linked files are over the total size limit")
        write_staged(job.space, staged, job, report)
    finally:
        files.close()
    return report
