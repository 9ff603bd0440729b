"""Open exports: the HTML portfolio, Markdown notes, PDF and the LEAP2A package."""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pytest
import yaml

from app.demo import create_demo_space
from app.exports.html import export_html
from app.exports.leap2a import export_leap2a
from app.exports.markdown import export_markdown
from app.exports.pdf import export_pdf
from app.forms.library import TemplateLibrary
from app.space import Space
from app.transfer import (
    EXPORTERS,
    IMPORTERS,
    Cancelled,
    ExportJob,
    Selection,
    TransferError,
    detect_format,
    load_formats,
)
from store.kdf import KdfPolicy

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ATOM = "{http://www.w3.org/2005/Atom}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
LEAP2 = "{http://terms.leapspecs.org/}"
WHITEBOARD = "Whiteboard after the stand-up workshop"


@pytest.fixture
def demo(tmp_path: Path, kdf_policy: KdfPolicy) -> Iterator[Space]:
    space = create_demo_space(tmp_path / "demo.cairn", kdf_policy)
    yield space
    space.lock()


def _visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _local_references(page: str) -> list[str]:
    found = re.findall(r'(?:href|src)="([^"]*)"', page)
    return [unquote(html.unescape(u)) for u in found if not u.startswith(("http", "data:", "#"))]


# ------------------------------------------------------------------ registry


def test_every_open_format_is_registered() -> None:
    load_formats()
    assert {"html", "markdown", "pdf", "leap2a"} <= set(EXPORTERS)
    assert {"leap2a", "markdown"} <= set(IMPORTERS)


# ---------------------------------------------------------------------- HTML


def test_html_portfolio_is_a_self_contained_site(demo: Space, tmp_path: Path) -> None:
    report = export_html(ExportJob(demo, tmp_path / "site"))
    site = tmp_path / "site"
    assert report.path == site
    assert (report.assets, report.files) == (28, 1)
    index = (site / "index.html").read_text()
    pages = sorted((site / "entries").glob("*.html"))
    assert len(pages) == 28
    for title in ("Run stand-ups that end on time", WHITEBOARD, "Weekly note 11"):
        assert html.escape(title) in index
    # Every link and image is relative and leads to a file of the export.
    for page in [site / "index.html", *pages]:
        text = page.read_text()
        assert not UUID.search(_visible_text(text)), f"an id is visible in {page.name}"
        for reference in _local_references(text):
            assert not reference.startswith("/"), reference
            target = (page.parent / reference.split("#")[0]).resolve()
            assert target.is_file(), reference
            assert target.is_relative_to(site.resolve()), reference
    evidence = (site / "entries" / "whiteboard-after-the-stand-up-workshop.html").read_text()
    assert '<img src="../files/whiteboard-after-the-stand-up-workshop/whiteboard.png"' in evidence
    assert "Connected entries" in evidence
    assert "run-stand-ups-that-end-on-time.html" in evidence
    image = site / "files" / "whiteboard-after-the-stand-up-workshop" / "whiteboard.png"
    assert image.read_bytes().startswith(b"\x89PNG")
    assert "@media print" in (site / "style" / "portfolio.css").read_text()
    assert '<form class="filters" id="filters" hidden>' in index  # shown by the script only
    assert "https://" not in (site / "style" / "portfolio.js").read_text()  # nothing fetched


def test_html_zip_has_the_same_site(demo: Space, tmp_path: Path) -> None:
    export_html(ExportJob(demo, tmp_path / "portfolio.zip"))
    with zipfile.ZipFile(tmp_path / "portfolio.zip") as archive:
        names = set(archive.namelist())
        assert {"index.html", "style/portfolio.css", "style/portfolio.js"} <= names
        assert "files/whiteboard-after-the-stand-up-workshop/whiteboard.png" in names
        for name in [n for n in names if n.endswith(".html")]:
            page = archive.read(name).decode()
            for reference in _local_references(page):
                resolved = PurePosixPath(name).parent / reference
                parts: list[str] = []
                for part in resolved.parts:
                    parts = parts[:-1] if part == ".." else [*parts, part]
                assert "/".join(parts) in names, (name, reference)
    assert not list(tmp_path.glob(".portfolio.zip.*"))  # no temporary file left


