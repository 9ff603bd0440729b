"""Crash safety: a writer killed (SIGKILL) at random moments never breaks the space.

A helper process (crash_writer.py) writes to the space and announces every call
only after it has returned; the test kills it at random, reopens the space and
checks it against what was announced. The seed is printed (shown on failure) and
can be set with CAIRN_CRASH_SEED to replay a run's choices.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from app.space import Space
from store.errors import WrongPassphrase
from store.records import AssetRecord
from store.stream import CHUNK_SIZE
from tests.conftest import PASSPHRASE
from tests.store.crash_writer import content_digest
from tests.support import TEST_KDF_POLICY, file_digest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("crash_writer.py")
SEED = int(os.environ.get("CAIRN_CRASH_SEED", "20261122"))
WRITE_KILLS = 50
PASSPHRASE_KILLS = 24
MAX_DELAY = 0.3
# Attachment bytes kept from kill to kill: above the first, the largest are deleted
# down to the second, so that reopening and verifying stays quick as the space grows.
PRUNE_ABOVE = 12 * CHUNK_SIZE
PRUNE_TO = 6 * CHUNK_SIZE

Event = dict[str, Any]


class Writers:
    """The fork server (crash_writer.py) and the one writer it runs at a time."""

    def __init__(self, log: Path) -> None:
        self._log = log
        with log.open("ab") as stderr:
            self._process = subprocess.Popen(
                [sys.executable, str(SERVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._stdin: IO[bytes] = self._process.stdin
        self._stdout: IO[bytes] = self._process.stdout
        self._pid = 0
        self.events: list[Event] = []

    def _send(self, **command: Any) -> None:
        self._stdin.write(json.dumps(command).encode() + b"\n")
        self._stdin.flush()

    def _read(self) -> Event:
        line = self._stdout.readline()
        if not line:
            self._process.wait()
            tail = self._log.read_text(errors="replace")[-3000:]
            pytest.fail(f"the writer server stopped ({self._process.returncode}):\n{tail}")
        event: Event = json.loads(line)
        if event["op"] == "error":
            pytest.fail(f"the writer failed before it was killed:\n{event['trace']}")
        return event

    def start(self, **command: Any) -> None:
        """Fork a writer (see crash_writer.py for the command)."""
        self._send(op="start", **command)
        event = self._read()
        assert event["op"] == "pid", event
        self._pid = event["pid"]
        self.events = []

    def wait_for(self, ops: set[str], count: int = 1) -> None:
        """Wait until the writer has announced `count` events with one of `ops`."""
        seen = 0
        while seen < count:
            self.events.append(self._read())
            if self.events[-1]["op"] in ops:
                seen += 1

    def kill(self) -> list[Event]:
        """SIGKILL the writer, wait until it is gone; returns everything it announced."""
        os.kill(self._pid, signal.SIGKILL)
        self._send(op="reap")
        while (event := self._read())["op"] != "reaped":
            self.events.append(event)
        assert event["signal"] == signal.SIGKILL, f"the writer ended otherwise: {event}"
        self._pid = 0
        return self.events

    def close(self) -> None:
        """End the server (it kills a writer still running)."""
        self._stdin.close()
        self._process.wait(timeout=60)
        self._stdout.close()


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[Writers]:
    """A writer fork server for the test, ended (with any writer) afterwards."""
    server = Writers(tmp_path / "writers.log")
    yield server
    server.close()


def pending_intent(events: list[Event]) -> Event | None:
    """The call the writer was killed in: an intent with no outcome announced after it."""
    if events and events[-1]["op"].endswith("ing"):
        return events[-1]
    return None


def digest_of(record: AssetRecord) -> str:
    return content_digest(record.title, record.fields, record.tags)


@dataclass
class Announced:
    """What the writers announced as committed, over every kill so far."""

    versions: dict[str, dict[int, str]] = field(default_factory=dict)  # id -> version -> sha
    attachments: dict[str, Event] = field(default_factory=dict)  # id -> asset, name, size, sha

    def record(self, events: list[Event]) -> tuple[set[tuple[str, int]], set[str]]:
        """Take in one run's outcomes; returns the versions and attachments it announced."""
        new_versions: set[tuple[str, int]] = set()
        new_attachments: set[str] = set()
        for event in events:
            if event["op"] in {"added", "edited"}:
                self.versions.setdefault(event["id"], {})[event["version"]] = event["sha"]
                new_versions.add((event["id"], event["version"]))
            elif event["op"] == "attached":
                self.attachments[event["id"]] = _attachment_facts(event)
                new_attachments.add(event["id"])
        return new_versions, new_attachments


