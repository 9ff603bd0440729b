"""`cairn serve` and `cairn server ...`: run and administer the workspace server.

The admin actions open the same data as the server (``--data`` and ``--database-url``
resolve exactly as for ``cairn serve``), bring the schema up to date first, and do their
work in one transaction, so they work on a fresh folder and beside a running server.
FastAPI and uvicorn are imported only by ``serve``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, func, select

from sync.protocol import ResourceInfo
from sync.server import directory, keys
from sync.server.config import MiB, ServerSettings, default_data_dir
from sync.server.db import DatabaseUnavailable, session_scope
from sync.server.errors import ApiError, Conflict, NotFound, TooLarge, Unprocessable
from sync.server.models import Membership, Resource, utc_now
from sync.server.runner import CannotListen, describe_database, open_database, serve

# The same numbers as the desktop command line's (app/cli.py) where the meaning is shared.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 5
EXIT_DATABASE = 8
EXIT_CONFLICT = 9
EXIT_INTERRUPTED = 130

#: The database URL when --database-url is not given (keeps a password out of `ps`).
DATABASE_URL_VARIABLE = "CAIRN_DATABASE_URL"

_DATABASE_EXIT = """\
  8  the database cannot be used: an unreadable or unsupported --database-url,
     PostgreSQL unreachable or refusing the login, or a database set up by a
     newer Cairn server
