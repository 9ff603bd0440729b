#!/usr/bin/env python3
"""Workspace server under load: many devices submitting and pulling at once.

    .venv/bin/python tests/benchmarks/bench_server.py                 # 60 s per database
    .venv/bin/python tests/benchmarks/bench_server.py --seconds 10 --backends sqlite

For each database (SQLite, then PostgreSQL with fsync on), it starts a real server
(``python -m sync.server``, as ``cairn serve`` runs it), makes one workspace with an
open submission point and enrols --devices devices in it, then runs that many
simulated devices at once for --seconds seconds. Each device loops, with no pause
unless --pause says so (a desktop app syncs now and then; a device that never pauses
is the worst case, many times the load 50 people would make):

* every --attach-every-th round, upload a small attachment through the resumable blob
  routes (``GET`` then one ``PUT /api/v1/blobs/{sha256}``) and name it in the submission;
* submit a new signed submission (``POST /api/v1/submissions``, a small payload);
* every --retry-every-th round, send the same submission again (a retry: it must get
  the same receipt with 200), and every --race-every-th round send it twice at once on
  two connections (exactly one 201, the same receipt for both);
* pull (``GET /api/v1/pull``) from its cursor;
* ask ``GET /api/v1/server``, a trivial route: the baseline for what any request costs
  under the same load.

It prints requests, throughput, p50/p95/p99 latency per kind, errors, and the CPU
used by the load generator (this process), the server and PostgreSQL. Then it checks
the server's database: every acknowledged submission is stored exactly once with the
bytes that were signed, nothing else is stored, and every receipt verifies with the
server's key. Exit status 1 if any request failed or any submission was lost or
duplicated. Figures only otherwise (see docs/performance.md for a reference run).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlmodel import col, func, select  # noqa: E402

from sync.protocol import (  # noqa: E402
    RECEIPT_FORMAT,
    SUBMISSION_FORMAT,
    EnrolRequest,
    ReceiptBody,
    SignedDocument,
    canonical_json,
    open_document,
    sha256_hex,
    sign_bytes,
)
from sync.server import enrolment  # noqa: E402
from sync.server.config import ServerSettings  # noqa: E402
from sync.server.models import Submission  # noqa: E402
from tests.live_server import (  # noqa: E402
    LiveServer,
    PostgresCluster,
    PostgresUnavailable,
    postgres_cluster,
    running_server,
)
from tests.server.client import Org, make_invite, make_org  # noqa: E402

KINDS = ("submit", "retry", "race", "pull", "upload status", "upload", "server (baseline)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------- devices


@dataclass
class Device:
    """One enrolled desktop app: its key, token and what the server acknowledged."""

    index: int
    identity: Ed25519PrivateKey
    token: str
    identity_hex: str
    workspace_id: str
    point_id: str
    #: submission id -> (sha256 of the signed body, receipt as JSON)
    receipts: dict[str, tuple[str, str]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cursor: int = 0


def enrol_devices(server: LiveServer, org: Org, count: int) -> list[Device]:
    """Enrol ``count`` devices with the server's own enrolment code, straight in its
    database: over HTTP, the limit on enrolments per address would take minutes."""
    devices = []
    settings = ServerSettings(data_dir=server.data_dir, database_url=server.database_url)
    with server.session() as session:
        for index in range(count):
            code = make_invite(server, org)
            identity = Ed25519PrivateKey.generate()
            identity_hex = identity.public_key().public_bytes_raw().hex()
            answer = enrolment.enrol(
                session,
                settings,
                EnrolRequest(invite_code=code, identity_key=identity_hex,
                             device_name=f"Bench laptop {index}"),
            )  # fmt: skip
            devices.append(
                Device(
                    index=index,
                    identity=identity,
                    token=answer.device_token,
                    identity_hex=identity_hex,
                    workspace_id=org.workspace_id,
                    point_id=org.point_id,
                )  # fmt: skip
            )
    return devices


class Connection:
    """A kept-alive HTTP/1.1 connection with the device's token: plain http.client, so
    the load generator spends as little CPU per request as it can."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            try:
                self.http.request(method, "/api/v1" + path, body=body, headers=headers)
                answer = self.http.getresponse()
                return answer.status, answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle kept-alive connection: open a new one, once.
                self.http.close()
                self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _payload(device: Device, attachments: list[dict[str, Any]]) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return canonical_json({
        "format": SUBMISSION_FORMAT,
        "submission_id": str(uuid.uuid4()),
        "workspace_id": device.workspace_id,
        "point_id": device.point_id,
        "identity_key": device.identity_hex,
        "created_at": now,
        "assets": [{
            "asset_id": uuid.uuid4().hex, "version": 1, "kind": "plan",
            "title": f"SMART plan {device.index}", "template": "smart-plan",
            "fields": [{"name": "specific", "label": "Specific", "type": "markdown",
                        "value": "Run our team's first retrospective by March."}],
            "attachments": attachments,
        }],
    })  # fmt: skip