def _attachment_facts(event: Event) -> Event:
    return {key: event[key] for key in ("asset", "name", "size", "sha")}


def check_assets(space: Space, announced: Announced, pending: Event | None) -> dict[str, int]:
    """Announced assets are intact; only the call the writer was killed in may be unannounced."""
    summaries, damaged = space.list_assets()
    assert damaged == [], "assets became unreadable"
    current = {summary.id: summary.version for summary in summaries}
    for asset_id, versions in announced.versions.items():
        assert asset_id in current, f"committed asset {asset_id} is gone"
        latest = max(versions)
        record = space.get_asset(asset_id)
        if record.version != latest:
            assert pending is not None, f"asset {asset_id} is at {record.version}, not {latest}"
            assert (pending["op"], pending["id"], pending["version"]) == (
                "editing", asset_id, record.version,
            ), f"asset {asset_id} is at version {record.version}; announced {latest}"  # fmt: skip
            assert digest_of(record) == pending["sha"], "an unannounced edit is half-saved"
            versions[record.version] = pending["sha"]
            record = space.get_version(asset_id, latest)
        assert digest_of(record) == versions[latest], f"asset {asset_id} v{latest} changed"
    unannounced = set(current) - set(announced.versions)
    if unannounced:
        assert pending is not None, f"assets appeared from nowhere: {unannounced}"
        assert pending["op"] == "adding", f"assets appeared from nowhere: {unannounced}"
        assert len(unannounced) == 1, f"more than one unannounced asset: {unannounced}"
        (asset_id,) = unannounced
        record = space.get_asset(asset_id)
        assert (record.version, digest_of(record)) == (1, pending["sha"])
        announced.versions[asset_id] = {1: pending["sha"]}
    return current


def check_attachments(
    space: Space, announced: Announced, pending: Event | None, current: dict[str, int]
) -> set[str]:
    """Announced attachments are listed as announced; an unannounced one only if complete."""
    visible = {info.id: info for asset_id in current for info in space.attachments(asset_id)}
    for attachment_id, facts in announced.attachments.items():
        info = visible.get(attachment_id)
        assert info is not None, f"committed attachment {attachment_id} is gone"
        assert (info.asset_id, info.name, info.size, info.sha256) == (
            facts["asset"], facts["name"], facts["size"], facts["sha"],
        ), f"attachment {attachment_id} changed"  # fmt: skip
    unannounced = set(visible) - set(announced.attachments)
    if unannounced:
        assert pending is not None, f"attachments appeared from nowhere: {unannounced}"
        assert pending["op"] == "attaching", f"attachments appeared from nowhere: {unannounced}"
        assert len(unannounced) == 1, f"more than one unannounced attachment: {unannounced}"
        (attachment_id,) = unannounced
        info = visible[attachment_id]
        facts = {"asset": info.asset_id, "name": info.name, "size": info.size, "sha": info.sha256}
        assert facts == _attachment_facts(pending), "a half-written attachment is visible"
        announced.attachments[attachment_id] = facts
    return unannounced


def check_extracts(space: Space, announced: Announced, ids: set[str], out: Path) -> None:
    """The attachments extract to files byte-identical to what was attached."""
    out.mkdir(exist_ok=True)
    for attachment_id in ids:
        target = out / attachment_id
        space.extract(attachment_id, target)
        assert file_digest(target) == announced.attachments[attachment_id]["sha"]
        target.unlink()


def check_verify(space: Space, current: dict[str, int], attachments: int) -> None:
    """verify() finds no problem and counts exactly the assets, versions and attachments."""
    report = space.verify()
    assert report.problems == []
    assert report.assets == len(current)
    assert report.versions == sum(version - 1 for version in current.values())
    assert report.attachments == attachments


def prune(space: Space, announced: Announced) -> None:
    """Delete the largest attachments when they add up to too much (see PRUNE_ABOVE)."""
    by_size = sorted(announced.attachments, key=lambda a: announced.attachments[a]["size"])
    total = sum(facts["size"] for facts in announced.attachments.values())
    if total <= PRUNE_ABOVE:
        return
    while total > PRUNE_TO:
        attachment_id = by_size.pop()
        space.delete_attachment(attachment_id)
        total -= announced.attachments.pop(attachment_id)["size"]


