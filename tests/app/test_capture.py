"""Evidence capture with a real watchdog observer on real folders: what arrives in
an inbox folder becomes evidence in the space, exactly once, whatever the file
system does meanwhile."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import resource
import struct
import threading
import time
import tracemalloc
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app.capture import (
    AfterImport,
    CaptureEvent,
    CaptureService,
    CaptureSettings,
    Duplicate,
    Failed,
    FolderBack,
    FolderMissing,
    Imported,
    InboxFolder,
    Skipped,
    blocking_runner,
    parse_metadata_date,
    tidy_title,
)
from app.space import Space
from store.kdf import KdfPolicy
from tests.conftest import PASSPHRASE
from tests.store.test_thumbnails_store import image_bytes, png_size

FAST = CaptureSettings(
    settle_seconds=0.3, folder_poll_seconds=0.1, retry_seconds=0.3, rescan_seconds=3600
)
TIMEOUT = 20.0


class Recorder:
    """Collects events from the worker thread; tests wait on conditions, not sleeps."""

    def __init__(self) -> None:
        self.events: list[CaptureEvent] = []
        self._condition = threading.Condition()

    def __call__(self, event: CaptureEvent) -> None:
        with self._condition:
            self.events.append(event)
            self._condition.notify_all()

    def of(self, kind: type[Any]) -> list[Any]:
        with self._condition:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[Recorder], bool], timeout: float = TIMEOUT) -> None:
        with self._condition:
            ok = self._condition.wait_for(lambda: predicate(self), timeout)
        assert ok, f"timed out; events so far: {self.events}"

    def wait_count(self, kind: type[Any], count: int, timeout: float = TIMEOUT) -> list[Any]:
        self.wait_for(lambda r: len(r.of(kind)) >= count, timeout)
        return self.of(kind)


Starter = Callable[..., tuple[CaptureService, Recorder]]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def start_capture(space: Space) -> Iterator[Starter]:
    """Start a CaptureService on the test space; every one is stopped afterwards."""
    services: list[CaptureService] = []

    def start(
        *folders: Path | InboxFolder,
        settings: CaptureSettings = FAST,
        on: Space | None = None,
        **options: Any,
    ) -> tuple[CaptureService, Recorder]:
        recorder = Recorder()
        inboxes = [f if isinstance(f, InboxFolder) else InboxFolder(f) for f in folders]
        service = CaptureService(on or space, inboxes, recorder, settings=settings, **options)
        services.append(service)
        service.start()
        return service, recorder

    yield start
    for service in services:
        service.stop()


def write(path: Path, data: bytes, mtime: float | None = None) -> Path:
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def stored(space: Space, event: Imported) -> bytes:
    return b"".join(space.read_attachment(event.attachment_id))


def png_with_creation_time(when: str) -> bytes:
    """A PNG carrying a tEXt "Creation Time" chunk, the PNG keyword for when it was made."""
    png = image_bytes(64, 48)
    text = b"Creation Time\x00" + when.encode()
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return png[:33] + chunk + png[33:]  # after the 8-byte signature and IHDR


@contextmanager
def reading_as_an_ordinary_user() -> Iterator[None]:
    """Make file modes count for threads started inside, even when tests run as root.

    Root reads a mode-000 file anyway (CAP_DAC_OVERRIDE). Dropping that capability
    and CAP_DAC_READ_SEARCH from this thread's effective set, which threads
    started meanwhile inherit, makes the kernel check modes as for anyone else.
    """
    if os.geteuid() != 0:
        yield
        return

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]  # fmt: skip

    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip("running as root without a way to drop CAP_DAC_OVERRIDE")
    saved = data[0].effective
    data[0].effective &= ~((1 << 1) | (1 << 2))  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    assert libc.capset(ctypes.byref(header), data) == 0
    try:
        yield
    finally:
        data[0].effective = saved
        assert libc.capset(ctypes.byref(header), data) == 0


# ------------------------------------------------------------ the basics


def test_a_new_file_becomes_evidence_with_its_file_encrypted(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    _, events = start_capture(inbox)
    photo = write(
        inbox / "Team_whiteboard-after retro.png", png_with_creation_time("2019-04-05T10:00:00")
    )
    scan_time = datetime(2021, 6, 7, 12, 0).timestamp()
    scan = write(inbox / "certificate_scan.pdf", b"%PDF-1.7 certificate", mtime=scan_time)
    imported = {e.path.name: e for e in events.wait_count(Imported, 2)}

    record = space.get_asset(imported[photo.name].asset_id)
    assert record.template_id == "builtin/evidence"
    assert record.template_version
    assert record.title == imported[photo.name].title == "Team whiteboard after retro"
    assert record.tags == ["captured"]
    assert record.fields["date"] == "2019-04-05"  # from the image's own metadata
    assert record.fields["context"] == f"Captured from the inbox folder `{inbox}`."
    assert record.fields["file"] == [imported[photo.name].attachment_id]
    [info] = space.attachments(record.id)
    assert (info.name, info.media_type) == (photo.name, "image/png")
    assert stored(space, imported[photo.name]) == photo.read_bytes()
    assert png_size(space.thumbnail(info.id) or b"") == (64, 48)

    pdf = space.get_asset(imported[scan.name].asset_id)
    assert pdf.title == "certificate scan"
    assert pdf.fields["date"] == "2021-06-07"  # no metadata Qt can read: the file's time
    assert space.thumbnail(pdf.fields["file"][0]) is None
    assert stored(space, imported[scan.name]) == b"%PDF-1.7 certificate"
    assert photo.exists()  # "keep" is the default
    assert space.verify().ok
    assert not events.of(Failed)


def test_titles_and_metadata_dates_are_tidied() -> None:
    assert tidy_title("IMG_2024-03-05__0042.JPG") == "IMG 2024 03 05 0042"
    assert tidy_title("e\u0301te\u0301.txt") == "\u00e9t\u00e9"  # NFD file name, NFC title
    assert tidy_title("line\nbreak.txt") == "line break"
    assert tidy_title("___.png") == "___.png"
    assert tidy_title(".png") == ".png"
    assert parse_metadata_date("2024:03:05 14:15:16") == "2024-03-05"
    assert parse_metadata_date("2019-04-05T10:00:00+02:00") == "2019-04-05"
    assert parse_metadata_date("Sat, 05 Jan 2019 10:00:00 +0000") == "2019-01-05"
    assert parse_metadata_date("0000:00:00 00:00:00") is None
    assert parse_metadata_date("yesterday") is None


# ---------------------------------------------------- settling and moving


def test_a_file_still_being_written_is_imported_once_complete(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    _, events = start_capture(inbox)
    parts = [os.urandom(64 * 1024) for _ in range(8)]
    with (inbox / "slow upload.mov").open("wb") as handle:
        for part in parts:  # pauses shorter than the settle time
            handle.write(part)
            handle.flush()
            time.sleep(0.12)
    [event] = events.wait_count(Imported, 1)
    assert stored(space, event) == b"".join(parts)
    # A sync client's way: write "x.part", then rename it into place.
    content = os.urandom(300_000)
    write(inbox / "from phone.jpg.part", content)
    os.rename(inbox / "from phone.jpg.part", inbox / "from phone.jpg")
    # And a file moved in from elsewhere on the same disk.
    elsewhere = write(inbox.parent / "made elsewhere.txt", b"moved in")
    os.rename(elsewhere, inbox / "made elsewhere.txt")
    imported = {e.path.name: e for e in events.wait_count(Imported, 3)}
    assert set(imported) == {"slow upload.mov", "from phone.jpg", "made elsewhere.txt"}
    assert stored(space, imported["from phone.jpg"]) == content
    assert stored(space, imported["made elsewhere.txt"]) == b"moved in"
    assert len(space.list_assets()[0]) == 3


def test_a_file_that_vanishes_before_it_settles_is_let_go(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    service, events = start_capture(inbox)
    for number in range(5):
        fleeting = write(inbox / f"fleeting {number}.txt", b"here for a moment")
        time.sleep(0.05)
        fleeting.unlink()
    write(inbox / "stays.txt", b"here to stay")
    [event] = events.wait_count(Imported, 1)
    assert event.path.name == "stays.txt"
    assert service.wait_until_idle(TIMEOUT)
    assert events.events == [event]
    assert len(space.list_assets()[0]) == 1


def test_temporary_and_hidden_files_are_ignored(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    settings = CaptureSettings(**{**FAST.__dict__, "ignore": (*FAST.ignore, "*.log")})
    ignored = ["video.mp4.part", "Setup.exe.crdownload", "upload.tmp", "~$Report.docx",
               ".hidden.jpg", ".DS_Store", "Thumbs.db", "desktop.ini", "THUMBS.DB",
               "notes.txt.swp", "debug.LOG"]  # fmt: skip
    for number, name in enumerate(ignored):
        write(inbox / name, f"ignored {number}".encode())
    service, events = start_capture(inbox, settings=settings)
    for number, name in enumerate(ignored):
        write(inbox / name, f"still ignored {number}".encode())
    write(inbox / "Report.docx", b"the real document")
    [event] = events.wait_count(Imported, 1)
    assert event.path.name == "Report.docx"
    assert service.wait_until_idle(TIMEOUT)
    assert events.events == [event]


def test_the_space_file_itself_is_never_imported(
    kdf_policy: KdfPolicy, inbox: Path, start_capture: Starter
) -> None:
    """Someone may keep the space inside the folder they watch."""
    inside, _ = Space.create(inbox / "learning.cairn", PASSPHRASE, kdf_policy=kdf_policy)
    with inside:
        service, events = start_capture(inbox, on=inside)
        inside.add_asset("builtin/journal", "writes to the space and its WAL", {})
        write(inbox / "photo.txt", b"a real file")
        events.wait_count(Imported, 1)
        assert service.wait_until_idle(TIMEOUT)
        assert [e.path.name for e in events.events] == ["photo.txt"]


# ------------------------------------------------------------- duplicates


def test_the_same_content_twice_is_imported_once_and_reported(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    manual = space.add_asset("builtin/evidence", "Attached by hand", {})
    by_hand = write(inbox.parent / "by hand.pdf", b"already in the space")
    space.attach(manual.id, by_hand)
    service, events = start_capture(inbox)
    write(inbox / "first.jpg", b"same bytes")
    [first] = events.wait_count(Imported, 1)
    write(inbox / "second copy.jpg", b"same bytes")
    write(inbox / "again.pdf", b"already in the space")
    duplicates = {e.path.name: e for e in events.wait_count(Duplicate, 2)}
    assert duplicates["second copy.jpg"].existing_asset_id == first.asset_id
    assert duplicates["again.pdf"].existing_asset_id == manual.id
    assert service.wait_until_idle(TIMEOUT)
    assert len(events.of(Imported)) == 1
    assert len(space.list_assets()[0]) == 2


# ---------------------------------------------------------- after import


def test_keep_remembers_inside_the_space_so_a_restart_never_reimports(
    space: Space,
    space_path: Path,
    kdf_policy: KdfPolicy,
    inbox: Path,
    tmp_path: Path,
    start_capture: Starter,
) -> None:
    names = ["a.txt", "b.jpg", "copy of a.txt"]
    for name in names:
        write(inbox / name, b"content of a" if "a" in name else b"content of b")
    service, events = start_capture(inbox)
    events.wait_count(Imported, 2)
    events.wait_count(Duplicate, 1)
    assert service.wait_until_idle(TIMEOUT)
    service.stop()
    files_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    # Restarted on the same space, and again after locking and unlocking it.
    again, quiet = start_capture(inbox)
    assert again.wait_until_idle(TIMEOUT)
    again.stop()
    space.lock()
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as reopened:
        third, still_quiet = start_capture(inbox, on=reopened)
        assert third.wait_until_idle(TIMEOUT)
        assert quiet.events == still_quiet.events == []
        assert len(reopened.list_assets()[0]) == 2
        records, damaged = reopened.capture_records()
        outcomes = sorted((r.name, r.outcome) for r in records)
        assert outcomes == [("a.txt", "imported"), ("b.jpg", "imported"),
                            ("copy of a.txt", "duplicate")]  # fmt: skip
        assert not damaged
        # Nothing was written beside the space or in the folders: the memory is in the space.
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == files_before
        # New content under a known name is a new file.
        write(inbox / "b.jpg", b"a different photo")
        [changed] = still_quiet.wait_count(Imported, 1)
        assert changed.path.name == "b.jpg"


def test_move_puts_originals_into_imported_without_overwriting(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    (inbox / "imported").mkdir()
    write(inbox / "imported" / "scan.pdf", b"an earlier scan")
    write(inbox / "imported" / "scan (2).pdf", b"another earlier scan")
    service, events = start_capture(InboxFolder(inbox, AfterImport.MOVE))
    write(inbox / "scan.pdf", b"today's scan")
    [event] = events.wait_count(Imported, 1)
    assert event.moved_to == inbox / "imported" / "scan (3).pdf"
    assert event.moved_to.read_bytes() == b"today's scan"
    assert not (inbox / "scan.pdf").exists()
    assert (inbox / "imported" / "scan.pdf").read_bytes() == b"an earlier scan"
    # The sub-folder is not watched: what lands there is not imported.
    write(inbox / "imported" / "dropped here.txt", b"not an inbox")
    write(inbox / "sentinel.txt", b"but this is")
    events.wait_count(Imported, 2)
    assert service.wait_until_idle(TIMEOUT)
    assert [e.path.name for e in events.of(Imported)] == ["scan.pdf", "sentinel.txt"]


def test_delete_overwrites_the_original_before_removing_it(
    space: Space, inbox: Path, tmp_path: Path, start_capture: Starter
) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)
    original = write(inbox / "private recording.m4a", content)
    # A second name for the same bytes on disk shows what deleting left behind.
    witness = tmp_path / "witness"
    os.link(original, witness)
    _, events = start_capture(InboxFolder(inbox, AfterImport.DELETE))
    [event] = events.wait_count(Imported, 1)
    assert not original.exists()
    assert witness.read_bytes() == bytes(len(content))
    assert stored(space, event) == content


# --------------------------------------------------------- start and stop


def test_files_that_arrived_while_locked_are_imported_at_the_next_start(
    space: Space, space_path: Path, kdf_policy: KdfPolicy, inbox: Path, start_capture: Starter
) -> None:
    service, events = start_capture(inbox)
    write(inbox / "while open.txt", b"1")
    events.wait_count(Imported, 1)
    service.stop()
    space.lock()
    write(inbox / "while locked.txt", b"2")
    write(inbox / "also while locked.txt", b"3")
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as reopened:
        _, later = start_capture(inbox, on=reopened)
        imported = later.wait_count(Imported, 2)
        assert {e.path.name for e in imported} == {"while locked.txt", "also while locked.txt"}


def test_imports_run_on_the_executor_the_caller_provides(
    space: Space, inbox: Path, start_capture: Starter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A desktop app runs store jobs on its own thread: capture hands them over."""
    threads: list[str] = []
    for name in ("add_asset_with_file", "capture_records", "all_attachments"):
        original = getattr(space, name)

        def spy(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            threads.append(threading.current_thread().name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(space, name, spy)
    with ThreadPoolExecutor(1, thread_name_prefix="app-store") as store_thread:
        _, events = start_capture(inbox, run_import=blocking_runner(store_thread.submit))
        write(inbox / "a.txt", b"a")
        write(inbox / "b.txt", b"b")
        events.wait_count(Imported, 2)
    assert len(threads) == 4
    assert all(name.startswith("app-store") for name in threads)


# ------------------------------------------------------- faults and limits


def test_an_unreadable_file_is_reported_and_imported_once_readable(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    locked = write(inbox / "locked.pdf", b"permissions fixed later")
    locked.chmod(0)
    with reading_as_an_ordinary_user():
        service, events = start_capture(inbox)
        [failure] = events.wait_count(Failed, 1)
        assert failure.path == locked
        assert "permission denied" in failure.message
        write(inbox / "readable.txt", b"others go on")
        events.wait_count(Imported, 1)
        time.sleep(3 * FAST.retry_seconds)  # several retries: reported once, not each time
        assert len(events.of(Failed)) == 1
        locked.chmod(0o644)
        imported = events.wait_count(Imported, 2)
        service.stop()
    by_name = {e.path.name: e for e in imported}
    assert set(by_name) == {"locked.pdf", "readable.txt"}
    assert stored(space, by_name["locked.pdf"]) == b"permissions fixed later"


def test_a_folder_that_disappears_and_comes_back_is_watched_again(
    space: Space, inbox: Path, tmp_path: Path, start_capture: Starter
) -> None:
    service, events = start_capture(inbox)
    write(inbox / "before.txt", b"before")
    events.wait_count(Imported, 1)
    unmounted = tmp_path / "unmounted"
    inbox.rename(unmounted)  # like an unmounted drive: the path is simply gone
    assert events.wait_count(FolderMissing, 1)[0].folder == inbox
    write(unmounted / "arrived meanwhile.txt", b"meanwhile")
    unmounted.rename(inbox)
    assert events.wait_count(FolderBack, 1)[0].folder == inbox
    events.wait_count(Imported, 2)
    write(inbox / "after.txt", b"after")
    imported = events.wait_count(Imported, 3)
    assert [e.path.name for e in imported] == ["before.txt", "arrived meanwhile.txt", "after.txt"]
    # Deleted outright and made again (a new folder with the same name).
    for path in inbox.iterdir():
        path.unlink()
    inbox.rmdir()
    events.wait_count(FolderMissing, 2)
    inbox.mkdir()
    events.wait_count(FolderBack, 2)
    write(inbox / "in the new folder.txt", b"new folder")
    assert events.wait_count(Imported, 4)[-1].path.name == "in the new folder.txt"
    assert service.is_running
    assert not events.of(Failed)


def test_a_folder_missing_at_start_is_waited_for(
    space: Space, tmp_path: Path, start_capture: Starter
) -> None:
    later = tmp_path / "not yet"
    _, events = start_capture(later)
    events.wait_count(FolderMissing, 1)
    later.mkdir()
    write(later / "first.txt", b"first")
    events.wait_count(FolderBack, 1)
    assert events.wait_count(Imported, 1)[0].path == later / "first.txt"


def test_an_empty_file_is_skipped_until_it_gets_content(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    """Cloud clients create empty placeholders and fill them later."""
    service, events = start_capture(inbox)
    placeholder = write(inbox / "placeholder.jpg", b"")
    [skipped] = events.wait_count(Skipped, 1)
    assert skipped.path == placeholder
    assert "empty" in skipped.reason
    assert service.wait_until_idle(TIMEOUT)
    assert not events.of(Imported)
    placeholder.write_bytes(b"the photo, synced at last")
    [event] = events.wait_count(Imported, 1)
    assert stored(space, event) == b"the photo, synced at last"
    assert len(events.of(Skipped)) == 1


def test_a_large_file_is_streamed_in_bounded_memory(
    space: Space, inbox: Path, tmp_path: Path, start_capture: Starter
) -> None:
    size = 200 * 1024 * 1024
    staging = tmp_path / "video.mp4"
    with staging.open("wb") as handle:
        handle.truncate(size)  # sparse: reads as zeros, costs no disk
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _, events = start_capture(inbox)
        os.rename(staging, inbox / "video.mp4")
        [event] = events.wait_count(Imported, 1, timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while importing 200 MiB"
    info = space.get_attachment(event.attachment_id)
    assert info.size == size
    zeros = hashlib.sha256()
    block = bytes(1024 * 1024)
    for _ in range(size // len(block)):
        zeros.update(block)
    assert info.sha256 == zeros.hexdigest()


@pytest.mark.slow
def test_a_2_gib_video_is_imported(space: Space, inbox: Path, start_capture: Starter) -> None:
    """About 25 s on a 2-core machine, hence `slow`; the 200 MiB test checks memory closely."""
    size = 2 * 1024 * 1024 * 1024
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    _, events = start_capture(inbox)
    staging = inbox.parent / "holiday.mov"
    with staging.open("wb") as handle:
        handle.truncate(size)
    os.rename(staging, inbox / "holiday.mov")
    [event] = events.wait_count(Imported, 1, timeout=600)
    assert space.get_attachment(event.attachment_id).size == size
    # The process's peak resident memory grew by far less than the file.
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 128 * 1024, f"peak memory grew by {grown // 1024} MiB"
    assert not events.of(Failed)


NAMES = [
    "caf\u00e9 NFC.txt",
    "cafe\u0301 NFD.txt",
    "\U0001f389 party \U0001f44d\U0001f3fd.jpg",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627.pdf",  # Hebrew and Arabic
    "\u65e5\u672c\u8a9e\u306e\u30e1\u30e2.txt",
    'what: a * "question"? <yes>|no.txt',  # invalid on Windows
    "back\\slash.txt",
    "CON.txt",
    "trailing dot.",
    "trailing space ",
    "tab\tand\nnewline.txt",
    "\u202eevil\u202c.txt",  # a right-to-left override
    os.fsdecode(b"latin1 caf\xe9.txt"),  # not UTF-8 at all
]


def test_file_names_in_any_unicode_and_odd_characters(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    for number, name in enumerate(NAMES):
        write(inbox / name, f"file {number}".encode())
    service, events = start_capture(inbox)
    imported = {e.path.name: e for e in events.wait_count(Imported, len(NAMES))}
    assert set(imported) == set(NAMES)
    for number, name in enumerate(NAMES):
        assert stored(space, imported[name]) == f"file {number}".encode()
    assert imported["cafe\u0301 NFD.txt"].title == "caf\u00e9 NFD"
    assert imported["tab\tand\nnewline.txt"].title == "tab and newline"
    latin1 = space.get_attachment(imported[NAMES[-1]].attachment_id)
    assert latin1.name == "latin1 caf\ufffd.txt"
    assert unicodedata.is_normalized("NFC", imported["cafe\u0301 NFD.txt"].title)
    service.stop()
    # Remembered by their exact bytes: a restart imports none of them again.
    again, quiet = start_capture(inbox)
    assert again.wait_until_idle(TIMEOUT)
    assert quiet.events == []
    assert not events.of(Failed)


def test_thousands_of_files_at_once_are_each_imported_exactly_once(
    space: Space, inbox: Path, start_capture: Starter
) -> None:
    count = 2000
    began = time.monotonic()
    service, events = start_capture(inbox)
    assert time.monotonic() - began < 1.0  # the caller is never held up
    for number in range(count):
        write(inbox / f"photo {number:04}.jpg", b"photo %d" % number)
    assert len(events.of(Imported)) < count  # still importing in the background
    imported = events.wait_count(Imported, count, timeout=180)
    assert sorted(e.path.name for e in imported) == [f"photo {n:04}.jpg" for n in range(count)]
    assert service.wait_until_idle(TIMEOUT)
    assert len(events.of(Imported)) == count
    assert events.events == imported
    assert len(space.list_assets()[0]) == count


def test_stopping_rolls_back_an_import_in_progress(
    space: Space, space_path: Path, inbox: Path, tmp_path: Path, start_capture: Starter
) -> None:
    """Locking must not wait for a long import: it is undone and done next time."""
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(300 * 1024 * 1024)
    service, events = start_capture(inbox)
    assert service.wait_until_idle(TIMEOUT)
    os.rename(big, inbox / "big.bin")
    wal = space_path.with_name(space_path.name + "-wal")
    deadline = time.monotonic() + TIMEOUT
    while not (wal.exists() and wal.stat().st_size > 16 * 1024 * 1024):  # streaming now
        assert time.monotonic() < deadline, "the import never started"
        time.sleep(0.01)
    began = time.monotonic()
    service.stop()
    assert time.monotonic() - began < 5
    assert events.events == []
    assert space.list_assets()[0] == []
    assert space.verify().ok
    _, again = start_capture(inbox)
    again.wait_count(Imported, 1, timeout=120)


def test_a_listener_may_stop_the_service_and_it_can_start_again(space: Space, inbox: Path) -> None:
    recorder = Recorder()

    def stop_at_first(event: CaptureEvent) -> None:
        recorder(event)
        service.stop()  # on the capture thread itself

    service = CaptureService(space, [InboxFolder(inbox)], stop_at_first, settings=FAST)
    write(inbox / "first.txt", b"1")
    service.start()
    recorder.wait_count(Imported, 1)
    write(inbox / "second.txt", b"2")
    deadline = time.monotonic() + TIMEOUT
    while service.is_running:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    service.stop(timeout=0)  # returns at once, whatever the worker is doing
    service.start()
    try:
        assert [e.path.name for e in recorder.wait_count(Imported, 2)] == [
            "first.txt",
            "second.txt",
        ]
    finally:
        service.stop()


def test_nothing_of_the_space_reaches_the_log(
    space: Space, inbox: Path, start_capture: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Diagnosis letter for Alex"
    with reading_as_an_ordinary_user():
        _, events = start_capture(inbox)
        write(inbox / f"{secret}.pdf", b"private")
        write(inbox / f"{secret} copy.pdf", b"private")
        locked = write(inbox / f"{secret} locked.pdf", b"locked")
        locked.chmod(0)
        events.wait_count(Imported, 1)
        events.wait_count(Duplicate, 1)
        events.wait_count(Failed, 1)
    text = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert "Diagnosis" not in text
    assert "Alex" not in text
