"""What every open export shares: the assets with their templates and files,
safe file names, and an output tree written to a folder or a zip, all or nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import IO

from app.forms.library import TemplateLibrary
from app.forms.model import Template
from app.space import Space, looks_like_image
from app.transfer import Cancelled, ExportJob, TransferError, TransferReport, selected_assets
from store.errors import DamagedRecord
from store.records import AssetRecord, AttachmentInfo

#: Called with (items done, items in all) as an export goes.
Progress = Callable[[int, int], None]
#: Returns True when the person asked to stop; the export then raises Cancelled.
CancelCheck = Callable[[], bool]

_UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|#^\[\]{}%]')
_WINDOWS_RESERVED = {
    "con", "prn", "aux", "nul",
    *(f"com{n}" for n in range(1, 10)), *(f"lpt{n}" for n in range(1, 10)),
}  # fmt: skip
#: Media types already compressed: stored as they are in a zip.
_COMPRESSED_PREFIXES = ("image/", "video/", "audio/")
_COMPRESSED_TYPES = {"application/zip", "application/pdf", "application/gzip"}


class ExportError(TransferError):
    """The export cannot be written (the target is in the way, or unreadable input)."""


@dataclass
class ExportItem:
    """One asset to export, with its template (None if unknown here) and attachments."""

    record: AssetRecord
    template: Template | None
    attachments: list[AttachmentInfo] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The template's kind (plan, journal...), or "other" for an unknown template."""
        return self.template.kind if self.template else "other"

    @property
    def template_name(self) -> str:
        return self.template.name if self.template else self.record.template_id

    @property
    def moment(self) -> str:
        """The day the asset is about: its own date field if it has one, else when created."""
        value = self.record.fields.get("date")
        if isinstance(value, str):
            try:
                return date.fromisoformat(value[:10]).isoformat()
            except ValueError:
                pass
        return self.record.created[:10]


def selected_records(job: ExportJob) -> tuple[list[AssetRecord], list[str]]:
    """The job's selected assets in full, and a line for each one that cannot be read."""
    space = job.space
    records: list[AssetRecord] = []
    skipped: list[str] = []
    for asset_id in selected_assets(space, job.selection):
        try:
            records.append(space.get_asset(asset_id))
        except DamagedRecord:
            skipped.append(f"asset {asset_id}: damaged, not exported (see cairn verify)")
    if job.selection.everything:
        skipped += [f"asset {asset_id}: damaged, not exported (see cairn verify)"
                    for asset_id in space.list_assets()[1]]  # fmt: skip
    return records, skipped


def report_for(
    name: str, items: list[ExportItem], path: Path, skipped: list[str]
) -> TransferReport:
    """What an export wrote: assets, files and their bytes, and what it left out."""
    return TransferReport(
        name,
        assets=len(items),
        files=sum(len(item.attachments) for item in items),
        bytes=sum(info.size for item in items for info in item.attachments),
        skipped=list(skipped),
        path=path,
    )


def gather(
    space: Space, records: Iterable[AssetRecord], library: TemplateLibrary | None = None
) -> list[ExportItem]:
    """The records with their templates and attachment records (content is read later)."""
    library = library or TemplateLibrary.load()
    return [
        ExportItem(record, library.exact(record.template_id), space.attachments(record.id))
        for record in records
    ]


class NameLookup:
    """Display names for ids in rendered answers: attachments by file name, assets by title."""

    def __init__(self, space: Space, items: Iterable[ExportItem]) -> None:
        self._names: dict[str, str] = {}
        for item in items:
            for info in item.attachments:
                self._names[info.id] = info.name
        self._space = space
        self._titles: dict[str, str] | None = None

    def __call__(self, item_id: str) -> str | None:
        if item_id in self._names:
            return self._names[item_id]
        if self._titles is None:
            self._titles = {s.id: s.title for s in self._space.list_assets()[0]}
        return self._titles.get(item_id)


