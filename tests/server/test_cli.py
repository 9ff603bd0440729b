"""`cairn serve` and `cairn server ...` as an admin runs them: the real `cairn` program in
a child process, on a data folder (SQLite) and on PostgreSQL, beside a running server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from app.cli import main as cairn_main
from sync.protocol import KEY_ENDORSEMENT_FORMAT, KeyEndorsement, SignedDocument, open_document
from sync.server.cli import DATABASE_URL_VARIABLE
from sync.server.models import User
from sync.server.security import check_password
from tests.live_server import LiveServer, PostgresCluster
from tests.server.client import enrol, snapshot

_ENTRY_POINT = Path(sys.executable).with_name("cairn")
CAIRN = (
    [str(_ENTRY_POINT)]
    if _ENTRY_POINT.exists()
    else [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]
)


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != DATABASE_URL_VARIABLE}
    return {**env, **extra}


def cairn_together(
    *commands: Sequence[str | Path], env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run `cairn` once per command, all at the same time; each must succeed."""
    started = [
        (args, subprocess.Popen([*CAIRN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env or _environment()))
        for args in ([str(a) for a in command] for command in commands)
    ]  # fmt: skip
    results = []
    for args, process in started:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    for result in results:
        assert result.returncode == 0, (result.args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    return results


def cairn_json(*commands: Sequence[str | Path]) -> list[Any]:
    """``--json`` output of each command, run together."""
    return [json.loads(r.stdout) for r in cairn_together(*([*c, "--json"] for c in commands))]


@dataclass
class Site:
    """A server's data: a folder, and a PostgreSQL database if the backend is one."""

    data: Path
    database_url: str | None
    backend: str
    servers: list[LiveServer] = field(default_factory=list)

    @property
    def where(self) -> list[str | Path]:
        url = ["--database-url", self.database_url] if self.database_url else []
        return ["--data", self.data, *url]

    def start_server(self) -> LiveServer:
        server = LiveServer(self.data, self.database_url, backend=self.backend)
        self.servers.append(server)
        server.start()
        return server


@pytest.fixture(params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresCluster | None
) -> Iterator[Site]:
    url = None
    if request.param == "postgresql":
        if postgres is None:
            pytest.skip("PostgreSQL is not available here (set CAIRN_REQUIRE_POSTGRES to fail)")
        url = postgres.new_database()
    site = Site(data=tmp_path / "server-data", database_url=url, backend=request.param)
    try:
        yield site
    finally:
        for server in site.servers:
            server.stop()
        if postgres is not None and url:
            postgres.drop_database(url)


def test_an_admin_sets_up_a_workspace_follows_a_submission_revokes_and_rotates(
    site: Site,
) -> None:
    # A fresh folder or database: whichever command comes first sets it up. Commands
    # that do not depend on each other run at the same time, as admins' scripts might.
    init, workspace = cairn_json(
        ["server", "init", "--admin-email", "Admin@Example.org", *site.where],
        ["server", "workspace", "create", "Support team", *site.where],
    )
    assert init["admin_email"] == "admin@example.org"
    point, invite = cairn_json(
        ["server", "point", "create", "--workspace", "Support team", "Q3 evidence",
         "--mode", "open", "--deadline", "2099-12-31", *site.where],
        ["server", "invite", "--workspace", workspace["id"][:8], "--email", "sam@example.org",
         *site.where],
    )  # fmt: skip
    assert invite["workspace"] == workspace["id"]
    assert invite["role"] == "member"

    # The server runs on the same data; the admin commands keep working beside it.
    server = site.start_server()
    before = requests.get(server.api("/server"), timeout=30).json()
    member = enrol(server, invite["code"])
    assert member.workspace_id == workspace["id"]
    assets = [snapshot("SMART plan: calmer stand-ups"), snapshot("Reflection on Q3")]
    sent = member.submit(member.sign(member.payload(point["id"], assets)))
    assert sent.status_code == 201, sent.text

    template = site.data.parent / "onboarding.toml"
    template.write_text('id = "onboarding"\nname = "Onboarding plan"\n')
    listing, devices, published = cairn_together(
        ["server", "submissions", "--workspace", "Support team", *site.where],
        ["server", "devices", "--json", *site.where],
        ["server", "resource", "add", "--workspace", "Support team", "--name", "Onboarding",
         "--template", template, "--json", *site.where],
    )  # fmt: skip
    assert "sam@example.org" in listing.stdout
    assert "Q3 evidence" in listing.stdout
    assert "SMART plan: calmer stand-ups; Reflection on Q3" in listing.stdout
    assert " valid " in listing.stdout
    assert [(d["id"], d["member"], d["workspace"], d["revoked"])
            for d in json.loads(devices.stdout)] == [
        (member.device_id, "sam@example.org", "Support team", False)
    ]  # fmt: skip
    assert member.get("/me").status_code == 200
    resource = json.loads(published.stdout)
    assert [(r["id"], r["kind"], r["version"]) for r in member.get("/resources").json()] == [
        (resource["id"], "template", 1)
    ]
    sent_down = member.get(f"/resources/{resource['id']}/versions/1")
    assert sent_down.content == template.read_bytes()

    _, rotation = cairn_together(
        ["server", "revoke", member.device_id[:6], *site.where],
        ["server", "rotate-key", "--json", *site.where],
    )
    refused = member.get("/me")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"

    rotated = json.loads(rotation.stdout)
    after = requests.get(server.api("/server"), timeout=30).json()
    assert rotated["previous_key_id"] == before["server_key_id"]
    assert after["server_key_id"] == rotated["key_id"] != before["server_key_id"]
    assert after["server_key"] == rotated["public_key"]
    assert rotated["fingerprint"].replace(" ", "").startswith(rotated["key_id"])
    assert len(after["endorsements"]) == len(before["endorsements"]) + 1
    endorsement = open_document(
        SignedDocument.model_validate(after["endorsements"][-1]),
        bytes.fromhex(before["server_key"]), KEY_ENDORSEMENT_FORMAT, KeyEndorsement,
    )  # fmt: skip
    assert endorsement.next_key == after["server_key"]

    # The password printed once is the admin's.
    with server.session() as session:
        admin = session.exec(select(User).where(col(User.is_admin))).one()
        assert check_password(admin.password_hash, init["admin_password"])


def test_serve_with_only_a_data_folder_answers_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    process = subprocess.Popen(
        [*CAIRN, "serve", "--data", str(data), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_environment(),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Cairn workspace server listening on http://127.0.0.1:")
        assert f"data in {data} (SQLite)" in line
        url = line.split("listening on ", 1)[1].split(";", 1)[0]

        info = requests.get(f"{url}/api/v1/server", timeout=30)
        assert info.status_code == 200
        assert info.json()["name"] == "Cairn workspace server"
        requests.get(f"{url}/s/SecretShareToken123", timeout=30)
        assert (data / "server.sqlite3").exists()
        assert (data / "files").is_dir()
    finally:
        process.send_signal(signal.SIGINT)
        log, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "GET /s/…" in log  # the request was logged...
    assert "SecretShareToken123" not in log  # ...without its secret


def test_a_database_that_cannot_be_used_is_one_sentence_and_exit_8(
    tmp_path: Path, postgres: PostgresCluster | None
) -> None:
    cases = [
        (["serve"], "mysql://root:s3cret-pw@localhost/cairn", "s3cret-pw"),  # from the environment
        (["server", "devices"], "postgresql://cairn:hunter2hunter2@127.0.0.1:1/cairn", "hunter2"),
    ]
    if postgres is not None and make_url(postgres.admin_url).password:
        wrong = make_url(postgres.admin_url).set(password="not-the-password-42")
        url = wrong.render_as_string(hide_password=False)
        cases.append((["server", "init", "--admin-email", "a@example.org"], url, "password-42"))
    # Started together: each only waits for its own failure.
    runs = []
    for i, (command, url, _) in enumerate(cases):
        where = ["--data", str(tmp_path / "data")] + (["--database-url", url] if i else [])
        env = _environment(**({} if i else {DATABASE_URL_VARIABLE: url}))
        pipe = subprocess.PIPE
        runs.append(subprocess.Popen([*CAIRN, *command, *where], stdout=pipe, stderr=pipe,
                                     text=True, env=env))  # fmt: skip
    messages = []
    for process, (_, _, password) in zip(runs, cases, strict=True):
        out, err = process.communicate(timeout=60)
        assert process.returncode == 8, err
        assert err.startswith("cairn: "), err
        assert err.count("\n") == 1, err
        assert password not in err
        assert "Traceback" not in err
        assert out == ""
        messages.append(err)
    assert "unsupported database 'mysql'" in messages[0]
    assert "postgresql://cairn:***@127.0.0.1:1/cairn" in messages[1]
    assert "refused" in messages[1]
    if len(messages) > 2:
        assert "password authentication failed" in messages[2]


def test_admin_mistakes_are_named_with_their_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process (the same code as the program): the codes and sentences, quickly.
    where = ["--data", str(tmp_path / "data")]

    printed: list[str] = []

    def run(*args: str) -> tuple[int, str]:
        code = cairn_main(["server", *args, *where])
        out, err = capsys.readouterr()
        printed.append(out)
        return code, err

    assert run("init", "--admin-email", "first@example.org")[0] == 0
    assert run("init", "--admin-email", "second@example.org") == (
        9, "cairn: this server already has an admin\n"
    )  # fmt: skip
    assert run("workspace", "create", "  Night shift ")[0] == 0
    assert run("workspace", "create", "Night shift") == (
        9, "cairn: there is already a workspace called 'Night shift'\n"
    )  # fmt: skip
    assert run("invite", "--workspace", "Day shift", "--email", "a@example.org") == (
        5, "cairn: no workspace is called or has the id 'Day shift'\n"
    )  # fmt: skip
    assert run("invite", "--workspace", "Night shift", "--email", "nobody") == (
        2, "cairn: 'nobody' is not an email address\n"
    )  # fmt: skip
    assert run("point", "create", "--workspace", "Night shift", "Q4", "--deadline", "soon") == (
        2, "cairn: 'soon' is not a date (YYYY-MM-DD) or date-time\n"
    )  # fmt: skip
    assert run("revoke", "0000") == (5, "cairn: no device has the id '0000'\n")
    not_toml = tmp_path / "plan.toml"
    not_toml.write_text("this is not TOML")
    assert run("resource", "add", "--workspace", "Night shift", "--name", "Plan", "--template",
               str(not_toml))[0] == 2  # fmt: skip
    assert run("resource", "add", "--workspace", "Night shift", "--name", "Plan", "--template",
               str(tmp_path / "missing.toml"))[0] == 2  # fmt: skip
    assert run("resource", "add", "--workspace", "Night shift", "--name", "Rota", "--link",
               "https://intranet.example.org/rota", "--json") == (0, "")  # fmt: skip
    assert json.loads(printed[-1])["version"] == 1
    assert run("resource", "list", "--workspace", "Night shift", "--json") == (0, "")
    assert [r["name"] for r in json.loads(printed[-1])] == ["Rota"]
    assert run("point", "list", "--workspace", "Night shift", "--json") == (0, "")
    assert json.loads(printed[-1]) == []
    assert run("workspace", "list", "--json") == (0, "")
    assert [(w["name"], w["members"]) for w in json.loads(printed[-1])] == [("Night shift", 0)]


def test_cairn_help_lists_the_server_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cairn_main(["--help"]) == 0
    overview = capsys.readouterr().out
    assert "serve " in overview
    assert "server " in overview
    assert cairn_main(["server", "--help"]) == 0
    server_help = capsys.readouterr().out
    for action in ("init", "workspace", "point", "invite", "submissions", "devices"):
        assert action in server_help
    for words in ("revoke", "rotate-key", "exit codes:", "first steps:"):
        assert words in server_help
    assert cairn_main(["serve", "--help"]) == 0
    assert "--database-url URL" in capsys.readouterr().out
