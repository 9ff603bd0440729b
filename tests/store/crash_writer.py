"""A fork server of writers that change a space until killed (used by test_crash).

Run as ``python tests/store/crash_writer.py`` with the project root on PYTHONPATH. It
imports the store once, then reads one JSON command per line on stdin:

* ``{"op": "start", "mode": "write" | "passphrase", "space": PATH, "seed": N,
  "passphrase": P, "other": Q}`` forks a writer process. The writer announces its pid,
  opens the space with tests.support.TEST_KDF_POLICY and changes it until it is killed.
* ``{"op": "reap"}`` waits for that writer to end and announces how it ended.

At the end of input it kills and reaps a writer still running, and exits. Each line on
stdout is one JSON object, written at once (shorter than PIPE_BUF, so never cut): an
intent (``adding``, ``editing``, ``attaching``, ``changing``) before a call, and its
outcome (``added``, ``edited``, ``attached``, ``changed``) only after the call has
returned, i.e. after the commit.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from app.space import Space
from store.stream import CHUNK_SIZE
from tests.support import TEST_KDF_POLICY

WORDS = ("cairn", "stone", "path", "ridge", "café", "naïve", "日本語", "Ωmega", "🪨", "x")


def content_digest(title: str, fields: dict[str, Any], tags: list[str]) -> str:
    """The sha256 of an asset version's user-visible content, as writer and test agree."""
    document = {"title": title, "fields": fields, "tags": tags}
    encoded = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def announce(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _content(rng: random.Random) -> tuple[str, dict[str, Any], list[str]]:
    """A random title, fields (some nested) and normalised, distinct tags."""
    fields: dict[str, Any] = {"body": _text(rng, rng.randint(0, 40))}
    if rng.random() < 0.5:
        fields["count"] = rng.randint(-(2**40), 2**40)
    if rng.random() < 0.5:
        fields["list"] = [_text(rng, 2) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.3:
        fields["nested"] = {"done": rng.random() < 0.5, "notes": [{"a": _text(rng, 3)}], "x": None}
    tags = sorted({f"t{rng.randint(0, 30)}" for _ in range(rng.randint(0, 4))})
    return _text(rng, rng.randint(1, 6)), fields, tags


def _attachment_size(rng: random.Random) -> int:
    """Empty, tiny, small, chunk-sized edge cases, and above all multi-chunk (to ~3 MiB)."""
    kind = rng.random()
    if kind < 0.1:
        return 0
    if kind < 0.3:
        return rng.randint(1, 16)
    if kind < 0.45:
        return rng.randint(17, 64 * 1024)
    if kind < 0.5:
        return rng.choice((CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE))
    return rng.randint(CHUNK_SIZE + 2, 3 * CHUNK_SIZE)


def write_forever(space: Space, rng: random.Random) -> None:
    """Add, edit and attach at random, announcing intents and commits."""
    summaries, _ = space.list_assets()
    versions = {summary.id: summary.version for summary in summaries}
    while True:
        choice = rng.random()
        if not versions or choice < 0.35:
            title, fields, tags = _content(rng)
            sha = content_digest(title, fields, tags)
            announce(op="adding", sha=sha)
            record = space.add_asset("note", title, fields, tags)
            versions[record.id] = record.version
            announce(op="added", id=record.id, version=record.version, sha=sha)
        elif choice < 0.6:
            asset_id = rng.choice(sorted(versions))
            title, fields, tags = _content(rng)
            sha = content_digest(title, fields, tags)
            announce(op="editing", id=asset_id, version=versions[asset_id] + 1, sha=sha)
            record = space.edit_asset(asset_id, title=title, fields=fields, tags=tags)
            versions[asset_id] = record.version
            announce(op="edited", id=asset_id, version=record.version, sha=sha)
        else:
            asset_id = rng.choice(sorted(versions))
            data = rng.randbytes(_attachment_size(rng))
            name = f"{_text(rng, 2)}.bin"
            facts = {"asset": asset_id, "name": name, "size": len(data),
                     "sha": hashlib.sha256(data).hexdigest()}  # fmt: skip
            announce(op="attaching", **facts)
            info = space.attach(asset_id, io.BytesIO(data), name=name)
            announce(op="attached", id=info.id, **facts)


def change_passphrase_forever(space: Space, current: str, other: str) -> None:
    """Switch the passphrase back and forth, announcing each change after it returns."""
    while True:
        announce(op="changing", to=other)
        space.change_passphrase(other)
        announce(op="changed", to=other)
        current, other = other, current


def run_writer(command: dict[str, Any]) -> None:
    """The forked writer: never returns; only a kill (or an error) ends it."""
    try:
        announce(op="pid", pid=os.getpid())
        space = Space.open(
            Path(command["space"]), command["passphrase"], kdf_policy=TEST_KDF_POLICY,
            index="lazy",
        )  # fmt: skip
        if command["mode"] == "write":
            write_forever(space, random.Random(command["seed"]))
        else:
            change_passphrase_forever(space, command["passphrase"], command["other"])
    except BaseException:
        announce(op="error", trace=traceback.format_exc())
    finally:
        os._exit(1)


def _ended(status: int) -> dict[str, int | None]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status), "code": None}
    return {"signal": None, "code": os.waitstatus_to_exitcode(status)}


def serve() -> None:
    """Fork a writer per "start" line, reap it on "reap"; clean up at end of input."""
    child = 0
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "start":
            sys.stdout.flush()
            child = os.fork()
            if child == 0:
                run_writer(command)
        elif command["op"] == "reap":
            _, status = os.waitpid(child, 0)
            child = 0
            announce(op="reaped", **_ended(status))
    if child:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


if __name__ == "__main__":
    serve()