"""
SERVE_EXIT_CODES_HELP = (
    "exit codes:\n"
    "  0  stopped by Ctrl+C or SIGTERM\n"
    "  1  other failure (the data folder cannot be written, the port is in use)\n"
    "  2  usage error (bad arguments)\n" + _DATABASE_EXIT
)
EXIT_CODES_HELP = (
    "exit codes:\n"
    "  0  success\n"
    "  1  other failure (the data folder cannot be written)\n"
    "  2  usage error (bad arguments; an invalid email, name, role, mode or deadline;\n"
    "     a resource file that cannot be read, is too large or is not a template)\n"
    "  5  no such workspace or device\n" + _DATABASE_EXIT + "  9  conflicts with what is "
    "there: the server already has an admin, a name is\n"
    "     taken, or an id prefix matches several\n"
)

WHERE_HELP = f"""\
The data: --data DIR (default {default_data_dir()}) holds the embedded SQLite
database and the received files. With --database-url (or the {DATABASE_URL_VARIABLE}
environment variable, which keeps the password out of the process list) the
database is PostgreSQL instead, e.g. postgresql://cairn:PASSWORD@db.example.org/cairn,
and DIR still holds the files. See docs/server.md.
"""


class UsageError(Exception):
    """Bad input from the admin, such as a file that cannot be read: exit code 2."""


# ------------------------------------------------------------------ parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _server_name(text: str) -> str:
    name = " ".join(text.split())
    if not 1 <= len(name) <= 200 or not name.isprintable():
        raise argparse.ArgumentTypeError("the name needs 1 to 200 printable characters")
    return name


def _public_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a web address like https://cairn.example.org"
        )
    return text.strip().rstrip("/")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="the server's data folder (default: %(default)s)",
        default=default_data_dir(),
    )
    where.add_argument(
        "--database-url",
        metavar="URL",
        help=f"PostgreSQL instead of SQLite (or set {DATABASE_URL_VARIABLE})",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print machine-readable JSON")

    parser = argparse.ArgumentParser(
        prog="cairn",
        description="Run and administer Cairn's workspace server.",
        epilog=EXIT_CODES_HELP,
        formatter_class=formatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        parents=[where],
        formatter_class=formatter,
        help="run the organisation's workspace server",
        description=textwrap.fill(
            "Run the organisation's workspace server until Ctrl+C. The database is "
            "brought up to date on start. In production, run it behind a reverse proxy "
            "that terminates TLS (see docs/server.md)."
        ),
        epilog=WHERE_HELP + "\n" + SERVE_EXIT_CODES_HELP,
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; 0.0.0.0 for all)",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=8765,
        help="port to listen on (default: %(default)s; 0 picks a free one)",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        default=1,
        help="worker processes answering requests (default: %(default)s); one per "
        "core uses them all. Rate limits count in each worker",
    )
    serve.add_argument(
        "--name",
        type=_server_name,
        default=ServerSettings.name,
        help="the name apps show for this server (default: %(default)s)",
    )
    serve.add_argument(
        "--public-url",
        type=_public_url,
        metavar="URL",
        help="the address people reach the server at, e.g. "
        "https://cairn.example.org (for links it hands out)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        metavar="ADDRS",
        help="reverse proxies whose X-Forwarded-For/-Proto headers are "
        "believed, comma-separated (default: %(default)s)",
    )
    serve.add_argument(
        "--max-attachment-mb",
        type=_positive,
        metavar="MB",
        default=ServerSettings.max_attachment_bytes // MiB,
        help="largest attachment accepted (default: %(default)s)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=_positive,
        metavar="MB",
        default=ServerSettings.max_body_bytes // MiB,
        help="largest request other than an attachment piece (default: %(default)s)",
    )
    serve.add_argument(
        "--invite-days",
        type=_positive,
        metavar="DAYS",
        default=ServerSettings.invite_days,
        help="how long invites made on the web pages work (default: %(default)s)",
    )
    serve.add_argument(
        "--device-token-days",
        type=_positive,
        metavar="DAYS",
        default=ServerSettings.device_token_days,
        help="how long a connected app's token lasts (default: %(default)s)",
    )

    server = commands.add_parser(
        "server",
        formatter_class=formatter,
        help="administer the workspace server: admin, workspaces, points, invites, "
        "submissions, devices, signing key",
        description=textwrap.fill(
            "Administer the workspace server. Every action works on the same data as "
            "`cairn serve` (give the same --data or --database-url), also while the server "
            "runs, and sets up a fresh folder or database first."
        ),
        epilog=textwrap.dedent("""\
            first steps:
              cairn server init --admin-email you@example.org
              cairn server workspace create "Support team"
              cairn server point create --workspace "Support team" "Q3" --deadline 2026-09-30
              cairn server invite --workspace "Support team" --email sam@example.org
              cairn serve

            """)
        + WHERE_HELP
        + "\n"
        + EXIT_CODES_HELP,
    )
    actions = server.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(
        group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_: str
    ) -> argparse.ArgumentParser:
        return group.add_parser(
            name,
            help=help_,
            description=help_,
            parents=[where, as_json],
            epilog=EXIT_CODES_HELP,
            formatter_class=formatter,
        )

    init = action(actions, "init", "create the first admin and print a one-time password")
    init.add_argument("--admin-email", required=True, metavar="EMAIL")

    workspace = actions.add_parser(
        "workspace",
        help="create and list workspaces",
        description="Workspaces: one per team or programme.",
    )
    workspace_actions = workspace.add_subparsers(
        dest="workspace_action", metavar="ACTION", required=True
    )
    created = action(workspace_actions, "create", "create a workspace and print its id")
    created.add_argument("name", metavar="NAME")
    action(workspace_actions, "list", "every workspace with its number of members")

    point = actions.add_parser(
        "point",
        help="create and list submission points",
        description="Submission points: where members send evidence.",
    )
    point_actions = point.add_subparsers(dest="point_action", metavar="ACTION", required=True)
    point_create = action(point_actions, "create", "open a submission point in a workspace")
    point_create.add_argument("name", metavar="NAME")
    point_create.add_argument(
        "--workspace", required=True, metavar="W", help="the workspace's id, id prefix or name"
    )
    point_create.add_argument(
        "--mode",
        choices=directory.MODES,
        default="locked",
        help="locked: one submission per member, final (default); open: members may submit again",
    )
    point_create.add_argument(
        "--deadline", metavar="DATE", help="YYYY-MM-DD (end of that day, UTC) or an ISO date-time"
    )
    point_list = action(point_actions, "list", "a workspace's submission points")
    point_list.add_argument(
        "--workspace", required=True, metavar="W", help="the workspace's id, id prefix or name"
    )

    invite = action(actions, "invite", "invite someone to a workspace: prints a one-time code")
    invite.add_argument(
        "--workspace", required=True, metavar="W", help="the workspace's id, id prefix or name"
    )
    invite.add_argument("--email", required=True, metavar="EMAIL")
    invite.add_argument(
        "--role",
        choices=directory.ROLES,
        default="member",
        help="member (default), reviewer, or admin of the workspace",
    )
    invite.add_argument(
        "--days",
        type=_positive,
        default=ServerSettings.invite_days,
        help="how long the code works (default: %(default)s)",
    )

    submissions = action(actions, "submissions", "what a workspace received, newest first")
    submissions.add_argument(
        "--workspace", required=True, metavar="W", help="the workspace's id, id prefix or name"
    )

    action(actions, "devices", "every connected app (device), with its member and last use")
    revoke = action(actions, "revoke", "revoke a device: its token stops working at once")
    revoke.add_argument("device", metavar="DEVICE", help="the device's id or a unique prefix")

    action(actions, "rotate-key", "replace the server's signing key (the old one endorses it)")

    resource = actions.add_parser(
        "resource",
        help="publish templates, documents and links to a workspace's members",
        description="Resources: templates, documents and links that members' apps receive. "
        "Publishing under a name already used makes a new version.",
    )
    resource_actions = resource.add_subparsers(
        dest="resource_action", metavar="ACTION", required=True
    )
    resource_add = action(resource_actions, "add", "publish a resource (or a new version)")
    resource_add.add_argument(
        "--workspace", required=True, metavar="W", help="the workspace's id, id prefix or name"
    )
    resource_add.add_argument("--name", required=True, metavar="NAME")
    what = resource_add.add_mutually_exclusive_group(required=True)
    what.add_argument("--template", type=Path, metavar="FILE", help="a form template (TOML)")
    what.add_argument("--document", type=Path, metavar="FILE", help="any file")
    what.add_argument("--link", metavar="URL", help="an http(s) address")
    resource_add.add_argument(
        "--media-type", metavar="TYPE", help="of a document (default: guessed from its name)"
    )
    resource_list = action(resource_actions, "list", "the latest version of each resource")
    resource_list.add_argument(
        "--workspace", required=True, metavar="W", help="the workspace's id, id prefix or name"
    )
    return parser


# ------------------------------------------------------------------ output


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def fingerprint(public_key_hex: str) -> str:
    """The SHA-256 of a public key in groups of four; it starts with the key id."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


