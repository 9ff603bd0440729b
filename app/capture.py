"""Evidence capture: files that arrive in watched inbox folders become evidence.

Each new file becomes an asset of the built-in evidence template with the file
as its encrypted attachment, in one transaction (see docs/capture.md).

Threads. watchdog's observer threads only put paths on a queue. One worker
thread, "cairn-capture", waits until a file has settled (its size and
modification time unchanged for `settle_seconds`) and imports files one at a
time. Every step that touches the space is a job handed to `run_import`: by
default the worker runs it itself, and a desktop app passes a function that
runs the job on its own store thread and returns its result. Events go to
`on_event` on the worker thread, in order; a GUI must hand them over to its own
thread. `start()` and `stop()` return promptly: start it after unlocking and
stop it before locking.

Nothing here logs a file name or anything else of the space: file names are
the person's data, and leave this module only in events.
"""

from __future__ import annotations

import contextlib
import email.utils
import fnmatch
import io
import logging
import mimetypes
import os
import queue
import re
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from watchdog.events import (
    DirDeletedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from app.forms.library import TemplateLibrary, UnknownTemplate
from app.forms.model import Template
from app.space import THUMBNAIL_SOURCE_LIMIT, Space, looks_like_image, make_thumbnail
from store.errors import SpaceLocked
from store.records import AssetRecord
from store.spacefile import CaptureRecord

logger = logging.getLogger(__name__)

EVIDENCE_TEMPLATE = "builtin/evidence"

#: File names never imported (case-insensitive globs): partial downloads and
#: uploads, editors' lock and swap files, and the folder litter of file managers.
DEFAULT_IGNORE: tuple[str, ...] = (
    ".*",  # dotfiles: .DS_Store, ._AppleDouble, .~lock.x#, Cairn's own .x.part files
    "~$*",  # Microsoft Office owner files
    "~*.tmp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.opdownload",
    "*.tmp",
    "*.temp",
    "*.swp",
    "*~",
    "Thumbs.db",
    "ehthumbs.db",
    "desktop.ini",
    "Icon\r",
)

_OVERWRITE_BLOCK = 1024 * 1024
_PERMISSION_MESSAGE = "cannot be read (permission denied); tried again when that changes"


#: The tag new evidence carries until the person has looked at it ("Captured").
CAPTURED_TAG = "captured"


class AfterImport(StrEnum):
    """What becomes of the original once it is safely in the space."""

    KEEP = "keep"  # leave it; its hash and place are remembered so it is never imported again
    MOVE = "move"  # move it into the folder's `imported/` sub-folder
    DELETE = "delete"  # overwrite it with zeros, then delete it


@dataclass(frozen=True)
class InboxFolder:
    path: Path
    after: AfterImport = AfterImport.KEEP


@dataclass(frozen=True)
class CaptureSettings:
    """How the service behaves; the defaults suit a desktop app."""

    #: A file is imported once its size and modification time stayed the same this long.
    settle_seconds: float = 2.0
    #: Glob patterns (matched case-insensitively against the file name) never imported.
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    tags: tuple[str, ...] = (CAPTURED_TAG,)
    #: How often a missing folder is looked for (and a present one checked).
    folder_poll_seconds: float = 2.0
    #: How often files that could not be read or stored are tried again.
    retry_seconds: float = 30.0
    #: Every folder is listed again this often, in case the system dropped events.
    rescan_seconds: float = 300.0
    imported_folder: str = "imported"
    #: run_once() gives up on a file that is still changing after this long.
    once_patience_seconds: float = 60.0


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class Imported:
    """A file became an evidence asset."""

    path: Path
    asset_id: str
    title: str
    attachment_id: str = ""
    #: Where the original went with AfterImport.MOVE (None: left or deleted).
    moved_to: Path | None = None


@dataclass(frozen=True)
class Duplicate:
    """A file whose content (same SHA-256) is already in the space; not imported again."""

    path: Path
    existing_asset_id: str


@dataclass(frozen=True)
class Skipped:
    """A file deliberately not imported (e.g. empty); `reason` is a sentence."""

    path: Path
    reason: str


@dataclass(frozen=True)
class FolderMissing:
    """A watched folder is gone (deleted, renamed or unmounted); it is looked for again."""

    folder: Path


@dataclass(frozen=True)
class FolderBack:
    """A missing folder is there again: it is scanned and watched."""

    folder: Path


@dataclass(frozen=True)
class Failed:
    """A file (or folder) could not be imported; in watch mode it is tried again later."""

    path: Path
    message: str


CaptureEvent = Imported | Duplicate | Skipped | FolderMissing | FolderBack | Failed
#: Runs one job that touches the space and returns its result (or raises its error).
ImportRunner = Callable[[Callable[[], Any]], Any]
SpaceProvider = Callable[[], Space | None]


def blocking_runner(submit: Callable[[Callable[[], None]], object]) -> ImportRunner:
    """An ImportRunner from a fire-and-forget `submit(function)`, such as the desktop
    task runner's run_store: each job runs there, and its result or error is handed
    back from that thread itself, never through the GUI thread (which may be the
    one waiting in stop())."""

    def run(job: Callable[[], Any]) -> Any:
        done: Future[Any] = Future()

        def call() -> None:
            try:
                done.set_result(job())
            except BaseException as exc:  # handed to the capture thread, which decides
                done.set_exception(exc)

        submit(call)
        return done.result()

    return run


@dataclass
class CaptureSummary:
    imported: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0

    def count(self, event: CaptureEvent) -> None:
        if isinstance(event, Imported):
            self.imported += 1
        elif isinstance(event, Duplicate):
            self.duplicates += 1
        elif isinstance(event, Skipped):
            self.skipped += 1
        elif isinstance(event, Failed | FolderMissing):
            self.failed += 1


# ------------------------------------------------------------- file names


def display_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(name).decode("utf-8", "replace")


def name_key(name: str) -> str:
    """How a file or folder name is remembered: itself if it is valid UTF-8, else
    NUL and the hex of its bytes (NUL never occurs in a name, so keys never clash)."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "\x00" + raw.hex()


def tidy_title(name: str) -> str:
    """A title from a file name: no extension, `_` and `-` as spaces, NFC, one line."""
    shown = unicodedata.normalize("NFC", display_name(name))

    def one_line(text: str) -> str:
        return " ".join(
            "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split()
        )

    title = one_line(re.sub(r"[_\-]+", " ", os.path.splitext(shown)[0]))
    if not title.strip("."):  # "___.png": nothing left but the name itself
        title = one_line(shown)
    return title or "Captured file"


def is_ignored(name: str, patterns: Iterable[str]) -> bool:
    folded = display_name(name).casefold()
    return any(fnmatch.fnmatchcase(folded, pattern.casefold()) for pattern in patterns)


# ------------------------------------------------------------------ dates

# Qt hands over PNG text chunks (tEXt, zTXt, iTXt, XMP included) as "key: value"
# pairs, split unreliably when a key has a space or a colon, so the text is searched
# as a whole for a date after a known key: "Creation Time" (the PNG keyword),
# XMP's DateTimeOriginal, DateCreated and CreateDate, EXIF's DateTimeOriginal.
_DATE_AFTER_KEY = re.compile(
    r"(?:Creation ?Time|Creation ?Date|DateTimeOriginal|Date ?Created|CreateDate)"
    r"[\"'>:=\s]*(\d{4}[-:]\d{2}[-:]\d{2}"  # ISO 8601 or EXIF
    r"|[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4}[^\n<\"]*)",  # RFC 1123, as PNG suggests
    re.IGNORECASE,
)
_LEADING_DATE = re.compile(r"\s*(\d{4})[-:](\d{2})[-:](\d{2})")


def parse_metadata_date(text: str) -> str | None:
    """YYYY-MM-DD from an ISO, EXIF ("2024:03:05 14:15:16") or RFC 1123 date, else None."""
    found = _LEADING_DATE.match(text)
    try:
        if found:
            value = date(int(found[1]), int(found[2]), int(found[3]))
        else:
            value = email.utils.parsedate_to_datetime(text.strip()).date()
    except (TypeError, ValueError, IndexError):
        return None
    if not 1900 <= value.year <= date.today().year + 1:
        return None
    return value.isoformat()


def image_date(data: bytes) -> str | None:
    """The date an image was made, from the metadata Qt reads in its header (PNG
    "Creation Time", XMP dates), or None. Qt does not expose JPEG EXIF dates."""
    try:
        from app.thumbnails import image_reader
    except ImportError:  # no QtGui libraries on this machine: the file's time will do
        return None
    opened = image_reader(data)
    if opened is None:
        return None
    _buffer, reader = opened
    # Read from the header: no pixels are decoded.
    text = "\n".join(f"{key}: {reader.text(key)}" for key in reader.textKeys())
    for found in _DATE_AFTER_KEY.finditer(text):
        if parsed := parse_metadata_date(found[1]):
            return parsed
    return None


def file_date(status: os.stat_result) -> str:
    """The local date of a file's last modification, YYYY-MM-DD."""
    return datetime.fromtimestamp(status.st_mtime).date().isoformat()


# ------------------------------------------------------------ the service


class _StopRequested(Exception):
    """Raised from the progress callback to roll an import back when stopping."""


class _SpaceUnavailable(Exception):
    """The space is locked or not open: the file waits."""


@dataclass
class _DuplicateOf(Exception):
    asset_id: str
    sha256: str


class _ChangedWhileReading(Exception):
    """The file changed while it was read: try again once it settles."""


@dataclass
class _Watched:
    inbox: InboxFolder
    key: str
    present: bool = False
    identity: tuple[int, int] | None = None
    resolved: Path | None = None  # symbolic links resolved, to recognise the space's own files
    watch: ObservedWatch | None = None
    reported_missing: bool = False


@dataclass
class _Pending:
    watched: _Watched
    path: Path
    signature: tuple[int, int] | None = None  # (size, mtime_ns)
    since: float = 0.0
    due: float = 0.0
    first_seen: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Outcome:
    kind: str  # "imported", "duplicate", "vanished", "changed", "unreadable", "skipped"
    record: AssetRecord | None = None
    attachment_id: str = ""
    asset_id: str = ""
    sha256: str = ""
    message: str = ""


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's thread: only hands paths to the service."""

    def __init__(self, service: CaptureService, watched: _Watched) -> None:
        self.service = service
        self.watched = watched

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if event.event_type == "deleted":
                self.service._poke_folders()
            return
        target = event.dest_path if event.event_type == "moved" else event.src_path
        if target:
            self.service._enqueue(self.watched, Path(os.fsdecode(target)))


_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileClosedEvent, FileAttribEvent,
    DirDeletedEvent,
]  # fmt: skip


