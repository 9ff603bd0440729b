"""A private folder for decrypted attachments that the person opens with another app.

The folder lives in the user's runtime folder when there is a usable one (on
Linux /run/user/UID, a tmpfs, so the plaintext never reaches the disk), else in
the system's temporary folder. It is readable by the user only, and `wipe()`
(on lock and on exit) overwrites each file with zeros before removing it.
Folders left behind by a run that crashed are removed by `sweep_stale()` at
start-up; a folder still held by a running Cairn is left alone.

File names are plaintext of the space: they are never logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
import unicodedata
import warnings
from collections.abc import Iterable
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

FOLDER_PREFIX = "cairn-open-"
LOCK_NAME = ".lock"
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 240  # most file systems allow 255 bytes; leave room for a suffix
MAX_SUFFIX_CHARS = 16
FALLBACK_NAME = "attachment"
# A folder without its lock file is only taken for stale once it is older than this:
# a running Cairn creates the lock file right after the folder.
UNLOCKED_GRACE_SECONDS = 60.0

_WINDOWS_INVALID = frozenset('<>:"/\\|?*')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{device}{n}" for device in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
# Bidirectional controls can make "photo<RLO>gpj.exe" look like "photoexe.jpg".
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Controls (NUL, newlines...), lone surrogates, line and paragraph separators. Other
# format characters stay: emoji sequences and some scripts need them (ZWJ, ZWNJ, tags).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_ZEROS = bytes(1024 * 1024)


class PrivateFolderWiped(RuntimeError):
    """The folder was wiped (the space was locked) while a file was being written."""


def safe_file_name(name: str) -> str:
    """`name` made safe as one file name on any platform, extension kept."""
    name = unicodedata.normalize("NFC", name)
    cleaned = "".join(
        "_" if char in _WINDOWS_INVALID else char
        for char in name
        if unicodedata.category(char) not in _DROPPED_CATEGORIES and char not in _BIDI_CONTROLS
    )
    cleaned = cleaned.strip().lstrip(".").rstrip(". ")
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not stem or len(suffix) > MAX_SUFFIX_CHARS or not suffix.strip():
        stem, suffix = cleaned, ""
    suffix = f".{suffix}" if suffix else ""
    if stem.split(".")[0].rstrip().upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    short = _truncate(stem, MAX_NAME_CHARS - len(suffix), MAX_NAME_BYTES - len(suffix.encode()))
    stem = short.rstrip(". ") if short != stem else stem
    return f"{stem}{suffix}" if stem else f"{FALLBACK_NAME}{suffix}"


def _truncate(text: str, max_chars: int, max_bytes: int) -> str:
    text = text[: max(max_chars, 0)]
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text


def default_base() -> Path:
    """Where private folders are made: the user's runtime folder if usable, else temp."""
    runtime = _runtime_base()
    return runtime if runtime is not None else Path(tempfile.gettempdir())


def _runtime_base() -> Path | None:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is checked below.
            warnings.simplefilter("ignore")
            base = Path(platformdirs.user_runtime_dir("cairn"))
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.lstat()
    except (OSError, RuntimeError):
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    if sys.platform != "win32":
        if info.st_uid != os.geteuid():
            return None
        if info.st_mode & 0o077:
            try:
                base.chmod(0o700)
            except OSError:
                return None
    return base


