"""Export and import formats: one registry the command line and the desktop app share.

An exporter takes an ExportJob and returns a TransferReport; an importer takes
an ImportJob. Formats register themselves by name (`register_exporter`,
`register_importer`) when their module is imported; `load_formats()` imports
the modules that hold them (app.portable and the app.exports package), so a
caller only ever needs this module.

The portable archive is special on the import side: it may create the space
it imports into, so besides its registered importer (which merges into an open
space) it has its own entry point, app.portable.import_portable.
"""

from __future__ import annotations

import importlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.space import Space

#: The first line of every age file (https://age-encryption.org/v1).
AGE_MAGIC = b"age-encryption.org/v1\n"
ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
#: Substrings of the namespaces LEAP2A files use (the spec's, Mahara's, the 2009 drafts').
LEAP2A_NAMESPACE_MARKS = ("terms.leapspecs.org", "wiki.leapspecs.org/2A", "leap2a")
MARKDOWN_SUFFIXES = (".md", ".markdown")

ProgressCallback = Callable[[int, int], None]
CancelledCallback = Callable[[], bool]


class Cancelled(Exception):
    """The person cancelled the export or import; nothing was written or imported."""


class TransferError(Exception):
    """An export or import failed (the base of the errors below; CLI exit 1)."""


class FormatUnavailable(TransferError):
    """No exporter or importer is registered under this name (yet): CLI exit 2."""


class UnknownFormat(TransferError):
    """The input's format could not be recognised: CLI exit 2."""


class InvalidInput(TransferError):
    """The input is readable but not acceptable (bad front matter, bad XML...): CLI exit 2."""


class WrongArchivePassphrase(TransferError):
    """The archive passphrase does not open the archive: CLI exit 3."""


class DamagedArchive(TransferError):
    """The input is truncated, altered, inconsistent, unsafe or over a limit: CLI exit 4."""


class UnsupportedArchive(TransferError):
    """The input was written by a newer Cairn (unknown format version): CLI exit 6."""


@dataclass(frozen=True)
class Selection:
    """What to export: everything (the default), some assets by id, or those with a tag.

    Ids and a tag together select the union: the assets named and those tagged.
    """

    asset_ids: tuple[str, ...] = ()
    tag: str | None = None

    @property
    def everything(self) -> bool:
        return not self.asset_ids and self.tag is None


@dataclass(frozen=True)
class Limits:
    """What an import accepts at most, so a hostile file cannot exhaust disk or memory.

    Shared by every importer that unpacks a container (tar, zip).
    """

    max_entries: int = 1_000_000
    max_total_bytes: int = 1 << 40  # 1 TiB of content
    max_file_bytes: int = 1 << 38  # 256 GiB for one file
    #: JSON, XML, TOML and Markdown documents are read into memory whole.
    max_document_bytes: int = 64 * 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass
class _Reporting:
    progress: ProgressCallback | None = field(default=None, kw_only=True)
    cancelled: CancelledCallback | None = field(default=None, kw_only=True)

    def report_progress(self, done: int, total: int) -> None:
        """Tell the caller how far the job is (`total` 0 when unknown)."""
        if self.progress is not None:
            self.progress(done, total)

    def check_cancelled(self) -> None:
        """Raise Cancelled if the caller asked to stop; call between units of work."""
        if self.cancelled is not None and self.cancelled():
            raise Cancelled("cancelled")


@dataclass
class ExportJob(_Reporting):
    """Export `selection` of `space` to `out` (a file or a folder, as the format needs)."""

    space: Space
    out: Path
    selection: Selection = Selection()
    #: The portable archive's own passphrase (other formats ignore it).
    archive_passphrase: str | None = None
    #: log2 of the archive's scrypt cost; None is age's default (tests pass a cheap one).
    archive_work_factor: int | None = None
    #: The heading of an HTML portfolio or PDF (None: the format's own default).
    title: str | None = None


@dataclass
class ImportJob(_Reporting):
    """Import `source` into the open `space` (one transaction: all or nothing)."""

    space: Space
    source: Path
    archive_passphrase: str | None = None
    limits: Limits = DEFAULT_LIMITS


