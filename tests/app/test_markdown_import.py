"""Markdown import: an Obsidian or Joplin folder of notes becomes journal entries."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from app.demo import create_demo_space
from app.exports.markdown import export_markdown
from app.imports.markdown import import_markdown
from app.space import Space
from app.transfer import DamagedArchive, ExportJob, ImportJob, InvalidInput, TransferReport
from store.kdf import KdfPolicy
from store.records import AssetRecord

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def vault(root: Path) -> Path:
    (root / ".obsidian").mkdir(parents=True)
    (root / ".obsidian" / "workspace.md").write_text("not a note")
    (root / "attachments").mkdir()
    (root / "attachments" / "board.png").write_bytes(PNG)
    (root / "projects" / "docs").mkdir(parents=True)
    (root / "projects" / "docs" / "plan v2.pdf").write_bytes(b"%PDF-1.4")
    (root / "Stand-up notes.md").write_text(
        "---\n"
        "title: Stand-up retro\n"
        "tags: [facilitation, '#meetings']\n"
        "created: 2025-03-04 10:20:00\n"
        "source: phone\n"
        "---\n"
        "# Stand-up retro\n\n"
        "The board: ![[board.png|300]]\n\n"
        "Plan: [the plan](projects/docs/plan%20v2.pdf), see [[Other note]] and [web](https://example.com).\n"
        "Lost: ![gone](missing.png)\n",
        encoding="utf-8",
    )
    (root / "projects" / "Joplin note.md").write_text(
        "---\ntitle: From Joplin\ncreated: 1700000000000\ntags: work, ideas\n---\n\n"
        "Body with ![board](../attachments/board.png) again.\n",
        encoding="utf-8",
    )
    (root / "projects" / "Broken.md").write_text("---\ntitle: [unclosed\n---\nBody text.\n")
    (root / "Plain.md").write_text("Just a thought.\n")
    return root


def by_title(space: Space) -> dict[str, AssetRecord]:
    return {r.title: r for r in space.iter_assets()}  # type: ignore[union-attr]


def run(space: Space, source: Path) -> TransferReport:
    return import_markdown(ImportJob(space, source))


def test_a_vault_becomes_journal_entries_with_their_files(space: Space, tmp_path: Path) -> None:
    report = run(space, vault(tmp_path / "vault"))
    notes = by_title(space)
    assert sorted(notes) == ["Broken", "From Joplin", "Plain", "Stand-up retro"]
    assert all(n.template_id == "builtin/journal" for n in notes.values())

    retro = notes["Stand-up retro"]
    assert retro.tags == ["facilitation", "meetings"]
    assert retro.created == "2025-03-04T10:20:00.000000+00:00"
    assert retro.fields["date"] == "2025-03-04"
    assert not retro.fields["entry"].startswith("#")  # the title is the entry's own
    assert "![board.png](<board.png>)" in retro.fields["entry"]  # Obsidian embed made standard
    assert "[[Other note]]" in retro.fields["entry"]  # a link to a note stays as written
    files = {a.name: a for a in space.attachments(retro.id)}
    assert sorted(files) == ["board.png", "plan v2.pdf"]
    assert b"".join(space.read_attachment(files["board.png"].id)) == PNG
    assert files["plan v2.pdf"].media_type == "application/pdf"

    joplin = notes["From Joplin"]
    assert joplin.tags == ["work", "ideas"]
    assert joplin.created.startswith("2023-11-14T22:13:20")  # milliseconds since 1970
    assert [a.name for a in space.attachments(joplin.id)] == ["board.png"]

    assert notes["Broken"].fields["entry"] == "---\ntitle: [unclosed\n---\nBody text.\n"
    assert notes["Plain"].fields["entry"] == "Just a thought.\n"
    warnings = "\n".join(report.warnings)
    assert "projects/Broken.md: its front matter is not valid YAML" in warnings
    assert "Stand-up notes.md: the linked file 'missing.png' is missing" in warnings
    assert "front matter keys not imported: source" in warnings  # named once for all notes
    assert (report.assets, report.files) == (4, 3)


def test_a_zipped_vault_imports_and_a_zip_slip_is_refused(space: Space, tmp_path: Path) -> None:
    root = vault(tmp_path / "vault")
    with zipfile.ZipFile(tmp_path / "vault.zip", "w") as archive:
        for path in root.rglob("*"):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    run(space, tmp_path / "vault.zip")
    assert len(by_title(space)) == 4

    with zipfile.ZipFile(tmp_path / "slip.zip", "w") as archive:
        archive.writestr("note.md", "![x](../../etc/passwd)")
        archive.writestr("../../evil.md", "x")
    with pytest.raises(DamagedArchive, match="file name"):
        run(space, tmp_path / "slip.zip")
    assert len(by_title(space)) == 4


def test_links_cannot_reach_outside_the_folder(space: Space, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text("[s](../secret.txt) and [t](/etc/hostname)\n")
    report = run(space, notes)
    (note,) = by_title(space).values()
    assert space.attachments(note.id) == []
    assert len(report.warnings) == 2


def test_nothing_to_import_is_an_error(space: Space, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="no Markdown notes"):
        run(space, tmp_path / "empty")


def test_markdown_export_comes_back(space: Space, tmp_path: Path, kdf_policy: KdfPolicy) -> None:
    demo = create_demo_space(tmp_path / "demo.cairn", kdf_policy)
    try:
        export_markdown(ExportJob(demo, tmp_path / "notes"))
        originals = by_title(demo)
    finally:
        demo.lock()
    report = run(space, tmp_path / "notes")
    # Cairn's own keys (template, skills, status) have no place in a journal entry: said once.
    assert report.warnings == [
        "front matter keys not imported: skills (4 notes), status (3 notes),"
        " template (28 notes), template_name (28 notes)"
    ]
    imported = by_title(space)
    assert sorted(imported) == sorted(originals)
    for title, original in originals.items():
        copy = imported[title]
        assert copy.created == original.created
        assert copy.tags == original.tags
    whiteboard = imported["Whiteboard after the stand-up workshop"]
    assert [a.name for a in space.attachments(whiteboard.id)] == ["whiteboard.png"]
