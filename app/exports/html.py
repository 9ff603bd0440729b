"""A static HTML portfolio: a timeline index with filters, one page per asset.

The site works from its folder or unzipped, offline: relative links only, the
stylesheet and the small filter script are copied in from `resources/portfolio`,
and nothing is fetched from elsewhere. Without JavaScript the index lists
everything. Asset pages are the sanitised rendering of app.forms.render.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from importlib import resources
from urllib.parse import quote, unquote

import nh3

from app.exports.bundle import (
    ExportItem,
    NameLookup,
    OutputTree,
    Steps,
    UniqueNames,
    attachment_file_names,
    gather,
    is_image,
    read_attachment,
    report_for,
    selected_records,
    slug,
)
from app.forms.library import TemplateLibrary
from app.forms.render import markdown_to_html, to_html
from app.space import Space
from app.transfer import ExportJob, TransferReport
from store.records import AssetRecord, AttachmentInfo

DEFAULT_TITLE = "Learning portfolio"
STYLE_FILES = ("portfolio.css", "portfolio.js")
EXCERPT_LENGTH = 220
_ATTRIBUTE_URL = re.compile(r'\b(src|href)="([^"]*)"')


def _resource(name: str) -> bytes:
    # One step at a time: on Python 3.11 a bundled app's package path (importlib's
    # MultiplexedPath) takes a single name per joinpath.
    return (resources.files("resources") / "portfolio" / name).read_bytes()


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def long_date(value: str) -> str:
    """'2026-03-07' as '7 March 2026' (the text itself if it is not a date)."""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return value
    return f"{day.day} {day:%B %Y}"


def _month_heading(month: str) -> str:
    day = date.fromisoformat(month + "-01")
    return f"{day:%B %Y}"


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def excerpt(record: AssetRecord, item: ExportItem) -> str:
    """The first words of the asset's first written answer, as plain text."""
    specs = item.template.fields if item.template else ()
    candidates = [s.id for s in specs if s.type in ("markdown", "text") and s.id != "caption"]
    candidates += [s.id for s in specs if s.id == "caption"]
    for field_id in candidates or list(record.fields):
        value = record.fields.get(field_id)
        if isinstance(value, str) and value.strip():
            text = html.unescape(nh3.clean(markdown_to_html(value), tags=set()))
            text = " ".join(text.split())
            if len(text) > EXCERPT_LENGTH:
                text = text[:EXCERPT_LENGTH].rsplit(" ", 1)[0] + "…"
            return text
    return ""


class _Site:
    """Where each asset's page and files go, decided before anything is written."""

    def __init__(self, items: list[ExportItem]) -> None:
        pages = UniqueNames(separator="-")
        folders = UniqueNames(separator="-")
        self.page: dict[str, str] = {}
        self.files: dict[str, dict[str, str]] = {}
        for item in items:
            name = slug(item.record.title, "entry")
            self.page[item.record.id] = pages.take(name, ".html")
            if item.attachments:
                folder = folders.take(name)
                names = attachment_file_names(item.attachments)
                self.files[item.record.id] = {
                    info.id: f"files/{folder}/{names[info.id]}" for info in item.attachments
                }