@dataclass
class TransferReport:
    """What an export or import did: counts, what it left out and why."""

    format: str
    #: Assets exported or imported (created or changed).
    assets: int = 0
    #: Attachment files written or imported.
    files: int = 0
    #: Bytes of attachment content written or imported.
    bytes: int = 0
    #: One line per thing left out ("asset 1234: damaged"), never silently dropped.
    skipped: list[str] = field(default_factory=list)
    #: Things the person should know that did not stop the job.
    warnings: list[str] = field(default_factory=list)
    #: Records that could not be read and were left out (the CLI then exits 4).
    damaged: list[str] = field(default_factory=list)
    #: The file or folder written, or the space imported into.
    path: Path | None = None
    #: Format-specific figures (e.g. "unchanged": assets already up to date).
    details: dict[str, int | str] = field(default_factory=dict)


Exporter = Callable[[ExportJob], TransferReport]
Importer = Callable[[ImportJob], TransferReport]

EXPORTERS: dict[str, Exporter] = {}
IMPORTERS: dict[str, Importer] = {}

#: Every format name the command line offers, registered or not yet.
EXPORT_FORMATS = ("portable", "html", "markdown", "pdf", "leap2a")
IMPORT_FORMATS = ("portable", "leap2a", "markdown")

#: Modules whose import registers formats; missing ones are simply not there yet.
FORMAT_MODULES = ("app.portable", "app.exports")


def register_exporter(name: str, exporter: Exporter) -> None:
    EXPORTERS[name] = exporter


def register_importer(name: str, importer: Importer) -> None:
    IMPORTERS[name] = importer


def load_formats() -> None:
    """Import the modules that register formats (idempotent)."""
    for module in FORMAT_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as missing:
            if missing.name != module:  # a real missing dependency inside it
                raise


def exporter_for(name: str) -> Exporter:
    load_formats()
    if name not in EXPORTERS:
        raise FormatUnavailable(f"export to {name} is not available yet")
    return EXPORTERS[name]


def importer_for(name: str) -> Importer:
    load_formats()
    if name not in IMPORTERS:
        raise FormatUnavailable(f"import from {name} is not available yet")
    return IMPORTERS[name]


def detect_format(path: Path) -> str:
    """ "portable", "leap2a" or "markdown", from the content (and a folder or .md name).

    A portable archive is an age file; LEAP2A is a zip holding leap2a.xml or a
    bare Atom XML file with a LEAP2A namespace; a folder or a .md file is Markdown.
    """
    path = Path(path)
    if path.is_dir():
        return "markdown"
    try:
        with path.open("rb") as handle:
            head = handle.read(64 * 1024)
    except OSError as exc:
        raise UnknownFormat(f"cannot read {path}: {exc.strerror}") from exc
    if head.startswith(AGE_MAGIC):
        return "portable"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise UnknownFormat(f"{path} is a damaged zip file") from exc
        if any(PurePosixPath(name).name.lower() == "leap2a.xml" for name in names):
            return "leap2a"
        raise UnknownFormat(f"{path} is a zip file without leap2a.xml")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").decode("utf-8", "replace")
    atom = text.startswith("<") and ATOM_NAMESPACE in text
    if atom and any(mark in text for mark in LEAP2A_NAMESPACE_MARKS):
        return "leap2a"
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return "markdown"
    raise UnknownFormat(
        f"cannot tell the format of {path}; name it with --format ({', '.join(IMPORT_FORMATS)})"
    )


def selected_assets(space: Space, selection: Selection) -> list[str]:
    """Ids of the selected assets, most recently updated first.

    Ids may be unique prefixes (NoSuchAsset or AmbiguousId otherwise); the tag
    matches without regard to case.
    """
    summaries, _damaged = space.list_assets()
    if selection.everything:
        return [summary.id for summary in summaries]
    wanted = {space.resolve_asset_id(asset_id) for asset_id in selection.asset_ids}
    tag = selection.tag.casefold() if selection.tag is not None else None
    return [
        summary.id
        for summary in summaries
        if summary.id in wanted or (tag is not None and tag in {t.casefold() for t in summary.tags})
    ]


def safe_member_name(name: str) -> PurePosixPath:
    """A container member's name as a relative path, or DamagedArchive.

    Refuses absolute names, drive letters, backslashes, `..`, empty or `.`
    components and control characters, so nothing can land outside the
    folder it is unpacked into.
    """
    if not name or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise DamagedArchive(f"the archive holds an unsafe file name {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise DamagedArchive(f"the archive holds an absolute file name {name!r}")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise DamagedArchive(f"the archive holds an unsafe file name {name!r}")
    return PurePosixPath(*parts)
