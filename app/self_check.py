"""`cairn --self-check`: show that this installation works, in a throwaway space.

Checks what an installer can get wrong (templates and resources missing from a
wheel or a bundle, a library or Qt plugin left out) by doing what a person does:
create a space, write, lock, unlock, read, search, render, verify. Nothing of
the person's own is read or written; the temporary space is deleted at the end.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import secrets
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path

from app.forms.answers import apply_assignments, defaults
from app.forms.library import builtin_templates
from app.forms.model import Template
from app.forms.render import to_html, to_markdown
from app.portable import NewSpace, import_portable
from app.space import Space
from app.transfer import EXPORT_FORMATS, IMPORT_FORMATS, ExportJob, exporter_for, importer_for
from store.errors import WrongPassphrase
from store.kdf import MIB, KdfPolicy

#: The production floor (64 MiB, 3 passes), fixed rather than calibrated: the
#: space lives for a second and protects nothing, so calibrating would only cost time.
SELF_CHECK_POLICY = KdfPolicy(fixed=(64 * MIB, 3, 1))

#: More than two of the store's 1 MiB attachment chunks, the last one partial.
ATTACHMENT_BYTES = 2 * 1024 * 1024 + 12_345

SEARCH_WORD = "stand-ups"


class CheckFailed(Exception):
    """A check found something wrong; the message says what."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def version() -> str:
    """This Cairn's version, from the package metadata (the one place it is kept)."""
    try:
        return metadata.version("cairn")
    except metadata.PackageNotFoundError:
        return "unknown"