class LoadRun:
    """Runs every device's loop until the deadline, in a thread each."""

    def __init__(self, ports: list[int], devices: list[Device], args: argparse.Namespace):
        self.ports = ports
        self.devices = devices
        self.args = args
        self.start = threading.Barrier(len(devices) + 1)
        self.deadline = 0.0

    def run(self) -> float:
        threads = [
            threading.Thread(target=self._device, args=(d,), daemon=True) for d in self.devices
        ]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        self.deadline = began + self.args.seconds
        self.start.wait()
        for thread in threads:
            thread.join()
        return time.monotonic() - began

    def _device(self, device: Device) -> None:
        port = self.ports[device.index % len(self.ports)]
        conn = Connection(port, device.token)
        second = Connection(port, device.token)
        self.start.wait()
        round_ = 0
        pauses = random.Random(device.index)
        while time.monotonic() < self.deadline:
            round_ += 1
            try:
                self._round(device, conn, second, round_)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                device.errors.append(f"{type(exc).__name__}: {exc}")
            if self.args.pause:
                time.sleep(min(pauses.uniform(0, 2 * self.args.pause),
                               max(0.0, self.deadline - time.monotonic())))  # fmt: skip
        conn.http.close()
        second.http.close()

    def _timed(
        self, device: Device, kind: str, conn: Connection, method: str, path: str,
        body: bytes | None = None, content_type: str | None = None,
    ) -> tuple[int, bytes]:  # fmt: skip
        began = time.perf_counter()
        status, answer = conn.request(method, path, body, content_type)
        device.latencies.setdefault(kind, []).append(time.perf_counter() - began)
        return status, answer

    def _expect(self, device: Device, kind: str, status: int, wanted: int, answer: bytes) -> bool:
        if status != wanted:
            device.errors.append(f"{kind}: {status} {answer[:200]!r}")
            return False
        return True

    def _round(self, device: Device, conn: Connection, second: Connection, round_: int) -> None:
        args = self.args
        attachments = []
        if args.attach_every and round_ % args.attach_every == 0:
            content = os.urandom(args.attachment_bytes)
            sha = hashlib.sha256(content).hexdigest()
            size = len(content)
            status, answer = self._timed(device, "upload status", conn, "GET",
                                         f"/blobs/{sha}?size={size}")  # fmt: skip
            if not self._expect(device, "upload status", status, 200, answer):
                return
            status, answer = self._timed(device, "upload", conn, "PUT",
                                         f"/blobs/{sha}?offset=0&size={size}", content,
                                         "application/octet-stream")  # fmt: skip
            if not self._expect(device, "upload", status, 200, answer):
                return
            attachments.append({"sha256": sha, "name": f"notes-{round_}.bin", "size": size,
                                "media_type": "application/octet-stream"})  # fmt: skip

        body = _payload(device, attachments)
        document = sign_bytes(device.identity, SUBMISSION_FORMAT, body).model_dump_json().encode()
        submission_id = json.loads(body)["submission_id"]
        status, answer = self._timed(device, "submit", conn, "POST", "/submissions", document,
                                     "application/json")  # fmt: skip
        if self._expect(device, "submit", status, 201, answer):
            device.receipts[submission_id] = (sha256_hex(body), answer.decode())

            if args.retry_every and round_ % args.retry_every == 0:
                status, again = self._timed(device, "retry", conn, "POST", "/submissions",
                                            document, "application/json")  # fmt: skip
                if self._expect(device, "retry", status, 200, again) and again != answer:
                    device.errors.append("retry: a different receipt for the same submission")

        if args.race_every and round_ % args.race_every == 0:
            self._race(device, conn, second)

        status, answer = self._timed(device, "pull", conn, "GET",
                                     f"/pull?after={device.cursor}&limit=100")  # fmt: skip
        if self._expect(device, "pull", status, 200, answer):
            device.cursor = json.loads(answer)["cursor"]

        status, answer = self._timed(device, "server (baseline)", conn, "GET", "/server")
        self._expect(device, "server (baseline)", status, 200, answer)

    def _race(self, device: Device, conn: Connection, second: Connection) -> None:
        """The same new submission on two connections at once: one 201, one 200, one
        receipt."""
        body = _payload(device, [])
        document = sign_bytes(device.identity, SUBMISSION_FORMAT, body).model_dump_json().encode()
        submission_id = json.loads(body)["submission_id"]
        results: list[tuple[int, bytes]] = []

        def other() -> None:
            results.append(self._timed(device, "race", second, "POST", "/submissions",
                                       document, "application/json"))  # fmt: skip

        helper = threading.Thread(target=other)
        helper.start()
        results.append(self._timed(device, "race", conn, "POST", "/submissions", document,
                                   "application/json"))  # fmt: skip
        helper.join()
        statuses = sorted(status for status, _ in results)
        if statuses != [200, 201] or results[0][1] != results[1][1]:
            device.errors.append(f"race: statuses {statuses}, same receipt: "
                                 f"{results[0][1] == results[1][1]}")  # fmt: skip
            if 201 not in statuses:
                return
        device.receipts[submission_id] = (sha256_hex(body), results[0][1].decode())