class PrivateFolder:
    """Holds decrypted copies of attachments while they are open elsewhere.

    `write` may run on a worker thread while `wipe` runs on the GUI thread: a
    write that loses the race is undone and raises PrivateFolderWiped.
    """

    def __init__(self, base: Path | None = None) -> None:
        self._base = base
        self._path: Path | None = None
        self._lock_handle: int | None = None
        self._guard = threading.Lock()

    @property
    def path(self) -> Path | None:
        """The folder, or None until the first `write` (and after `wipe`)."""
        return self._path

    def write(self, name: str, chunks: Iterable[bytes]) -> Path:
        """Write the chunks to a new file named after `name`, in its own subfolder;
        fsynced before returning. On any error nothing is left behind."""
        with self._guard:
            root = self._ensure_root()
            folder = Path(tempfile.mkdtemp(dir=root))
        target = folder / safe_file_name(name)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            descriptor = os.open(target, flags | getattr(os, "O_BINARY", 0), 0o600)
            try:
                for chunk in chunks:
                    _write_all(descriptor, chunk)
                    if self._path != root:
                        raise PrivateFolderWiped("the private folder was wiped")
                os.fsync(descriptor)
                with self._guard:
                    if self._path != root:
                        raise PrivateFolderWiped("the private folder was wiped")
            except BaseException:
                # Through the descriptor: after a wipe the file may be unlinked
                # already, its bytes still allocated until it is closed.
                with contextlib.suppress(OSError):
                    _zero_descriptor(descriptor)
                raise
            finally:
                os.close(descriptor)
        except BaseException:
            _remove_tree(folder)
            raise
        return target

    def wipe(self) -> None:
        """Overwrite every file with zeros, then remove it and the folders. Never raises."""
        with self._guard:
            root, self._path = self._path, None
            lock_handle, self._lock_handle = self._lock_handle, None
            if root is None:
                return
            try:
                left = _remove_tree(root)
            except Exception:  # wiping must never stop a lock or an exit
                log.warning("Could not wipe the private folder %s", root, exc_info=True)
                left = -1
            finally:
                if lock_handle is not None:
                    _close_quietly(lock_handle)
            if left:
                log.warning("The private folder %s could not be fully removed", root)

    @staticmethod
    def sweep_stale(base: Path | None = None) -> int:
        """Remove private folders of this user left by an earlier run; return how many.

        Without `base`, looks in every place `PrivateFolder` may have used. Never raises.
        """
        bases = [base] if base is not None else _candidate_bases()
        removed = 0
        for folder_base in bases:
            try:
                entries = list(folder_base.glob(f"{FOLDER_PREFIX}*"))
            except OSError:
                continue
            for folder in entries:
                try:
                    if _sweep_one(folder):
                        removed += 1
                except Exception:
                    log.warning("Could not remove a stale private folder", exc_info=True)
        return removed

    def _ensure_root(self) -> Path:
        if self._path is None or not self._path.is_dir():
            if self._lock_handle is not None:  # the folder was removed behind our back
                _close_quietly(self._lock_handle)
                self._lock_handle = None
            base = self._base if self._base is not None else default_base()
            root = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=base))
            try:
                self._lock_handle = _hold_lock(root / LOCK_NAME)
            except BaseException:
                shutil.rmtree(root, ignore_errors=True)
                raise
            self._path = root
        return self._path


def _candidate_bases() -> list[Path]:
    bases = [Path(tempfile.gettempdir())]
    runtime = _runtime_base()
    if runtime is not None and runtime not in bases:
        bases.insert(0, runtime)
    return bases


def _sweep_one(folder: Path) -> bool:
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode):
        return False
    if sys.platform != "win32" and info.st_uid != os.geteuid():
        return False
    lock_path = folder / LOCK_NAME
    if not lock_path.exists():
        if time.time() - info.st_mtime < UNLOCKED_GRACE_SECONDS:
            return False  # maybe being created by a Cairn starting right now
        return _remove_tree(folder) == 0
    handle = _try_lock(lock_path)
    if handle is None:
        return False  # a running Cairn holds it
    try:
        return _remove_tree(folder) == 0
    finally:
        _close_quietly(handle)


def _remove_tree(root: Path) -> int:
    """Zero and unlink every file under root, then remove the folders; return how
    many entries could not be removed (0 when root is gone)."""
    failures = 0
    for folder, subfolders, files in os.walk(root, topdown=False):
        for name in files:
            if not _shred(Path(folder, name)):
                failures += 1
        for name in subfolders:
            path = Path(folder, name)
            try:
                if path.is_symlink():
                    path.unlink()
                else:
                    path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                failures += 1
    try:
        root.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        failures += 1
    return failures


def _shred(path: Path) -> bool:
    """Overwrite a regular file with zeros (same length), fsync, unlink. Symbolic
    links are unlinked, never followed; a file with other hard links is only
    unlinked, so that nothing outside the folder is ever overwritten."""
    try:
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_size:
            flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            descriptor = os.open(path, flags)
            try:
                _zero_descriptor(descriptor)
            finally:
                os.close(descriptor)
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _zero_descriptor(descriptor: int) -> None:
    """Overwrite the whole open file with zeros, in place, and fsync."""
    size = os.fstat(descriptor).st_size
    os.lseek(descriptor, 0, os.SEEK_SET)
    written = 0
    while written < size:
        written += os.write(descriptor, _ZEROS[: min(size - written, len(_ZEROS))])
    os.fsync(descriptor)


def _close_quietly(descriptor: int) -> None:
    if descriptor < 0:
        return
    with contextlib.suppress(OSError):
        os.close(descriptor)


if sys.platform == "win32":

    def _hold_lock(path: Path) -> int:
        # An open file cannot be deleted on Windows, which is what _try_lock tests.
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_BINARY, 0o600)

    def _try_lock(path: Path) -> int | None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except PermissionError:
            return None
        return -1  # nothing to hold: the owner is gone

else:
    import fcntl

    def _hold_lock(path: Path) -> int:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def _try_lock(path: Path) -> int | None:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return None
        return descriptor
