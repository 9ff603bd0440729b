#!/usr/bin/env python3
"""Cairn space benchmark: Cairn against plain SQLite and SQLCipher, and attachments against cp.

Run it with `make bench` (full: 10,000 and 100,000 assets, a 1 GiB attachment) or
`make bench BENCH_ARGS=--quick` (2,000 assets, 64 MiB, about ten seconds). What it measures
and the figures of a reference run are in docs/performance.md.

For every size N it measures, on ~2 KB prose-like assets written in batches of --batch
per transaction (WAL, synchronous=FULL everywhere):

* Cairn: `Space.add_assets` per batch; `Space.open(index="lazy")` + `list_assets()`
  (the cheap test KDF, so the time is what follows "passphrase accepted");
  `Space.open` + `iter_assets()` (every field); `build_index()` on a freshly opened
  space; the p50/p95 latency of --queries searches; the file size after lock.
* plain sqlite3 and SQLCipher (`sqlcipher3`, raw-key `PRAGMA key`, so no PBKDF2 either):
  the same rows (id, title, JSON body), the same batches; open + SELECT the titles;
  open + SELECT everything + decode the JSON.

Attachments: `Space.attach` and `Space.extract` of an --attachment-mib file, in a child
process whose peak RSS is read from /proc (VmHWM, reset between phases) and getrusage,
against `cp` of the same file on the same disk.

The index build and the attachment runs happen in child processes: the index build has
a time budget (--index-budget) so that a super-linear build cannot hold the run forever;
when it runs out, the progress so far and a projection are reported instead.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import math
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.space import Space  # noqa: E402
from store.errors import DamagedRecord  # noqa: E402
from store.kdf import derive  # noqa: E402
from store.spacefile import NewAsset  # noqa: E402
from tests.support import TEST_KDF_POLICY  # noqa: E402

sqlcipher3: ModuleType | None
try:
    import sqlcipher3
except ImportError:  # `make bench` installs it; without it SQLCipher is skipped
    sqlcipher3 = None

PASSPHRASE = "benchmark passphrase, cheap KDF"
MIB = 1024 * 1024
MB = 1_000_000
#: Targets: 10,000 titles in 0.5 s and 100,000 in 5 s, i.e. 50 µs per asset.
LIST_SECONDS_PER_ASSET = 0.5 / 10_000
SEARCH_P95_TARGET_S = 0.020
SEARCH_TARGET_MAX_N = 10_000
WRITE_READ_VS_PLAIN = 2.0
WRITE_READ_VS_SQLCIPHER = 1.0
ATTACH_VS_CP = 0.5
ATTACH_PEAK_RSS_BYTES = 200 * MB

# --------------------------------------------------------------------------- corpus


def _wordlist(text: str) -> list[str]:
    return text.split()


_FUNCTION_WORDS = _wordlist("""the of and to a in is it that for on was with as be at by this had
not
are but from or have an they which one you were all there would their we been has when who
will more no if out so what up its about into than them can only other new some could time
these two may then do first any my now such like our over even most made after also did many
before must through back years where much your way well down should because each just those
how too little good very make still own see work long get here between both being under never
day same another know while last might us great old year off come since against go came right
used take three""")

_TOPIC_WORDS = _wordlist("""memory retrieval practice spacing interleaving feedback attention habit
algorithm gradient descent matrix vector tensor proof lemma theorem induction recursion
grammar vocabulary pronunciation conjugation syntax semantics etymology poem stanza metaphor
chapter argument evidence hypothesis experiment variable sample estimate variance bias
photosynthesis enzyme protein cell membrane mitochondria gene evolution species ecosystem
harmony chord melody rhythm scale interval tempo cadence counterpoint fugue sonata
revolution empire treaty dynasty parliament reform trade colony migration census archive
compiler interpreter parser lexer closure iterator generator coroutine thread mutex cache
database index transaction journal checkpoint encryption cipher signature certificate key
river mountain glacier climate rainfall erosion sediment delta estuary monsoon
newton euler gauss riemann hilbert turing lovelace noether curie darwin mendel kepler
reading notebook flashcard summary outline diagram sketch exercise review reflection
question answer example counterexample definition intuition analogy mistake insight
""")

_ONSETS = [
    "b",
    "br",
    "c",
    "ch",
    "cl",
    "d",
    "dr",
    "f",
    "fl",
    "g",
    "gr",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pl",
    "pr",
    "qu",
    "r",
    "s",
    "sh",
    "sk",
    "sl",
    "st",
    "t",
    "th",
    "tr",
    "v",
    "w",
    "z",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y"]
_CODAS = ["", "", "n", "r", "l", "s", "t", "nd", "rk", "st", "m", "ng", "x"]

TAGS = [
    "maths",
    "languages",
    "history",
    "music",
    "biology",
    "programming",
    "physics",
    "reading",
    "writing",
    "exam",
    "project",
    "review",
    "idea",
    "question",
    "todo",
    "lecture",
    "book",
    "paper",
    "video",
    "podcast",
    "course",
    "lab",
    "field notes",
    "chemistry",
    "economics",
    "philosophy",
    "art",
    "geography",
    "statistics",
    "design",
]


class Corpus:
    """Deterministic prose-like assets: Zipf-distributed words, sentences, distinct titles."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        synthetic: set[str] = set()
        known = set(_FUNCTION_WORDS) | set(_TOPIC_WORDS)
        while len(synthetic) < 8000:
            word = "".join(
                self._rng.choice(_ONSETS) + self._rng.choice(_VOWELS) + self._rng.choice(_CODAS)
                for _ in range(self._rng.choice((1, 2, 2, 3)))
            )
            if len(word) >= 3 and word not in known:
                synthetic.add(word)
        tail = sorted(synthetic)
        self._rng.shuffle(tail)
        topics = list(_TOPIC_WORDS)
        self._rng.shuffle(topics)
        # Function words first, then topic words, then the long tail: Zipf's law by rank.
        self.vocabulary = list(dict.fromkeys(_FUNCTION_WORDS + topics + tail))
        weights = [1.0 / (rank + 2.7) for rank in range(len(self.vocabulary))]
        self._cum_weights = list(_accumulate(weights))
        self.stopwords = frozenset(_FUNCTION_WORDS)
        self._titles: set[str] = set()
        self.items: list[tuple[str, dict[str, Any], list[str]]] = []

    def _words(self, count: int) -> list[str]:
        return self._rng.choices(self.vocabulary, cum_weights=self._cum_weights, k=count)

    def _sentence(self) -> str:
        words = self._words(self._rng.randint(6, 18))
        if len(words) > 8 and self._rng.random() < 0.4:
            words[self._rng.randint(3, len(words) - 3)] += ","
        return " ".join(words).capitalize() + self._rng.choice(".....?!")

    def _text(self, target_chars: int) -> str:
        sentences: list[str] = []
        length = 0
        while length < target_chars:
            sentences.append(self._sentence())
            length += len(sentences[-1]) + 1
        return " ".join(sentences)

    def _title(self) -> str:
        content = [w for w in self._words(40) if w not in self.stopwords]
        title = " ".join(content[: self._rng.randint(3, 6)]).capitalize()
        candidate, counter = title, 2
        while candidate in self._titles:
            candidate, counter = f"{title} ({counter})", counter + 1
        self._titles.add(candidate)
        return candidate

    def ensure(self, count: int) -> None:
        """Generate assets until there are `count` of them (the first ones never change)."""
        while len(self.items) < count:
            title = self._title()
            fields: dict[str, Any] = {
                "summary": self._text(220),
                "body": "\n\n".join(self._text(430) for _ in range(3)),
                "source": f"{self._title()}, chapter {self._rng.randint(1, 30)}, "
                f"p. {self._rng.randint(1, 400)}",
                "takeaways": [self._text(60) for _ in range(3)],
            }
            tags = self._rng.sample(TAGS, self._rng.randint(1, 3))
            self.items.append((title, fields, tags))

    def text_bytes(self, count: int) -> float:
        """Average UTF-8 size of the written text (title, fields as JSON, tags)."""
        total = sum(
            len(title.encode())
            + len(json.dumps(fields, ensure_ascii=False).encode())
            + len(" ".join(tags).encode())
            for title, fields, tags in self.items[:count]
        )
        return total / max(count, 1)

    def queries(self, count: int, n_assets: int, seed: int) -> list[str]:
        """Half single-word, half two-word queries of content words taken from random
        assets' text (so common words come up more often, as in real searches)."""
        rng = random.Random(seed)
        result: list[str] = []
        while len(result) < count:
            title, fields, _ = self.items[rng.randrange(n_assets)]
            words = [
                w.strip(",.?!").lower()
                for w in f"{title} {fields['summary']} {fields['body']}".split()
            ]
            words = [w for w in words if len(w) >= 3 and w not in self.stopwords]
            if len(words) < 2:
                continue
            if len(result) % 2 == 0:
                result.append(rng.choice(words))
            else:
                first, second = rng.sample(words, 2)
                result.append(f"{first} {second}")
        return result