def safe_filename(text: str, fallback: str = "untitled", max_length: int = 80) -> str:
    """A file name made from `text` that is valid on Windows, macOS and Linux."""
    name = unicodedata.normalize("NFC", text)
    name = _UNSAFE_CHARACTERS.sub(" ", name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > max_length:
        name = name[:max_length].rstrip(" .")
    if not name or name.split(".")[0].lower() in _WINDOWS_RESERVED:
        name = f"{fallback} {name}".strip() if name else fallback
    return name


def slug(text: str, fallback: str = "item", max_length: int = 60) -> str:
    """Lower-case ASCII words joined by '-', for URLs that need no escaping."""
    spaced = re.sub(r"[\W_]+", " ", text)  # "1–3" stays two words
    ascii_text = unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    result = "-".join(words)[:max_length].strip("-")
    return result or fallback


class UniqueNames:
    """Hands out names that differ case-insensitively: "Notes", "Notes 2", ..."""

    def __init__(self, separator: str = " ") -> None:
        self._taken: set[str] = set()
        self._separator = separator

    def take(self, name: str, suffix: str = "") -> str:
        candidate, number = name, 1
        while (candidate + suffix).casefold() in self._taken:
            number += 1
            candidate = f"{name}{self._separator}{number}"
        self._taken.add((candidate + suffix).casefold())
        return candidate + suffix


def attachment_file_names(attachments: Iterable[AttachmentInfo]) -> dict[str, str]:
    """A safe, unique file name for each attachment id (its own name where possible)."""
    unique = UniqueNames()
    names: dict[str, str] = {}
    for info in attachments:
        stem, dot, extension = info.name.rpartition(".")
        if not dot or not stem:
            stem, extension = info.name, ""
        safe_extension = safe_filename(extension, "", 16) if extension else ""
        suffix = f".{safe_extension}" if safe_extension else ""
        names[info.id] = unique.take(safe_filename(stem, "file"), suffix)
    return names


def is_image(info: AttachmentInfo) -> bool:
    return looks_like_image(info.media_type)


def _compressible(media_type: str) -> bool:
    media_type = media_type.split(";", 1)[0].strip().lower()
    return not media_type.startswith(_COMPRESSED_PREFIXES) and media_type not in _COMPRESSED_TYPES


class OutputTree:
    """Files written under a folder or into a zip; published only by `commit()`.

    Everything goes to a private temporary folder (or file) beside the target;
    `commit()` moves it into place, `discard()` removes it. So an error or a
    cancel part-way never leaves a half-written export behind.
    """

    def __init__(self, target: Path, *, as_zip: bool | None = None) -> None:
        self.target = Path(target)
        self.as_zip = self.target.suffix.lower() == ".zip" if as_zip is None else as_zip
        parent = self.target.parent
        if not parent.is_dir():
            raise ExportError(f"the folder {parent} does not exist")
        if self.as_zip:
            if self.target.is_dir():
                raise ExportError(f"{self.target} is a folder")
            descriptor, name = tempfile.mkstemp(
                prefix=f".{self.target.name}.", suffix=".part", dir=parent
            )
            os.close(descriptor)
            self._temporary = Path(name)
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(
                self._temporary, "w", zipfile.ZIP_DEFLATED, allowZip64=True
            )
        else:
            if self.target.exists() and (not self.target.is_dir() or any(self.target.iterdir())):
                raise ExportError(f"{self.target} already exists and is not an empty folder")
            self._temporary = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=parent))
            self._zip = None
        self._written: set[str] = set()

    def _check(self, relative: str) -> str:
        path = PurePosixPath(relative)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError(f"not a relative path inside the export: {relative!r}")
        key = path.as_posix()
        if key.casefold() in self._written:
            raise ValueError(f"{key!r} is written twice")
        self._written.add(key.casefold())
        return key

    def write_bytes(self, relative: str, data: bytes, media_type: str = "text/plain") -> None:
        self.write_chunks(relative, [data], media_type)

    def write_text(self, relative: str, text: str) -> None:
        self.write_bytes(relative, text.encode("utf-8"))

    def write_chunks(
        self, relative: str, chunks: Iterable[bytes], media_type: str = "application/octet-stream"
    ) -> None:
        key = self._check(relative)
        with self._open(key, media_type) as handle:
            for chunk in chunks:
                handle.write(chunk)

    def _open(self, key: str, media_type: str) -> IO[bytes]:
        if self._zip is not None:
            info = zipfile.ZipInfo(key, date_time=_zip_time())
            info.compress_type = (
                zipfile.ZIP_DEFLATED if _compressible(media_type) else zipfile.ZIP_STORED
            )
            info.external_attr = 0o644 << 16
            return self._zip.open(info, "w", force_zip64=True)
        path = self._temporary / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("wb")

    def commit(self) -> Path:
        """Move the finished export into place and return its path."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None
            with self._temporary.open("rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(self._temporary, 0o644)
            os.replace(self._temporary, self.target)
        else:
            os.chmod(self._temporary, 0o755)
            if self.target.is_dir():
                self.target.rmdir()  # checked empty when we started
            os.replace(self._temporary, self.target)
        return self.target

    def discard(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._temporary.is_dir():
            shutil.rmtree(self._temporary, ignore_errors=True)
        else:
            self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> OutputTree:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None:
            self.discard()


def _zip_time() -> tuple[int, int, int, int, int, int]:
    # A fixed stamp keeps zips reproducible; 1980 is the earliest a zip can say.
    return (1980, 1, 1, 0, 0, 0)


class Steps:
    """Counts work done, reports progress and honours a cancel request."""

    def __init__(
        self, total: int, progress: Progress | None = None, cancelled: CancelCheck | None = None
    ) -> None:
        self.total = max(total, 1)
        self.done = 0
        self._progress = progress
        self._cancelled = cancelled

    def check(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise Cancelled("the export was cancelled")

    def advance(self, count: int = 1) -> None:
        self.done = min(self.total, self.done + count)
        if self._progress is not None:
            self._progress(self.done, self.total)
        self.check()


def read_attachment(space: Space, info: AttachmentInfo) -> Iterator[bytes]:
    """An attachment's plaintext chunks (raises DamagedRecord if it fails its checks)."""
    yield from space.read_attachment(info.id)