def test_writer_killed_at_random_never_loses_commits_or_shows_half_writes(
    tmp_path: Path, writers: Writers
) -> None:
    """SIGKILL while writing: the space opens, commits are intact, nothing is half-written."""
    print(f"seed={SEED} (set CAIRN_CRASH_SEED to replay)")
    rng = random.Random(SEED)
    path = tmp_path / "space.cairn"
    Space.create(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY)[0].lock()
    announced = Announced()
    killed_in: list[str] = []
    started = time.monotonic()
    for kill in range(WRITE_KILLS):
        print(f"kill {kill}")
        writers.start(mode="write", space=str(path), seed=rng.getrandbits(32),
                      passphrase=PASSPHRASE)  # fmt: skip
        writers.wait_for({"added", "edited", "attached"})
        time.sleep(rng.uniform(0, MAX_DELAY))
        events = writers.kill()
        pending = pending_intent(events)
        new_versions, new_attachments = announced.record(events)
        if pending is not None:
            big = pending["op"] == "attaching" and pending["size"] > CHUNK_SIZE
            killed_in.append("multi-chunk attach" if big else pending["op"])
            print(f"  killed while {killed_in[-1]}")
        with Space.open(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY, index="lazy") as space:
            assert space.integrity_problem is None
            current = check_assets(space, announced, pending)
            for asset_id, version in new_versions:
                record = space.get_version(asset_id, version)
                assert digest_of(record) == announced.versions[asset_id][version]
            new_attachments |= check_attachments(space, announced, pending, current)
            check_extracts(space, announced, new_attachments, tmp_path / "extracted")
            check_verify(space, current, len(announced.attachments))
            prune(space, announced)
    with Space.open(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY, index="lazy") as space:
        for asset_id, versions in announced.versions.items():
            for version, sha in versions.items():
                assert digest_of(space.get_version(asset_id, version)) == sha
        check_extracts(space, announced, set(announced.attachments), tmp_path / "extracted")
    print(f"{WRITE_KILLS} kills in {time.monotonic() - started:.1f}s; "
          f"killed in: {sorted(set(killed_in))}")  # fmt: skip
    # The point of the test is kills in the middle of writes, big ones above all.
    assert killed_in.count("multi-chunk attach") >= 5, killed_in


def only_passphrase_that_opens(path: Path, candidates: tuple[str, str]) -> str:
    """The one candidate that opens the space; the other must be refused as wrong."""
    opening: list[str] = []
    for passphrase in candidates:
        try:
            space = Space.open(path, passphrase, kdf_policy=TEST_KDF_POLICY, index="lazy")
        except WrongPassphrase:
            continue
        space.lock()
        opening.append(passphrase)
    assert len(opening) == 1, f"passphrases that open the space: {opening}"
    return opening[0]


def test_passphrase_change_killed_midway_leaves_exactly_one_passphrase(
    tmp_path: Path, writers: Writers
) -> None:
    """SIGKILL during passphrase changes: exactly one of old and new opens the space."""
    print(f"seed={SEED} (set CAIRN_CRASH_SEED to replay)")
    rng = random.Random(SEED)
    first, second = "first passphrase A", "second passphrase B"
    path = tmp_path / "space.cairn"
    source = tmp_path / "notes.bin"
    source.write_bytes(rng.randbytes(CHUNK_SIZE + 12345))
    space, _ = Space.create(path, first, kdf_policy=TEST_KDF_POLICY)
    with space:
        note = space.add_asset("note", "Kept across changes", {"body": "still here"}, ["keep"])
        attached = space.attach(note.id, source)
    current, other = first, second
    for kill in range(PASSPHRASE_KILLS):
        print(f"kill {kill}")
        writers.start(mode="passphrase", space=str(path), passphrase=current, other=other)
        style = kill % 3
        if style == 0:  # at a random moment
            writers.wait_for({"changed"})
            time.sleep(rng.uniform(0, MAX_DELAY))
        elif style == 1:  # right after a change was announced
            writers.wait_for({"changed"}, rng.randint(1, 4))
        else:  # right after a change began
            writers.wait_for({"changing"}, rng.randint(1, 4))
        events = writers.kill()
        announced = [event["to"] for event in events if event["op"] == "changed"]
        last = announced[-1] if announced else current
        opens = only_passphrase_that_opens(path, (first, second))
        if pending_intent(events) is None:
            assert opens == last, "the last announced passphrase change was lost"
        with Space.open(path, opens, kdf_policy=TEST_KDF_POLICY, index="lazy") as space:
            assert space.integrity_problem is None
            assert space.verify().problems == []
            assert space.get_asset(note.id).fields == {"body": "still here"}
            assert space.get_attachment(attached.id).sha256 == attached.sha256
        current, other = opens, (second if opens == first else first)
