"""Requests at once: several worker processes on one database (`cairn serve --workers`),
SQLite's write gate between processes, and read-only transactions that never wait for
a writer."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from sync.server import directory, resources
from sync.server.config import ServerSettings
from sync.server.db import make_engine, migrate, read_only
from sync.server.deps import MAX_SESSIONS
from sync.server.models import Device, Submission, Workspace
from tests.live_server import PostgresCluster, running_server
from tests.server.client import join, make_org

fcntl = pytest.importorskip("fcntl")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_several_workers_share_the_port_and_the_database_and_stop_together(
    tmp_path: Path, backend: str, postgres: PostgresCluster | None
) -> None:
    if backend == "postgresql" and postgres is None:
        pytest.skip("PostgreSQL is not available (CAIRN_REQUIRE_POSTGRES makes this a failure)")
    with running_server(tmp_path, backend, postgres, extra_args=["--workers", "2"]) as server:
        assert server.process is not None
        supervisor = server.process.pid
        # uvicorn's supervisor, and under it the workers (and multiprocessing's helper).
        deadline = time.monotonic() + 30
        while server.log_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.log_text()
            time.sleep(0.1)
        workers = _children(supervisor)
        assert len(workers) >= 2

        org = make_org(server, mode="open")
        members = [join(server, org) for _ in range(4)]

        def submit_many(member_index: int) -> list[int]:
            member = members[member_index]
            return [member.submit(member.sign(member.payload(org.point_id))).status_code
                    for _ in range(10)]  # fmt: skip

        with ThreadPoolExecutor(8) as pool:
            statuses = [s for batch in pool.map(submit_many, [0, 1, 2, 3] * 2) for s in batch]
        assert statuses == [201] * 80
        for member in members:
            pulled = member.get("/pull", params={"after": 0})
            assert pulled.status_code == 200, pulled.text
        with server.session() as session:
            stored = session.exec(
                select(func.count()).select_from(Submission).where(
                    col(Submission.workspace_id) == org.workspace_id)
            ).one()  # fmt: skip
            seen = session.exec(select(Device.last_seen_at)).all()
        assert stored == 80
        assert all(moment is not None for moment in seen)
        assert "Traceback" not in server.log_text()

        server.stop()
        # (multiprocessing's helper leaves a moment after the supervisor.)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)


def _sqlite_engines(tmp_path: Path) -> tuple[ServerSettings, list]:  # type: ignore[type-arg]
    settings = ServerSettings(data_dir=tmp_path)
    # Two engines on one database, as two processes have: each its own lock for its
    # threads, and the file lock between them.
    first, second = make_engine(settings), make_engine(settings)
    migrate(first)
    return settings, [first, second]


def test_a_write_on_sqlite_holds_the_gate_between_processes_until_it_ends(tmp_path: Path) -> None:
    settings, (first, second) = _sqlite_engines(tmp_path)
    gate = Path(settings.resolved_database_url().removeprefix("sqlite:///") + ".write-gate")
    probe = os.open(gate, os.O_RDWR)

    def gate_is_free() -> bool:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True

    try:
        assert gate_is_free()
        with Session(first) as writing:
            writing.add(Workspace(name="Support team"))
            writing.flush()
            assert not gate_is_free()

            # A writer in the other "process" waits for the gate, not for a busy retry...
            done = threading.Event()

            def other_writer() -> None:
                with Session(second) as other:
                    other.add(Workspace(name="Sales team"))
                    other.commit()
                done.set()

            thread = threading.Thread(target=other_writer)
            thread.start()
            assert not done.wait(0.3)
            # ...while a reader there goes ahead (and sees only what was committed).
            with Session(read_only(second)) as reading:
                names = reading.exec(select(Workspace.name)).all()
            assert names == []
            writing.commit()
        assert done.wait(10)
        thread.join()
        assert gate_is_free()
        with Session(read_only(second)) as reading:
            assert sorted(reading.exec(select(Workspace.name)).all()) == [
                "Sales team", "Support team"]  # fmt: skip
    finally:
        os.close(probe)
        first.dispose()
        second.dispose()


def test_a_read_only_transaction_on_sqlite_refuses_to_write(tmp_path: Path) -> None:
    _, (engine, other) = _sqlite_engines(tmp_path)
    try:
        with Session(read_only(engine)) as reading:
            reading.add(Workspace(name="Support team"))
            with pytest.raises(OperationalError, match="readonly"):
                reading.flush()
        # The same pooled connection writes again once it is used for writing.
        with Session(engine) as writing:
            writing.add(Workspace(name="Support team"))
            writing.commit()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM workspace")).scalar() == 1
    finally:
        engine.dispose()
        other.dispose()


def test_a_get_never_waits_for_a_writer(tmp_path: Path) -> None:
    """On SQLite a GET (read-only) is answered while another process holds the write
    gate. (PostgreSQL has no gate: its readers never wait for writers.)"""
    with running_server(tmp_path, "sqlite") as server:
        org = make_org(server, mode="open")
        member = join(server, org)
        # Its first request records when the device was last seen: a write, once a minute.
        assert member.get("/me").status_code == 200
        engine = make_engine(ServerSettings(data_dir=server.data_dir))
        try:
            with Session(engine) as writing:
                writing.add(Workspace(name="Held open"))
                writing.flush()  # holds the gate (and SQLite's write lock)
                for path in ("/pull", "/me", "/server", "/submissions", "/shares", "/resources"):
                    answer = member.http.get(server.api(path), timeout=5)
                    assert answer.status_code == 200, (path, answer.text)
                writing.rollback()
        finally:
            engine.dispose()


def test_slow_uploads_do_not_hold_the_sessions_every_other_request_needs(tmp_path: Path) -> None:
    """More clients than the server has database sessions each start a piece and stall
    in the middle of its body; everyone else is still answered."""
    with running_server(tmp_path, "sqlite") as server:
        org = make_org(server, mode="open")
        member = join(server, org)
        content = os.urandom(64 * 1024)
        sha = hashlib.sha256(content).hexdigest()
        assert member.get(f"/blobs/{sha}", params={"size": len(content)}).status_code == 200
        stalled = []
        try:
            for _ in range(MAX_SESSIONS + 2):
                connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                connection.sendall(
                    f"PUT /api/v1/blobs/{sha}?offset=0&size={len(content)} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1\r\nAuthorization: Bearer {member.token}\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    f"Content-Length: {len(content)}\r\n\r\n".encode()
                    + content[:1000]
                )
                stalled.append(connection)
            time.sleep(0.5)  # every one of them is waiting for the rest of its body
            for path in ("/me", "/pull", "/server"):
                answer = member.http.get(server.api(path), timeout=5)
                assert answer.status_code == 200, (path, answer.text)
            # A whole piece still goes in meanwhile, and an interrupted one keeps nothing.
            whole = member.put(f"/blobs/{sha}", params={"offset": 0, "size": len(content)},
                               data=content,
                               headers={"Content-Type": "application/octet-stream"})  # fmt: skip
            assert whole.status_code == 200, whole.text
            assert whole.json()["received"] == len(content)
        finally:
            for connection in stalled:
                connection.close()
        time.sleep(0.5)
        assert list((server.data_dir / "files" / "partial").glob("*.piece")) == []
        assert "Traceback" not in server.log_text()


def test_slow_downloads_do_not_hold_the_sessions_either(tmp_path: Path) -> None:
    """Clients that ask for a large file and then read nothing hold no session."""
    with running_server(tmp_path, "sqlite") as server:
        org = make_org(server, mode="open")
        member = join(server, org)
        with server.session() as session:
            workspace = directory.find_workspace(session, org.workspace_id)
            version = resources.publish(
                session, ServerSettings(data_dir=server.data_dir), workspace,
                name="Handbook", kind="document", content=os.urandom(16 * 1024 * 1024),
                media_type="application/pdf",
            )  # fmt: skip
            session.commit()
            path = f"/api/v1/resources/{version.resource_id}/versions/{version.version}"
        stalled = []
        try:
            for _ in range(MAX_SESSIONS + 2):
                connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                connection.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {member.token}\r\n\r\n".encode()
                )
                stalled.append(connection)
            time.sleep(1)  # each answer is under way, waiting for its client to read
            for path_ in ("/me", "/pull", "/resources"):
                answer = member.http.get(server.api(path_), timeout=5)
                assert answer.status_code == 200, (path_, answer.text)
        finally:
            for connection in stalled:
                connection.close()


def _established(pid: int, port: int) -> int:
    """Connections to ``port`` that process ``pid`` holds open (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def test_several_workers_even_out_their_kept_alive_connections(tmp_path: Path) -> None:
    """A burst of connections taken by one worker is spread over the others as requests
    come: an over-full worker closes connections after answering, and clients connect
    again."""
    import http.client

    with running_server(tmp_path, "sqlite", extra_args=["--workers", "2"]) as server:
        assert server.process is not None
        deadline = time.monotonic() + 30
        while server.log_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.log_text()
            time.sleep(0.1)
        # The workers (beside them, multiprocessing's resource tracker).
        serving = [
            pid for pid in _children(server.process.pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]  # fmt: skip
        assert len(serving) == 2
        # With one worker stopped, every connection goes to the other.
        stopped = serving[0]
        os.kill(stopped, signal.SIGSTOP)
        try:
            connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                           for _ in range(20)]  # fmt: skip
            for connection in connections:
                connection.connect()
            deadline = time.monotonic() + 10
            while _established(serving[1], server.port) < 20:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            os.kill(stopped, signal.SIGCONT)
        before = sorted(_established(pid, server.port) for pid in serving)

        closed = 0
        for _ in range(30):
            for connection in connections:
                # http.client connects again by itself after a "Connection: close".
                connection.request("GET", "/api/v1/server")
                answer = connection.getresponse()
                answer.read()
                closed += answer.getheader("connection", "") == "close"
            counts = sorted(_established(pid, server.port) for pid in serving)
            if counts[-1] - counts[0] <= 2:
                break
        for connection in connections:
            connection.close()

    assert before[0] == 0, before  # the burst all went to one worker
    assert counts[-1] - counts[0] <= 2, (before, counts)
    assert closed >= 9, (before, counts, closed)


def test_a_write_from_the_event_loop_waits_for_its_turn_in_a_thread(tmp_path: Path) -> None:
    """deps.writing: on SQLite a write runs in place when the gate is free, and in a
    worker thread while another process holds it; the event loop never waits."""
    import asyncio

    from sync.server.deps import writing

    settings, (ours, other_process) = _sqlite_engines(tmp_path)

    def add(name: str, session: Session) -> str:
        session.add(Workspace(name=name))
        session.commit()
        return threading.current_thread().name

    async def scenario() -> tuple[str, str, float]:
        loop_thread = threading.current_thread().name
        with Session(ours) as session:
            in_place = await writing(session, lambda: add("In place", session))
        assert in_place == loop_thread
        holder = other_process.connect()
        held = holder.begin()  # the other process has the turn
        threading.Timer(1.0, held.commit).start()
        began = time.monotonic()
        with Session(ours) as session:
            task = asyncio.ensure_future(writing(session, lambda: add("Later", session)))
            await asyncio.sleep(0.05)
            loop_went_on = time.monotonic() - began
            later = await task
        holder.close()
        return loop_thread, later, loop_went_on

    loop_thread, later, loop_went_on = asyncio.run(scenario())
    assert loop_went_on < 0.5
    assert later != loop_thread  # it waited for its turn in a worker thread
    with Session(ours) as session:
        names = sorted(session.exec(select(Workspace.name)).all())
    assert names == ["In place", "Later"]
    for engine in (ours, other_process):
        engine.dispose()