# ---------------------------------------------------------------- commands


def _settings(args: argparse.Namespace, **limits: Any) -> ServerSettings:
    database_url = args.database_url or os.environ.get(DATABASE_URL_VARIABLE) or None
    return ServerSettings(data_dir=args.data, database_url=database_url, **limits)


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[Session]:
    engine = open_database(_settings(args))
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(
        args,
        name=args.name,
        public_url=args.public_url,
        max_attachment_bytes=args.max_attachment_mb * MiB,
        max_body_bytes=args.max_body_mb * MiB,
        device_token_days=args.device_token_days,
        invite_days=args.invite_days,
    )
    if settings.database_url is None:
        data = f"data in {settings.data_dir} (SQLite)"
    else:
        data = f"database {describe_database(settings)}, files in {settings.files_dir}"

    def announce(address: str) -> None:
        print(
            f"Cairn workspace server listening on {address}; {data}. Ctrl+C stops it.", flush=True
        )

    serve(
        settings,
        args.host,
        args.port,
        forwarded_allow_ips=args.forwarded_allow_ips,
        on_listening=announce,
        workers=args.workers,
    )
    return EXIT_OK


def _init(args: argparse.Namespace, session: Session) -> None:
    user, password = directory.create_first_admin(session, args.admin_email)
    session.commit()
    if args.json:
        _print_json({"admin_email": user.email, "admin_password": password})
        return
    print(f"The server's admin is {user.email}. Their one-time password (shown only now):")
    print(f"  {password}")


def _workspace_create(args: argparse.Namespace, session: Session) -> None:
    workspace = directory.create_workspace(session, args.name)
    session.commit()
    if args.json:
        _print_json({"id": workspace.id, "name": workspace.name})
        return
    print(f"Created workspace {workspace.name!r}: {workspace.id}")


def _workspace_list(args: argparse.Namespace, session: Session) -> None:
    counts: dict[str, int] = dict(
        session.exec(
            select(Membership.workspace_id, func.count()).group_by(col(Membership.workspace_id))
        ).all()
    )
    workspaces = directory.list_workspaces(session)
    if args.json:
        _print_json(
            [
                {
                    "id": w.id,
                    "name": w.name,
                    "members": counts.get(w.id, 0),
                    "created_at": _iso(w.created_at),
                }
                for w in workspaces
            ]
        )
        return
    if not workspaces:
        print("No workspaces yet: cairn server workspace create NAME")
    _print_table(
        ("ID", "NAME", "MEMBERS"), [(w.id, w.name, str(counts.get(w.id, 0))) for w in workspaces]
    )


def _point_create(args: argparse.Namespace, session: Session) -> None:
    workspace = directory.find_workspace(session, args.workspace)
    deadline = directory.parse_deadline(args.deadline) if args.deadline else None
    point = directory.create_point(session, workspace, args.name, args.mode, deadline)
    session.commit()
    if deadline is not None and deadline <= utc_now():
        print(
            "cairn: warning: the deadline has passed: the point takes no submissions",
            file=sys.stderr,
        )
    if args.json:
        _print_json(
            {
                "id": point.id,
                "name": point.name,
                "workspace": workspace.id,
                "mode": point.mode,
                "deadline": _iso(point.deadline),
            }
        )
        return
    until = f", until {_when(deadline)}" if deadline else ""
    print(
        f"Opened submission point {point.name!r} ({point.mode}{until}) in "
        f"{workspace.name!r}: {point.id}"
    )


