"""`cairn export` and `cairn import` with the portable archive, and their exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import transfer
from app.age import AgeReader
from app.space import Space
from store.kdf import KdfPolicy
from tests.conftest import PASSPHRASE

ARCHIVE_PASSPHRASE = "the archive's own passphrase"


@pytest.fixture
def filled(space: Space) -> Space:
    plan = space.add_asset("builtin/smart-plan", "Learn Rust", {"goal": "a CLI"}, tags=["work"])
    space.edit_asset(plan.id, title="Learn Rust well")
    space.add_asset("builtin/journal", "Day one", {"entry": "hello"})
    (Path(space.path).parent / "notes.txt").write_text("some notes")
    space.attach(plan.id, Path(space.path).parent / "notes.txt")
    return space


@pytest.fixture
def archive_passphrase(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_it(value: str = ARCHIVE_PASSPHRASE) -> None:
        monkeypatch.setenv("CAIRN_ARCHIVE_PASSPHRASE", value)

    return set_it


def test_export_and_import_into_a_new_space(
    cli: Any, filled: Space, tmp_path: Path, archive_passphrase: Any, kdf_policy: KdfPolicy
) -> None:
    archive = tmp_path / "me.cairn-archive"
    archive_passphrase()
    result = cli("export", filled.path, archive, "--format", "portable")
    assert result.code == 0, result.err
    assert "2 assets, 1 file" in result.out
    with archive.open("rb") as handle:
        assert AgeReader(handle, ARCHIVE_PASSPHRASE).read(5)  # our passphrase, not the space's

    archive_passphrase()
    restored = tmp_path / "restored.cairn"
    result = cli("import", restored, archive, passphrase="the new space's passphrase")
    assert result.code == 0, result.err
    assert "Created" in result.out
    assert "recovery key" in result.out
    listing = cli("list", restored, "--json", passphrase="the new space's passphrase")
    assert sorted(item["title"] for item in json.loads(listing.out)) == [
        "Day one", "Learn Rust well"
    ]  # fmt: skip
    assert not (tmp_path / ".restored.cairn").exists()


def test_archive_passphrase_from_a_file_and_json_summary(
    cli: Any, filled: Space, tmp_path: Path
) -> None:
    secret = tmp_path / "archive-passphrase"
    secret.write_text(ARCHIVE_PASSPHRASE + "\n")
    archive = tmp_path / "me.cairn-archive"
    result = cli("export", filled.path, archive, "--format", "portable",
                 "--archive-passphrase-file", secret, "--json")  # fmt: skip
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["assets"] == 2
    assert summary["files"] == 1
    assert summary["format"] == "portable"
    # Merging the same archive back changes nothing and says so.
    result = cli("import", filled.path, archive, "--archive-passphrase-file", secret, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["details"] == {"new": 0, "merged": 0, "unchanged": 2}


def test_no_archive_passphrase_is_a_usage_error(cli: Any, filled: Space, tmp_path: Path) -> None:
    result = cli("export", filled.path, tmp_path / "x", "--format", "portable")
    assert result.code == 2
    assert "CAIRN_ARCHIVE_PASSPHRASE" in result.err
    assert not (tmp_path / "x").exists()


def test_a_wrong_archive_passphrase_exits_3_and_creates_nothing(
    cli: Any, filled: Space, tmp_path: Path, archive_passphrase: Any
) -> None:
    archive = tmp_path / "me.cairn-archive"
    archive_passphrase()
    assert cli("export", filled.path, archive, "--format", "portable").code == 0
    archive_passphrase("wrong")
    folder = tmp_path / "new"
    folder.mkdir()
    result = cli("import", folder / "restored.cairn", archive)
    assert result.code == 3
    assert "archive passphrase" in result.err
    assert list(folder.iterdir()) == []


def test_a_damaged_archive_exits_4(
    cli: Any, filled: Space, tmp_path: Path, archive_passphrase: Any
) -> None:
    archive = tmp_path / "me.cairn-archive"
    archive_passphrase()
    assert cli("export", filled.path, archive, "--format", "portable").code == 0
    data = bytearray(archive.read_bytes())
    data[-200] ^= 1
    archive.write_bytes(bytes(data))
    archive_passphrase()
    before = cli("list", filled.path, "--json").out
    result = cli("import", filled.path, archive)
    assert result.code == 4
    assert "damaged" in result.err
    assert cli("list", filled.path, "--json").out == before


def test_an_archive_from_a_newer_cairn_exits_6(
    cli: Any, filled: Space, tmp_path: Path, archive_passphrase: Any
) -> None:
    from tests.app.test_portable import ARCHIVE_PASSPHRASE as CRAFTED
    from tests.app.test_portable import craft

    manifest = {"format": "cairn-portable", "format_version": 99, "space_id": filled.space_id,
                "created": "2040-01-01T00:00:00+00:00", "files": {}}  # fmt: skip
    future = craft(tmp_path / "future.cairn-archive", [], manifest=manifest)
    archive_passphrase(CRAFTED)
    result = cli("import", filled.path, future)
    assert result.code == 6
    assert "newer" in result.err


def test_portable_is_the_whole_space(cli: Any, filled: Space, tmp_path: Path) -> None:
    result = cli("export", filled.path, tmp_path / "x", "--format", "portable", "--tag", "work")
    assert result.code == 2
    assert "whole space" in result.err


def test_a_format_not_registered_yet_is_a_usage_error(
    cli: Any, filled: Space, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "FORMAT_MODULES", ("app.portable",))
    monkeypatch.delitem(transfer.EXPORTERS, "pdf", raising=False)
    result = cli("export", filled.path, tmp_path / "x.pdf", "--format", "pdf")
    assert result.code == 2
    assert "not available yet" in result.err


def test_an_unrecognised_file_is_a_usage_error(cli: Any, filled: Space, tmp_path: Path) -> None:
    mystery = tmp_path / "mystery.bin"
    mystery.write_bytes(b"\x00\x01 not an archive")
    result = cli("import", filled.path, mystery)
    assert result.code == 2
    assert "--format" in result.err


def test_importing_into_something_that_is_not_a_space_exits_6(
    cli: Any, filled: Space, tmp_path: Path, archive_passphrase: Any
) -> None:
    archive = tmp_path / "me.cairn-archive"
    archive_passphrase()
    assert cli("export", filled.path, archive, "--format", "portable").code == 0
    not_a_space = tmp_path / "notes.txt"
    archive_passphrase()
    result = cli("import", not_a_space, archive, passphrase=PASSPHRASE)
    assert result.code == 6


def test_export_html_with_a_title_of_ones_own(cli, space: Space, space_path: Path,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:  # fmt: skip
    space.add_asset("builtin/journal", "Monday", {"entry": "Notes"})
    space.lock()
    site = tmp_path / "site"
    result = cli("export", space_path, site, "--format", "html", "--title", "Sam Lee — portfolio")
    assert result.code == 0, result.err
    index = (site / "index.html").read_text()
    assert "Sam Lee — portfolio" in index
    assert "Learning portfolio" not in index