class CaptureService:
    """Watches inbox folders and imports what arrives as evidence (see module doc).

    `space` is the unlocked Space, or a function returning it (None while it is
    locked: files then wait). `run_import` runs each job that touches the space.
    """

    def __init__(
        self,
        space: Space | SpaceProvider,
        folders: Sequence[InboxFolder],
        on_event: Callable[[CaptureEvent], None],
        *,
        settings: CaptureSettings | None = None,
        run_import: ImportRunner | None = None,
    ) -> None:
        self._space_provider: SpaceProvider = (lambda: space) if isinstance(space, Space) else space
        self.settings = settings or CaptureSettings()
        self._on_event = on_event
        self._run_import: ImportRunner = run_import or (lambda job: job())
        self._watched: list[_Watched] = []
        seen: set[str] = set()
        for inbox in folders:
            path = Path(os.path.normpath(Path(inbox.path).expanduser().absolute()))
            key = name_key(str(path))
            if key not in seen:
                seen.add(key)
                self._watched.append(_Watched(InboxFolder(path, AfterImport(inbox.after)), key))
        self._inbox: queue.SimpleQueue[tuple[_Watched, Path] | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None
        self._pending: dict[Path, _Pending] = {}
        self._retry: dict[Path, _Watched] = {}
        self._reported: set[tuple[Path, tuple[int, int] | None, str]] = set()
        self._hashes: dict[str, str] = {}  # sha256 -> asset id
        self._left: dict[tuple[str, str], tuple[int, int]] = {}  # (folder, name) -> signature
        self._own_files: set[Path] = set()
        self._template: Template | None = None
        self._folders_due = self._retry_due = self._rescan_due = 0.0
        self._scanned = False
        self._once = False

    # ------------------------------------------------------------ public API

    @property
    def folders(self) -> list[InboxFolder]:
        return [watched.inbox for watched in self._watched]

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def start(self) -> None:
        """Scan the folders, then watch them, on a worker thread; returns at once."""
        if self.is_running:
            return
        if self._thread is not None:  # still winding down after stop(timeout=0)
            self._thread.join()
        self._stopping.clear()
        self._idle.clear()
        self._scanned = False
        self._reported.clear()  # a new session tells again what is still wrong
        self._observer = Observer()
        self._observer.start()
        self._thread = threading.Thread(target=self._work, name="cairn-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop watching; an import in progress is rolled back and done at the next start."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():  # not from on_event
            thread.join(timeout)
        if thread is not None and not thread.is_alive() and self._thread is thread:
            self._thread = None
        # stop() may run on the capture thread (from a listener) and on another at
        # once: each works on the observer it saw, and only one forgets it.
        with self._state_lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            if observer is not threading.current_thread():
                observer.join(timeout)

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until the first scan is done and no file is waiting or importing.

        Files that failed and wait for a retry do not count. Returns False on timeout.
        """
        return self._idle.wait(timeout)

    def run_once(self) -> CaptureSummary:
        """Import what is in the folders now (after it settles) and return; no watching.

        Runs on the caller's thread. Unreadable files are reported, not retried.
        """
        summary = CaptureSummary()
        on_event = self._on_event

        def counting(event: CaptureEvent) -> None:
            summary.count(event)
            on_event(event)

        self._on_event = counting
        self._once = True
        self._stopping.clear()
        try:
            self._work()
        finally:
            self._on_event = on_event
            self._once = False
        return summary

    # ------------------------------------------------- called from watchdog

    def _enqueue(self, watched: _Watched, path: Path) -> None:
        with self._state_lock:
            self._inbox.put((watched, path))
            self._idle.clear()
        self._wake.set()

    def _poke_folders(self) -> None:
        self._folders_due = 0.0
        self._wake.set()

    # ------------------------------------------------------------ the worker

    def _work(self) -> None:
        try:
            self._load_state()
        except _SpaceUnavailable:
            logger.info("capture: the space is not open; nothing to do")
            return
        except Exception as exc:
            logger.error("capture: could not read the space (%s)", type(exc).__name__)
            for watched in self._watched:
                self._emit(Failed(watched.inbox.path, f"the space could not be read: {exc}"))
            return
        try:
            self._check_folders()
            self._scanned = True
            self._loop()
        finally:
            for watched in self._watched:  # the next start looks at every folder afresh
                self._unwatch(watched)
                watched.present, watched.identity, watched.reported_missing = False, None, False
            self._pending.clear()
            self._retry.clear()

    def _loop(self) -> None:
        settings = self.settings
        while not self._stopping.is_set():
            self._drain()
            now = time.monotonic()
            if not self._once:
                if now >= self._folders_due:
                    self._check_folders()
                    self._folders_due = now + settings.folder_poll_seconds
                if now >= self._retry_due:
                    self._requeue_failures()
                    self._retry_due = now + settings.retry_seconds
                if now >= self._rescan_due:
                    for watched in self._watched:
                        if watched.present:
                            self._scan(watched)
                    self._rescan_due = now + settings.rescan_seconds
            for item in [p for p in self._pending.values() if p.due <= now]:
                if self._stopping.is_set():
                    return
                self._consider(item)
                self._drain()
            with self._state_lock:
                if self._scanned and not self._pending and self._inbox.empty():
                    if self._once:
                        return
                    self._idle.set()
            timers = [p.due for p in self._pending.values()]
            if not self._once:
                timers += [self._folders_due, self._retry_due, self._rescan_due]
            timeout = max(0.0, min(timers, default=now + 1.0) - time.monotonic())
            self._wake.wait(min(timeout, 1.0))
            self._wake.clear()

    def _drain(self) -> None:
        while True:
            try:
                entry = self._inbox.get_nowait()
            except queue.Empty:
                return
            if entry is not None:
                self._add_pending(*entry)

    def _add_pending(self, watched: _Watched, path: Path) -> None:
        if not watched.present or path.parent != watched.inbox.path:
            return
        if is_ignored(path.name, self.settings.ignore) or self._is_own_file(watched, path):
            return
        if path not in self._pending:
            self._idle.clear()
            now = time.monotonic()
            self._pending[path] = _Pending(watched, path, since=now, due=now)

    def _is_own_file(self, watched: _Watched, path: Path) -> bool:
        return watched.resolved is not None and watched.resolved / path.name in self._own_files

    # ------------------------------------------------------------- state

    def _space(self) -> Space:
        space = self._space_provider()
        if space is None:
            raise _SpaceUnavailable
        return space

    def _load_state(self) -> None:
        """What the space already holds: hashes of every attachment and capture record."""

        def job() -> tuple[Path, list[CaptureRecord], dict[str, str]]:
            space = self._space()
            try:
                records, _ = space.capture_records()
                attachments, _ = space.all_attachments()
            except SpaceLocked as exc:
                raise _SpaceUnavailable from exc
            return space.path, records, {a.sha256: a.asset_id for a in attachments}

        space_path, records, hashes = self._run_import(job)
        resolved = Path(space_path).resolve()
        suffixes = ("", "-wal", "-shm", "-journal")
        self._own_files = {resolved.with_name(resolved.name + suffix) for suffix in suffixes}
        self._hashes = hashes
        self._left = {}
        for record in records:
            if record.asset_id:
                self._hashes.setdefault(record.sha256, record.asset_id)
            if record.kept:
                self._left[(record.folder, record.name)] = (record.size, record.mtime_ns)
        try:
            self._template = TemplateLibrary.load().get(EVIDENCE_TEMPLATE)
        except UnknownTemplate:  # cannot happen with the built-ins installed
            self._template = None

    # ----------------------------------------------------------- folders

    def _check_folders(self) -> None:
        for watched in self._watched:
            folder = watched.inbox.path
            try:
                status = os.stat(folder)
                identity = (status.st_dev, status.st_ino) if stat.S_ISDIR(status.st_mode) else None
            except OSError:
                identity = None
            if identity is None:
                if watched.present or not watched.reported_missing:
                    self._unwatch(watched)
                    watched.present, watched.identity = False, None
                    watched.reported_missing = True
                    for path in [p for p, item in self._pending.items() if item.watched is watched]:
                        del self._pending[path]
                    self._emit(FolderMissing(folder))
                continue
            if watched.present and identity == watched.identity:
                continue
            # New, back, or replaced by another folder of the same name (a remount).
            self._unwatch(watched)
            came_back = watched.reported_missing
            watched.present, watched.identity = True, identity
            watched.reported_missing = False
            try:
                watched.resolved = folder.resolve()
            except OSError:
                watched.resolved = None
            self._watch(watched)
            if came_back and self._scanned:
                self._emit(FolderBack(folder))
            self._scan(watched)

    def _watch(self, watched: _Watched) -> None:
        observer = self._observer  # stop() may clear it meanwhile
        if observer is None or self._once:
            return
        try:
            watched.watch = observer.schedule(
                _Handler(self, watched), str(watched.inbox.path), recursive=False,
                event_filter=_EVENT_FILTER,
            )  # fmt: skip
        except OSError as exc:
            # E.g. the system's limit of watches is reached: the regular rescan still
            # finds new files, only later.
            logger.warning("capture: a folder cannot be watched (%s)", type(exc).__name__)
            self._report(watched.inbox.path, None, f"cannot be watched ({exc.strerror or exc}); "
                         "it is scanned from time to time instead")  # fmt: skip

    def _unwatch(self, watched: _Watched) -> None:
        observer = self._observer
        if watched.watch is not None and observer is not None:
            with contextlib.suppress(KeyError, OSError, RuntimeError):
                observer.unschedule(watched.watch)
        watched.watch = None

    def _scan(self, watched: _Watched) -> None:
        try:
            with os.scandir(watched.inbox.path) as entries:
                files = []
                for entry in entries:
                    try:
                        if entry.is_file(follow_symlinks=False):
                            files.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            self._poke_folders()
            return
        for path in sorted(files):  # in name order: IMG_0001 becomes evidence before IMG_0002
            self._add_pending(watched, Path(path))

    def _requeue_failures(self) -> None:
        retry, self._retry = self._retry, {}
        for path, watched in retry.items():
            self._add_pending(watched, path)

    # ------------------------------------------------------------- files

    def _consider(self, item: _Pending) -> None:
        """Import the file if it has settled; otherwise look again later."""
        now = time.monotonic()
        try:
            status = os.lstat(item.path)
        except FileNotFoundError:
            del self._pending[item.path]  # gone before it settled: nothing to import
            return
        except OSError as exc:
            del self._pending[item.path]
            self._fail(item, None, f"cannot be read ({exc.strerror or exc})")
            return
        if not stat.S_ISREG(status.st_mode):
            del self._pending[item.path]  # folders, links, pipes and devices are not evidence
            return
        signature = (status.st_size, status.st_mtime_ns)
        if signature != item.signature:
            item.signature, item.since = signature, now
            item.due = now + self.settings.settle_seconds
            if self._once and now - item.first_seen > self.settings.once_patience_seconds:
                del self._pending[item.path]
                self._emit(Skipped(item.path, "it was still being written; not imported"))
            return
        if now - item.since < self.settings.settle_seconds:
            item.due = item.since + self.settings.settle_seconds
            return
        del self._pending[item.path]
        watched = item.watched
        if self._left.get((watched.key, name_key(item.path.name))) == signature:
            return  # imported (or found a duplicate) before and left where it was
        if status.st_size == 0:
            self._report(item.path, signature, "",
                         Skipped(item.path, "it is empty (0 bytes); it is imported if it gets "
                                 "content"))  # fmt: skip
            return
        self._import(item, signature)

    def _import(self, item: _Pending, signature: tuple[int, int]) -> None:
        try:
            outcome: _Outcome = self._run_import(lambda: self._import_job(item, signature))
        except (_SpaceUnavailable, SpaceLocked):
            if self._once:
                self._fail(item, signature, "the space was locked before it could be imported")
            else:
                self._retry[item.path] = item.watched
            return
        except _StopRequested:
            return
        except Exception as exc:  # a full disk, a busy or read-only space...
            logger.warning("capture: an import failed (%s)", type(exc).__name__)
            self._fail(item, signature, str(exc) or type(exc).__name__)
            return
        path = item.path
        if outcome.kind == "changed":
            now = time.monotonic()
            self._pending[path] = _Pending(item.watched, path, since=now, due=now)
        elif outcome.kind == "unreadable":
            self._fail(item, signature, outcome.message)
        elif outcome.kind == "skipped":
            self._emit(Skipped(path, outcome.message))
        elif outcome.kind in ("imported", "duplicate"):
            self._hashes[outcome.sha256] = outcome.asset_id
            if item.watched.inbox.after is AfterImport.KEEP:
                self._left[(item.watched.key, name_key(path.name))] = signature
            moved_to, problem = self._after_import(item.watched, path, signature)
            if outcome.kind == "imported":
                assert outcome.record is not None
                self._emit(Imported(path, outcome.asset_id, outcome.record.title,
                                    outcome.attachment_id, moved_to))  # fmt: skip
            else:
                self._emit(Duplicate(path, outcome.asset_id))
            if problem:
                # Left where it was after all: not again in this session (the next start
                # reports it as a duplicate and tries once more).
                self._left[(item.watched.key, name_key(path.name))] = signature
                self._emit(Failed(path, problem))
        # "vanished": deleted before it could be read; nothing was lost

    def _fail(self, item: _Pending, signature: tuple[int, int] | None, message: str) -> None:
        if not self._once:
            self._retry[item.path] = item.watched
        self._report(item.path, signature, message)

    def _report(
        self,
        path: Path,
        signature: tuple[int, int] | None,
        message: str,
        event: CaptureEvent | None = None,
    ) -> None:
        """Emit once per file, state and problem: retries do not repeat themselves."""
        key = (path, signature, message or repr(event))
        if key not in self._reported:
            self._reported.add(key)
            self._emit(event or Failed(path, message))

    def _import_job(self, item: _Pending, signature: tuple[int, int]) -> _Outcome:
        """Runs where `run_import` runs it: read the file and store it, in one transaction."""
        space = self._space()
        path, watched = item.path, item.watched
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            descriptor = os.open(path, flags | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return _Outcome("vanished")
        except PermissionError:
            return _Outcome("unreadable", message=_PERMISSION_MESSAGE)
        except OSError as exc:
            return _Outcome("unreadable", message=f"cannot be read ({exc.strerror or exc})")
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                return _Outcome("vanished")
            if (status.st_size, status.st_mtime_ns) != signature:
                return _Outcome("changed")
            name = display_name(path.name)
            media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            source: IO[bytes] = handle
            taken: str | None = None
            png: bytes | None = None
            if looks_like_image(media_type) and status.st_size <= THUMBNAIL_SOURCE_LIMIT:
                # Read once into memory (bounded): date, thumbnail and the stored copy.
                data = handle.read()
                taken, png = image_date(data), make_thumbnail(data)
                source = io.BytesIO(data)
            fields: dict[str, Any] = {
                "date": taken or file_date(status),
                "context": "Captured from the inbox folder "
                f"{_code(display_name(str(watched.inbox.path)))}.",
            }

            def before_commit(info: Any) -> None:
                existing = self._hashes.get(info.sha256)
                if existing is not None and space.has_asset(existing):
                    raise _DuplicateOf(existing, info.sha256)
                after = os.fstat(handle.fileno())
                if (after.st_size, after.st_mtime_ns) != signature or info.size != after.st_size:
                    raise _ChangedWhileReading

            capture = CaptureRecord(
                sha256="", folder=watched.key, name=name_key(path.name), size=signature[0],
                mtime_ns=signature[1], kept=watched.inbox.after is AfterImport.KEEP,
            )  # fmt: skip
            template = self._template
            try:
                record, info, _ = space.add_asset_with_file(
                    EVIDENCE_TEMPLATE, tidy_title(path.name), source, name=name,
                    media_type=media_type, fields=fields, tags=self.settings.tags,
                    attachment_field="file", template=template,
                    template_version=template.version if template else None, thumbnail=png,
                    capture=capture, before_commit=before_commit, progress=self._check_stop,
                )  # fmt: skip
            except _DuplicateOf as duplicate:
                space.add_capture_record(
                    CaptureRecord(
                        sha256=duplicate.sha256,
                        folder=watched.key,
                        name=capture.name,
                        size=signature[0],
                        mtime_ns=signature[1],
                        asset_id=duplicate.asset_id,
                        outcome="duplicate",
                        kept=capture.kept,
                    )  # fmt: skip
                )
                return _Outcome("duplicate", asset_id=duplicate.asset_id, sha256=duplicate.sha256)
            except _ChangedWhileReading:
                return _Outcome("changed")
        return _Outcome("imported", record, info.id, record.id, info.sha256)

    def _check_stop(self, _size: int) -> None:
        if self._stopping.is_set():
            raise _StopRequested

    # ----------------------------------------------------- after import

    def _after_import(
        self, watched: _Watched, path: Path, signature: tuple[int, int]
    ) -> tuple[Path | None, str]:
        """Move or delete the original; returns (where it went, a problem or "")."""
        after = watched.inbox.after
        if after is AfterImport.KEEP:
            return None, ""
        try:
            status = os.lstat(path)
        except FileNotFoundError:
            return None, ""
        if (status.st_size, status.st_mtime_ns) != signature:
            # New content arrived under the same name: that is a new file, kept for import.
            self._add_pending(watched, path)
            return None, ""
        try:
            if after is AfterImport.MOVE:
                return _move_aside(path, path.parent / self.settings.imported_folder), ""
            _overwrite_and_delete(path, status.st_size)
            return None, ""
        except OSError as exc:
            verb = "moved" if after is AfterImport.MOVE else "deleted"
            return None, f"imported, but it could not be {verb} ({exc.strerror or exc})"

    # ----------------------------------------------------------- events

    def _emit(self, event: CaptureEvent) -> None:
        try:
            self._on_event(event)
        except Exception as exc:  # the service keeps going whatever a listener does
            logger.error("capture: an event listener raised %s", type(exc).__name__)


def _code(text: str) -> str:
    """Markdown code span that shows `text` literally (shown in the evidence's context)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}"


def _move_aside(path: Path, folder: Path) -> Path:
    """Move `path` into `folder` without replacing anything there: `name (2).ext`..."""
    folder.mkdir(exist_ok=True)
    stem, extension = os.path.splitext(path.name)
    for number in range(1, 10_000):
        target = folder / (path.name if number == 1 else f"{stem} ({number}){extension}")
        try:
            os.link(path, target)  # never replaces an existing file, unlike rename
        except FileExistsError:
            continue
        except OSError:  # no hard links here (some network and FAT file systems)
            if target.exists():
                continue
            os.rename(path, target)
            return target
        os.unlink(path)
        return target
    raise FileExistsError(f"no free name in {folder}")


def _overwrite_and_delete(path: Path, size: int) -> None:
    """Overwrite the file with zeros, flush it to disk, then delete it.

    On SSDs and copy-on-write file systems the old blocks may survive (see
    docs/capture.md); this still clears the file's content from its own inode.
    """
    descriptor = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        zeros = bytes(min(size, _OVERWRITE_BLOCK))
        remaining = size
        while remaining > 0:
            remaining -= os.write(descriptor, zeros[: min(remaining, len(zeros))])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.unlink(path)
