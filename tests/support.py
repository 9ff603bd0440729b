"""Shared test helpers. TEST_KDF_POLICY is the explicit cheap-KDF fixture: it
exists only here, and production code never uses it on its own."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from store.kdf import KdfPolicy
from store.keyslots import KeySlot

# Argon2id with 64 KiB and one pass: fast enough for hundreds of spaces in a run.
TEST_KDF_POLICY = KdfPolicy(min_memory_kib=8, min_iterations=1, fixed=(64, 1, 1))


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def raw_db(path: Path) -> sqlite3.Connection:
    """A plain SQLite connection to a space file, to tamper with it like an attacker."""
    connection = sqlite3.connect(path, isolation_level=None)
    return connection


def rewrite_slot_params(path: Path, **changes: object) -> None:
    """Change the passphrase slot's KDF parameters and fix up its (unkeyed) digest,
    as an attacker would, so that only the parameter check can refuse the file."""
    db = raw_db(path)
    row = db.execute(
        "SELECT id, kind, params, wrapped, \"check\" FROM keyslot WHERE kind='passphrase'"
    ).fetchone()
    params = json.loads(row[2])
    params.update(changes)
    new_params = json.dumps(params, sort_keys=True)
    digest = KeySlot.compute_digest(row[0], row[1], new_params, row[3], row[4])
    db.execute("UPDATE keyslot SET params=?, digest=? WHERE id=?", (new_params, digest, row[0]))
    db.close()
