"""LEAP2A import: Mahara-style packages, namespace variants, round trips and bad input."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.demo import create_demo_space
from app.exports.leap2a import export_leap2a
from app.imports.leap2a import import_leap2a
from app.space import Space
from app.transfer import (
    Cancelled,
    DamagedArchive,
    ExportJob,
    ImportJob,
    InvalidInput,
    Limits,
    TransferReport,
)
from store.kdf import KdfPolicy
from store.records import AssetRecord

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

MAHARA_2022 = "https://web.archive.org/web/20100503000634/http://terms.leapspecs.org"
CATEGORIES_2022 = (
    "https://web.archive.org/web/20120819100914/http://wiki.leapspecs.org:80/2A/categories"
)


def mahara_feed(leap: str = "http://terms.leapspecs.org/",
                categories: str = "http://wiki.leapspecs.org/2A/categories/",
                *, prefix: str = "leap2", type_prefix: str = "leap2", types: str | None = None,
                version: bool = True) -> str:  # fmt: skip
    """A feed shaped like Mahara's export: a blog with posts, a file, a plan with
    tasks, skills, a person and a page, with the given namespaces."""
    t = type_prefix
    type_ns = f'\n    xmlns:{type_prefix}="{types}"' if types else ""
    version_line = (
        f"<{prefix}:version>http://www.leapspecs.org/2010-07/2A/</{prefix}:version>"
        if version
        else ""
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"
    xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    xmlns:{prefix}="{leap}"{type_ns}
    xmlns:categories="{categories}"
    xmlns:portfolio="http://mahara.example/export/leap/3/1287249238/"
    xmlns:mahara="https://wiki.mahara.org/wiki/Developer_Area/Import//Export/LEAP_Extensions">
  {version_line}
  <id>http://mahara.example/export/3/1287249238</id>
  <title>Mahara Leap2A Export for Hans Muster</title>
  <updated>2010-10-16T19:13:58+02:00</updated>
  <author><name>Hans Muster</name><uri>portfolio:artefactinternal</uri></author>
  <entry>
    <title>Teaching is easy</title><id>portfolio:artefact43</id>
    <updated>2010-10-07T22:41:03+02:00</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
      <p>Daily ramblings</p></div></content>
    <rdf:type rdf:resource="{t}:selection"/>
    <mahara:artefactplugin mahara:type="blog" mahara:plugin="blog"/>
    <link rel="{prefix}:has_part" href="portfolio:artefact45"/>
    <category term="Blog" scheme="categories:selection_type#"/>
  </entry>
  <entry>
    <title>Visit to Google</title><id>portfolio:artefact45</id>
    <updated>2010-10-07T22:43:02+02:00</updated><published>2010-10-07T22:43:02+02:00</published>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
<p>Visited <strong>Google</strong> today:</p>
<p><img rel="{prefix}:has_part" href="portfolio:artefact42" alt="IMG_0883.JPG"/></p></div></content>
    <rdf:type rdf:resource="{t}:entry"/>
    <mahara:artefactplugin mahara:type="blogpost" mahara:plugin="blog"/>
    <link rel="{prefix}:is_part_of" href="portfolio:artefact43"/>
    <link rel="related" href="portfolio:artefact42"/>
    <category term="travel"/>
  </entry>
  <entry>
    <title>IMG_0883.JPG</title><id>portfolio:artefact42</id>
    <updated>2010-10-07T22:40:20+02:00</updated><published>2010-10-07T22:40:20+02:00</published>
    <content></content>
    <rdf:type rdf:resource="{t}:resource"/>
    <mahara:artefactplugin mahara:type="image" mahara:plugin="file"/>
    <link rel="enclosure" type="image/jpeg" href="files/0-IMG_0883.JPG"/>
    <category term="Offline" scheme="categories:resource_type#" label="File"/>
  </entry>
  <entry>
    <title>report.pdf</title><id>portfolio:artefact50</id>
    <updated>2010-10-08T10:00:00+02:00</updated><published>2010-10-08T10:00:00+02:00</published>
    <content>My term report</content>
    <rdf:type rdf:resource="{t}:resource"/>
    <link rel="enclosure" type="application/pdf" href="files/1-report.pdf"/>
    <link rel="{prefix}:is_part_of" href="portfolio:artefact51"/>
  </entry>
  <entry>
    <title>Reports</title><id>portfolio:artefact51</id>
    <updated>2010-10-08T10:00:00+02:00</updated>
    <content></content>
    <rdf:type rdf:resource="{t}:selection"/>
    <category term="Folder" scheme="categories:selection_type#"/>
  </entry>
  <entry>
    <title>Masterplan</title><id>portfolio:artefact85</id>
    <updated>2010-10-16T19:12:38+02:00</updated><published>2010-10-16T19:12:38+02:00</published>
    <content>Become a better teacher</content>
    <rdf:type rdf:resource="{t}:plan"/>
    <mahara:artefactplugin mahara:type="plan" mahara:plugin="plans"/>
    <link rel="{prefix}:has_part" href="portfolio:artefact87" {prefix}:display_order="2"/>
    <link rel="{prefix}:has_part" href="portfolio:artefact86" {prefix}:display_order="1"/>
  </entry>
  <entry>
    <title>Observe a colleague</title><id>portfolio:artefact86</id>
    <updated>2010-10-16T19:13:48+02:00</updated>
    <content>Sit in on Ms Keller's physics class</content>
    <rdf:type rdf:resource="{t}:plan"/>
    <link rel="{prefix}:is_part_of" href="portfolio:artefact85"/>
    <{prefix}:date {prefix}:point="target">2010-12-31</{prefix}:date>
    <{prefix}:status {prefix}:stage="completed" />
  </entry>
  <entry>
    <title>Try peer instruction</title><id>portfolio:artefact87</id>
    <updated>2010-10-16T19:13:48+02:00</updated>
    <content></content>
    <rdf:type rdf:resource="{t}:plan"/>
    <link rel="{prefix}:is_part_of" href="portfolio:artefact85"/>
    <{prefix}:status {prefix}:stage="planned" />
  </entry>
  <entry>
    <title>Work Skills</title><id>portfolio:artefact40</id>
    <updated>2010-10-07T22:34:36+02:00</updated>
    <content type="html">&lt;p&gt;Hard working&lt;/p&gt;</content>
    <rdf:type rdf:resource="{t}:ability"/>
    <link rel="{prefix}:is_part_of" href="portfolio:view4"/>
  </entry>
  <entry>
    <title>Physics teaching</title><id>portfolio:skill1</id>
    <updated>2010-10-07T22:34:36+02:00</updated>
    <content/>
    <rdf:type rdf:resource="{t}:ability"/>
    <link rel="{prefix}:has_evidence" href="portfolio:artefact50"/>
  </entry>
  <entry>
    <title>Teacher</title><id>portfolio:activity1</id>
    <updated>2010-10-07T22:28:16+02:00</updated>
    <content>Physics teacher</content>
    <rdf:type rdf:resource="{t}:activity"/>
    <link rel="{prefix}:supported_by" href="portfolio:org1"/>
    <{prefix}:date {prefix}:point="start">2003-01-01</{prefix}:date>
    <{prefix}:date {prefix}:point="end">2007-12-31</{prefix}:date>
    <{prefix}:myrole>Teacher</{prefix}:myrole>
  </entry>
  <entry>
    <title>Kantonsschule Zürich</title><id>portfolio:org1</id>
    <updated>2010-10-07T22:28:16+02:00</updated><content></content>
    <rdf:type rdf:resource="{t}:organization"/>
  </entry>
  <entry>
    <title>Resumé</title><id>portfolio:view4</id>
    <updated>2010-10-07T22:44:41+02:00</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>A page</p></div></content>
    <rdf:type rdf:resource="{t}:selection"/>
    <category term="Webpage" scheme="categories:selection_type#"/>
  </entry>
  <entry>
    <title>Hans</title><id>portfolio:artefactinternal</id>
    <updated>2010-10-07T22:57:51+02:00</updated>
    <content type="html">&lt;p&gt;Me&lt;/p&gt;</content>
    <rdf:type rdf:resource="{t}:person"/>
    <category term="Self" scheme="categories:person_type#"/>
    <{prefix}:persondata {prefix}:field="email">hans@example.com</{prefix}:persondata>
  </entry>
</feed>
"""