def _page(title: str, body: str, *, depth: int, page_class: str, script: bool = False) -> str:
    up = "../" * depth
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="Cairn">',
        f"<title>{_e(title)}</title>",
        f'<link rel="stylesheet" href="{up}style/portfolio.css">',
        # No icon of its own: an empty one stops browsers asking the server for /favicon.ico.
        '<link rel="icon" href="data:,">',
        "</head>",
        f'<body class="{page_class}">',
        body,
    ]
    if script:
        parts.append(f'<script src="{up}style/portfolio.js"></script>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _rewrite_local_links(fragment: str, files: dict[str, str], by_name: dict[str, str]) -> str:
    """Point images and links that name one of the asset's files at the copied file."""
    if not by_name:
        return fragment

    def replace(match: re.Match[str]) -> str:
        value = html.unescape(match.group(2))
        name = unquote(value.split("?", 1)[0].split("#", 1)[0]).rsplit("/", 1)[-1]
        if "://" in value or value.startswith(("mailto:", "#")) or name not in by_name:
            return match.group(0)
        return f'{match.group(1)}="../{_e(quote(files[by_name[name]]))}"'

    return _ATTRIBUTE_URL.sub(replace, fragment)


def _asset_page(
    item: ExportItem,
    site: _Site,
    names: NameLookup,
    related: list[ExportItem],
    title: str,
) -> str:
    record = item.record
    files = site.files.get(record.id, {})
    by_name = {info.name: info.id for info in item.attachments}
    article = _rewrite_local_links(to_html(record, item.template, names), files, by_name)
    facts = [f'<span class="kind">{_e(item.template_name)}</span>']
    if item.moment:
        facts.append(f'<time datetime="{_e(item.moment)}">{_e(long_date(item.moment))}</time>')
    if record.status:
        facts.append(f'<span class="status">{_e(record.status)}</span>')
    body = [
        '<header class="site">',
        f'<a class="home" href="../index.html">{_e(title)}</a>',
        "</header>",
        '<main class="entry">',
        f'<p class="facts">{" · ".join(facts)}</p>',
        article,
    ]
    if record.skills:
        chips = "".join(f"<li>{_e(s)}</li>" for s in record.skills)
        body.append(
            f'<section class="skills"><h2>Skills</h2><ul class="chips">{chips}</ul></section>'
        )
    images = [info for info in item.attachments if is_image(info)]
    others = [info for info in item.attachments if not is_image(info)]
    if images or others:
        body.append('<section class="files"><h2>Files</h2>')
        for info in images:
            path = quote(files[info.id])
            body.append(
                f'<figure><a href="../{_e(path)}"><img src="../{_e(path)}" alt="{_e(info.name)}"'
                f"></a><figcaption>{_e(info.name)}</figcaption></figure>"
            )
        if others:
            body.append('<ul class="downloads">')
            for info in others:
                path = quote(files[info.id])
                body.append(
                    f'<li><a href="../{_e(path)}">{_e(info.name)}</a>'
                    f' <span class="size">{_e(_human_size(info.size))}</span></li>'
                )
            body.append("</ul>")
        body.append("</section>")
    if related:
        body.append('<section class="related"><h2>Connected entries</h2><ul>')
        for other in related:
            body.append(
                f'<li><a href="{_e(site.page[other.record.id])}">{_e(other.record.title)}</a>'
                f' <span class="kind">{_e(other.template_name)}</span></li>'
            )
        body.append("</ul></section>")
    if record.tags:
        chips = "".join(f"<li>{_e(t)}</li>" for t in record.tags)
        body.append(f'<section class="tags"><h2>Tags</h2><ul class="chips">{chips}</ul></section>')
    body += ["</main>", _footer()]
    return _page(f"{record.title} · {title}", "\n".join(body), depth=1, page_class="entry-page")


def _footer() -> str:
    today = long_date(datetime.now(UTC).date().isoformat())
    return f'<footer class="site"><p>Exported from Cairn on {_e(today)}.</p></footer>'


def _index_page(items: list[ExportItem], site: _Site, title: str) -> str:
    ordered = sorted(items, key=lambda i: (i.moment, i.record.created), reverse=True)
    months: dict[str, list[ExportItem]] = defaultdict(list)
    for item in ordered:
        months[item.moment[:7] if item.moment else "0000-00"].append(item)
    kinds = sorted(
        {(i.kind, i.template.kind.capitalize() if i.template else "Other") for i in items}
    )
    tags = sorted({t for i in items for t in i.record.tags}, key=str.casefold)
    body = [
        '<header class="site index">',
        f"<h1>{_e(title)}</h1>",
        f'<p class="lede">{_summary_line(ordered)}</p>',
        "</header>",
        '<form class="filters" id="filters" hidden>',
        '<label for="filter-kind">Kind</label>',
        '<select id="filter-kind" name="kind"><option value="">All kinds</option>',
        *(f'<option value="{_e(k)}">{_e(label)}</option>' for k, label in kinds),
        "</select>",
        '<label for="filter-tag">Tag</label>',
        '<select id="filter-tag" name="tag"><option value="">All tags</option>',
        *(f'<option value="{_e(t)}">{_e(t)}</option>' for t in tags),
        "</select>",
        '<button type="reset" id="filter-clear">Show all</button>',
        '<output id="filter-count" aria-live="polite"></output>',
        "</form>",
        '<main class="timeline">',
    ]
    for month, month_items in months.items():
        heading = _month_heading(month) if month != "0000-00" else "Undated"
        body.append(f'<section class="month" data-month="{_e(month)}"><h2>{_e(heading)}</h2>')
        body.append('<ol class="entries">')
        for item in month_items:
            record = item.record
            tags_json = json.dumps(record.tags, ensure_ascii=False)
            when = long_date(item.moment) if item.moment else ""
            text = excerpt(record, item)
            meta = [f'<span class="kind">{_e(item.template_name)}</span>']
            if record.status:
                meta.append(f'<span class="status">{_e(record.status)}</span>')
            meta += [f'<span class="tag">{_e(t)}</span>' for t in record.tags]
            body += [
                f'<li class="entry" data-kind="{_e(item.kind)}" data-tags="{_e(tags_json)}">',
                f'<time datetime="{_e(item.moment)}">{_e(when)}</time>',
                '<div class="card">',
                f'<h3><a href="entries/{_e(site.page[record.id])}">{_e(record.title)}</a></h3>',
                f'<p class="meta">{" ".join(meta)}</p>',
                f'<p class="excerpt">{_e(text)}</p>' if text else "",
                "</div>",
                "</li>",
            ]
        body.append("</ol></section>")
    if not items:
        body.append('<p class="empty">Nothing was selected for this portfolio.</p>')
    body += ["</main>", _footer()]
    return _page(title, "\n".join(b for b in body if b), depth=0, page_class="index-page",
                 script=True)  # fmt: skip


def _summary_line(ordered: list[ExportItem]) -> str:
    count = len(ordered)
    noun = "entry" if count == 1 else "entries"
    dated = [i.moment for i in ordered if i.moment]
    if not dated:
        return _e(f"{count} {noun}")
    first, last = min(dated), max(dated)
    span = _month_heading(first[:7])
    if first[:7] != last[:7]:
        span += f" to {_month_heading(last[:7])}"
    return _e(f"{count} {noun}, {span}")


def _related(items: list[ExportItem]) -> dict[str, list[ExportItem]]:
    by_id = {item.record.id: item for item in items}
    related: dict[str, list[ExportItem]] = defaultdict(list)
    for item in items:
        for link in item.record.links:
            target = by_id.get(str(link.get("target", "")))
            if target is None or target is item:
                continue
            if target not in related[item.record.id]:
                related[item.record.id].append(target)
            if item not in related[target.record.id]:
                related[target.record.id].append(item)
    return related


def export_html(job: ExportJob, *, title: str = DEFAULT_TITLE) -> TransferReport:
    """Write the selection as a portfolio site: to the folder `job.out` (which must
    not exist or be empty), or to a zip when it ends in .zip. Nothing is left on error."""
    title = job.title or title
    space = job.space
    records, skipped = selected_records(job)
    items = gather(space, records, TemplateLibrary.load())
    site = _Site(items)
    names = NameLookup(space, items)
    related = _related(items)
    file_chunks = sum(info.size // (1024 * 1024) + 1 for item in items for info in item.attachments)
    steps = Steps(len(items) + 1 + file_chunks, job.report_progress, job.cancelled)
    steps.check()
    with OutputTree(job.out) as tree:
        for name in STYLE_FILES:
            tree.write_bytes(f"style/{name}", _resource(name))
        for item in items:
            page = _asset_page(item, site, names, related.get(item.record.id, []), title)
            tree.write_text(f"entries/{site.page[item.record.id]}", page)
            for info in item.attachments:
                _copy_file(space, tree, info, site.files[item.record.id][info.id], steps)
            steps.advance()
        tree.write_text("index.html", _index_page(items, site, title))
        path = tree.commit()
    steps.advance()
    return report_for("html", items, path, skipped)


def _copy_file(
    space: Space, tree: OutputTree, info: AttachmentInfo, relative: str, steps: Steps
) -> None:
    def chunks() -> Iterator[bytes]:
        for chunk in read_attachment(space, info):
            yield chunk
            steps.advance()  # about one per MiB, and a chance to cancel

    tree.write_chunks(relative, chunks(), info.media_type)
