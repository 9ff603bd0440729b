"""The private folder for attachments opened with another app: permissions, names,
no half-written files, wiping and sweeping after a crash."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.private_files import (
    FOLDER_PREFIX,
    LOCK_NAME,
    PrivateFolder,
    PrivateFolderWiped,
    default_base,
    safe_file_name,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and unlink")


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[PrivateFolder]:
    private = PrivateFolder(tmp_path / "base")
    (tmp_path / "base").mkdir()
    yield private
    private.wipe()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def entries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.name != LOCK_NAME)


@posix_only
def test_files_are_readable_by_the_user_only(folder: PrivateFolder) -> None:
    path = folder.write("report.pdf", [b"%PDF-1.7 ", b"secret"])
    assert path.name == "report.pdf"
    assert path.read_bytes() == b"%PDF-1.7 secret"
    assert folder.path is not None
    assert folder.path.name.startswith(FOLDER_PREFIX)
    assert mode(folder.path) == 0o700
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("a/b\\c.txt", "a_b_c.txt"),
        ("nul\x00byte\n.txt", "nulbyte.txt"),
        ("🎉 party 👩‍👩‍👧.jpg", "🎉 party 👩‍👩‍👧.jpg"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("CON.txt", "_CON.txt"),
        ("lpt1", "_lpt1"),
        ("", "attachment"),
        ("..", "attachment"),
        ("  .hidden  ", "hidden"),
        ("ends with dots...", "ends with dots"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        (".pdf", "pdf"),
    ],
)
def test_names_are_made_safe(folder: PrivateFolder, name: str, expected: str) -> None:
    assert safe_file_name(name) == expected
    path = folder.write(name, [b"x"])
    assert path.name == expected
    assert folder.path is not None
    assert path.parent.parent == folder.path  # inside its own subfolder, nowhere else
    assert path.read_bytes() == b"x"


def test_long_names_are_shortened_keeping_the_extension(folder: PrivateFolder) -> None:
    for name in ("x" * 300 + ".pdf", "é" * 300 + ".docx", "🎉" * 300 + ".jpeg"):
        path = folder.write(name, [b"x"])
        assert path.suffix == Path(name).suffix
        assert len(path.name) <= 120
        assert len(path.name.encode()) <= 240
        assert path.name[0] == name[0]


def test_the_same_name_twice_gives_two_files(folder: PrivateFolder) -> None:
    first = folder.write("notes.txt", [b"first"])
    second = folder.write("notes.txt", [b"second"])
    assert first != second
    assert first.name == second.name == "notes.txt"
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")


def test_a_failure_while_writing_leaves_nothing(folder: PrivateFolder) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"secret " * 1000
        raise OSError("the space could not be read")

    with pytest.raises(OSError, match="could not be read"):
        folder.write("half.txt", chunks())
    assert folder.path is not None
    assert entries(folder.path) == []


@posix_only
def test_wipe_overwrites_with_zeros_then_removes(folder: PrivateFolder) -> None:
    content = b"plaintext of the space " * 50_000  # over one 1 MiB round of zeros
    path = folder.write("diary.txt", [content])
    root = folder.path
    assert root is not None
    # A descriptor opened before the wipe still reaches the same bytes after unlink.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        folder.wipe()
        after = os.pread(descriptor, len(content) + 10, 0)
    finally:
        os.close(descriptor)
    assert after == bytes(len(content))
    assert not root.exists()
    assert folder.path is None


def test_the_folder_is_made_again_after_a_wipe(folder: PrivateFolder) -> None:
    first = folder.write("a.txt", [b"a"])
    folder.wipe()
    folder.wipe()  # twice is harmless
    second = folder.write("a.txt", [b"b"])
    assert not first.exists()
    assert second.read_bytes() == b"b"


@posix_only
def test_a_wipe_during_a_write_undoes_the_write(folder: PrivateFolder) -> None:
    seen: dict[str, int] = {}

    def chunks() -> Iterator[bytes]:
        yield b"secret " * 1000
        assert folder.path is not None
        (partial,) = entries(folder.path)[1:]  # [subfolder, file]
        seen["descriptor"] = os.open(partial, os.O_RDONLY)
        folder.wipe()  # the space is locked on the GUI thread meanwhile
        yield b"more secret " * 1000

    with pytest.raises(PrivateFolderWiped):
        folder.write("racing.txt", chunks())
    descriptor = seen["descriptor"]
    try:
        after = os.pread(descriptor, 100_000, 0)
    finally:
        os.close(descriptor)
    assert after
    assert after == bytes(len(after))
    assert folder.path is None


CRASHING_RUN = """
import os, sys
from pathlib import Path
from app.private_files import PrivateFolder
folder = PrivateFolder(Path(sys.argv[1]))
print(folder.write("left behind.txt", [b"secret"]))
sys.stdout.flush()
os._exit(3)
"""


def test_sweep_removes_what_a_crashed_run_left(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(base)],
        capture_output=True, text=True, cwd=Path(__file__).parents[2], check=False,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr
    left = Path(run.stdout.strip())
    assert left.read_bytes() == b"secret"

    assert PrivateFolder.sweep_stale(base) == 1
    assert not left.exists()
    assert list(base.iterdir()) == []


def test_sweep_leaves_other_things_alone(tmp_path: Path, folder: PrivateFolder) -> None:
    base = tmp_path / "base"
    in_use = folder.write("open in another app.txt", [b"x"])
    other = base / "not-ours"
    other.mkdir()
    a_file = base / f"{FOLDER_PREFIX}file"
    a_file.write_bytes(b"x")
    young = base / f"{FOLDER_PREFIX}young"  # no lock yet: maybe being created right now
    young.mkdir()
    old = base / f"{FOLDER_PREFIX}old"
    (old / "sub").mkdir(parents=True)
    (old / "sub" / "a.txt").write_bytes(b"x")
    a_day_ago = time.time() - 86_400
    os.utime(old, (a_day_ago, a_day_ago))

    assert PrivateFolder.sweep_stale(base) == 1
    assert not old.exists()
    assert in_use.read_bytes() == b"x"
    assert other.is_dir()
    assert a_file.is_file()
    assert young.is_dir()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_sweep_leaves_other_users_folders_alone(tmp_path: Path) -> None:
    theirs = tmp_path / f"{FOLDER_PREFIX}theirs"
    theirs.mkdir()
    os.chown(theirs, 12345, 12345)
    a_day_ago = time.time() - 86_400
    os.utime(theirs, (a_day_ago, a_day_ago))
    assert PrivateFolder.sweep_stale(tmp_path) == 0
    assert theirs.is_dir()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG runtime folder")
def test_the_runtime_folder_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    (runtime / "cairn").mkdir(mode=0o755)  # as an older or careless run left it
    (runtime / "cairn").chmod(0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert default_base() == runtime / "cairn"
    assert mode(runtime / "cairn") == 0o700

    private = PrivateFolder()
    path = private.write("a.txt", [b"a"])
    assert path.is_relative_to(runtime / "cairn")
    private.wipe()
    assert list((runtime / "cairn").iterdir()) == []


def test_an_unusable_runtime_folder_falls_back_to_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "run"
    not_a_folder.write_bytes(b"")
    monkeypatch.setattr("platformdirs.user_runtime_dir", lambda _name: str(not_a_folder))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    assert default_base() == tmp_path / "tmp"

    def no_runtime_folder(_name: str) -> str:
        raise PermissionError("runtime directory is not owned by the user")

    monkeypatch.setattr("platformdirs.user_runtime_dir", no_runtime_folder)
    assert default_base() == tmp_path / "tmp"
