"""A real workspace server for tests and benchmarks: uvicorn in a child process on
127.0.0.1, over SQLite or PostgreSQL.

PostgreSQL comes from ``CAIRN_TEST_POSTGRES_URL`` (a role that may CREATE DATABASE;
.ci/run starts Debian's server and sets it), or else from a throwaway cluster made
with Debian's ``initdb`` in a temporary folder. Each server gets its own new database.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy.engine import make_url
from sqlmodel import Session

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL_VARIABLE = "CAIRN_TEST_POSTGRES_URL"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ----------------------------------------------------------------- PostgreSQL


class PostgresUnavailable(Exception):
    pass


@dataclass
class PostgresCluster:
    """Somewhere to make databases: an existing server, or one we started."""

    admin_url: str  # postgresql+psycopg://user[:pw]@127.0.0.1:port/postgres
    folder: Path | None = None
    run_as: list[str] = field(default_factory=list)
    bin_dir: Path | None = None

    def new_database(self) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        name = "cairn_" + secrets.token_hex(6)
        url = make_url(self.admin_url)
        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, database_url: str) -> None:
        import psycopg

        name = make_url(database_url).database
        with psycopg.connect(_libpq(make_url(self.admin_url)), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.folder is None or self.bin_dir is None:
            return
        subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"),
             "-m", "immediate", "stop"],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def _libpq(url: object) -> str:
    u = make_url(str(url)) if not hasattr(url, "host") else url
    parts = [f"host={u.host or '127.0.0.1'}", f"port={u.port or 5432}", "dbname=postgres"]  # type: ignore[attr-defined]
    if u.username:  # type: ignore[attr-defined]
        parts.append(f"user={u.username}")  # type: ignore[attr-defined]
    if u.password:  # type: ignore[attr-defined]
        parts.append(f"password={u.password}")  # type: ignore[attr-defined]
    return " ".join(parts)


def _postgres_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_cluster(*, fast: bool = True) -> PostgresCluster:
    """The configured PostgreSQL, or a private throwaway cluster; PostgresUnavailable if
    neither can be had. ``fast`` turns off fsync (tests, not benchmarks)."""
    if url := os.environ.get(POSTGRES_URL_VARIABLE):
        return PostgresCluster(admin_url=url)
    bin_dir = _postgres_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            f"no PostgreSQL: set {POSTGRES_URL_VARIABLE} or install Debian's postgresql"
        )
    folder = Path(tempfile.mkdtemp(prefix="cairn-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        try:
            account = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no postgres user") from exc
        os.chown(folder, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    os.chmod(folder, 0o755)
    port = free_port()
    data = folder / "data"
    subprocess.run(
        [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "cairn",
         "-E", "UTF8", "--locale=C", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if fast:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
         "-l", str(folder / "log"), "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    return PostgresCluster(
        admin_url=f"postgresql+psycopg://cairn@127.0.0.1:{port}/postgres",
        folder=folder, run_as=run_as, bin_dir=bin_dir,
    )  # fmt: skip


# --------------------------------------------------------------------- server


@dataclass
class LiveServer:
    """A workspace server running in a child process."""

    data_dir: Path
    database_url: str | None
    port: int = 0
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    backend: str = "sqlite"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str) -> str:
        return f"{self.url}/api/v1{path}"

    def settings(self):  # type: ignore[no-untyped-def]
        from sync.server.config import ServerSettings

        return ServerSettings(data_dir=self.data_dir, database_url=self.database_url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database session on the server's own database (set-up and checks)."""
        from sync.server.db import make_engine

        engine = make_engine(self.settings())
        try:
            with Session(engine, expire_on_commit=False) as session:
                yield session
        finally:
            engine.dispose()

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        command = [sys.executable, "-m", "sync.server", "--data", str(self.data_dir),
                   "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]  # fmt: skip
        if self.database_url:
            command += ["--database-url", self.database_url]
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: "
                                   f"{self.log_text()[-2000:]}")  # fmt: skip
            try:
                if requests.get(self.api("/server"), timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # still starting, or busy
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the server did not start within 30 s: " + self.log_text()[-2000:])

    def log_text(self) -> str:
        path = self.data_dir.parent / f"server-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running_server(
    folder: Path, backend: str, cluster: PostgresCluster | None = None,
    extra_args: list[str] | None = None,
) -> Iterator[LiveServer]:  # fmt: skip
    """A started server with its data in ``folder``; stopped (and its database dropped)
    afterwards."""
    database_url = None
    if backend == "postgresql":
        if cluster is None:
            raise PostgresUnavailable("no PostgreSQL cluster given")
        database_url = cluster.new_database()
    data = folder / "server-data"
    data.mkdir(parents=True, exist_ok=True)
    server = LiveServer(data_dir=data, database_url=database_url, backend=backend,
                        extra_args=list(extra_args or []))  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if cluster is not None and database_url:
            cluster.drop_database(database_url)