def _point_list(args: argparse.Namespace, session: Session) -> None:
    workspace = directory.find_workspace(session, args.workspace)
    points = directory.points_of(session, workspace.id)
    if args.json:
        _print_json(
            [
                {
                    "id": p.id,
                    "name": p.name,
                    "mode": p.mode,
                    "deadline": _iso(p.deadline),
                    "accepting": directory.accepting(p),
                }
                for p in points
            ]
        )
        return
    if not points:
        print(f"{workspace.name!r} has no submission points yet: cairn server point create")
    _print_table(
        ("ID", "NAME", "MODE", "DEADLINE", "ACCEPTING"),
        [
            (p.id, p.name, p.mode, _when(p.deadline), "yes" if directory.accepting(p) else "no")
            for p in points
        ],
    )


def _invite(args: argparse.Namespace, session: Session) -> None:
    workspace = directory.find_workspace(session, args.workspace)
    invite, code = directory.create_invite(
        session, workspace, args.email, args.role, days=args.days
    )
    session.commit()
    if args.json:
        _print_json(
            {
                "code": code,
                "email": invite.email,
                "role": invite.role,
                "workspace": workspace.id,
                "expires_at": _iso(invite.expires_at),
            }
        )
        return
    print(f"Invite for {invite.email} ({invite.role} of {workspace.name!r}), shown only now:")
    print(f"  {code}")
    if invite.role == "member":
        where = "in the Cairn app, with this server's address"
    else:  # reviewers and admins work on the server's web pages
        where = "on this server's /invite page, where they choose a password"
    print(f"It works once, until {_when(invite.expires_at)}. They enter it {where}.")


def _submissions(args: argparse.Namespace, session: Session) -> None:
    workspace = directory.find_workspace(session, args.workspace)
    listings = directory.list_submissions(session, workspace)
    if args.json:
        _print_json(
            [
                {
                    "id": s.id,
                    "member": s.member,
                    "point": s.point,
                    "titles": s.titles,
                    "signature": s.signature,
                    "status": s.status,
                    "received_at": _iso(s.received_at),
                }
                for s in listings
            ]
        )
        return
    if not listings:
        print(f"{workspace.name!r} has received nothing yet.")
    _print_table(
        ("RECEIVED", "ID", "MEMBER", "POINT", "SIGNATURE", "STATUS", "ASSETS"),
        [
            (
                _when(s.received_at),
                s.id[:8],
                s.member,
                s.point,
                s.signature,
                s.status,
                "; ".join(s.titles),
            )
            for s in listings
        ],
    )


def _devices(args: argparse.Namespace, session: Session) -> None:
    devices = directory.list_devices(session)
    now = utc_now()
    if args.json:
        _print_json(
            [
                {
                    "id": d.id,
                    "name": d.name,
                    "member": d.member,
                    "workspace": d.workspace,
                    "created_at": _iso(d.created_at),
                    "expires_at": _iso(d.expires_at),
                    "last_seen_at": _iso(d.last_seen_at),
                    "revoked": d.revoked,
                }
                for d in devices
            ]
        )
        return
    if not devices:
        print("No app has connected yet.")

    def status(device: directory.DeviceListing) -> str:
        if device.revoked:
            return "revoked"
        return "expired" if device.expires_at <= now else "active"

    _print_table(
        ("ID", "NAME", "MEMBER", "WORKSPACE", "LAST SEEN", "STATUS"),
        [
            (d.id[:8], d.name, d.member, d.workspace, _when(d.last_seen_at), status(d))
            for d in devices
        ],
    )


def _revoke(args: argparse.Namespace, session: Session) -> None:
    device = directory.revoke_device(session, args.device)
    session.commit()
    if args.json:
        _print_json({"id": device.id, "name": device.name, "revoked_at": _iso(device.revoked_at)})
        return
    print(
        f"Revoked device {device.id[:8]} ({device.name}): its token no longer works; "
        "the person can connect again with a new invite."
    )


