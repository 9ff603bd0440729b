"""Markdown files: one `.md` per asset with YAML front matter, files beside it.

Readable in Obsidian or any editor: file names come from titles, attachments
sit in a folder named like the note, and links to them are relative.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import yaml

from app.exports.bundle import (
    ExportItem,
    NameLookup,
    OutputTree,
    Steps,
    attachment_file_names,
    gather,
    is_image,
    read_attachment,
    report_for,
    safe_filename,
    selected_records,
)
from app.forms.library import TemplateLibrary
from app.forms.render import to_markdown
from app.transfer import ExportJob, TransferReport
from store.records import AttachmentInfo


def front_matter(item: ExportItem) -> dict[str, Any]:
    """The YAML front matter of an asset's note (the keys Obsidian and others read)."""
    record = item.record
    matter: dict[str, Any] = {
        "title": record.title,
        "template": record.template_id,
        "template_name": item.template_name,
        "created": record.created,
        "updated": record.updated,
        "tags": list(record.tags),
    }
    if record.skills:
        matter["skills"] = list(record.skills)
    if record.status:
        matter["status"] = record.status
    return matter


def _link_target(path: str) -> str:
    # Percent-encoding keeps spaces and brackets from ending the link early;
    # Obsidian and CommonMark renderers both decode it.
    return quote(path, safe="/")


def note_text(item: ExportItem, names: NameLookup, files: dict[str, str]) -> str:
    """The whole note: front matter, the rendered asset, then links to its files."""
    matter = yaml.safe_dump(
        front_matter(item), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    body = to_markdown(item.record, item.template, names)
    lines = ["---", matter.rstrip("\n"), "---", "", body.rstrip("\n")]
    if item.attachments:
        lines += ["", "## Files", ""]
        for info in item.attachments:
            target = _link_target(files[info.id])
            label = info.name.replace("[", "(").replace("]", ")")
            lines.append(f"![{label}]({target})" if is_image(info) else f"- [{label}]({target})")
            if is_image(info):
                lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _unique_stem(base: str, taken: set[str]) -> str:
    """A stem whose note (STEM.md) and files folder (STEM/) clash with no other."""
    stem, number = base, 1
    while stem.casefold() in taken or f"{stem}.md".casefold() in taken:
        number += 1
        stem = f"{base} {number}"
    taken.update({stem.casefold(), f"{stem}.md".casefold()})
    return stem


def export_markdown(job: ExportJob) -> TransferReport:
    """Write one note per asset into the folder `job.out` (or a zip when it ends in .zip)."""
    space = job.space
    records, skipped = selected_records(job)
    items = gather(space, records, TemplateLibrary.load())
    names = NameLookup(space, items)
    taken: set[str] = set()
    steps = Steps(len(items), job.report_progress, job.cancelled)
    steps.check()
    with OutputTree(job.out) as tree:
        for item in sorted(items, key=lambda i: (i.record.created, i.record.id)):
            stem = _unique_stem(safe_filename(item.record.title, "Untitled"), taken)
            file_names = attachment_file_names(item.attachments)
            files = {info.id: f"{stem}/{file_names[info.id]}" for info in item.attachments}
            tree.write_text(f"{stem}.md", note_text(item, names, files))
            for info in item.attachments:

                def chunks(attachment: AttachmentInfo = info) -> Iterator[bytes]:
                    for chunk in read_attachment(space, attachment):
                        yield chunk
                        steps.check()

                tree.write_chunks(files[info.id], chunks(), info.media_type)
            steps.advance()
        path = tree.commit()
    return report_for("markdown", items, path, skipped)
