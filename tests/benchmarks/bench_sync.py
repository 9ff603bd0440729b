#!/usr/bin/env python3
"""Pushing an outbox: 1,000 assets with 200 MB of attachments to a local server.

    .venv/bin/python tests/benchmarks/bench_sync.py                    # 1,000 assets, 200 MB
    .venv/bin/python tests/benchmarks/bench_sync.py --assets 200 --megabytes 40 --per-submission 1

It starts a real workspace server (``python -m sync.server``, SQLite) and makes a
workspace with an open submission point. For each --per-submission size (by default
10 assets per submission, a portfolio, then 1, the most requests), a new space (cheap
key derivation: the KDF is not what is measured) gets --assets SMART plans, each with
one attachment of random bytes (together --megabytes MB), queued as signed submissions
as ``cairn submit`` does. Then it measures:

* **push**: ``app.syncing.outbox.push`` sending the whole outbox, as ``cairn sync``
  does: per attachment its upload status and its bytes, decrypted out of the space as
  they are sent (``GET`` and ``PUT /api/v1/blobs/{sha256}``), per submission the signed
  document (``POST /api/v1/submissions``), the receipt verified and kept in the space;
* **baseline**: the same bytes uploaded by another member of the same workspace with
  plain ``requests`` calls on one kept-alive session: ``GET`` then one ``PUT`` per
  attachment, read from plain files. No submission, no signature, no receipt, nothing
  stored on the client.

The server stores each file once: the first upload of a file is moved into its blob
store, a later one by another member (each member must send the bytes they name) is
checked and dropped. So a baseline runs before the push (and stores the files) and
another after it (as the push found them); the figure is the ratio of the push to
the faster of the two (the target is at most 1.5): on a machine that is busy with
something else now and then, a slow baseline can only make it look worse. It prints
the times, throughput and the CPU used here and by the server, then checks that the
server holds every submission exactly once.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlmodel import col, func, select  # noqa: E402

from app.forms.library import TemplateLibrary  # noqa: E402
from app.space import Space  # noqa: E402
from app.syncing.accounts import connect  # noqa: E402
from app.syncing.disclosure import preview, queue_submission  # noqa: E402
from app.syncing.outbox import UPLOAD_WORKERS, entries, push  # noqa: E402
from sync.server.models import Submission  # noqa: E402
from tests.live_server import LiveServer, running_server  # noqa: E402
from tests.server.client import Org, enrol, make_invite, make_org  # noqa: E402
from tests.support import TEST_KDF_POLICY  # noqa: E402

MB = 1_000_000
Cpu = tuple[float, float]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--megabytes", type=float, default=200.0,
                        help="attachment bytes in total, in MB (default 200)")  # fmt: skip
    parser.add_argument("--per-submission", type=int, action="append", metavar="N",
                        help="assets per submission; repeatable (default: 10, then 1)")  # fmt: skip
    parser.add_argument("--upload-workers", type=int, default=UPLOAD_WORKERS,
                        help=f"threads uploading ahead while submitting (default "
                        f"{UPLOAD_WORKERS}; 0: one thing at a time)")  # fmt: skip
    args = parser.parse_args()
    sizes = args.per_submission or [10, 1]
    if args.assets < 1 or min(sizes) < 1 or args.megabytes <= 0 or args.upload_workers < 0:
        parser.error("--assets, --per-submission and --megabytes must be positive")

    with tempfile.TemporaryDirectory(prefix="cairn-bench-sync-") as scratch:
        folder = Path(scratch)
        os.environ["XDG_CONFIG_HOME"] = str(folder / "config")  # no templates of ours
        with running_server(folder, "sqlite") as server:
            org = make_org(server, mode="open")
            for per_submission in sizes:
                ratio = _run(server, org, folder / f"run-{per_submission}", args.assets,
                             args.megabytes, per_submission, args.upload_workers)  # fmt: skip
                if ratio is None:
                    return 1
    return 0


def _run(
    server: LiveServer, org: Org, folder: Path, count: int, megabytes: float,
    per_submission: int, workers: int,
) -> float | None:  # fmt: skip
    """One configuration: set up, first baseline, push, second baseline; the ratio."""
    size = int(megabytes * MB) // count
    folder.mkdir()
    files = folder / "files"
    files.mkdir()
    space, _ = Space.create(folder / "bench.cairn", "bench passphrase",
                            kdf_policy=TEST_KDF_POLICY)  # fmt: skip
    with space:
        account = connect(space, server.url, make_invite(server, org), "Bench laptop")
        started = time.perf_counter()
        asset_ids = _make_assets(space, files, count, size)
        made = time.perf_counter() - started
        started = time.perf_counter()
        point = account.points[0]["id"]
        library = TemplateLibrary.load()
        for start in range(0, len(asset_ids), per_submission):
            chosen = asset_ids[start : start + per_submission]
            queue_submission(space, preview(space, chosen, account, point, library=library))
        queued = time.perf_counter() - started
        submissions = len(entries(space))
        total = size * count
        print(f"{count} assets with {total / MB:.0f} MB of attachments ({size / 1000:.0f} kB "
              f"each), in {submissions} submissions of {per_submission} asset(s)")  # fmt: skip
        print(f"  set-up: assets and attachments {made:.1f} s, previewed, signed and "
              f"queued {queued:.1f} s")  # fmt: skip

        first, first_cpu = _baseline(server, org, files)
        started = time.perf_counter()
        cpu = _cpu(server)
        report = push(space, account, only_due=False, upload_workers=workers)
        pushed = time.perf_counter() - started
        push_cpu = _minus(_cpu(server), cpu)
        if len(report.delivered) != submissions or report.failed or report.waiting:
            print(f"push did not deliver everything: {report}", file=sys.stderr)
            return None
    second, second_cpu = _baseline(server, org, files)

    # Against the faster baseline: a machine busy with something else during one run
    # can only make the ratio look worse, never better.
    ratio = pushed / min(first, second)
    mb = total / MB
    per = pushed / submissions * 1000
    print(f"  baseline, files new to the server:  {first:6.2f} s  {mb / first:5.1f} MB/s")
    print(f"  push (cairn sync):                  {pushed:6.2f} s  {mb / pushed:5.1f} MB/s "
          f"({per:.1f} ms per submission, {workers} upload worker(s))")  # fmt: skip
    print(f"  baseline, as the push found them:   {second:6.2f} s  {mb / second:5.1f} MB/s")
    print(f"  ratio push / faster baseline:       {ratio:6.2f}  (target: at most 1.5)")
    print(f"  CPU seconds, here + server:         push {push_cpu[0]:.1f} + {push_cpu[1]:.1f}, "
          f"baselines {first_cpu[0]:.1f} + {first_cpu[1]:.1f} and "
          f"{second_cpu[0]:.1f} + {second_cpu[1]:.1f}")  # fmt: skip
    with server.session() as session:
        stored = session.exec(
            select(func.count()).select_from(Submission)
            .where(col(Submission.id).in_(report.delivered))
        ).one()  # fmt: skip
    if stored != submissions:
        print(f"the server holds {stored} of the {submissions} submissions", file=sys.stderr)
        return None
    print(f"  the server holds each of the {submissions} submissions once")
    print()
    return ratio


def _cpu(server: LiveServer) -> Cpu:
    """CPU seconds used so far by this process and by the server's."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return own.ru_utime + own.ru_stime, (int(fields[11]) + int(fields[12])) / ticks