class SelfCheck:
    """The checks, in order; each returns one line saying what it found."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "self-check.cairn"
        self.passphrase = secrets.token_urlsafe(24)
        self.template: Template | None = None
        self.asset_id = ""
        self.payload = secrets.token_bytes(ATTACHMENT_BYTES)
        self.space: Space | None = None

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("templates", self.check_templates),
            ("resources", self.check_resources),
            ("create", self.check_create),
            ("write", self.check_write),
            ("unlock", self.check_unlock),
            ("read", self.check_read),
            ("search", self.check_search),
            ("render", self.check_render),
            ("transfer", self.check_transfer),
            ("verify", self.check_verify),
            ("qt", self.check_qt),
        ]

    def check_templates(self) -> str:
        templates = {t.id: t for t in builtin_templates()}
        _require(bool(templates), "no built-in templates were found")
        _require("smart-plan" in templates, "the SMART plan template is missing")
        self.template = templates["smart-plan"]
        return f"{len(templates)} built-in templates read and checked"

    def check_resources(self) -> str:
        icons = resources.files("resources") / "icons"
        names = [e.name for e in icons.iterdir() if e.name.endswith(".svg")]
        _require("cairn.svg" in names, "the application icon resources/icons/cairn.svg is missing")
        css = resources.files("resources") / "portfolio" / "portfolio.css"
        _require(css.is_file(), "the portfolio stylesheet is missing")
        return f"{len(names)} icons and the portfolio stylesheet"

    def check_create(self) -> str:
        space, recovery_key = Space.create(
            self.path, self.passphrase, kdf_policy=SELF_CHECK_POLICY
        )
        space.lock()
        _require(bool(recovery_key), "no recovery key was issued")
        return "a new space in a temporary folder (Argon2id 64 MiB, 3 passes; AES-256-GCM)"

    def check_write(self) -> str:
        assert self.template is not None
        template = self.template
        values = apply_assignments(
            template,
            defaults(template),
            [
                ("specific", f"Run {SEARCH_WORD} that end on time <script>alert(1)</script>"),
                ("deadline", "2030-12-31"),
                ("actions", "[ ] Ask Sam to observe one @2030-06-01; [x] Try a timer"),
            ],
        )
        with Space.open(self.path, self.passphrase, kdf_policy=SELF_CHECK_POLICY,
                        index="lazy") as space:  # fmt: skip
            record = space.add_asset(
                template.qualified_id, "Self-check plan", values, ["self-check"],
                template_version=template.version, template=template,
            )  # fmt: skip
            self.asset_id = record.id
            space.edit_asset(record.id, title="Self-check plan, revised", template=template)
            space.attach(record.id, io.BytesIO(self.payload), "evidence.bin",
                         "application/octet-stream")  # fmt: skip
        size = ATTACHMENT_BYTES / (1024 * 1024)
        return f"a SMART plan with a checklist and a tag, edited once, and a {size:.1f} MiB file"

    def check_unlock(self) -> str:
        try:
            Space.open(self.path, self.passphrase + "!", kdf_policy=SELF_CHECK_POLICY,
                       index="lazy").lock()  # fmt: skip
        except WrongPassphrase:
            pass
        else:
            raise CheckFailed("a wrong passphrase opened the space")
        self.space = Space.open(self.path, self.passphrase, kdf_policy=SELF_CHECK_POLICY)
        _require(self.space.integrity_problem is None,
                 f"the manifest check failed: {self.space.integrity_problem}")  # fmt: skip
        return "a wrong passphrase is refused; the right one unlocks and the manifest checks"

    def check_read(self) -> str:
        assert self.space is not None
        record = self.space.get_asset(self.asset_id)
        _require(record.title == "Self-check plan, revised", "the title did not read back")
        _require(record.fields.get("deadline") == "2030-12-31", "an answer did not read back")
        _require(record.tags == ["self-check"], "the tag did not read back")
        versions = self.space.history(self.asset_id)
        _require(len(versions) == 2, f"expected 2 versions, found {len(versions)}")
        (attachment,) = self.space.attachments(self.asset_id)
        digest = hashlib.sha256()
        for chunk in self.space.read_attachment(attachment.id):
            digest.update(chunk)
        _require(digest.hexdigest() == hashlib.sha256(self.payload).hexdigest(),
                 "the attachment did not read back byte for byte")  # fmt: skip
        return "answers, tag, both versions and the file (SHA-256) read back"

    def check_search(self) -> str:
        assert self.space is not None
        hits = self.space.search(SEARCH_WORD)
        _require([h.asset_id for h in hits] == [self.asset_id],
                 f"searching for {SEARCH_WORD!r} did not find the plan")  # fmt: skip
        return f"{SEARCH_WORD!r} finds the plan in the full-text index"

    def check_render(self) -> str:
        assert self.space is not None
        assert self.template is not None
        record = self.space.get_asset(self.asset_id)
        html = to_html(record, self.template)
        markdown = to_markdown(record, self.template)
        _require("Self-check plan, revised" in html, "the HTML has no title")
        _require("<script" not in html, "the HTML was not sanitised")
        _require("Specific" in markdown and "Actions" in markdown,
                 "the Markdown is not laid out by the template")  # fmt: skip
        return "HTML and Markdown laid out by the template; the HTML sanitised"

    def check_transfer(self) -> str:
        assert self.space is not None
        missing = []
        # The formats register themselves when their modules are imported by name,
        # which a bundler cannot see: a format left out shows up here.
        for kind, names, lookup in (("export to", EXPORT_FORMATS, exporter_for),
                                    ("import from", IMPORT_FORMATS, importer_for)):  # fmt: skip
            for name in names:
                try:
                    lookup(name)
                except Exception:
                    missing.append(f"{kind} {name}")
        _require(not missing, "not in this installation: " + ", ".join(missing))
        site = self.folder / "portfolio"
        exporter_for("html")(ExportJob(self.space, site))
        _require((site / "index.html").is_file(), "the HTML portfolio has no index page")
        archive = self.folder / "self-check.cairn-archive"
        # A cheap scrypt cost: the archive is deleted with the folder a moment later.
        exporter_for("portable")(ExportJob(self.space, archive, archive_passphrase=self.passphrase,
                                           archive_work_factor=10))  # fmt: skip
        restored = NewSpace(self.folder / "restored.cairn", self.passphrase, SELF_CHECK_POLICY)
        import_portable(archive, restored, self.passphrase)
        with Space.open(restored.path, self.passphrase, kdf_policy=SELF_CHECK_POLICY,
                        index="lazy") as space:  # fmt: skip
            _require(space.get_asset(self.asset_id).title == "Self-check plan, revised",
                     "the portable archive did not restore the plan")  # fmt: skip
        return (f"{len(EXPORT_FORMATS)} export and {len(IMPORT_FORMATS)} import formats; "
                "an HTML portfolio; a portable archive written and restored")  # fmt: skip

    def check_verify(self) -> str:
        assert self.space is not None
        report = self.space.verify()
        _require(report.ok, "; ".join(str(p) for p in report.problems[:3]))
        return "every record, attachment chunk and the manifest"

    def check_qt(self) -> str:
        # QtGui only (no widgets: see the import rule); offscreen unless told otherwise,
        # so the check also runs where there is no display.
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import QSize
        from PySide6.QtGui import QGuiApplication, QIcon, QImage, QImageReader, QPainter
        from PySide6.QtSvg import QSvgRenderer

        application = QGuiApplication.instance()
        if application is None:
            arguments = ["cairn"]
            if not os.environ.get("QT_QPA_PLATFORM"):
                arguments += ["-platform", "offscreen"]
            application = QGuiApplication(arguments)
        platform_name = QGuiApplication.platformName()

        icon_path = resources.files("resources") / "icons" / "cairn.svg"
        renderer = QSvgRenderer(icon_path.read_bytes())
        _require(renderer.isValid(), "QtSvg could not read the application icon")
        image = QImage(64, 64, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        _require(image.pixelColor(32, 32).alpha() > 0, "the application icon drew nothing")
        with tempfile.NamedTemporaryFile(suffix=".svg", dir=self.folder, delete=False) as svg:
            svg.write(icon_path.read_bytes())
        icon = QIcon(svg.name)  # the SVG icon engine plugin
        _require(not icon.pixmap(QSize(32, 32)).isNull(), "the SVG icon engine is missing")

        formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
        missing = {"png", "jpeg", "gif", "svg"} - formats
        _require(not missing, f"Qt cannot read {', '.join(sorted(missing))} images")
        return f"PySide6 {pyside_version} on {platform_name}; SVG icon drawn; " + ", ".join(
            sorted(formats & {"png", "jpeg", "gif", "webp", "tiff", "bmp", "svg"})
        )

    def close(self) -> None:
        if self.space is not None:
            self.space.lock()
            self.space = None


def run(out: Callable[[str], None] = print) -> int:
    """Run every check, printing one line each; 0 if all passed, 1 at the first failure."""
    bundled = " (bundled)" if getattr(sys, "frozen", False) else ""
    out(f"Cairn {version()} self-check{bundled}: Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cairn-self-check-") as folder:
        check = SelfCheck(Path(folder))
        try:
            for name, step in check.steps():
                try:
                    detail = step()
                except Exception as exc:  # reported, not raised: this is a diagnosis
                    reason = str(exc) or type(exc).__name__
                    out(f"  FAIL  {name:<10} {type(exc).__name__}: {reason}")
                    out("self-check failed")
                    return 1
                out(f"  ok    {name:<10} {detail}")
        finally:
            check.close()
    out(f"self-check passed: {len(check.steps())} checks; the temporary space was deleted")
    return 0