def write_zip(path: Path, xml: str, files: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("leap2a.xml", xml)
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return path


MAHARA_FILES = {"files/0-IMG_0883.JPG": PNG, "files/1-report.pdf": b"%PDF-1.4 report"}


def assets_by_title(space: Space) -> dict[str, AssetRecord]:
    return {record.title: record for record in space.iter_assets()}  # type: ignore[union-attr]


def run_import(space: Space, source: Path, **kwargs: object) -> TransferReport:
    return import_leap2a(ImportJob(space, source, **kwargs))  # type: ignore[arg-type]


# -------------------------------------------------------------------- Mahara


def test_mahara_export_becomes_journal_plans_evidence_and_skills(
    space: Space, tmp_path: Path
) -> None:
    source = write_zip(tmp_path / "mahara.zip", mahara_feed(), MAHARA_FILES)
    report = run_import(space, source)
    assets = assets_by_title(space)
    # The blog, the folder, the page, the person and the organisation are not assets;
    # the picture belongs to the post, the tasks to the plan, the bare skill to the report.
    assert sorted(assets) == [
        "Masterplan",
        "Teacher",
        "Visit to Google",
        "Work Skills",
        "report.pdf",
    ]

    post = assets["Visit to Google"]
    assert post.template_id == "builtin/journal"
    assert post.fields["entry"].startswith("Visited **Google** today:")
    assert post.created == "2010-10-07T20:43:02.000000+00:00"
    assert post.tags == ["travel"]  # one blog: its name is not a tag
    (picture,) = space.attachments(post.id)
    assert (picture.name, picture.media_type) == ("IMG_0883.JPG", "image/jpeg")
    assert b"".join(space.read_attachment(picture.id)) == PNG

    plan = assets["Masterplan"]
    assert plan.template_id == "builtin/smart-plan"
    assert plan.fields["specific"] == "Become a better teacher"
    assert plan.fields["actions"] == [
        {"text": "Observe a colleague: Sit in on Ms Keller's physics class", "done": True,
         "due": "2010-12-31"},
        {"text": "Try peer instruction", "done": False, "due": None},
    ]  # fmt: skip

    evidence = assets["report.pdf"]
    assert evidence.template_id == "builtin/evidence"
    assert evidence.tags == ["Reports"]  # the folder it was in
    assert evidence.fields["skills"] == ["Physics teaching"]  # a bare skill, linked as evidence
    (report_file,) = space.attachments(evidence.id)
    assert evidence.fields["file"] == [report_file.id]

    skill = assets["Work Skills"]
    assert skill.template_id == "builtin/skill-assessment"
    assert skill.fields == {"skill": ["Work Skills"], "why": "Hard working"}
    assert skill.tags == ["Resumé"]

    job = assets["Teacher"]
    assert job.template_id == "builtin/experience"
    assert job.fields["date"] == "2007-12-31"
    assert "My role: Teacher" in job.fields["what_happened"]
    assert "Organisation: Kantonsschule Zürich" in job.fields["what_happened"]

    warnings = "\n".join(report.warnings)
    assert "person details ('Hans')" in warnings
    assert "the page 'Resumé' is not imported as a page" in warnings
    assert "leap2:persondata" in warnings
    assert report.assets == 5
    assert report.files == 2


@pytest.mark.parametrize(
    ("leap", "categories", "options"),
    [
        ("http://terms.leapspecs.org/", "http://wiki.leapspecs.org/2A/categories/", {}),
        (MAHARA_2022, CATEGORIES_2022, {}),  # Mahara since 2022: archived copies, no slash
        ("http://web.archive.org/web/20220723021432/http://terms.leapspecs.org/",
         "http://www.leapspecs.org/2A/categories", {}),
        ("http://www.cetis.org.uk/leap2/terms/", "http://www.cetis.org.uk/leap2/a/categories/", {}),
        ("http://wiki.leapspecs.org/2A/", "http://wiki.cetis.ac.uk/2009-03/Leap2A_categories/", {}),
        ("http://wiki.cetis.ac.uk/2009-03/LEAP2A_predicates#",
         "http://wiki.cetis.ac.uk/2009-03/LEAP2A_categories/",
         {"prefix": "leap", "type_prefix": "leaptype", "version": False,
          "types": "http://wiki.cetis.ac.uk/2009-03/LEAP2A_types#"}),
    ],
)  # fmt: skip
def test_namespace_variants_read_alike(
    space: Space, tmp_path: Path, leap: str, categories: str, options: dict[str, object]
) -> None:
    xml = mahara_feed(leap, categories, **options)  # type: ignore[arg-type]
    run_import(space, write_zip(tmp_path / "variant.zip", xml, MAHARA_FILES))
    assets = assets_by_title(space)
    assert assets["Masterplan"].template_id == "builtin/smart-plan"
    assert len(assets["Masterplan"].fields["actions"]) == 2
    assert assets["Visit to Google"].template_id == "builtin/journal"
    assert assets["report.pdf"].tags == ["Reports"]
    assert len(space.attachments(assets["Visit to Google"].id)) == 1


def test_bare_xml_imports_and_missing_files_are_reported(space: Space, tmp_path: Path) -> None:
    (tmp_path / "leap2a.xml").write_text(mahara_feed(), encoding="utf-8")
    report = run_import(space, tmp_path / "leap2a.xml")
    assets = assets_by_title(space)
    assert "Visit to Google" in assets
    assert space.attachments(assets["Visit to Google"].id) == []
    assert assets["report.pdf"].fields.get("file") is None
    warnings = "\n".join(report.warnings)
    assert "'files/0-IMG_0883.JPG' of 'Visit to Google' is missing from the package" in warnings
    assert "'files/1-report.pdf'" in warnings


# ---------------------------------------------------------------- round trip


@pytest.fixture
def demo(tmp_path: Path, kdf_policy: KdfPolicy) -> Iterator[Space]:
    space = create_demo_space(tmp_path / "demo.cairn", kdf_policy)
    yield space
    space.lock()


def _digests(space: Space, record: AssetRecord) -> list[tuple[str, str]]:
    return sorted((info.name, info.sha256) for info in space.attachments(record.id))


def test_round_trip_through_leap2a_loses_nothing(demo: Space, space: Space, tmp_path: Path) -> None:
    export_leap2a(ExportJob(demo, tmp_path / "out.zip"))
    report = run_import(space, tmp_path / "out.zip")
    assert report.warnings == []
    before, after = assets_by_title(demo), assets_by_title(space)
    assert sorted(before) == sorted(after)
    for title, old in before.items():
        new = after[title]
        assert (new.template_id, new.template_version) == (old.template_id, old.template_version)
        assert (new.created, new.tags, new.skills, new.status) == (
            old.created, old.tags, old.skills, old.status,
        )  # fmt: skip
        assert _digests(space, new) == _digests(demo, old)
        ids = {info.id: info.name for info in demo.attachments(old.id)}
        new_ids = {info.name: info.id for info in space.attachments(new.id)}
        titles = {r.id: r.title for r in before.values()}
        new_titles = {r.title: r.id for r in after.values()}
        expected = {
            key: (
                [new_ids[ids[v]] for v in value] if key == "file"
                else [new_titles[titles[v]] for v in value] if key == "supports"
                else value
            )
            for key, value in old.fields.items()
        }  # fmt: skip
        assert new.fields == expected, title
        assert len(new.links) == len(old.links)
        assert space.history(new.id)[-1].version == 1  # written once, not patched up


def test_round_trip_by_the_standard_alone(demo: Space, space: Space, tmp_path: Path) -> None:
    """Without Cairn's own elements (as another system would read the file), what
    LEAP2A itself carries still arrives: titles, dates, text, tags, files, actions."""
    export_leap2a(ExportJob(demo, tmp_path / "out.zip"))
    with zipfile.ZipFile(tmp_path / "out.zip") as original:
        xml = original.read("leap2a.xml").decode()
        files = {n: original.read(n) for n in original.namelist() if n != "leap2a.xml"}
    standard = re.sub(r"\s*<cairn:(\w+)[^>]*>.*?</cairn:\1>", "", xml, flags=re.S)
    assert "cairn:fields" not in standard
    report = run_import(space, write_zip(tmp_path / "standard.zip", standard, files))
    assert report.warnings == []
    before, after = assets_by_title(demo), assets_by_title(space)
    assert sorted(before) == sorted(after)
    for title, old in before.items():
        new = after[title]
        assert new.created == old.created, title
        assert new.tags == old.tags, title
        assert _digests(space, new) == _digests(demo, old), title
        text = " ".join(str(v) for v in new.fields.values())
        answers = [v for v in old.fields.values() if isinstance(v, str) and len(v) > 20]
        for answer in answers:  # every sentence that was written is there
            assert answer.split(".")[0].replace("**", "") in text.replace("**", ""), title
    plan, copy = (
        before["Write SQL window functions confidently"],
        after["Write SQL window functions confidently"],
    )
    assert copy.fields["actions"] == plan.fields["actions"]
    assert copy.fields["deadline"] == plan.fields["deadline"]
    assert copy.fields["status"] == "in-progress"
    assert after["Quiet day, good focus"].template_id == "builtin/journal"
    assert after["A tough client call about scope"].template_id == "builtin/reflection"
    assert after["Shadowing the support team for a week"].template_id == "builtin/experience"
    assert after["Whiteboard after the stand-up workshop"].template_id == "builtin/evidence"
    assert after["SQL"].template_id == "builtin/skill-assessment"


# ----------------------------------------------------------------- bad input

XXE = """<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:leap2="http://terms.leapspecs.org/">
<entry><title>&secret;</title><id>x</id><updated>2020-01-01T00:00:00Z</updated><content/></entry>
</feed>"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol3;</title><id>x</id></entry></feed>"""


@pytest.mark.parametrize("xml", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_xml_with_entities_is_refused(space: Space, tmp_path: Path, xml: str) -> None:
    with pytest.raises(InvalidInput, match="DTD or entities"):
        run_import(space, write_zip(tmp_path / "evil.zip", xml))
    assert space.list_assets()[0] == []


def test_xml_that_is_not_well_formed_is_refused(space: Space, tmp_path: Path) -> None:
    (tmp_path / "broken.xml").write_text("<feed xmlns='http://www.w3.org/2005/Atom'><entry>")
    with pytest.raises(InvalidInput, match="not well-formed"):
        run_import(space, tmp_path / "broken.xml")


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil", "files/../../up.txt", "C:/x"])
def test_zip_entries_leaving_the_package_are_refused(
    space: Space, tmp_path: Path, name: str
) -> None:
    source = write_zip(tmp_path / "slip.zip", mahara_feed(), {**MAHARA_FILES, name: b"x"})
    with pytest.raises(DamagedArchive, match="file name"):
        run_import(space, source)
    assert space.list_assets()[0] == []
    assert not (tmp_path.parent / "escape.txt").exists()


def test_zip_bombs_are_refused_without_inflating(space: Space, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("leap2a.xml", mahara_feed())
        archive.writestr("files/0-IMG_0883.JPG", b"\0" * (64 * 1024 * 1024))  # ~1000:1
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(DamagedArchive, match="zip bomb"):
        run_import(space, bomb)
    many = write_zip(tmp_path / "many.zip", mahara_feed(),
                     {f"files/{n}.txt": b"x" for n in range(20)})  # fmt: skip
    with pytest.raises(DamagedArchive, match="entries"):
        run_import(space, many, limits=Limits(max_entries=10))
    big = write_zip(tmp_path / "big.zip", mahara_feed(), MAHARA_FILES)
    with pytest.raises(DamagedArchive, match="total size"):
        run_import(space, big, limits=Limits(max_total_bytes=1000))
    assert space.list_assets()[0] == []


def test_an_import_that_fails_or_is_cancelled_leaves_nothing(space: Space, tmp_path: Path) -> None:
    source = write_zip(tmp_path / "mahara.zip", mahara_feed(), MAHARA_FILES)
    checks = []

    def cancel_during_files() -> bool:
        checks.append(1)
        return len(checks) > 3  # after the assets are written, while files go in

    with pytest.raises(Cancelled):
        run_import(space, source, cancelled=cancel_during_files)
    assert space.list_assets()[0] == []
    assert space.all_attachments()[0] == []

    corrupt = io.BytesIO()
    with zipfile.ZipFile(corrupt, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("leap2a.xml", mahara_feed())
        for name, data in MAHARA_FILES.items():
            archive.writestr(name, data)
    damaged = corrupt.getvalue().replace(b"%PDF-1.4 report", b"%PDF-1.4 rXport")  # CRC mismatch
    (tmp_path / "crc.zip").write_bytes(damaged)
    with pytest.raises(DamagedArchive):
        run_import(space, tmp_path / "crc.zip")
    assert space.list_assets()[0] == []
    assert space.verify().ok


def test_content_nested_absurdly_deep_is_refused_cleanly(space: Space, tmp_path: Path) -> None:
    deep = "<div>" * 5000 + "x" + "</div>" * 5000
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:leap2="http://terms.leapspecs.org/"
      xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <id>x</id><title>t</title><updated>2020-01-01T00:00:00Z</updated>
  <entry><title>Deep</title><id>e1</id><updated>2020-01-01T00:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{deep}</div></content>
    <rdf:type rdf:resource="leap2:entry"/></entry>
</feed>"""
    (tmp_path / "deep.xml").write_text(xml)
    with pytest.raises(InvalidInput, match="nested too deeply"):
        run_import(space, tmp_path / "deep.xml")
    assert space.list_assets()[0] == []


def test_a_bare_xml_never_brings_in_hidden_files_beside_it(space: Space, tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    xml = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:leap2="http://terms.leapspecs.org/"
      xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <id>x</id><title>t</title><updated>2020-01-01T00:00:00Z</updated>
  <entry><title>Key</title><id>f1</id><updated>2020-01-01T00:00:00Z</updated>
    <content src=".ssh/id_rsa" type="text/plain"/>
    <rdf:type rdf:resource="leap2:resource"/>
    <link rel="enclosure" href=".ssh/id_rsa" type="text/plain"/></entry>
</feed>"""
    (tmp_path / "leap2a.xml").write_text(xml)
    run_import(space, tmp_path / "leap2a.xml")
    for summary in space.list_assets()[0]:
        assert space.attachments(summary.id) == []