def test_html_is_sanitised(space: Space, tmp_path: Path) -> None:
    library = TemplateLibrary.load()
    space.add_asset(
        "builtin/journal",
        "<b>Bold</b> title",
        {"entry": "<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=y(3)>"},
        ["<i>tag</i>"],
        template=library.get("journal"),
    )
    export_html(ExportJob(space, tmp_path / "site"))
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text()
        assert "alert(" not in text
        assert "y(3)" not in text
        assert "onerror" not in text
        assert "javascript:" not in text
        assert "<b>Bold</b>" not in text
        assert "<i>tag</i>" not in text
    assert "&lt;b&gt;Bold&lt;/b&gt; title" in (tmp_path / "site" / "index.html").read_text()


def test_html_of_a_tag_lists_only_that_tag(demo: Space, tmp_path: Path) -> None:
    report = export_html(ExportJob(demo, tmp_path / "site", Selection(tag="SQL")))
    index = (tmp_path / "site" / "index.html").read_text()
    assert report.assets == 5
    assert "Write SQL window functions confidently" in index
    assert "Run stand-ups that end on time" not in index


def test_html_refuses_a_folder_in_use_and_leaves_nothing_when_cancelled(
    demo: Space, tmp_path: Path
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    with pytest.raises(TransferError, match="not an empty folder"):
        export_html(ExportJob(demo, busy))
    assert [p.name for p in busy.iterdir()] == ["mine.txt"]

    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(Cancelled):
        export_html(ExportJob(demo, tmp_path / "site", cancelled=cancelled))
    left = {p.name for p in tmp_path.iterdir() if not p.name.startswith("demo.cairn")}
    assert left == {"busy", "home"}  # no site, no temporary folder


# ------------------------------------------------------------------ Markdown


def test_markdown_notes_have_front_matter_and_files_beside_them(
    demo: Space, tmp_path: Path
) -> None:
    library = TemplateLibrary.load()
    for title in ("Notes", "notes", "a/b: c?"):
        demo.add_asset("builtin/journal", title, {"entry": "x"}, template=library.get("journal"))
    report = export_markdown(ExportJob(demo, tmp_path / "notes"))
    folder = tmp_path / "notes"
    notes = sorted(p.name for p in folder.glob("*.md"))
    assert report.assets == len(notes) == 31
    assert {"Notes.md", "notes 2.md", "a b c.md"} <= set(notes)
    text = (folder / f"{WHITEBOARD}.md").read_text()
    matter = yaml.safe_load(text.split("---\n")[1])
    assert matter["title"] == WHITEBOARD
    assert matter["template"] == "builtin/evidence"
    assert matter["tags"] == ["facilitation"]
    assert matter["skills"] == ["facilitation"]
    assert matter["created"]
    assert matter["updated"]
    link = re.search(r"!\[whiteboard.png\]\(([^)]+)\)", text)
    assert link is not None
    assert (folder / unquote(link.group(1))).read_bytes().startswith(b"\x89PNG")
    plan = (folder / "Run stand-ups that end on time.md").read_text()
    assert yaml.safe_load(plan.split("---\n")[1])["status"] == "In progress"
    assert "- [x] Read the team's last three retro notes" in plan


# ----------------------------------------------------------------------- PDF


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_pdf_has_a_page_per_asset_and_embeds_images(demo: Space, tmp_path: Path) -> None:
    library = TemplateLibrary.load()
    short = [
        demo.add_asset(
            "builtin/journal", f"Short {n}", {"entry": "A line."}, template=library.get("journal")
        ).id  # fmt: skip
        for n in range(3)
    ]
    report = export_pdf(ExportJob(demo, tmp_path / "three.pdf", Selection(tuple(short))))
    data = (tmp_path / "three.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    assert report.assets == 3
    assert _pdf_pages(data) == 3  # one page each: a page break between assets

    evidence = next(s.id for s in demo.list_assets()[0] if s.title == WHITEBOARD)
    export_pdf(ExportJob(demo, tmp_path / "evidence.pdf", Selection((evidence,))))
    data = (tmp_path / "evidence.pdf").read_bytes()
    assert _pdf_pages(data) == 1
    assert re.search(rb"/Subtype\s*/Image", data)  # the whiteboard picture is in it
    assert b"Learning portfolio" in data or "Learning portfolio".encode("utf-16-be") in data


# -------------------------------------------------------------------- LEAP2A


def test_leap2a_package_follows_the_spec(demo: Space, tmp_path: Path) -> None:
    report = export_leap2a(ExportJob(demo, tmp_path / "leap2a.zip"))
    assert report.assets == 28
    assert report.files == 1
    assert detect_format(tmp_path / "leap2a.zip") == "leap2a"
    with zipfile.ZipFile(tmp_path / "leap2a.zip") as archive:
        names = set(archive.namelist())
        root = ET.fromstring(archive.read("leap2a.xml"))
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{LEAP2}version") == "http://www.leapspecs.org/2010-07/2A/"
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    entries = {e.findtext(f"{ATOM}id"): e for e in root.findall(f"{ATOM}entry")}

    def kind(entry: ET.Element) -> str:
        return entry.find(f"{RDF}type").get(f"{RDF}resource")  # type: ignore[union-attr]

    def links(entry: ET.Element, rel: str) -> list[str]:
        return [ln.get("href", "") for ln in entry.findall(f"{ATOM}link") if ln.get("rel") == rel]

    by_title = {e.findtext(f"{ATOM}title"): e for e in entries.values()}
    for entry in entries.values():  # every item has what the spec requires
        for tag in ("id", "title", "updated", "content"):
            assert entry.find(f"{ATOM}{tag}") is not None
    plan = by_title["Run stand-ups that end on time"]
    assert kind(plan) == "leap2:plan"
    assert plan.find(f"{LEAP2}date").get(f"{LEAP2}point") == "target"  # type: ignore[union-attr]
    tasks = [entries[href] for href in links(plan, "leap2:has_part")]
    assert [t.findtext(f"{ATOM}title") for t in tasks] == [
        "Read the team's last three retro notes",
        "Introduce a visible timer and a parking lot",
        "Ask Sam to observe one stand-up",
    ]
    assert all(kind(t) == "leap2:plan" and links(t, "leap2:is_part_of") for t in tasks)
    stages = [t.find(f"{LEAP2}status").get(f"{LEAP2}stage") for t in tasks]  # type: ignore[union-attr]
    assert stages == ["completed", "completed", "planned"]

    evidence = by_title[WHITEBOARD]
    assert kind(evidence) == "leap2:resource"
    (file_entry,) = [entries[h] for h in links(evidence, "leap2:has_part")]
    (enclosure,) = links(file_entry, "enclosure")
    assert enclosure in names
    assert kind(file_entry) == "leap2:resource"
    assert links(evidence, "leap2:supports") == [plan.findtext(f"{ATOM}id")]
    skill = entries[links(evidence, "leap2:is_evidence_of")[0]]
    assert kind(skill) == "leap2:ability"
    assert skill.findtext(f"{ATOM}title") == "Facilitation"

    journal = by_title["Quiet day, good focus"]
    blog = entries[links(journal, "leap2:is_part_of")[0]]
    assert kind(blog) == "leap2:selection"
    assert blog.find(f"{ATOM}category").get("term") == "Blog"  # type: ignore[union-attr]
    assert [c.get("term") for c in journal.findall(f"{ATOM}category")] == ["sql"]
    reflection = by_title["A tough client call about scope"]
    assert {"Reflecting", "clients", "communication"} == {
        c.get("term") for c in reflection.findall(f"{ATOM}category")
    }
    assert kind(by_title["Shadowing the support team for a week"]) == "leap2:activity"
    assert kind(by_title["SQL"]) == "leap2:ability"


def test_an_empty_selection_still_makes_valid_exports(space: Space, tmp_path: Path) -> None:
    report = export_leap2a(ExportJob(space, tmp_path / "empty.zip"))
    assert report.assets == 0
    assert report.skipped == []
    with zipfile.ZipFile(tmp_path / "empty.zip") as archive:
        root = ET.fromstring(archive.read("leap2a.xml"))
    assert root.findall(f"{ATOM}entry") == []
    export_html(ExportJob(space, tmp_path / "site"))
    assert "Nothing was selected" in (tmp_path / "site" / "index.html").read_text()
