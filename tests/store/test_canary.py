"""No plaintext on disk: a canary written everywhere a person can write never reaches a file.

The canary goes into titles, fields (nested too), tags, attachment names and attachment
content, through edits (so history holds it) and a search (so the index is built). Then
every byte of the space file, its WAL, shared-memory and journal files, and every file in
the test's folders and temp folder is searched for it, in several encodings and spellings.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from app.space import Space
from store.stream import CHUNK_SIZE
from tests.conftest import PASSPHRASE
from tests.support import TEST_KDF_POLICY

# One word each (no separators), so that a leaked search-index token would match too.
CANARY = "CairnCanaryQx7Zt9Wv"
NON_ASCII_CANARY = "ZwitscherKanarienvögelΣίσυφοςカナリア"
SPACE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _spellings(canary: str) -> set[str]:
    """The canary as typed, case-folded, decomposed, and folded without diacritics."""
    folded = canary.casefold()
    bare = "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))
    return {canary, folded, canary.upper(), unicodedata.normalize("NFD", canary), bare}


def _needles() -> dict[bytes, str]:
    needles: dict[bytes, str] = {}
    for canary in (CANARY, NON_ASCII_CANARY):
        for spelling in _spellings(canary):
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                needles[spelling.encode(encoding)] = f"{spelling!r} in {encoding}"
            escaped = json.dumps(spelling)[1:-1].encode()  # as JSON with ensure_ascii
            needles.setdefault(escaped, f"{spelling!r} JSON-escaped")
    return needles


NEEDLES = _needles()


def canaries_in(data: bytes) -> list[str]:
    return [label for needle, label in NEEDLES.items() if needle in data]


def leaks_under(root: Path, allowed: Path | None = None) -> dict[str, list[str]]:
    """Every file (or name) under `root` but `allowed` that holds a canary, and which."""
    leaks: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path == allowed:
            continue
        found = canaries_in(str(path.relative_to(root)).encode())
        if path.is_file() and not path.is_symlink():
            found += canaries_in(path.read_bytes())
        if found:
            leaks[str(path.relative_to(root))] = found
    return leaks


def space_files(path: Path) -> dict[str, bytes]:
    """The bytes of the space file and of its -wal, -shm and -journal files that exist."""
    files = (path.with_name(path.name + suffix) for suffix in SPACE_FILE_SUFFIXES)
    return {file.name: file.read_bytes() for file in files if file.exists()}


def assert_no_canary(path: Path, root: Path, source: Path) -> None:
    for name, data in space_files(path).items():
        assert canaries_in(data) == [], f"the canary is readable in {name}"
    assert leaks_under(root, source) == {}


@pytest.fixture
def temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh temp folder for Python (TMPDIR, tempfile) and SQLite temp files alike."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setenv("SQLITE_TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    # SQLite reads those variables once per process; this setting is process-wide and wins.
    with closing(sqlite3.connect(":memory:")) as connection:
        row = connection.execute("PRAGMA temp_store_directory").fetchone()
        escaped = str(folder).replace("'", "''")
        connection.execute(f"PRAGMA temp_store_directory = '{escaped}'")
    yield folder
    with closing(sqlite3.connect(":memory:")) as connection:
        previous = (row[0] if row else "").replace("'", "''")
        connection.execute(f"PRAGMA temp_store_directory = '{previous}'")


def test_canary_never_reaches_the_disk(tmp_path: Path, temp_folder: Path) -> None:
    """What a person writes is never readable in the space file, its WAL or temp files."""
    outside = tmp_path / "outside"
    outside.mkdir()
    source = outside / f"{CANARY} {NON_ASCII_CANARY}.txt"
    filler = b"-" * (CHUNK_SIZE - 10)
    content = b"".join(
        (
            f"Notes {CANARY} {NON_ASCII_CANARY}\n".encode(),
            NON_ASCII_CANARY.encode("utf-16-le"),
            filler,
            CANARY.encode(),  # across the first chunk boundary
            filler[: CHUNK_SIZE // 2],
            f"{CANARY.casefold()}\n".encode(),
        )
    )
    source.write_bytes(content)
    # The test must be able to fail: the scan sees the canary where it is.
    assert "'CairnCanaryQx7Zt9Wv' in utf-8" in canaries_in(source.read_bytes())
    assert leaks_under(tmp_path)[str(source.relative_to(tmp_path))]

    path = tmp_path / "space.cairn"
    space, _ = Space.create(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY)
    with space:
        first = space.add_asset(
            "note",
            f"Notes on {CANARY}",
            {
                "body": f"A body that mentions {CANARY} and {NON_ASCII_CANARY} in passing.",
                "quotes": [CANARY, {"said": [NON_ASCII_CANARY, 42]}],
                "source": {"book": {"title": NON_ASCII_CANARY, "pages": [1, 2]}},
            },
            tags=[CANARY, NON_ASCII_CANARY, "plain"],
        )
        second = space.add_asset(
            "journal", NON_ASCII_CANARY, {"entry": CANARY}, tags=[f"{CANARY}-tag"],
            links=[first.id],
        )  # fmt: skip
        doomed = space.add_asset("note", f"To delete {CANARY}", {"body": NON_ASCII_CANARY})
        space.edit_asset(first.id, title=f"Revised {NON_ASCII_CANARY}",
                         set_fields={"extra": [CANARY]}, add_tags=[f"v2{CANARY}"])  # fmt: skip
        space.edit_asset(second.id, fields={"entry": f"{CANARY} again", "n": [CANARY]})
        space.delete_asset(doomed.id)
        from_file = space.attach(first.id, source)
        from_stream = space.attach(
            second.id, io.BytesIO(f"{NON_ASCII_CANARY}\n{CANARY}".encode()),
            name=f"{NON_ASCII_CANARY}.md",
        )  # fmt: skip
        assert from_file.name == source.name
        assert b"".join(space.read_attachment(from_file.id)) == content
        assert b"".join(space.read_attachment(from_stream.id)).endswith(CANARY.encode())
        assert {hit.asset_id for hit in space.search(CANARY)} == {first.id, second.id}
        assert [hit.asset_id for hit in space.search(NON_ASCII_CANARY)] != []
        assert len(space.history(first.id)) == 2

        # Still open: the WAL holds the changes, not yet folded into the file.
        assert path.with_name(path.name + "-wal").stat().st_size > 0
        assert_no_canary(path, tmp_path, source)
    assert_no_canary(path, tmp_path, source)

    # Unlocking again rebuilds the index from the file; that leaves nothing either.
    with Space.open(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY, index="now") as reopened:
        assert {hit.asset_id for hit in reopened.search(CANARY)} == {first.id, second.id}
        assert reopened.get_asset(first.id).title == f"Revised {NON_ASCII_CANARY}"
        assert_no_canary(path, tmp_path, source)
    assert_no_canary(path, tmp_path, source)