# ------------------------------------------------------------------ measuring


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def _descendants(pid: int) -> list[int]:
    """The processes under ``pid`` (a server's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _postgres_pids(cluster: PostgresCluster | None) -> list[int]:
    """The postmaster of our own cluster and its children (none for an outside server)."""
    if cluster is None or cluster.folder is None:
        return []
    try:
        postmaster = int((cluster.folder / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == postmaster:
            pids.append(int(stat.parent.name))
    return pids


def _machine_busy() -> float:
    """CPU seconds every process on the machine has used (all cores, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# ---------------------------------------------------------------- verifying


def verify(server: LiveServer, org: Org, devices: list[Device]) -> dict[str, Any]:
    """Compare what the devices were acknowledged with what the server stored."""
    acknowledged: dict[str, tuple[str, str]] = {}
    for device in devices:
        acknowledged.update(device.receipts)
    server_key = bytes.fromhex(json.loads(_get(server, "/server"))["server_key"])
    bad_receipts = 0
    for submission_id, (digest, answer) in acknowledged.items():
        receipt = SignedDocument.model_validate(json.loads(answer)["receipt"])
        body = open_document(receipt, server_key, RECEIPT_FORMAT, ReceiptBody)
        if str(body.submission_id) != submission_id or body.payload_sha256 != digest:
            bad_receipts += 1
    with server.session() as session:
        rows = session.exec(
            select(Submission.id, Submission.payload_sha256).where(
                col(Submission.workspace_id) == org.workspace_id
            )
        ).all()
        total = session.exec(
            select(func.count()).select_from(Submission)
            .where(col(Submission.workspace_id) == org.workspace_id)
        ).one()  # fmt: skip
    stored = {row[0]: row[1] for row in rows}
    duplicates = sum(n - 1 for n in Counter(row[0] for row in rows).values() if n > 1)
    lost = [s for s in acknowledged if s not in stored]
    wrong = [s for s, (digest, _) in acknowledged.items() if stored.get(s, digest) != digest]
    unacknowledged = [s for s in stored if s not in acknowledged]
    return {
        "acknowledged": len(acknowledged), "stored": total, "lost": len(lost),
        "duplicated": duplicates, "changed": len(wrong), "not acknowledged": len(unacknowledged),
        "bad receipts": bad_receipts,
    }  # fmt: skip


def _get(server: LiveServer, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/api/v1" + path)
        return conn.getresponse().read()
    finally:
        conn.close()


def server_failures(log: str) -> list[str]:
    """The exception each traceback in the server's log ended with."""
    failures = []
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = index + 1
            while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
                end += 1
            if end < len(lines):
                failures.append(lines[end][:300])
    # Chained exceptions print one traceback per link; the last line of each is kept.
    return failures


# ---------------------------------------------------------------------- main


def bench_backend(
    backend: str, args: argparse.Namespace, folder: Path, cluster: PostgresCluster | None
) -> dict[str, Any]:
    extra = ["--workers", str(args.workers)] if args.workers > 1 else []
    with running_server(folder / backend, backend, cluster, extra_args=extra) as server:
        org = make_org(server, mode="open")
        devices = enrol_devices(server, org, args.devices)
        assert server.process is not None
        server_pids = [server.process.pid, *_descendants(server.process.pid)]
        pg_pids = _postgres_pids(cluster)
        busy_before = _machine_busy()
        cpu_before = (_own_cpu(), _cpu_of(server_pids), _cpu_of(pg_pids))
        elapsed = LoadRun([server.port], devices, args).run()
        pg_pids_after = _postgres_pids(cluster)
        cpu_after = (_own_cpu(), _cpu_of(server_pids), _cpu_of(pg_pids_after))
        busy = _machine_busy() - busy_before
        checks = verify(server, org, devices)
        failures = server_failures(server.log_text())

    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    for device in devices:
        for kind, values in device.latencies.items():
            latencies.setdefault(kind, []).extend(values)
        errors.extend(device.errors)
    for values in latencies.values():
        values.sort()
    requests = sum(len(v) for v in latencies.values())
    return {
        "backend": backend, "elapsed": elapsed, "requests": requests, "latencies": latencies,
        "errors": errors, "checks": checks, "server tracebacks": failures,
        "cpu": {
            "load generator": cpu_after[0] - cpu_before[0],
            "server": cpu_after[1] - cpu_before[1],
            "postgresql": cpu_after[2] - cpu_before[2] if pg_pids else None,
        },
        "machine busy": busy,
    }  # fmt: skip


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    elapsed = result["elapsed"]
    lat = result["latencies"]
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL (fsync on)"}[result["backend"]]
    workers = f", {args.workers} server workers" if args.workers > 1 else ""
    pause = f", pausing {args.pause:g} s on average between rounds" if args.pause else ", no pauses"
    print(f"\n== {name}: {args.devices} devices for {elapsed:.1f} s{workers}{pause} ==")
    print(f"requests: {result['requests']:,}  throughput: {result['requests'] / elapsed:,.0f} "
          f"req/s  errors: {len(result['errors'])}  "
          f"server tracebacks: {len(result['server tracebacks'])}")  # fmt: skip
    print(f"{'kind':<18} {'count':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}")  # fmt: skip
    for kind in KINDS:
        values = lat.get(kind, [])
        if not values:
            continue
        p50, p95, p99 = (percentile(values, f) * 1000 for f in (0.50, 0.95, 0.99))
        print(f"{kind:<18} {len(values):>8,} {len(values) / elapsed:>7.1f} {p50:>8.1f} "
              f"{p95:>8.1f} {p99:>8.1f} {values[-1] * 1000:>8.1f}")  # fmt: skip
    submit95 = percentile(lat.get("submit", []), 0.95)
    base95 = percentile(lat.get("server (baseline)", []), 0.95)
    print(f"submit p95 / baseline p95: {submit95 / base95:.2f}x  "
          f"(target: submit p95 under 200 ms: {'PASS' if submit95 < 0.2 else 'MISS'})")  # fmt: skip
    cpu = result["cpu"]
    parts = [f"{what} {seconds:.1f} s ({seconds / elapsed:.2f} cores)"
             for what, seconds in cpu.items() if seconds is not None]  # fmt: skip
    print(f"CPU over the run ({os.cpu_count()} cores): " + ", ".join(parts))
    others = result["machine busy"] - sum(v for v in cpu.values() if v is not None)
    print(f"everything else on the machine meanwhile: {max(0.0, others):.1f} s "
          f"({max(0.0, others) / elapsed:.2f} cores; a quiet machine shows ~0)")  # fmt: skip
    per_request = [f"{what} {seconds * 1000 / result['requests']:.1f} ms"
                   for what, seconds in cpu.items() if seconds is not None]  # fmt: skip
    print("CPU per request: " + ", ".join(per_request))
    checks = result["checks"]
    print("stored vs acknowledged: " + ", ".join(f"{k} {v:,}" for k, v in checks.items()))
    for error in Counter(result["errors"]).most_common(10):
        print(f"  error x{error[1]}: {error[0]}")
    for failure in Counter(result["server tracebacks"]).most_common(5):
        print(f"  server traceback x{failure[1]}: {failure[0]}")


def failed(result: dict[str, Any]) -> bool:
    checks = result["checks"]
    return bool(
        result["errors"] or result["server tracebacks"] or checks["lost"]
        or checks["duplicated"] or checks["changed"] or checks["not acknowledged"]
        or checks["bad receipts"] or checks["stored"] != checks["acknowledged"]
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per database")
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--attach-every", type=int, default=5,
                        help="a small attachment every Nth round (0: never)")  # fmt: skip
    parser.add_argument("--attachment-bytes", type=int, default=16 * 1024)
    parser.add_argument("--retry-every", type=int, default=10,
                        help="send the submission again every Nth round (0: never)")  # fmt: skip
    parser.add_argument("--race-every", type=int, default=20,
                        help="one submission twice at once every Nth round (0: never)")  # fmt: skip
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="`cairn serve --workers N` (default 1, as `cairn serve` runs)",
    )
    parser.add_argument("--pause", type=float, default=0.0,
                        help="each device pauses a random 0 to 2x this many seconds "
                             "between rounds (default 0: devices that never pause, the "
                             "worst case)")  # fmt: skip
    parser.add_argument("--folder", type=Path, help="work here (default: a temporary folder)")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    print(f"Workspace server load: {args.devices} devices, {args.seconds:.0f} s per database, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")  # fmt: skip
    cluster = None
    results = []
    with tempfile.TemporaryDirectory(prefix="cairn-bench-server-", dir=args.folder) as tmp:
        try:
            for backend in backends:
                if backend == "postgresql" and cluster is None:
                    try:
                        cluster = postgres_cluster(fast=False)
                    except PostgresUnavailable as exc:
                        print(f"\nPostgreSQL skipped: {exc}")
                        continue
                result = bench_backend(backend, args, Path(tmp), cluster)
                report(result, args)
                results.append(result)
        finally:
            if cluster is not None:
                cluster.stop()
    return 1 if any(failed(r) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
