"""cairn --self-check: what an installer runs to see that Cairn works there."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import self_check
from app.cli import _file_to_open


def test_self_check_passes_and_says_what_it_checked(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--self-check", passphrase=None)
    assert result.code == 0, result.out + result.err
    for name in ("templates", "resources", "create", "write", "unlock", "read", "search",
                 "render", "transfer", "verify", "qt"):  # fmt: skip
        assert f"ok    {name}" in result.out
    assert result.out.strip().endswith("the temporary space was deleted")
    assert result.out.startswith(f"Cairn {self_check.version()} self-check")


def test_self_check_reports_the_first_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    monkeypatch.setattr(self_check, "builtin_templates", lambda: [])
    assert self_check.run(lines.append) == 1
    assert "FAIL  templates" in lines[1]
    assert "no built-in templates" in lines[1]
    assert lines[-1] == "self-check failed"


def test_a_file_given_alone_opens_in_the_app_and_a_command_does_not(tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    space = tmp_path / "learning.cairn"
    space.write_bytes(b"")
    assert _file_to_open([str(space)]) == space
    assert _file_to_open([str(tmp_path / "missing.cairn")]) is None
    assert _file_to_open([str(space), "--json"]) is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list").write_bytes(b"")  # a file named like a command is still the command
    assert _file_to_open(["list"]) is None
    assert _file_to_open(["learning.cairn"]) == Path("learning.cairn")


def test_a_format_missing_from_the_installation_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app import transfer

    transfer.load_formats()
    monkeypatch.delitem(transfer.EXPORTERS, "pdf")
    monkeypatch.setattr(transfer, "load_formats", lambda: None)
    lines: list[str] = []
    assert self_check.run(lines.append) == 1
    assert "FAIL  transfer" in lines[-2]
    assert "export to pdf" in lines[-2]
