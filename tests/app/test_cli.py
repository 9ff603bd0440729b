"""The `cairn` command line as a person or a script uses it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from store.kdf import PRODUCTION_POLICY, KdfPolicy
from store.spacefile import SpaceFile
from tests.conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def path(cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    target = tmp_path / "me.cairn"
    assert cli("init", target).code == 0
    return target


def _add(cli, path: Path, *extra: str) -> str:  # type: ignore[no-untyped-def]
    result = cli("add", path, "--json", *extra)
    assert result.code == 0, result.err
    return str(json.loads(result.out)["id"])


def test_help_lists_the_exit_codes(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--help")
    assert result.code == 0
    assert "usage: cairn" in result.out
    for line in ("3  wrong passphrase", "4  the space is damaged", "5  no such asset",
                 "6  the space file does not exist"):  # fmt: skip
        assert line in result.out


def test_init_prints_the_recovery_key_once_as_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", tmp_path / "s.cairn", "--json")
    data = json.loads(result.out)
    assert set(data) == {"space_id", "recovery_key"}
    assert len(data["recovery_key"].split("-")) == 14
    again = cli("init", tmp_path / "s.cairn")
    assert again.code == 2
    assert "already exists" in again.err


def test_init_without_any_passphrase_source_is_a_usage_error(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115
    result = cli("init", tmp_path / "s.cairn", passphrase=None)
    assert result.code == 2
    assert "CAIRN_PASSPHRASE" in result.err
    assert not (tmp_path / "s.cairn").exists()


def test_add_list_show_edit_history_restore_delete(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    plan = _add(cli, path, "--template", "smart-plan", "--title", "Learn SQL",
                "--set", "specific=Write joins", "--set", "deadline=2026-12-31",
                "--tag", "data")  # fmt: skip
    note = _add(cli, path, "--template", "journal", "--title", "Joins clicked",
                "--set", "entry=Left joins keep rows", "--tag", "data", "--tag", "sql",
                "--link", plan[:8])  # fmt: skip

    listing = json.loads(cli("list", path, "--json").out)
    assert [item["id"] for item in listing] == [note, plan]
    assert set(listing[0]) >= {"id", "title", "template", "tags", "created", "updated"}
    assert listing[0]["tags"] == ["data", "sql"]
    assert [i["id"] for i in json.loads(cli("list", path, "--json", "--tag", "SQL").out)] == [note]

    shown = json.loads(cli("show", path, note, "--json").out)
    assert shown["fields"]["entry"] == "Left joins keep rows"
    assert shown["links"] == [plan]
    assert shown["attachments"] == []
    assert json.loads(cli("show", path, plan, "--json").out)["linked_from"] == [note]

    edited = cli("edit", path, note, "--title", "Joins finally clicked", "--set", "entry=Inner too",
                 "--untag", "data", "--json")  # fmt: skip
    assert json.loads(edited.out)["version"] == 2
    history = json.loads(cli("history", path, note, "--json").out)
    assert [(v["version"], v["title"]) for v in history] == [
        (1, "Joins clicked"),
        (2, "Joins finally clicked"),
    ]
    assert set(history[0]) >= {"version", "saved", "title"}

    assert cli("restore", path, note, "1").code == 0
    restored = json.loads(cli("show", path, note, "--json").out)
    assert restored["version"] == 3
    assert restored["title"] == "Joins clicked"
    assert restored["tags"] == ["data", "sql"]
    version_2 = json.loads(cli("show", path, note, "--version", "2", "--json").out)
    assert version_2["fields"]["entry"] == "Inner too"

    assert cli("delete", path, note).code == 0
    assert cli("show", path, note).code == 5
    assert [i["id"] for i in json.loads(cli("list", path, "--json").out)] == [plan]


def test_search_finds_best_match_first(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    weak = _add(cli, path, "--template", "journal", "--title", "Monday",
                "--set", "entry=a short note about coaching")  # fmt: skip
    strong = _add(cli, path, "--template", "journal", "--title", "Coaching session",
                  "--set", "entry=coaching on coaching questions")  # fmt: skip
    _add(cli, path, "--template", "journal", "--title", "Unrelated", "--set", "entry=gardening")
    hits = json.loads(cli("search", path, "coach", "--json").out)
    assert [hit["id"] for hit in hits] == [strong, weak]
    assert set(hits[0]) >= {"id", "title", "snippet"}
    assert "**" in hits[0]["snippet"]
    assert json.loads(cli("search", path, '"(*', "--json").out) == []


def test_attach_and_extract_are_byte_identical(cli, path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    asset = _add(cli, path, "--template", "evidence", "--title", "Certificate")
    source = tmp_path / "certificate scan.pdf"
    source.write_bytes(os.urandom(2_500_000))
    attached = json.loads(cli("attach", path, asset, source, "--json").out)
    attachment_id = attached["attachment_id"]
    shown = json.loads(cli("show", path, asset, "--json").out)
    assert shown["attachments"] == [
        {
            "id": attachment_id,
            "name": "certificate scan.pdf",
            "size": 2_500_000,
            "sha256": __import__("hashlib").sha256(source.read_bytes()).hexdigest(),
            "media_type": "application/pdf",
        }  # fmt: skip
    ]
    out = tmp_path / "copy.pdf"
    assert cli("extract", path, attachment_id[:8], out).code == 0
    assert out.read_bytes() == source.read_bytes()
    assert cli("extract", path, "ffffffff", out).code == 5
    assert cli("attach", path, asset, tmp_path / "nope.pdf").code == 2


def test_passwd_and_recover(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "s.cairn"
    recovery_key = json.loads(cli("init", target, "--json").out)["recovery_key"]
    new = tmp_path / "new.txt"
    new.write_text("a brand new passphrase\n")
    assert cli("passwd", target, "--new-passphrase-file", new).code == 0
    assert cli("list", target).code == 3
    assert cli("list", target, passphrase="a brand new passphrase").code == 0

    key_file = tmp_path / "key.txt"
    key_file.write_text(recovery_key + "\n")
    newer = tmp_path / "newer.txt"
    newer.write_text("the third one")
    result = cli("recover", target, "--recovery-key-file", key_file,
                 "--new-passphrase-file", newer, passphrase=None)  # fmt: skip
    assert result.code == 0, result.err
    assert cli("list", target, passphrase="the third one").code == 0
    key_file.write_text(
        recovery_key.replace(recovery_key[5], "Z" if recovery_key[5] != "Z" else "Y", 1)
    )
    assert cli("recover", target, "--recovery-key-file", key_file,
               "--new-passphrase-file", newer, passphrase=None).code == 3  # fmt: skip


def test_passphrase_file_keeps_spaces_and_drops_the_newline(  # type: ignore[no-untyped-def]
    cli, path: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\r\n")
    assert cli("list", path, "--passphrase-file", secret, passphrase=None).code == 0
    secret.write_text(" " + PASSPHRASE + "\n")
    assert cli("list", path, "--passphrase-file", secret, passphrase=None).code == 3


def test_info_needs_no_passphrase(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    _add(cli, path, "--template", "journal", "--title", "x", "--set", "entry=y")
    info = json.loads(cli("info", path, "--json", passphrase=None).out)
    assert info["assets"] == 1
    assert info["format_version"] == 1
    assert info["kdf"]["alg"] == "argon2id"


def test_bad_usage_and_missing_items(cli, path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("add", path, "--title", "no template").code == 2
    assert cli("add", path, "--template", "t", "--title", "x", "--set", "novalue").code == 2
    assert cli("show", path, "0000").code == 5
    assert (
        cli(
            "restore",
            path,
            _add(cli, path, "--template", "journal", "--title", "x", "--set", "entry=y"),
            "9",
        ).code
        == 5
    )
    assert cli("frobnicate").code == 2


def _run_cairn(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from app.cli import main; "
         "code = main(sys.argv[1:]); "
         "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'; "
         "sys.exit(code)", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_real_process_exit_codes_no_qt_and_no_traceback(tmp_path: Path) -> None:
    """The real entry point with production key derivation (floor parameters)."""
    path = tmp_path / "real.cairn"
    floor = KdfPolicy(fixed=(PRODUCTION_POLICY.min_memory_kib, PRODUCTION_POLICY.min_iterations, 1))
    SpaceFile.create(path, PASSPHRASE, floor)[0].lock()
    env = {**os.environ, "CAIRN_PASSPHRASE": PASSPHRASE}
    added = _run_cairn(
        "add",
        str(path),
        "--template",
        "journal",
        "--title",
        "Hi",
        "--set",
        "entry=x",
        "--json",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert _run_cairn("list", str(path), env=env).returncode == 0
    wrong = _run_cairn("list", str(path), env={**env, "CAIRN_PASSPHRASE": "nope"})
    assert wrong.returncode == 3
    assert wrong.stderr.strip() == "cairn: the passphrase is not correct"
    missing = _run_cairn("show", str(path), "abcdef", env=env)
    assert missing.returncode == 5
    assert "Traceback" not in missing.stderr
    assert _run_cairn("list", str(tmp_path / "nope.cairn"), env=env).returncode == 6


def test_no_arguments_without_a_display_explains_instead_of_crashing(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    result = cli()
    assert result.code == 2
    assert "usage: cairn" in result.out
    assert "no display is available" in result.err


def test_new_recovery_key_replaces_the_old_one(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "s.cairn"
    old = json.loads(cli("init", target, "--json").out)["recovery_key"]
    new = json.loads(cli("new-recovery-key", target, "--json").out)["recovery_key"]
    assert new != old
    key_file, passphrase_file = tmp_path / "key.txt", tmp_path / "new.txt"
    passphrase_file.write_text("another passphrase")
    key_file.write_text(old)
    args = ("recover", target, "--recovery-key-file", key_file,
            "--new-passphrase-file", passphrase_file)  # fmt: skip
    assert cli(*args, passphrase=None).code == 3
    key_file.write_text(new)
    assert cli(*args, passphrase=None).code == 0


# ------------------------------------------------------------------ capture


def test_capture_once_imports_what_is_there_and_remembers_it(  # type: ignore[no-untyped-def]
    cli, path: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "Phone uploads"
    inbox.mkdir()
    (inbox / "2024-05-01_whiteboard.jpg").write_bytes(b"a photo")
    (inbox / "copy of whiteboard.jpg").write_bytes(b"a photo")
    (inbox / "placeholder.heic").write_bytes(b"")
    (inbox / "download.pdf.crdownload").write_bytes(b"half")
    result = cli("capture", path, "--once", inbox, "--settle", "0.1")
    assert result.code == 0, result.err
    imported, duplicate, skipped = result.out.splitlines()  # in name order
    asset_id = imported.split(" as ")[1].split()[0]
    assert (
        imported
        == f"Imported {inbox}/2024-05-01_whiteboard.jpg as {asset_id} '2024 05 01 whiteboard'"
    )
    assert duplicate == (
        f"Already in the space: {inbox}/copy of whiteboard.jpg has the same content as "
        f"{asset_id}; not imported again"
    )
    assert skipped.startswith(f"Skipped {inbox}/placeholder.heic: it is empty (0 bytes)")
    assert "1 imported, 1 already in the space, 1 skipped, 0 failed" in result.err
    shown = json.loads(cli("show", path, asset_id, "--json").out)
    assert shown["template"] == "builtin/evidence"
    assert shown["tags"] == ["captured"]
    assert [a["name"] for a in shown["attachments"]] == ["2024-05-01_whiteboard.jpg"]
    # Kept files are remembered: nothing is imported or reported twice.
    again = cli("capture", path, "--once", inbox, "--settle", "0.1", "--json")
    assert again.code == 0
    assert [json.loads(line)["event"] for line in again.out.splitlines()] == ["skipped"]


def test_capture_once_moves_and_reports_failures_with_exit_7(  # type: ignore[no-untyped-def]
    cli, path: Path, tmp_path: Path
) -> None:
    from tests.app.test_capture import reading_as_an_ordinary_user

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "fine.txt").write_text("fine")
    locked = inbox / "locked.txt"
    locked.write_text("locked")
    locked.chmod(0)
    with reading_as_an_ordinary_user():
        result = cli("capture", path, "--once", inbox, "--after", "move", "--settle", "0.1",
                     "--json")  # fmt: skip
    assert result.code == 7
    [event] = [json.loads(line) for line in result.out.splitlines() if '"imported"' in line]
    assert event["moved_to"] == str(inbox / "imported" / "fine.txt")
    assert (inbox / "imported" / "fine.txt").read_text() == "fine"
    [failed] = [json.loads(line) for line in result.out.splitlines() if '"failed"' in line]
    assert failed["path"] == str(locked)
    assert "permission denied" in failed["message"]
    assert locked.exists()
    assert cli("capture", path, "--once", tmp_path / "nowhere").code == 2
    assert cli("capture", path, inbox).code == 2  # --watch or --once is required
    assert cli("capture", path, "--once", inbox, "--watch", inbox).code == 2


def test_capture_names_that_would_break_a_line_are_escaped(  # type: ignore[no-untyped-def]
    cli, path: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "two\nlines.txt").write_text("x")
    (inbox / os.fsdecode(b"caf\xe9.txt")).write_text("y")
    result = cli("capture", path, "--once", inbox, "--settle", "0.1")
    assert result.code == 0, result.err
    lines = sorted(result.out.splitlines())
    assert len(lines) == 2
    assert lines[0].startswith(f"Imported {inbox}/caf\ufffd.txt as ")
    assert lines[1].startswith(f"Imported {inbox}/two\\nlines.txt as ")


def _start_capture_process(space: Path, *args: str) -> subprocess.Popen[str]:
    """`cairn capture` in its own process, with the test KDF policy passed in by code."""
    code = ("import sys; from app.cli import main; from tests.support import TEST_KDF_POLICY; "
            "sys.exit(main(sys.argv[1:], kdf_policy=TEST_KDF_POLICY))")  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", code, "capture", str(space), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "CAIRN_PASSPHRASE": PASSPHRASE, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip


def _lines(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_capture_watch_runs_until_interrupted(  # type: ignore[no-untyped-def]
    cli, path: Path, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    first, second = tmp_path / "phone", tmp_path / "scanner"
    first.mkdir()
    second.mkdir()
    (first / "waiting.txt").write_text("arrived while nothing watched")
    process = _start_capture_process(path, "--watch", str(first), "--watch", str(second),
                                     "--settle", "0.2", "--after", "delete")  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        out, err = _lines(process.stdout), _lines(process.stderr)
        assert "watching 2 folders" in err.get(timeout=60)
        assert out.get(timeout=30).startswith(f"Imported {first}/waiting.txt as ")
        (second / "scan_0001.pdf").write_text("scanned")
        assert out.get(timeout=30).startswith(f"Imported {second}/scan_0001.pdf as ")
        assert not (second / "scan_0001.pdf").exists()
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
    assert "2 imported, 0 already in the space, 0 skipped, 0 failed" in err.get(timeout=5)
    titles = sorted(item["title"] for item in json.loads(cli("list", path, "--json").out))
    assert titles == ["scan 0001", "waiting"]
