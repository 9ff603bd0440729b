"""Full-text search over decrypted text, in an in-memory SQLite FTS5 index.

Nothing of the index ever touches the disk: the database is ":memory:" and the
connection's temp store is memory. It is rebuilt after every unlock and dropped
on lock.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\w+", re.UNICODE)
HIGHLIGHT_START = "\u0002"
HIGHLIGHT_END = "\u0003"


@dataclass(frozen=True)
class SearchHit:
    asset_id: str
    title: str
    snippet: str  # matches wrapped in HIGHLIGHT_START / HIGHLIGHT_END
    score: float


def flatten_text(value: Any) -> str:
    """All the text in a field value (strings in nested lists and dicts)."""
    parts: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict):
            for inner in item.values():
                walk(inner)
        elif isinstance(item, list | tuple):
            for inner in item:
                walk(inner)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            parts.append(str(item))

    walk(value)
    return "\n".join(parts)


def to_match_expression(query: str) -> str | None:
    """Turn what a person typed into a safe FTS5 query: every word, as a prefix."""
    tokens = _TOKEN.findall(query)
    if not tokens:
        return None
    return " AND ".join('"' + token.replace('"', "") + '"*' for token in tokens)


class SearchIndex:
    """An FTS5 index of assets; thread-safe; newer versions of an asset win."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._db.execute(
            "CREATE VIRTUAL TABLE entry USING fts5("
            "asset_id UNINDEXED, title, body, tags, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '1')"
        )
        self._versions: dict[str, float] = {}
        # asset id -> FTS rowid: deleting by an UNINDEXED column would scan the table.
        self._rowids: dict[str, int] = {}

    def put(self, asset_id: str, version: int, title: str, body: str, tags: Iterable[str]) -> None:
        """Index (or re-index) an asset, unless a newer version is already in."""
        with self._lock:
            db = self._require()
            if self._versions.get(asset_id, 0) >= version:
                return
            self._versions[asset_id] = version
            rowid = self._rowids.pop(asset_id, None)
            if rowid is not None:
                db.execute("DELETE FROM entry WHERE rowid = ?", (rowid,))
            cursor = db.execute(
                "INSERT INTO entry (asset_id, title, body, tags) VALUES (?, ?, ?, ?)",
                (asset_id, title, body, " ".join(tags)),
            )
            assert cursor.lastrowid is not None
            self._rowids[asset_id] = cursor.lastrowid

    def remove(self, asset_id: str) -> None:
        with self._lock:
            db = self._require()
            self._versions[asset_id] = float("inf")  # a late indexer must not bring it back
            rowid = self._rowids.pop(asset_id, None)
            if rowid is not None:
                db.execute("DELETE FROM entry WHERE rowid = ?", (rowid,))

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Best matches first (BM25, with the title weighted above the body)."""
        expression = to_match_expression(query)
        if expression is None:
            return []
        with self._lock:
            rows = (
                self._require()
                .execute(
                    "SELECT asset_id, title, "
                    f"snippet(entry, -1, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '…', 12), "
                    "bm25(entry, 0.0, 10.0, 1.0, 5.0) AS rank "
                    "FROM entry WHERE entry MATCH ? ORDER BY rank LIMIT ?",
                    (expression, limit),
                )
                .fetchall()
            )
        return [SearchHit(row[0], row[1], row[2], -float(row[3])) for row in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._require().execute("SELECT count(*) FROM entry").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._versions.clear()
            self._rowids.clear()

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the search index is closed")
        return self._db