def _minus(after: Cpu, before: Cpu) -> Cpu:
    return after[0] - before[0], after[1] - before[1]


def _make_assets(space: Space, folder: Path, count: int, size: int) -> list[str]:
    template = TemplateLibrary.load().get("smart-plan")
    ids = []
    for index in range(count):
        record = space.add_asset(
            template.qualified_id, f"Plan {index}",
            {"specific": f"Goal number {index}", "deadline": "2026-12-31"}, template=template,
        )  # fmt: skip
        path = folder / f"evidence-{index:04d}.bin"
        path.write_bytes(os.urandom(size))
        space.attach(record.id, path)
        ids.append(record.id)
    return ids


def _baseline(server: LiveServer, org: Org, folder: Path) -> tuple[float, Cpu]:
    """Upload every file with plain requests as a new member of the workspace; the
    seconds it took, and the CPU seconds used here and by the server."""
    member = enrol(server, make_invite(server, org))
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {member.token}"
    paths = sorted(folder.iterdir())
    cpu = _cpu(server)
    started = time.perf_counter()
    for path in paths:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        url = server.api(f"/blobs/{sha}")
        http.get(url, params={"size": len(data)}, timeout=60).raise_for_status()
        answer = http.put(url, params={"offset": 0, "size": len(data)}, data=data, timeout=60,
                          headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        answer.raise_for_status()
        if not answer.json()["complete"]:
            raise RuntimeError("a baseline upload did not complete")
    return time.perf_counter() - started, _minus(_cpu(server), cpu)


if __name__ == "__main__":
    raise SystemExit(main())