def _rotate_key(args: argparse.Namespace, session: Session) -> None:
    previous = keys.active_key(session)
    new = keys.rotate(session)
    session.commit()
    if args.json:
        _print_json(
            {
                "key_id": new.id,
                "fingerprint": fingerprint(new.public_key),
                "public_key": new.public_key,
                "previous_key_id": previous.id,
            }
        )
        return
    print(f"New signing key {new.id}")
    print(f"  fingerprint: {fingerprint(new.public_key)}")
    print(
        f"It replaces {previous.id}, which signed an endorsement of it: connected apps "
        "follow the rotation on their next contact. Receipts signed before stay valid."
    )


def _read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {(exc.strerror or str(exc)).lower()}") from exc


def _resource_add(args: argparse.Namespace, session: Session) -> None:
    from sync.server import resources  # loads FastAPI (through blobs): only when needed

    workspace = directory.find_workspace(session, args.workspace)
    if args.link is not None:
        kind, content, media_type = "link", None, None
    else:
        path = args.template or args.document
        kind = "template" if args.template else "document"
        content = _read_input(path)
        media_type = args.media_type or mimetypes.guess_type(path.name)[0]
    version = resources.publish(
        session,
        _settings(args),
        workspace,
        name=args.name,
        kind=kind,
        content=content,
        url=args.link,
        media_type=media_type,
    )
    resource = session.get(Resource, version.resource_id)
    assert resource is not None
    published = resources.info(resource, version)
    session.commit()
    if args.json:
        _print_json(published.model_dump(mode="json"))
        return
    print(
        f"Published {published.kind} {published.name!r}, version {published.version}, in "
        f"{workspace.name!r}: members' apps receive it when they next sync."
    )


def _resource_list(args: argparse.Namespace, session: Session) -> None:
    from sync.server import resources

    workspace = directory.find_workspace(session, args.workspace)
    published = resources.latest(session, workspace.id)
    if args.json:
        _print_json([r.model_dump(mode="json") for r in published])
        return
    if not published:
        print(f"{workspace.name!r} has no resources yet: cairn server resource add")

    def what(r: ResourceInfo) -> str:
        return r.url or f"{r.size} bytes, {r.media_type}"

    _print_table(
        ("NAME", "KIND", "VERSION", "PUBLISHED", "WHAT"),
        [(r.name, r.kind, str(r.version), _when(r.created_at), what(r)) for r in published],
    )


ADMIN_ACTIONS: dict[tuple[str, ...], Callable[[argparse.Namespace, Session], None]] = {
    ("init",): _init,
    ("workspace", "create"): _workspace_create,
    ("workspace", "list"): _workspace_list,
    ("point", "create"): _point_create,
    ("point", "list"): _point_list,
    ("invite",): _invite,
    ("submissions",): _submissions,
    ("devices",): _devices,
    ("revoke",): _revoke,
    ("rotate-key",): _rotate_key,
    ("resource", "add"): _resource_add,
    ("resource", "list"): _resource_list,
}


def _admin(args: argparse.Namespace) -> int:
    key = tuple(
        part
        for part in (
            args.action,
            getattr(args, "workspace_action", None),
            getattr(args, "point_action", None),
            getattr(args, "resource_action", None),
        )
        if part
    )
    with _database(args) as session:
        ADMIN_ACTIONS[key](args, session)
    return EXIT_OK


# ------------------------------------------------------------------- main


def _fail(code: int, message: str) -> int:
    print(f"cairn: {message}", file=sys.stderr)
    return code


def _exit_code_for(exc: ApiError) -> int:
    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, Conflict):
        return EXIT_CONFLICT
    if isinstance(exc, Unprocessable | TooLarge):
        return EXIT_USAGE
    return EXIT_ERROR


def main(argv: Sequence[str]) -> int:
    """Run ``serve`` or ``server ...``; returns the exit code (see EXIT_CODES_HELP)."""
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return _serve(args) if args.command == "serve" else _admin(args)
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted")
    except BrokenPipeError:
        sys.stderr.close()
        return EXIT_OK
    except ApiError as exc:
        return _fail(_exit_code_for(exc), exc.message)
    except DatabaseUnavailable as exc:
        return _fail(EXIT_DATABASE, str(exc))
    except UsageError as exc:
        return _fail(EXIT_USAGE, str(exc))
    except CannotListen as exc:
        return _fail(EXIT_ERROR, str(exc))
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(EXIT_ERROR, f"{(exc.strerror or str(exc)).lower()}{where}")
    except Exception as exc:
        # Never a traceback (it could quote data); details only when asked for.
        if os.environ.get("CAIRN_DEBUG"):
            raise
        return _fail(
            EXIT_ERROR,
            f"internal error ({type(exc).__name__}); "
            "run with CAIRN_DEBUG=1 for details and please report it",
        )