def _accumulate(values: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


# --------------------------------------------------------------------------- helpers


@contextmanager
def profiled(directory: Path | None, name: str) -> Iterator[None]:
    """cProfile the block into DIRECTORY/NAME.pstats when --profile is given."""
    if directory is None:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        directory.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(directory / f"{name}.pstats")


def file_size(path: Path) -> int:
    """The database file plus any WAL/SHM left beside it."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            total += extra.stat().st_size
    return total


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def settle() -> None:
    """Flush dirty pages between phases so one phase's writeback doesn't slow the next."""
    os.sync()


def prefault(work: Path, size: int) -> float:
    """Write and delete a scratch file of `size` bytes, untimed, before measuring.

    On a VM whose memory the host backs lazily, the first use of a page of RAM is
    several times slower than later uses (64 MiB into the page cache: ~0.2 s the
    first time, ~0.02 s after). Touching the page cache once first puts every store,
    and cp, on the same footing. Returns the seconds it took.
    """
    scratch = work / "prefault.bin"
    block = bytes(MIB)
    began = time.perf_counter()
    with scratch.open("wb") as handle:
        for _ in range(max(1, size // MIB)):
            handle.write(block)
    scratch.unlink()
    settle()
    return time.perf_counter() - began


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0.1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 10:
        return f"{seconds:.3f} s"
    return f"{seconds:.1f} s"


def fmt_bytes(size: float | None) -> str:
    if size is None:
        return "—"
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size / 1024:.1f} KiB"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def log(message: str) -> None:
    print(message, flush=True)


def proc_status_kib(name: str) -> int:
    """A field of /proc/self/status in KiB (VmHWM, VmRSS), or -1 where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def median_run(repeat: int, run: Callable[[], dict[str, float]], key: str) -> dict[str, float]:
    """Run `repeat` times; return the run whose `key` is the median."""
    runs = [run() for _ in range(repeat)]
    runs.sort(key=lambda r: r[key])
    return runs[len(runs) // 2]


# --------------------------------------------------------------------------- Cairn


@dataclass
class CairnFigures:
    n: int
    batch: int
    write_s: float = 0.0
    open_s: float = 0.0
    list_s: float = 0.0
    full_open_s: float = 0.0
    full_iter_s: float = 0.0
    size: int = 0
    index: dict[str, Any] = field(default_factory=dict)

    @property
    def titles_s(self) -> float:
        return self.open_s + self.list_s

    @property
    def full_s(self) -> float:
        return self.full_open_s + self.full_iter_s


def bench_cairn(
    corpus: Corpus, n: int, batch: int, work: Path, repeat: int, profile: Path | None
) -> tuple[CairnFigures, Path]:
    figures = CairnFigures(n=n, batch=batch)
    path = work / f"cairn-{n}.cairn"
    space, _ = Space.create(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY)
    try:
        with profiled(profile, f"cairn-write-{n}"):
            for start in range(0, n, batch):
                assets = [
                    NewAsset(template_id="note", title=title, fields=fields, tags=tags, links=[])
                    for title, fields, tags in corpus.items[start : start + batch]
                ]
                began = time.perf_counter()
                space.add_assets(assets)
                figures.write_s += time.perf_counter() - began
    finally:
        space.lock()
    figures.size = file_size(path)
    log(
        f"  Cairn   write      {fmt_s(figures.write_s):>10}  ({n / figures.write_s:,.0f} assets/s)"
        f", file {fmt_bytes(figures.size)}"
    )
    settle()

    def titles() -> dict[str, float]:
        began = time.perf_counter()
        opened = Space.open(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY, index="lazy")
        unlocked = time.perf_counter()
        summaries, damaged = opened.list_assets()
        listed = time.perf_counter()
        opened.lock()
        assert len(summaries) == n, len(summaries)
        assert not damaged, damaged
        return {"open": unlocked - began, "list": listed - unlocked, "total": listed - began}

    with profiled(profile, f"cairn-open-list-{n}"):
        run = median_run(repeat, titles, "total")
    figures.open_s, figures.list_s = run["open"], run["list"]
    log(
        f"  Cairn   titles     {fmt_s(figures.titles_s):>10}  (open {fmt_s(figures.open_s)}, "
        f"list {fmt_s(figures.list_s)}; median of {repeat})"
    )

    def everything() -> dict[str, float]:
        began = time.perf_counter()
        opened = Space.open(path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY, index="lazy")
        unlocked = time.perf_counter()
        count = 0
        for record in opened._store.iter_assets():
            assert not isinstance(record, DamagedRecord), record
            count += 1
        done = time.perf_counter()
        opened.lock()
        assert count == n, count
        return {"open": unlocked - began, "iter": done - unlocked, "total": done - began}

    with profiled(profile, f"cairn-full-read-{n}"):
        run = median_run(repeat, everything, "total")
    figures.full_open_s, figures.full_iter_s = run["open"], run["iter"]
    log(
        f"  Cairn   full read  {fmt_s(figures.full_s):>10}  (open {fmt_s(figures.full_open_s)}, "
        f"iter_assets {fmt_s(figures.full_iter_s)})"
    )
    return figures, path


def run_child(args: list[str], timeout: float, echo_progress: str) -> dict[str, Any]:
    """Run this script as a child; it prints JSON lines, the last one being the result."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    result: dict[str, Any] = {}
    last_echo = 0.0
    for line in process.stdout:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            log(f"    child: {line.rstrip()}")
            continue
        if "progress" in message:
            elapsed, done = message["progress"]
            if elapsed - last_echo >= 30:
                last_echo = elapsed
                log(f"    {echo_progress}: {done:,} after {elapsed:.0f} s")
        else:
            result = message
    code = process.wait(timeout=timeout)
    if not result:
        # Report it and go on: one lost figure should not cost the rest of a long run.
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        log(f"    child {' '.join(args[:2])} ended with {how} and no result")
        return {"error": f"child ended with {how}"}
    return result


def bench_index(
    path: Path, n: int, queries: list[str], budget: float, work: Path, profile: Path | None
) -> dict[str, Any]:
    queries_file = work / f"queries-{n}.json"
    queries_file.write_text(json.dumps(queries))
    child_args = [
        "--child",
        "index",
        "--space",
        str(path),
        "--queries-file",
        str(queries_file),
        "--expect",
        str(n),
        "--index-budget",
        str(budget),
    ]
    if profile is not None:
        child_args += ["--profile", str(profile)]
    result = run_child(child_args, timeout=budget + 600, echo_progress="index: assets indexed")
    if "error" in result:
        return result
    if result.get("timeout"):
        log(
            f"  Cairn   index      did NOT finish within the {budget:.0f} s budget: "
            f"{result['indexed']:,}/{n:,} after {result['elapsed']:.0f} s "
            f"(projection {fmt_s(result.get('projected_s'))})"
        )
        return result
    latencies = result["latencies"]
    result["p50"] = percentile(latencies, 0.50)
    result["p95"] = percentile(latencies, 0.95)
    result["max"] = max(latencies)
    log(f"  Cairn   index      {fmt_s(result['build_s']):>10}  (open {fmt_s(result['open_s'])})")
    log(
        f"  Cairn   search     p50 {fmt_s(result['p50'])}, p95 {fmt_s(result['p95'])}, "
        f"max {fmt_s(result['max'])} over {len(latencies)} queries "
        f"(mean {statistics.mean(result['hits']):.1f} hits of at most 50)"
    )
    return result


def child_index(args: argparse.Namespace) -> int:
    """Child: open lazily, time build_index() (with a budget), then time the queries."""
    queries: list[str] = json.loads(Path(args.queries_file).read_text())
    began = time.perf_counter()
    space = Space.open(Path(args.space), PASSPHRASE, kdf_policy=TEST_KDF_POLICY, index="lazy")
    open_s = time.perf_counter() - began
    samples: list[tuple[float, int]] = []
    finished = threading.Event()
    started = time.perf_counter()

    def emit(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def watch() -> None:
        # build_index() spends its time inside sqlite3 (GIL released), so this thread runs.
        while not finished.wait(5.0):
            elapsed = time.perf_counter() - started
            done = len(space._index._versions)
            samples.append((elapsed, done))
            emit({"progress": [elapsed, done]})
            if elapsed > args.index_budget:
                emit(
                    {
                        "timeout": True,
                        "elapsed": elapsed,
                        "indexed": done,
                        "projected_s": _project(samples, args.expect),
                        "samples": samples,
                    }
                )
                os._exit(3)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with profiled(args.profile, f"cairn-build-index-{args.expect}"):
        space.build_index()
    build_s = time.perf_counter() - started
    finished.set()
    indexed = len(space._index)
    assert indexed == args.expect, (indexed, args.expect)
    space.search(queries[0])  # the first query pays for loading pages; not counted
    latencies: list[float] = []
    hits: list[int] = []
    with profiled(args.profile, f"cairn-search-{args.expect}"):
        for query in queries:
            began = time.perf_counter()
            found = space.search(query)
            latencies.append(time.perf_counter() - began)
            hits.append(len(found))
    space.lock()
    emit(
        {
            "build_s": build_s,
            "open_s": open_s,
            "latencies": latencies,
            "hits": hits,
            "samples": samples,
        }
    )
    return 0


def _project(samples: list[tuple[float, int]], total: int) -> float | None:
    """Project the full build time from progress samples, assuming time ~ done**k
    with k fitted between the middle and the last sample."""
    usable = [(t, d) for t, d in samples if d > 0]
    if len(usable) < 2:
        return None
    t_mid, d_mid = usable[len(usable) // 2 - 1] if len(usable) > 2 else usable[0]
    t_end, d_end = usable[-1]
    if d_end <= d_mid or t_end <= t_mid:
        return None
    exponent = math.log(t_end / t_mid) / math.log(d_end / d_mid)
    return t_end * (total / d_end) ** exponent


# --------------------------------------------------------------------------- baselines


@dataclass
class BaselineFigures:
    name: str
    write_s: float = 0.0
    titles_s: float = 0.0
    full_s: float = 0.0
    size: int = 0


def _connect(kind: str, path: Path, key_hex: str) -> Any:
    if kind == "sqlite":
        connection: Any = sqlite3.connect(path, isolation_level=None)
    else:
        assert sqlcipher3 is not None
        connection = sqlcipher3.connect(str(path), isolation_level=None)
        # A raw 256-bit key: SQLCipher skips PBKDF2, as Cairn's cheap KDF is skipped here.
        connection.execute(f"PRAGMA key = \"x'{key_hex}'\"")
    connection.execute("PRAGMA journal_mode=WAL").fetchall()
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def bench_baseline(
    kind: str, corpus: Corpus, n: int, batch: int, work: Path, repeat: int
) -> BaselineFigures:
    name = "plain" if kind == "sqlite" else "SQLCipher"
    figures = BaselineFigures(name=name)
    path = work / f"{kind}-{n}.db"
    key_hex = os.urandom(32).hex()
    connection = _connect(kind, path, key_hex)
    connection.execute(
        "CREATE TABLE asset (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)"
    )
    for start in range(0, n, batch):
        items = corpus.items[start : start + batch]
        began = time.perf_counter()
        rows = [
            (str(uuid.uuid4()), title, json.dumps({"fields": fields, "tags": tags}))
            for title, fields, tags in items
        ]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO asset (id, title, body) VALUES (?, ?, ?)", rows)
        connection.execute("COMMIT")
        figures.write_s += time.perf_counter() - began
    connection.close()
    figures.size = file_size(path)
    settle()

    def titles() -> dict[str, float]:
        began = time.perf_counter()
        reader = _connect(kind, path, key_hex)
        rows = reader.execute("SELECT id, title FROM asset").fetchall()
        elapsed = time.perf_counter() - began
        reader.close()
        assert len(rows) == n
        return {"total": elapsed}

    def everything() -> dict[str, float]:
        began = time.perf_counter()
        reader = _connect(kind, path, key_hex)
        documents = [
            (row_id, title, json.loads(body))
            for row_id, title, body in reader.execute("SELECT id, title, body FROM asset")
        ]
        elapsed = time.perf_counter() - began
        reader.close()
        assert len(documents) == n
        return {"total": elapsed}

    figures.titles_s = median_run(repeat, titles, "total")["total"]
    figures.full_s = median_run(repeat, everything, "total")["total"]
    log(
        f"  {name:<9} write {fmt_s(figures.write_s):>10}, titles {fmt_s(figures.titles_s)}, "
        f"full read {fmt_s(figures.full_s)}, file {fmt_bytes(figures.size)}"
    )
    remove_db(path)
    return figures


# --------------------------------------------------------------------------- attachments


def make_source(path: Path, mib: int) -> str:
    """An incompressible file of `mib` MiB; returns its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(mib):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def time_cp(source: Path, target: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds for `cp`, and for `cp` + fsync of the copy, each run from a settled disk."""
    plain: list[float] = []
    synced: list[float] = []
    for _ in range(repeat):
        for runs, fsync in ((plain, False), (synced, True)):
            settle()
            began = time.perf_counter()
            subprocess.run(["cp", str(source), str(target)], check=True)
            if fsync:
                descriptor = os.open(target, os.O_RDONLY)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            runs.append(time.perf_counter() - began)
            target.unlink()
    settle()
    return plain, synced


def _spread(runs: Sequence[float]) -> str:
    return f"median of {len(runs)}, range {fmt_s(min(runs))} to {fmt_s(max(runs))}"


def bench_attachment(mib: int, work: Path, repeat: int, profile: Path | None) -> dict[str, Any]:
    source = work / "attachment.bin"
    log(f"Attachment: writing a {mib} MiB source file ...")
    expected = make_source(source, mib)
    cp_runs, cp_fsync_runs = time_cp(source, work / "attachment-cp.bin", repeat)
    cp_s, cp_fsync_s = statistics.median(cp_runs), statistics.median(cp_fsync_runs)
    log(f"  cp         {fmt_s(cp_s):>10}  ({mib / cp_s:,.0f} MiB/s; {_spread(cp_runs)})")
    log(
        f"  cp + fsync {fmt_s(cp_fsync_s):>10}  ({mib / cp_fsync_s:,.0f} MiB/s; "
        f"{_spread(cp_fsync_runs)})"
    )
    settle()
    child_args = ["--child", "attach", "--source", str(source), "--repeat", str(repeat)]
    child_args += ["--space", str(work / "attach.cairn")]
    if profile is not None:
        child_args += ["--profile", str(profile)]
    result = run_child(child_args, timeout=3600, echo_progress="attach")
    if "error" in result:
        source.unlink()
        result["mib"] = mib
        return result
    assert set(result["sha256_in"]) == {expected}, "attach stored different bytes"
    assert set(result["sha256_out"]) == {expected}, "extract produced different bytes"
    source.unlink()
    result.update(
        mib=mib,
        cp_s=cp_s,
        cp_fsync_s=cp_fsync_s,
        cp_runs=cp_runs,
        cp_fsync_runs=cp_fsync_runs,
        attach_s=statistics.median(result["attach_runs"]),
        extract_s=statistics.median(result["extract_runs"]),
    )
    for name in ("attach", "extract"):
        seconds = result[f"{name}_s"]
        log(
            f"  {name:<10} {fmt_s(seconds):>10}  ({mib / seconds:,.0f} MiB/s; "
            f"{_spread(result[f'{name}_runs'])}), peak RSS "
            f"{result[f'hwm_{name}_kib'] / 1024:.0f} MiB"
        )
    log(
        f"  child process: baseline RSS {result['rss_before_kib'] / 1024:.0f} MiB before the "
        f"first attach, ru_maxrss {result['maxrss_kib'] / 1024:.0f} MiB"
    )
    return result


def child_attach(args: argparse.Namespace) -> int:
    """Child: attach and extract `repeat` times (a fresh space each time), with the peak
    RSS of each phase from /proc (VmHWM, reset before each phase)."""
    source = Path(args.source)
    result: dict[str, Any] = {
        "attach_runs": [],
        "extract_runs": [],
        "hwm_attach_kib": 0,
        "hwm_extract_kib": 0,
        "sha256_in": [],
        "sha256_out": [],
        "wal_after_attach": [],
    }
    for run in range(args.repeat):
        space_path = Path(args.space).with_name(f"attach-{run}.cairn")
        out = space_path.with_name(f"attachment-out-{run}.bin")
        space, _ = Space.create(space_path, PASSPHRASE, kdf_policy=TEST_KDF_POLICY)
        asset = space.add_asset("note", "A large attachment", {"body": "A file to stream."})
        if run == 0:
            result["rss_before_kib"] = proc_status_kib("VmRSS")
            result["hwm_before_kib"] = proc_status_kib("VmHWM")
        result["peak_reset"] = reset_peak_rss()
        began = time.perf_counter()
        with profiled(args.profile if run == 0 else None, "cairn-attach"):
            info = space.attach(asset.id, source)
        result["attach_runs"].append(time.perf_counter() - began)
        result["hwm_attach_kib"] = max(result["hwm_attach_kib"], proc_status_kib("VmHWM"))
        wal = space_path.with_name(space_path.name + "-wal")
        result["wal_after_attach"].append(wal.stat().st_size if wal.exists() else 0)
        reset_peak_rss()
        began = time.perf_counter()
        with profiled(args.profile if run == 0 else None, "cairn-extract"):
            space.extract(info.id, out)
        result["extract_runs"].append(time.perf_counter() - began)
        result["hwm_extract_kib"] = max(result["hwm_extract_kib"], proc_status_kib("VmHWM"))
        space.lock()
        result["space_size"] = file_size(space_path)
        digest = hashlib.sha256()
        with out.open("rb") as handle:
            while chunk := handle.read(MIB):
                digest.update(chunk)
        result["sha256_in"].append(info.sha256)
        result["sha256_out"].append(digest.hexdigest())
        out.unlink()
        remove_db(space_path)
        settle()
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


# --------------------------------------------------------------------------- report


def environment() -> list[tuple[str, str]]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cryptography
    import sqlalchemy

    cipher = "not installed (pip install sqlcipher3-binary)"
    if sqlcipher3 is not None:
        probe = sqlcipher3.connect(":memory:")
        cipher = (
            f"{probe.execute('PRAGMA cipher_version').fetchone()[0]} on SQLite "
            f"{probe.execute('SELECT sqlite_version()').fetchone()[0]}"
        )
        probe.close()
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("code", code_version()),
        ("cpu", f"{cpu}, nproc {os.cpu_count()}"),
        ("system", f"{platform.system()} {platform.release()}"),
        ("python", platform.python_version()),
        ("sqlite3 (Cairn, plain)", sqlite3.sqlite_version),
        ("SQLCipher", cipher),
        ("SQLAlchemy / cryptography", f"{sqlalchemy.__version__} / {cryptography.__version__}"),
    ]


def code_version() -> str:
    """The commit measured, and which of its store/ and app/ files were modified."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "store", "app"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    except OSError:
        return "unknown (no git)"
    modified = [line[3:] for line in changed if line.strip()]
    if not head:
        return "unknown (not a git checkout)"
    return f"{head}" + (f" + uncommitted changes to {', '.join(modified)}" if modified else "")


def kdf_seconds() -> float:
    params = TEST_KDF_POLICY.calibrate()
    began = time.perf_counter()
    derive(PASSPHRASE, params, TEST_KDF_POLICY)
    return time.perf_counter() - began


Row = tuple[str, str, str, str, str, str, str, str, str]


def size_rows(
    cairn: CairnFigures, plain: BaselineFigures | None, cipher: BaselineFigures | None
) -> list[Row]:
    n = cairn.n
    label = f"{n:,}"
    rows: list[Row] = []

    def compare(metric: str, mine: float, plain_s: float | None, cipher_s: float | None) -> None:
        vs_plain = mine / plain_s if plain_s else None
        vs_cipher = mine / cipher_s if cipher_s else None
        ok_plain = None if vs_plain is None else vs_plain <= WRITE_READ_VS_PLAIN
        ok_cipher = None if vs_cipher is None else vs_cipher <= WRITE_READ_VS_SQLCIPHER
        verdict = f"{status(ok_plain)} / {status(ok_cipher)}"
        rows.append(
            (
                metric,
                label,
                fmt_s(mine),
                fmt_s(plain_s),
                fmt_s(cipher_s),
                fmt_ratio(vs_plain),
                fmt_ratio(vs_cipher),
                "≤2x plain / ≤1x SQLCipher",
                verdict,
            )
        )

    p = plain
    c = cipher
    compare(f"write ({cairn.batch:,}/txn)", cairn.write_s, p and p.write_s, c and c.write_s)
    compare("read: Cairn open+titles vs full read", cairn.titles_s, p and p.full_s, c and c.full_s)
    compare("read: open + all fields (fair)", cairn.full_s, p and p.full_s, c and c.full_s)
    compare(
        "read: open + titles (like for like)", cairn.titles_s, p and p.titles_s, c and c.titles_s
    )
    target = LIST_SECONDS_PER_ASSET * n
    scaled = "" if n in (10_000, 100_000) else " (scaled)"
    rows.append(
        (
            "titles after unlock",
            label,
            fmt_s(cairn.titles_s),
            "",
            "",
            "",
            "",
            f"≤ {fmt_s(target)}{scaled}",
            status(cairn.titles_s <= target),
        )
    )
    index = cairn.index
    if "error" in index:
        for metric in ("build search index", "search p50 / p95"):
            rows.append((metric, label, f"failed: {index['error']}", "", "", "", "", "—", "n/a"))
    elif index.get("timeout"):
        rows.append(
            (
                "build search index",
                label,
                f"> {index['elapsed']:.0f} s ({index['indexed']:,} done)",
                "",
                "",
                "",
                "",
                f"projected {fmt_s(index.get('projected_s'))}",
                "unfinished",
            )
        )
        rows.append(
            (
                "search p50 / p95",
                label,
                "not measured",
                "",
                "",
                "",
                "",
                "p95 < 20 ms" if n <= SEARCH_TARGET_MAX_N else "—",
                "MISS" if n <= SEARCH_TARGET_MAX_N else "n/a",
            )
        )
    elif index:
        rows.append(
            ("build search index", label, fmt_s(index["build_s"]), "", "", "", "", "—", "n/a")
        )
        applies = n <= SEARCH_TARGET_MAX_N
        rows.append(
            (
                "search p50 / p95",
                label,
                f"{fmt_s(index['p50'])} / {fmt_s(index['p95'])}",
                "",
                "",
                "",
                "",
                "p95 < 20 ms" if applies else "— (target is at 10k)",
                status(index["p95"] < SEARCH_P95_TARGET_S) if applies else "n/a",
            )
        )
    rows.append(
        (
            "file size after lock",
            label,
            fmt_bytes(cairn.size),
            fmt_bytes(p.size if p else None),
            fmt_bytes(c.size if c else None),
            fmt_ratio(cairn.size / p.size if p else None),
            fmt_ratio(cairn.size / c.size if c else None),
            "—",
            "n/a",
        )
    )
    return rows


def attachment_rows(result: dict[str, Any]) -> list[Row]:
    mib = result["mib"]
    label = f"{mib:,} MiB"
    rows: list[Row] = []
    if "error" in result:
        return [("attachments", label, f"failed: {result['error']}", "", "", "", "", "—", "n/a")]
    for metric, key in (("attach (stream in)", "attach_s"), ("extract (stream out)", "extract_s")):
        speed = result["cp_s"] / result[key]
        rows.append(
            (
                metric,
                label,
                f"{fmt_s(result[key])} = {mib / result[key]:,.0f} MiB/s",
                f"cp {fmt_s(result['cp_s'])} = {mib / result['cp_s']:,.0f} MiB/s",
                "",
                f"{speed:.2f} of cp",
                "",
                "≥ 0.50 of cp speed",
                status(speed >= ATTACH_VS_CP),
            )
        )
        synced = result["cp_fsync_s"] / result[key]
        rows.append(
            (
                "  (for reference: vs cp + fsync)",
                label,
                "",
                f"cp+fsync {fmt_s(result['cp_fsync_s'])} = {mib / result['cp_fsync_s']:,.0f} MiB/s",
                "",
                f"{synced:.2f} of cp+fsync",
                "",
                "—",
                "n/a",
            )
        )
    peak = max(result["maxrss_kib"], result["hwm_attach_kib"], result["hwm_extract_kib"]) * 1024
    rows.append(
        (
            "peak RSS (whole child process)",
            label,
            f"{peak / MB:.0f} MB",
            "",
            "",
            "",
            "",
            "< 200 MB",
            status(peak < ATTACH_PEAK_RSS_BYTES),
        )
    )
    return rows


HEADER: Row = (
    "metric",
    "N",
    "Cairn",
    "plain SQLite",
    "SQLCipher",
    "Cairn/plain",
    "Cairn/SQLCipher",
    "target",
    "result",
)


def print_table(rows: list[Row]) -> None:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    line = "  ".join("-" * width for width in widths)
    log(line)
    log("  ".join(cell.ljust(width) for cell, width in zip(HEADER, widths, strict=True)))
    log(line)
    for row in rows:
        log("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    log(line)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", help="asset counts, comma-separated (default 10000,100000)")
    parser.add_argument(
        "--attachment-mib", type=int, help="attachment size in MiB, 0 to skip (default 1024)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 assets and a 64 MiB attachment: a run of seconds",
    )
    parser.add_argument("--batch", type=int, default=1000, help="assets per transaction")
    parser.add_argument("--queries", type=int, default=100, help="search queries per size")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per read and attachment figure (median)"
    )
    parser.add_argument(
        "--index-budget",
        type=float,
        default=3600.0,
        help="seconds allowed for one build_index() before giving up",
    )
    parser.add_argument("--workdir", type=Path, help="where to make the temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write cProfile stats of every Cairn phase to this directory "
        "(slows Cairn down: figures are then not comparable)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--child", choices=("index", "attach"), help=argparse.SUPPRESS)
    parser.add_argument("--space", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.sizes or ("2000" if args.quick else "10000,100000")
    args.size_list = [int(part.replace("_", "")) for part in sizes.split(",") if part.strip()]
    if args.attachment_mib is None:
        args.attachment_mib = 64 if args.quick else 1024
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child == "index":
        return child_index(args)
    if args.child == "attach":
        return child_attach(args)

    log("Cairn space benchmark")
    for name, value in environment():
        log(f"  {name:<26} {value}")
    kdf_s = kdf_seconds()
    log(
        f"  KDF: cheap test policy (Argon2id 64 KiB, t=1): {fmt_s(kdf_s)} per unlock, "
        "included in the open figures; production calibrates to ~0.5 s, not included"
    )
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cairn-bench-", dir=args.workdir))
    log(f"  workdir {work} (same disk for every store and for cp)")
    warm = max(4 * args.attachment_mib * MIB, 8192 * max(args.size_list, default=0))
    log(f"  pre-faulting {fmt_bytes(warm)} of page cache (untimed): {fmt_s(prefault(work, warm))}")
    rows: list[Row] = []
    raw: dict[str, Any] = {"environment": dict(environment()), "kdf_s": kdf_s, "sizes": {}}
    began = time.perf_counter()
    try:
        if args.attachment_mib > 0:
            attachment = bench_attachment(args.attachment_mib, work, args.repeat, args.profile)
            raw["attachment"] = attachment
        corpus = Corpus(args.seed)
        for n in args.size_list:
            log(f"\nN = {n:,} assets, {args.batch:,} per transaction")
            corpus.ensure(n)
            log(
                f"  corpus: {corpus.text_bytes(n):,.0f} bytes of text per asset on average "
                f"(title, 4 fields, 1-3 tags)"
            )
            cairn, path = bench_cairn(corpus, n, args.batch, work, args.repeat, args.profile)
            plain = bench_baseline("sqlite", corpus, n, args.batch, work, args.repeat)
            cipher = None
            if sqlcipher3 is not None:
                cipher = bench_baseline("sqlcipher", corpus, n, args.batch, work, args.repeat)
            settle()
            queries = corpus.queries(args.queries, n, args.seed + n)
            cairn.index = bench_index(path, n, queries, args.index_budget, work, args.profile)
            remove_db(path)
            rows.extend(size_rows(cairn, plain, cipher))
            raw["sizes"][str(n)] = {
                "cairn": cairn.__dict__,
                "plain": plain.__dict__,
                "sqlcipher": cipher.__dict__ if cipher else None,
            }
        if args.attachment_mib > 0:
            rows.extend(attachment_rows(attachment))
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    total_s = time.perf_counter() - began
    log(
        f"\nResults ({args.batch:,} assets per transaction; reads are medians of {args.repeat}"
        f" runs; KDF {fmt_s(kdf_s)} per open; whole run {fmt_s(total_s)})"
    )
    print_table(rows)
    if sqlcipher3 is None:
        log("SQLCipher was skipped: install sqlcipher3-binary (make bench does).")
    if args.profile is not None:
        log(f"cProfile stats in {args.profile} (python -m pstats FILE); figures are inflated")
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
