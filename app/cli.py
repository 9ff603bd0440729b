"""The `cairn` command line: headless access to a space.

Never imports Qt, except `capture`, which loads QtGui (no widgets) to read the
images it imports.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import queue
import re
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.forms.answers import (
    InvalidAnswers,
    apply_assignments,
    computed_values,
    defaults,
    upgrade_answers,
)
from app.forms.library import TemplateLibrary, UnknownTemplate
from app.forms.loader import TemplateError, check_files
from app.forms.model import FieldSpec, Template
from app.forms.render import to_html, to_markdown
from app.passphrase import PassphraseUnavailable, get_passphrase, read_secret_file
from app.space import AmbiguousId, Space
from app.syncing.errors import DisclosureError, ReviewError, SyncSetupError
from app.transfer import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    Cancelled,
    DamagedArchive,
    ExportJob,
    FormatUnavailable,
    ImportJob,
    InvalidInput,
    Selection,
    TransferError,
    TransferReport,
    UnknownFormat,
    UnsupportedArchive,
    WrongArchivePassphrase,
    detect_format,
    exporter_for,
    importer_for,
)
from store.errors import (
    DamagedSpace,
    NoSuchAsset,
    NoSuchAttachment,
    NoSuchVersion,
    NotASpace,
    StoreError,
    WeakPassphrase,
    WrongPassphrase,
    WrongRecoveryKey,
)
from store.kdf import PRODUCTION_POLICY, KdfPolicy
from store.records import AssetRecord, SyncRecord
from store.search import HIGHLIGHT_END, HIGHLIGHT_START
from sync.errors import (
    BadServerSignature,
    CertificateRejected,
    InvalidServerAddress,
    NotAuthorised,
    Rejected,
    ServerKeyChanged,
    SyncError,
)

if TYPE_CHECKING:
    from app.capture import CaptureEvent, CaptureService, CaptureSummary
    from app.syncing.accounts import Account
    from app.syncing.disclosure import Preview
    from app.syncing.resources import OrganisationResource
    from app.syncing.worker import SyncReport

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_WRONG_SECRET = 3
EXIT_DAMAGED = 4
EXIT_NOT_FOUND = 5
EXIT_NOT_A_SPACE = 6
EXIT_NOT_ALL_CAPTURED = 7
# 8 and 9 are the workspace server's commands' (sync/server/cli.py).
EXIT_OFFLINE = 10
EXIT_REFUSED = 11
EXIT_UNTRUSTED = 12

#: The portable archive's passphrase, if no --archive-passphrase-file is given.
ARCHIVE_PASSPHRASE_VARIABLE = "CAIRN_ARCHIVE_PASSPHRASE"
#: log2 scrypt cost of archives written under the tests' cheap key-derivation policy.
TEST_ARCHIVE_WORK_FACTOR = 10

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  other failure (disk full, permission denied, space busy in another program)
  2  usage error (bad arguments, no passphrase available, unreadable input file)
  3  wrong passphrase or recovery key
  4  the space is damaged or has been tampered with (see `cairn verify`)
  5  no such asset, version or attachment (or connected workspace, submission
     point, outbox entry, share or review request)
  6  the space file does not exist or is not a Cairn space, or an archive is
     in a format this Cairn is too old to read
  7  capture --once: some files could not be imported (each is named on stderr)
 10  sync: the workspace server could not be reached or is busy; queued
     submissions stay in the outbox for the next `cairn sync`
 11  sync: the workspace server refused: an invite that is unknown, used or
     expired, a device that was disconnected, or a submission it would not take
 12  sync: the workspace server could not be trusted (its key changed
     unexpectedly, its certificate, or a signature that does not verify);
     nothing was sent or accepted

The passphrase comes from --passphrase-file FILE, else the CAIRN_PASSPHRASE
environment variable, else a prompt. Ids may be shortened to a unique prefix
of at least 4 characters.
"""


#: The workspace server's commands (sync/server/cli.py), with their line in `cairn --help`.
SERVER_COMMANDS = {
    "serve": "run the organisation's workspace server (see docs/server.md)",
    "server": "administer the workspace server: admin, workspaces, invites, devices...",
}


class UsageError(Exception):
    """Bad input from the person: exit code 2."""


def _version() -> str:
    try:
        return metadata.version("cairn")
    except metadata.PackageNotFoundError:
        return "unknown"


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument(
        "--passphrase-file", type=Path, metavar="FILE", help="read the passphrase from FILE"
    )

    parser = argparse.ArgumentParser(
        prog="cairn",
        description="Cairn: your personal learning space, in one encrypted file.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cairn {_version()}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the desktop app on a throwaway demo space (deleted on exit)",
    )
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="check that this installation works (in a temporary space), print what was "
        "checked, and exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_, description=help_, parents=[common], epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        sub.add_argument("space", type=Path, metavar="SPACE", help="the space file")
        return sub

    command("init", "create a new space and print its recovery key once")
    command("info", "show format, id, counts and key-derivation settings (no passphrase)")

    add = command("add", "create an asset and print its id")
    add.add_argument("--template", required=True, metavar="ID", help="template id")
    add.add_argument("--title", required=True, metavar="T")
    _content_options(add)

    listing = command("list", "list assets, most recently updated first")
    listing.add_argument("--tag", action="append", default=[], metavar="TAG",
                         help="only assets with this tag")  # fmt: skip
    listing.add_argument("--template", metavar="ID", help="only assets of this template")

    show = command("show", "show one asset with its fields, tags, links and attachments")
    show.add_argument("id", metavar="ID")
    show.add_argument("--version", type=int, metavar="N", help="show an earlier version")
    show.add_argument(
        "--format",
        choices=("text", "json", "markdown", "html"),
        default="text",
        help="text (default), json, or rendered by the template as markdown or html",
    )

    edit = command("edit", "save a new version of an asset")
    edit.add_argument("id", metavar="ID")
    edit.add_argument("--title", metavar="T")
    _content_options(edit)
    edit.add_argument("--unset", action="append", default=[], metavar="FIELD",
                      help="remove a field")  # fmt: skip
    edit.add_argument("--untag", action="append", default=[], metavar="TAG", help="remove a tag")
    edit.add_argument("--unlink", action="append", default=[], metavar="ID",
                      help="remove a link")  # fmt: skip

    history = command("history", "list the saved versions of an asset")
    history.add_argument("id", metavar="ID")

    restore = command("restore", "make an earlier version current again (as a new version)")
    restore.add_argument("id", metavar="ID")
    restore.add_argument("version", type=int, metavar="VERSION")

    delete = command("delete", "delete an asset with its history and attachments")
    delete.add_argument("id", metavar="ID")

    search = command("search", "full-text search: best match first")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--limit", type=int, default=20, metavar="N")

    attach = command("attach", "add a file to an asset (streamed, encrypted)")
    attach.add_argument("id", metavar="ID")
    attach.add_argument("file", type=Path, metavar="FILE")
    attach.add_argument("--name", metavar="NAME", help="name to store (default: the file's)")

    extract = command("extract", "write an attachment back out, byte-identical")
    extract.add_argument("attachment_id", metavar="ATTACHMENT_ID")
    extract.add_argument("out", type=Path, metavar="OUT")

    passwd = command("passwd", "change the passphrase")
    passwd.add_argument("--new-passphrase-file", type=Path, metavar="F")

    recover = command("recover", "set a new passphrase using the recovery key")
    recover.add_argument("--recovery-key-file", type=Path, metavar="F")
    recover.add_argument("--new-passphrase-file", type=Path, metavar="F")

    capture = command(
        "capture", "import new files from inbox folders as evidence (see docs/capture.md)"
    )
    where = capture.add_mutually_exclusive_group(required=True)
    where.add_argument("--watch", action="append", type=Path, metavar="DIR",
                       help="watch DIR until interrupted (Ctrl+C); repeatable")  # fmt: skip
    where.add_argument("--once", action="append", type=Path, metavar="DIR",
                       help="import what is in DIR now, then exit; repeatable")  # fmt: skip
    capture.add_argument(
        "--after", choices=("keep", "move", "delete"), default="keep",
        help="what becomes of an imported file: keep it (default; it is remembered and never "
        "imported again), move it into DIR/imported/, or delete it (overwritten first)",
    )  # fmt: skip
    capture.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                         help="import a file once unchanged this long (default 2)")  # fmt: skip
    capture.add_argument("--ignore", action="append", default=[], metavar="GLOB",
                         help="also ignore file names matching GLOB; repeatable")  # fmt: skip

    export = command("export", "export the whole space as a portable archive, or assets "
                     "as HTML, Markdown, PDF or LEAP2A (see docs/portable-format.md)")  # fmt: skip
    export.add_argument("out", type=Path, metavar="OUT", help="the file (or folder) to write")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    export.add_argument("--tag", metavar="TAG", help="only assets with this tag")
    export.add_argument("--id", action="append", default=[], dest="ids", metavar="ID",
                        help="only this asset; repeatable (with --tag: both)")  # fmt: skip
    export.add_argument("--archive-passphrase-file", type=Path, metavar="F",
                        help="the portable archive's own passphrase, from F")  # fmt: skip
    export.add_argument("--title", metavar="TEXT",
                        help="the heading of an HTML portfolio or a PDF")  # fmt: skip
    import_ = command("import", "import a portable archive (creating SPACE if it does not "
                      "exist, else merging), a LEAP2A file or a Markdown folder")  # fmt: skip
    import_.add_argument("source", type=Path, metavar="IN", help="the file or folder to import")
    import_.add_argument("--format", choices=IMPORT_FORMATS, help="detected when omitted")
    import_.add_argument("--archive-passphrase-file", type=Path, metavar="F",
                         help="the portable archive's passphrase, from F")  # fmt: skip

    command("new-recovery-key", "issue a new recovery key (shown once); the old one stops working")
    command("verify", "check every record, attachment chunk and the manifest")
    _sync_commands(command)

    templates = commands.add_parser(
        "templates",
        help="list, show, check and copy the templates behind plans and reflections",
        description="Templates are the forms behind assets: see templates/README.md.",
    )
    template_commands = templates.add_subparsers(dest="templates_command", metavar="ACTION")
    template_commands.required = True
    json_only = argparse.ArgumentParser(add_help=False)
    json_only.add_argument("--json", action="store_true", help="print machine-readable JSON")
    template_commands.add_parser("list", help="every template: built-in, yours, organisations'",
                                 parents=[json_only])  # fmt: skip
    template_show = template_commands.add_parser("show", help="a template's sections and fields",
                                                 parents=[json_only])  # fmt: skip
    template_show.add_argument("template_id", metavar="ID")
    template_check = template_commands.add_parser(
        "check", help="check template files; exit 2 listing every problem", parents=[json_only]
    )
    template_check.add_argument("files", type=Path, nargs="+", metavar="FILE")
    template_copy = template_commands.add_parser(
        "copy", help="copy a template into your own folder to edit it", parents=[json_only]
    )
    template_copy.add_argument("template_id", metavar="ID")
    template_copy.add_argument("new_id", metavar="NEW_ID")

    # Handled before parsing by sync.server.cli (see main); listed here for --help.
    for name, help_ in SERVER_COMMANDS.items():
        commands.add_parser(name, help=help_, add_help=False)
    return parser


def _sync_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Workspace sync (see docs/sync.md)."""
    connect = command("connect", "connect the space to an organisation's workspace with an "
                      "invite code (see docs/sync.md)")  # fmt: skip
    connect.add_argument("url", metavar="URL", help="the workspace server's address")
    connect.add_argument("--invite", required=True, metavar="CODE", help="the invite code")
    connect.add_argument("--device-name", metavar="N",
                         help="how this computer is named to the organisation")  # fmt: skip
    connect.add_argument("--ca-bundle", type=Path, metavar="FILE",
                         help="trust the server's certificate from this CA bundle")  # fmt: skip

    command("accounts", "list the workspaces this space is connected to")
    disconnect = command("disconnect", "forget a connected workspace and its device token "
                         "(receipts and feedback stay)")  # fmt: skip
    disconnect.add_argument("account", metavar="WORKSPACE", help="its name, NAME@HOST or id")
    trust = command("trust-key", "trust a workspace server's new signing key, once the "
                    "organisation confirmed it was set up again")  # fmt: skip
    trust.add_argument("account", metavar="WORKSPACE", help="its name, NAME@HOST or id")
    trust.add_argument("key_id", metavar="KEY_ID", help="the new key's id, as confirmed")

    submit = command("submit", "show exactly what would be sent, then sign the chosen assets "
                     "and queue them for a submission point")  # fmt: skip
    submit.add_argument("ids", nargs="+", metavar="ID", help="the assets to send")
    _destination(submit)
    submit.add_argument("--point", required=True, metavar="P",
                        help="the submission point's name or id")  # fmt: skip

    sync = command("sync", "send what waits in the outbox, then fetch feedback and resources")
    sync.add_argument("--workspace", metavar="W", help="only this workspace")

    outbox = command("outbox", "list queued, delivered and failed submissions")
    change = outbox.add_mutually_exclusive_group()
    change.add_argument("--retry", metavar="ENTRY",
                        help="put a failed submission back in the queue")  # fmt: skip
    change.add_argument("--discard", metavar="ENTRY",
                        help="take a submission that was not sent out of the outbox")  # fmt: skip

    feedback = command("feedback", "an asset's submissions, feedback, decision and shares")
    feedback.add_argument("id", metavar="ID")

    reviews = command("reviews", "colleagues' submissions you are asked to peer-review; "
                      "show one, or --send your review of it")  # fmt: skip
    reviews.add_argument("request", nargs="?", metavar="REQUEST",
                         help="the request to show or answer (its id)")  # fmt: skip
    reviews.add_argument("--send", metavar="TEXT",
                         help="send this review of REQUEST ('-': read it from stdin)")  # fmt: skip
    reviews.add_argument("--rating", type=int, choices=range(1, 6), metavar="1-5",
                         help="with --send: a rating from 1 to 5 stars")  # fmt: skip

    resources = command("resources", "documents and links your organisations published "
                        "(--save one to a file)")  # fmt: skip
    resources.add_argument("--save", nargs=2, metavar=("RESOURCE", "FILE"),
                           help="write a kept document to FILE")  # fmt: skip

    share = command("share", "publish assets as a public web page (or --revoke one)")
    share.add_argument("ids", nargs="*", metavar="ID", help="the assets to show on the page")
    _destination(share)
    share.add_argument("--title", metavar="T", help="the page's heading")
    share.add_argument("--comments", action="store_true", help="let readers leave comments")
    share.add_argument("--expires", metavar="DATE", help="take the page down after DATE")
    share.add_argument("--revoke", metavar="SHARE", help="take a published page down")

    withdraw = command("withdraw", "withdraw a delivered submission, where its point allows")
    withdraw.add_argument("submission", metavar="SUBMISSION")


def _destination(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--workspace", metavar="W",
                     help="the workspace (name, NAME@HOST or id) if there are several")  # fmt: skip
    sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_argument("--preview", action="store_true",
                     help="only show what would be sent; send nothing")  # fmt: skip
    sub.add_argument("--include-tags", action="store_true", help="send the assets' tags too")


def _content_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                     dest="set_fields", help="set a field (repeatable)")  # fmt: skip
    sub.add_argument("--tag", action="append", default=[], metavar="TAG", help="add a tag")
    sub.add_argument("--link", action="append", default=[], metavar="ID",
                     help="link to another asset")  # fmt: skip


def _parse_assignments(items: Sequence[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects FIELD=VALUE, got {item!r}")
        pairs.append((name.strip(), value))
    return pairs


# ------------------------------------------------------------------ output


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.bold = sys.stdout.isatty() and not as_json and "NO_COLOR" not in os.environ

    def json(self, value: Any) -> None:
        print(json.dumps(value, indent=2, ensure_ascii=False))

    def line(self, text: str = "") -> None:
        print(text)

    def highlight(self, snippet: str) -> str:
        start, end = ("\033[1m", "\033[0m") if self.bold else ("**", "**")
        return snippet.replace(HIGHLIGHT_START, start).replace(HIGHLIGHT_END, end)


def _warn(message: str) -> None:
    print(f"cairn: warning: {message}", file=sys.stderr)


def _asset_json(space: Space, record: AssetRecord, *, with_attachments: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": record.id,
        "version": record.version,
        "title": record.title,
        "template": record.template_id,
        "template_version": record.template_version,
        "fields": record.fields,
        "tags": record.tags,
        "links": [link.get("target") for link in record.links],
        "linked_from": [s.id for s in space.linked_from(record.id)],
        "created": record.created,
        "updated": record.updated,
    }
    if with_attachments:
        data["attachments"] = [
            {
                "id": a.id,
                "name": a.name,
                "size": a.size,
                "sha256": a.sha256,
                "media_type": a.media_type,
            }  # fmt: skip
            for a in space.attachments(record.id)
        ]
    return data


def template_json(template: Template) -> dict[str, Any]:
    """A template as plain JSON: every field with its id, type and label."""

    def field_json(spec: FieldSpec) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": spec.id, "type": spec.type, "label": spec.label, "prompt": spec.prompt,
            "help": spec.help, "required": spec.required, "default": spec.default,
        }  # fmt: skip
        if spec.unit:
            data["unit"] = spec.unit
        if spec.minimum is not None or spec.maximum is not None:
            data["min"], data["max"] = spec.minimum, spec.maximum
        if spec.options:
            data["options"] = [{"value": o.value, "label": o.label} for o in spec.options]
        if spec.fields:
            data["fields"] = [field_json(sub) for sub in spec.fields]
        return data

    return {
        "id": template.qualified_id,
        "version": template.version,
        "name": template.name,
        "kind": template.kind,
        "source": template.source,
        "description": template.description,
        "sections": [
            {
                "id": s.id,
                "title": s.title,
                "prompt": s.prompt,
                "fields": [field_json(f) for f in s.fields],
            }  # fmt: skip
            for s in template.sections
        ],
        "computed": [
            {"id": c.id, "label": c.label, "function": c.function, "field": c.field}
            for c in template.computed
        ],  # fmt: skip
    }


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _print_asset(out: Output, data: dict[str, Any]) -> None:
    out.line(f"{data['title']}")
    out.line(f"  id:        {data['id']}")
    template = data["template"] + (
        f" {data['template_version']}" if data["template_version"] else ""
    )
    out.line(f"  template:  {template}")
    out.line(f"  version:   {data['version']}")
    out.line(f"  created:   {data['created']}")
    out.line(f"  updated:   {data['updated']}")
    out.line(f"  tags:      {', '.join(data['tags']) or '-'}")
    if data["links"]:
        out.line(f"  links to:  {', '.join(data['links'])}")
    if data["linked_from"]:
        out.line(f"  linked from: {', '.join(data['linked_from'])}")
    if data["fields"]:
        out.line("  fields:")
        for name, value in data["fields"].items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines = str(text).splitlines() or [""]
            out.line(f"    {name}: {lines[0]}")
            for extra in lines[1:]:
                out.line(f"      {extra}")
    for attachment in data.get("attachments", []):
        out.line(
            f"  attachment {attachment['id'][:8]}  {attachment['name']}  "
            f"{_human_size(attachment['size'])}"
        )


# ---------------------------------------------------------------- commands


class Runner:
    """Runs one parsed command; `kdf_policy` is injectable for tests only."""

    def __init__(self, args: argparse.Namespace, kdf_policy: KdfPolicy) -> None:
        self.args = args
        self.policy = kdf_policy
        self.out = Output(args.json)
        self.exit_code = EXIT_OK

    def open(self) -> Space:
        # Say "not a space" before asking for a passphrase it could never need.
        Space.read_header(self.args.space)
        passphrase = get_passphrase(self.args.passphrase_file)
        space = Space.open(self.args.space, passphrase, kdf_policy=self.policy, index="lazy")
        if space.integrity_problem and self.args.command != "verify":
            _warn(
                f"this space failed its integrity check ({space.integrity_problem}); "
                "it is read-only; run 'cairn verify' for details"
            )
        return space

    def run(self) -> int:
        handler: Callable[[], None] = getattr(self, f"cmd_{self.args.command.replace('-', '_')}")
        handler()
        return self.exit_code

    def cmd_templates(self) -> None:
        action = self.args.templates_command
        if action == "check":
            problems = check_files(self.args.files)
            if self.out.as_json:
                self.out.json([asdict(p) for p in problems])
            else:
                for problem in problems:
                    self.out.line(str(problem))
                if not problems:
                    self.out.line(f"ok: {len(self.args.files)} template file(s) checked")
            self.exit_code = EXIT_USAGE if problems else EXIT_OK
            return
        library = TemplateLibrary.load()
        for problem in library.problems:
            _warn(f"skipped a template with problems: {problem}")
        if action == "list":
            templates = library.all()
            if self.out.as_json:
                self.out.json(
                    [{"id": t.qualified_id, "version": t.version, "name": t.name, "kind": t.kind,
                      "source": t.source, "description": t.description} for t in templates]
                )  # fmt: skip
                return
            width = max((len(t.qualified_id) for t in templates), default=0)
            for t in templates:
                self.out.line(f"{t.qualified_id:<{width}}  {t.version:<7}  {t.kind:<10}  {t.name}")
        elif action == "show":
            template = library.get(self.args.template_id)
            data = template_json(template)
            if self.out.as_json:
                self.out.json(data)
                return
            self.out.line(f"{template.name}  ({template.qualified_id} {template.version}, "
                          f"{template.kind})")  # fmt: skip
            description = " ".join(template.description.split())
            self.out.line(
                textwrap.fill(description, 88, initial_indent="  ", subsequent_indent="  ")
            )
            for section in data["sections"]:
                self.out.line("")
                self.out.line(f"  {section['title']}")
                for spec in section["fields"]:
                    flag = " (required)" if spec["required"] else ""
                    self.out.line(f"    {spec['id']:<18} {spec['type']:<11} {spec['label']}{flag}")
                    if spec["prompt"]:
                        self.out.line(f"    {'':<18} {'':<11} {spec['prompt']}")
        else:  # copy
            try:
                target = library.copy_to_user(self.args.template_id, self.args.new_id)
            except (ValueError, FileExistsError) as error:
                raise UsageError(str(error)) from error
            if self.out.as_json:
                self.out.json({"id": f"user/{self.args.new_id}", "path": str(target)})
            else:
                self.out.line(f"Copied to {target}; edit it there (it is user/{self.args.new_id}).")

    def cmd_init(self) -> None:
        passphrase = get_passphrase(self.args.passphrase_file, prompt="New passphrase: ",
                                    confirm=True)  # fmt: skip
        if self.args.space.exists():
            raise UsageError(f"{self.args.space} already exists; choose another file")
        space, recovery_key = Space.create(self.args.space, passphrase, kdf_policy=self.policy)
        with space:
            if self.out.as_json:
                self.out.json({"space_id": space.space_id, "recovery_key": recovery_key})
                return
            self.out.line(f"Created the space {self.args.space} (id {space.space_id}).")
            self.out.line("")
            self.out.line("Your recovery key opens the space if you forget the passphrase.")
            self.out.line("Write it down and keep it somewhere safe: it is shown only this once.")
            self.out.line("")
            self.out.line(f"    {recovery_key}")

    def cmd_info(self) -> None:
        header = Space.read_header(self.args.space)
        if self.out.as_json:
            self.out.json(asdict(header))
            return
        kdf = header.kdf
        self.out.line(f"space:          {self.args.space}")
        self.out.line(f"space id:       {header.space_id}")
        self.out.line(f"format:         cairn-space {header.format_version}, "
                      f"schema {header.schema_version}")  # fmt: skip
        self.out.line(f"assets:         {header.assets} ({header.versions} earlier versions)")
        self.out.line(f"attachments:    {header.attachments} "
                      f"({_human_size(header.attachment_bytes)})")  # fmt: skip
        memory = kdf.get("m")
        # Shown as stored; nothing here is trusted (`verify` and unlock check it).
        memory_text = f"{memory // 1024} MiB" if isinstance(memory, int) else repr(memory)
        self.out.line(
            f"key derivation: {kdf.get('alg', '?')!s}, {memory_text}, "
            f"{kdf.get('t', '?')!s} passes, {kdf.get('p', '?')!s} lanes"
        )

    def cmd_add(self) -> None:
        pairs = _parse_assignments(self.args.set_fields)
        if not self.args.title.strip():
            raise UsageError("the title must not be empty")
        template = TemplateLibrary.load().get(self.args.template)
        values = apply_assignments(template, defaults(template), pairs)
        with self.open() as space:
            record = space.add_asset(
                template.qualified_id,
                self.args.title.strip(),
                values,
                self.args.tag,
                self.args.link,
                template_version=template.version,
                template=template,
            )
            if self.out.as_json:
                self.out.json({"id": record.id})
            else:
                self.out.line(record.id)

    def cmd_list(self) -> None:
        with self.open() as space:
            summaries, damaged = space.list_assets()
        wanted = {tag.casefold() for tag in self.args.tag}
        summaries = [
            s for s in summaries
            if wanted <= {t.casefold() for t in s.tags}
            and (self.args.template is None or s.template_id == self.args.template)
        ]  # fmt: skip
        if self.out.as_json:
            self.out.json(
                [
                    {
                        "id": s.id,
                        "title": s.title,
                        "template": s.template_id,
                        "tags": s.tags,
                        "created": s.created,
                        "updated": s.updated,
                        "version": s.version,
                    }  # fmt: skip
                    for s in summaries
                ]
            )
        elif not summaries:
            self.out.line(
                "No assets yet. Add one with: "
                f"cairn add {self.args.space} --template journal --title 'What I learned today'"
            )
        else:
            width = min(48, max(len(s.title) for s in summaries))
            templates = [s.template_id.removeprefix("builtin/") for s in summaries]
            template_width = max(len(t) for t in templates)
            for s, template in zip(summaries, templates, strict=True):
                title = s.title if len(s.title) <= width else s.title[: width - 1] + "…"
                tags = ", ".join(s.tags)
                self.out.line(
                    f"{s.id[:8]}  {title:<{width}}  {template:<{template_width}}  "
                    f"{s.updated[:16].replace('T', ' ')}  {tags}".rstrip()
                )
        if damaged:
            _warn(f"{len(damaged)} asset(s) could not be read: " + ", ".join(damaged))
            self.exit_code = EXIT_DAMAGED

    def cmd_show(self) -> None:
        with self.open() as space:
            asset_id = space.resolve_asset_id(self.args.id)
            if self.args.version is not None:
                record = space.get_version(asset_id, self.args.version)
            else:
                record = space.get_asset(asset_id)
            data = _asset_json(space, record, with_attachments=True)
            template = TemplateLibrary.load().exact(record.template_id)
            if template is not None:
                data["computed"] = computed_values(template, record.fields)
            if self.args.format in ("markdown", "html"):
                titles = {s.id: s.title for s in space.list_assets()[0]}
                files = {a["id"]: a["name"] for a in data["attachments"]}

                def names(item_id: str) -> str | None:
                    return files.get(item_id) or titles.get(item_id)

                render = to_markdown if self.args.format == "markdown" else to_html
                self.out.line(render(record, template, names).rstrip("\n"))
                return
        if self.out.as_json or self.args.format == "json":
            self.out.json(data)
        else:
            _print_asset(self.out, data)

    def cmd_edit(self) -> None:
        pairs = _parse_assignments(self.args.set_fields)
        if self.args.title is not None and not self.args.title.strip():
            raise UsageError("the title must not be empty")
        library = TemplateLibrary.load()
        with self.open() as space:
            asset_id = space.resolve_asset_id(self.args.id)
            current = space.get_asset(asset_id)
            template = library.exact(current.template_id)
            upgrade: dict[str, Any] = {}
            if template is not None:
                # Written against another version? Fit the answers; drop none.
                fitted = upgrade_answers(template, current.fields, current.earlier)
                values = {k: v for k, v in fitted.values.items() if k not in self.args.unset}
                values = apply_assignments(template, values, pairs)
                upgrade = {"template_version": template.version, "earlier": fitted.earlier,
                           "template": template}  # fmt: skip
            else:  # an asset whose template is not installed: free-form text
                values = {k: v for k, v in current.fields.items() if k not in self.args.unset}
                values.update(dict(pairs))
            record = space.edit_asset(
                asset_id,
                title=self.args.title.strip() if self.args.title else None,
                fields=values,
                add_tags=self.args.tag,
                remove_tags=self.args.untag,
                add_links=self.args.link,
                remove_links=self.args.unlink,
                **upgrade,
            )
        if self.out.as_json:
            self.out.json({"id": record.id, "version": record.version})
        else:
            self.out.line(f"Saved version {record.version} of {record.id}.")

    def cmd_history(self) -> None:
        with self.open() as space:
            versions = space.history(space.resolve_asset_id(self.args.id))
        if self.out.as_json:
            self.out.json([asdict(v) for v in versions])
            return
        for v in versions:
            marker = "  (current)" if v.current else ""
            self.out.line(f"{v.version:>4}  {v.saved.replace('T', ' ')[:19]}  {v.title}{marker}")

    def cmd_restore(self) -> None:
        with self.open() as space:
            asset_id = space.resolve_asset_id(self.args.id)
            record = space.restore_version(asset_id, self.args.version)
        if self.out.as_json:
            self.out.json({"id": record.id, "version": record.version})
        else:
            self.out.line(
                f"Restored version {self.args.version} as version {record.version} of {record.id}."
            )

    def cmd_delete(self) -> None:
        with self.open() as space:
            asset_id = space.resolve_asset_id(self.args.id)
            space.delete_asset(asset_id)
        if self.out.as_json:
            self.out.json({"deleted": asset_id})
        else:
            self.out.line(f"Deleted {asset_id} with its history and attachments.")

    def cmd_search(self) -> None:
        with self.open() as space:
            hits = space.search(self.args.query, limit=max(1, self.args.limit))
        if self.out.as_json:
            plain = Output(as_json=False)
            plain.bold = False
            self.out.json(
                [
                    {
                        "id": h.asset_id,
                        "title": h.title,
                        "snippet": plain.highlight(h.snippet),
                        "score": round(h.score, 4),
                    }
                    for h in hits
                ]  # fmt: skip
            )
            return
        if not hits:
            self.out.line(f"Nothing matches {self.args.query!r}.")
        for hit in hits:
            self.out.line(f"{hit.asset_id[:8]}  {hit.title}")
            self.out.line(f"          {self.out.highlight(' '.join(hit.snippet.split()))}")

    def cmd_attach(self) -> None:
        source: Path = self.args.file
        if not source.is_file():
            raise UsageError(f"{source} is not a readable file")
        with self.open() as space:
            info = space.attach(space.resolve_asset_id(self.args.id), source, self.args.name)
        if self.out.as_json:
            self.out.json({"attachment_id": info.id})
        else:
            self.out.line(info.id)

    def cmd_extract(self) -> None:
        out: Path = self.args.out
        if out.is_dir():
            raise UsageError(f"{out} is a folder; give a file name")
        if not out.parent.is_dir():
            raise UsageError(f"the folder {out.parent} does not exist")
        with self.open() as space:
            info = space.extract(space.resolve_attachment_id(self.args.attachment_id), out)
        if self.out.as_json:
            self.out.json({"attachment_id": info.id, "path": str(out), "size": info.size,
                           "sha256": info.sha256})  # fmt: skip
        else:
            self.out.line(f"Wrote {info.name} ({_human_size(info.size)}) to {out}.")

    def cmd_capture(self) -> None:
        from app.capture import (
            DEFAULT_IGNORE,
            AfterImport,
            CaptureService,
            CaptureSettings,
            CaptureSummary,
            InboxFolder,
        )

        folders: list[Path] = self.args.watch or self.args.once
        for folder in folders:
            if not folder.is_dir():
                raise UsageError(f"{folder} is not a folder")
        if not 0 <= self.args.settle <= 3600:
            raise UsageError("--settle takes a number of seconds from 0 to 3600")
        settings = CaptureSettings(
            settle_seconds=self.args.settle, ignore=DEFAULT_IGNORE + tuple(self.args.ignore)
        )
        inboxes = [InboxFolder(folder, AfterImport(self.args.after)) for folder in folders]
        summary = CaptureSummary()
        with self.open() as space:
            if space.integrity_problem:
                raise DamagedSpace("nothing can be captured into a space that is read-only")
            if self.args.once:
                service = CaptureService(
                    space, inboxes, lambda event: self._capture_line(event, summary),
                    settings=settings,
                )  # fmt: skip
                service.run_once()
            else:
                events: queue.SimpleQueue[CaptureEvent] = queue.SimpleQueue()
                service = CaptureService(space, inboxes, events.put, settings=settings)
                self._watch_until_stopped(service, events, summary)
        print(
            f"cairn: {summary.imported} imported, {summary.duplicates} already in the space, "
            f"{summary.skipped} skipped, {summary.failed} failed",
            file=sys.stderr,
        )
        if self.args.once and summary.failed:
            self.exit_code = EXIT_NOT_ALL_CAPTURED

    def _watch_until_stopped(
        self,
        service: CaptureService,
        events: queue.SimpleQueue[CaptureEvent],
        summary: CaptureSummary,
    ) -> None:
        """Print events as they come until SIGINT or SIGTERM; both stop cleanly."""
        stop = threading.Event()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for wanted in (signal.SIGINT, signal.SIGTERM):
                previous[wanted] = signal.signal(wanted, lambda *_: stop.set())
        try:
            service.start()
            count = len(service.folders)
            print(f"cairn: watching {count} folder{'s' if count != 1 else ''}; "
                  "press Ctrl+C to stop", file=sys.stderr, flush=True)  # fmt: skip
            while not stop.is_set():
                try:
                    self._capture_line(events.get(timeout=0.2), summary)
                except queue.Empty:
                    continue
        finally:
            service.stop()
            for number, handler in previous.items():
                signal.signal(number, handler)
        while not events.empty():
            self._capture_line(events.get_nowait(), summary)

    def _capture_line(self, event: CaptureEvent, summary: CaptureSummary) -> None:
        """One line per event: files on stdout, problems on stderr (JSON: all on stdout)."""
        from app.capture import Duplicate, Failed, FolderBack, FolderMissing, Imported, Skipped

        summary.count(event)
        path = _printable(str(getattr(event, "path", None) or getattr(event, "folder", "")))
        if self.out.as_json:
            kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
            data: dict[str, Any] = {"event": kind, "path": path}
            for name, value in vars(event).items():
                if name not in ("path", "folder") and value is not None:
                    data[name] = _printable(str(value)) if isinstance(value, Path) else value
            print(json.dumps(data, ensure_ascii=False), flush=True)
            return
        if isinstance(event, Imported):
            moved = f"; moved to {_printable(str(event.moved_to))}" if event.moved_to else ""
            line = f"Imported {path} as {event.asset_id[:8]} {_printable(event.title)!r}{moved}"
        elif isinstance(event, Duplicate):
            line = (f"Already in the space: {path} has the same content as "
                    f"{event.existing_asset_id[:8]}; not imported again")  # fmt: skip
        elif isinstance(event, Skipped):
            line = f"Skipped {path}: {event.reason}"
        elif isinstance(event, FolderBack):
            line = f"The folder {path} is back; watching it again"
        elif isinstance(event, FolderMissing):
            print(f"cairn: warning: the folder {path} is missing; waiting for it to come back",
                  file=sys.stderr, flush=True)  # fmt: skip
            return
        else:
            assert isinstance(event, Failed)
            print(f"cairn: could not import {path}: {event.message}", file=sys.stderr, flush=True)
            return
        print(line, flush=True)

    # ---------------------------------------------------------- export, import

    def _archive_passphrase(self, *, confirm: bool) -> str:
        """--archive-passphrase-file, else CAIRN_ARCHIVE_PASSPHRASE, else a prompt."""
        if self.args.archive_passphrase_file is not None:
            passphrase = read_secret_file(self.args.archive_passphrase_file)
        elif ARCHIVE_PASSPHRASE_VARIABLE in os.environ:
            # Taken out, like CAIRN_PASSPHRASE, so that programs started later do not see it.
            passphrase = os.environ.pop(ARCHIVE_PASSPHRASE_VARIABLE)
        elif not sys.stdin.isatty():
            raise UsageError("no archive passphrase: use --archive-passphrase-file F or set "
                             f"{ARCHIVE_PASSPHRASE_VARIABLE}")  # fmt: skip
        else:
            passphrase = getpass.getpass("Archive passphrase: ")
            if confirm and getpass.getpass("Repeat the archive passphrase: ") != passphrase:
                raise UsageError("the two archive passphrases do not match")
        if not passphrase:
            raise UsageError("the archive passphrase must not be empty")
        return passphrase

    def _archive_work_factor(self) -> int | None:
        # A policy with fixed parameters is the test suite's cheap one (store/kdf.py):
        # archives written under it get a cheap scrypt too. Production: age's default.
        return None if self.policy.fixed is None else TEST_ARCHIVE_WORK_FACTOR

    def cmd_export(self) -> None:
        exporter = exporter_for(self.args.format)  # "not available yet" before any prompt
        selection = Selection(tuple(self.args.ids), self.args.tag)
        out: Path = self.args.out
        if self.args.format == "portable":
            if not selection.everything:
                raise UsageError("a portable archive holds the whole space; --id and --tag "
                                 "are for the other formats")  # fmt: skip
            if out.is_dir():
                raise UsageError(f"{out} is a folder; give a file name for the archive")
        if not out.absolute().parent.is_dir():
            raise UsageError(f"the folder {out.absolute().parent} does not exist")
        with self.open() as space:
            job = ExportJob(space, out, selection, title=(self.args.title or "").strip() or None)
            if self.args.format == "portable":
                job.archive_passphrase = self._archive_passphrase(confirm=True)
                job.archive_work_factor = self._archive_work_factor()
            report = exporter(job)
        self._transfer_summary(report, f"Exported to {_printable(str(out))}")

    def cmd_import(self) -> None:
        source: Path = self.args.source
        if not source.exists():
            raise UsageError(f"{source} does not exist")
        kind = self.args.format or detect_format(source)
        if kind == "portable":
            self._import_portable(source)
            return
        importer = importer_for(kind)
        with self.open() as space:
            report = importer(ImportJob(space, source))
        self._transfer_summary(report, f"Imported into {_printable(str(self.args.space))}")

    def _import_portable(self, source: Path) -> None:
        from app.portable import NewSpace, import_portable

        space_path: Path = self.args.space
        if space_path.exists():
            with self.open() as space:
                report = import_portable(source, space, self._archive_passphrase(confirm=False))
            self._transfer_summary(report, f"Merged into {_printable(str(space_path))}")
            return
        if not space_path.absolute().parent.is_dir():
            raise UsageError(f"the folder {space_path.absolute().parent} does not exist")
        archive_passphrase = self._archive_passphrase(confirm=False)
        passphrase = get_passphrase(
            self.args.passphrase_file, prompt="New passphrase for the space: ", confirm=True
        )
        new = NewSpace(space_path, passphrase, self.policy)
        report = import_portable(source, new, archive_passphrase)
        self._transfer_summary(report, f"Created {_printable(str(space_path))} from the archive")
        if report.recovery_key and not self.out.as_json:
            self.out.line("")
            self.out.line("Your recovery key opens the space if you forget the passphrase.")
            self.out.line("Write it down and keep it somewhere safe: it is shown only this once.")
            self.out.line("")
            self.out.line(f"    {report.recovery_key}")

    def _transfer_summary(self, report: TransferReport, what: str) -> None:
        """One line (or a JSON object) on stdout; warnings on stderr; exit 4 if damaged."""
        for message in report.warnings:
            _warn(message)
        for message in report.skipped:
            _warn(f"not included: {message}")
        for message in report.damaged:
            _warn(f"could not be read, so not included: {message}")
        if report.damaged:
            self.exit_code = EXIT_DAMAGED
        if self.out.as_json:
            data: dict[str, Any] = {
                "format": report.format, "path": str(report.path) if report.path else None,
                "assets": report.assets, "files": report.files, "bytes": report.bytes,
                "warnings": report.warnings, "skipped": report.skipped,
                "damaged": report.damaged, "details": report.details,
            }  # fmt: skip
            for name in ("space_id", "recovery_key"):
                if getattr(report, name, None):
                    data[name] = getattr(report, name)
            self.out.json(data)
            return
        counts = ", ".join(f"{value} {name}" for name, value in report.details.items()
                           if name in ("new", "merged", "unchanged") and value)  # fmt: skip
        self.out.line(
            f"{what} ({report.format}): {report.assets} asset{'s' if report.assets != 1 else ''}"
            + (f" ({counts})" if counts else "")
            + f", {report.files} file{'s' if report.files != 1 else ''} "
            f"({_human_size(report.bytes)})"
            + (f", {len(report.warnings)} warning(s)" if report.warnings else "")
            + "."
        )

    def _new_passphrase(self) -> str:
        if self.args.new_passphrase_file is not None:
            return read_secret_file(self.args.new_passphrase_file)
        if not sys.stdin.isatty():
            raise UsageError("no new passphrase: use --new-passphrase-file F")
        # Always asked for: CAIRN_PASSPHRASE is the current passphrase, never the new one.
        first = getpass.getpass("New passphrase: ")
        if getpass.getpass("Repeat the new passphrase: ") != first:
            raise UsageError("the two passphrases do not match")
        return first

    def cmd_passwd(self) -> None:
        with self.open() as space:
            new = self._new_passphrase()
            space.change_passphrase(new)
        self._done("The passphrase has been changed.")

    def cmd_recover(self) -> None:
        Space.read_header(self.args.space)
        if self.args.recovery_key_file is not None:
            recovery_key = read_secret_file(self.args.recovery_key_file)
        elif sys.stdin.isatty():
            recovery_key = getpass.getpass("Recovery key (not shown): ")
        else:
            raise UsageError("no recovery key: use --recovery-key-file F")
        with Space.open_with_recovery_key(
            self.args.space, recovery_key, kdf_policy=self.policy
        ) as space:
            space.change_passphrase(self._new_passphrase())
        self._done("A new passphrase has been set with the recovery key.")

    def _done(self, message: str) -> None:
        if self.out.as_json:
            self.out.json({"ok": True})
        else:
            self.out.line(message)

    def cmd_new_recovery_key(self) -> None:
        with self.open() as space:
            recovery_key = space.replace_recovery_key()
        if self.out.as_json:
            self.out.json({"recovery_key": recovery_key})
            return
        self.out.line("Your new recovery key (the old one no longer works). It is shown only once:")
        self.out.line("")
        self.out.line(f"    {recovery_key}")

    def cmd_verify(self) -> None:
        with self.open() as space:
            report = space.verify()
        if self.out.as_json:
            self.out.json(
                {
                    "ok": report.ok,
                    "assets": report.assets,
                    "versions": report.versions,
                    "attachments": report.attachments,
                    "attachment_bytes": report.attachment_bytes,
                    "problems": [asdict(p) for p in report.problems],
                }  # fmt: skip
            )
        else:
            for problem in report.problems:
                self.out.line(f"DAMAGED  {problem.where}: {problem.what}")
            verdict = "ok" if report.ok else f"{len(report.problems)} problem(s) found"
            self.out.line(
                f"{verdict}: checked {report.assets} assets, {report.versions} earlier versions, "
                f"{report.attachments} attachments ({_human_size(report.attachment_bytes)})"
            )
        if not report.ok:
            self.exit_code = EXIT_DAMAGED

    # ------------------------------------------------------------------- sync

    def cmd_connect(self) -> None:
        from app.syncing.accounts import connect

        if self.args.ca_bundle is not None and not self.args.ca_bundle.is_file():
            raise UsageError(f"{self.args.ca_bundle} is not a readable file")
        with self.open() as space:
            account = connect(space, self.args.url, self.args.invite, self.args.device_name,
                              ca_bundle=self.args.ca_bundle)  # fmt: skip
        if self.out.as_json:
            self.out.json(account.public())
            return
        self.out.line(f"Connected to {account.workspace_name} on {account.host} as "
                      f"{account.email} ({account.role}).")  # fmt: skip
        self.out.line(f"The server's signing key {account.server_key_id} is pinned: anything "
                      "signed with another key will be refused.")  # fmt: skip
        points = ", ".join(p["name"] for p in account.points) or "none yet"
        self.out.line(f"Submission points: {points}.")

    def cmd_accounts(self) -> None:
        from app.syncing.accounts import accounts

        with self.open() as space:
            found = accounts(space)
        if self.out.as_json:
            self.out.json([a.public() for a in found])
            return
        if not found:
            self.out.line("Not connected to any workspace. Connect with: cairn connect "
                          f"{self.args.space} URL --invite CODE")  # fmt: skip
        for account in found:
            self.out.line(f"{account.id[:8]}  {account.label}  {account.email} ({account.role})  "
                          f"last sync: {_when(account.last_sync) or 'never'}")  # fmt: skip
            if account.problem:
                self.out.line(f"          problem: {account.problem.get('message')}")

    def cmd_disconnect(self) -> None:
        from app.syncing.accounts import disconnect, find_account

        with self.open() as space:
            account = find_account(space, self.args.account)
            waiting = disconnect(space, account)
        if self.out.as_json:
            self.out.json({"disconnected": account.id, "waiting": waiting})
            return
        self.out.line(f"Disconnected from {account.label}; its device token is forgotten. "
                      "Receipts, feedback and shares stay in the space.")  # fmt: skip
        if waiting:
            self.out.line(f"{waiting} submission(s) not yet sent stay in the outbox; connect "
                          "the workspace again to send them.")  # fmt: skip

    def cmd_trust_key(self) -> None:
        from app.syncing.accounts import accept_server_key, find_account

        with self.open() as space:
            changed = accept_server_key(space, find_account(space, self.args.account),
                                        self.args.key_id)  # fmt: skip
        if self.out.as_json:
            self.out.json({"accounts": [a.id for a in changed], "key_id": self.args.key_id})
            return
        names = ", ".join(a.label for a in changed) or "no workspace (the key was trusted already)"
        self.out.line(f"The key {self.args.key_id} is now trusted for {names}.")

    def _confirm(self, preview: Preview, question: str) -> bool:
        """Show the preview; True to go on (--yes, or the person said yes)."""
        if self.out.as_json:
            if self.args.preview:
                self.out.json(preview.to_dict())
        else:
            _print_preview(self.out, preview)
        if self.args.preview:
            return False
        if self.args.yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError("nothing was sent: add --yes to confirm without a prompt, or "
                             "--preview to only look")  # fmt: skip
        answer = input(f"{question} [y/N] ").strip().casefold()
        if answer not in ("y", "yes"):
            raise UsageError("nothing was sent")
        return True

    def cmd_submit(self) -> None:
        from app.syncing.accounts import find_account
        from app.syncing.disclosure import preview, queue_submission
        from app.syncing.outbox import OutboxEntry

        with self.open() as space:
            account = find_account(space, self.args.workspace)
            point = _point_id(account, self.args.point)
            shown = preview(space, self.args.ids, account, point,
                            include_tags=self.args.include_tags)  # fmt: skip
            if not self._confirm(shown, f"Sign and send this to {shown.point_name}?"):
                return
            entry = OutboxEntry.from_record(queue_submission(space, shown))
        if self.out.as_json:
            self.out.json({"preview": shown.to_dict(), "queued": entry.to_dict()})
            return
        self.out.line(f"Signed and queued as {entry.submission_id}; it is sent with the next "
                      f"'cairn sync {self.args.space}'.")  # fmt: skip

    def cmd_sync(self) -> None:
        from app.syncing.accounts import find_account
        from app.syncing.worker import sync_once

        with self.open() as space:
            chosen = [find_account(space, self.args.workspace).id] if self.args.workspace else None
            report = sync_once(space, chosen, only_due=False)
        self._sync_summary(report)

    def _sync_summary(self, report: SyncReport) -> None:
        for problem in report.problems:
            print(f"cairn: {problem}", file=sys.stderr)
        codes: set[str] = set()
        for item in report.accounts:
            codes.add(item.push.stopped_code or "")
            if item.pull is not None:
                codes.add(item.pull.stopped_code or "")
            if item.push.failed:
                codes.add("refused")
            if item.push.unreachable:
                codes.add("unreachable")
        if codes & {"server_key_changed", "bad_signature", "certificate_rejected"}:
            self.exit_code = EXIT_UNTRUSTED
        elif codes & {"token_revoked", "token_expired", "not_authorised", "refused"}:
            self.exit_code = EXIT_REFUSED
        elif "unreachable" in codes:
            self.exit_code = EXIT_OFFLINE
        if self.out.as_json:
            self.out.json({"ok": report.ok, "problems": report.problems, "accounts": [
                {"account_id": a.account_id, "label": a.label,
                 "delivered": a.push.delivered, "waiting": [e for e, _ in a.push.waiting],
                 "failed": [{"entry": e, "reason": r} for e, r in a.push.failed],
                 "stopped": a.push.stopped or (a.pull.stopped if a.pull else None),
                 "pulled": dict(a.pull.stored) if a.pull else {},
                 "templates": a.pull.templates if a.pull else [],
                 "cursor": a.pull.cursor if a.pull else None}
                for a in report.accounts]})  # fmt: skip
            return
        if not report.accounts:
            self.out.line("Not connected to any workspace; nothing to sync.")
        for item in report.accounts:
            pulled = dict(item.pull.stored) if item.pull else {}
            got = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in pulled.items())
            self.out.line(
                f"{item.label}: {len(item.push.delivered)} sent, {len(item.push.waiting)} "
                f"waiting, {len(item.push.failed)} refused; received {got or 'nothing new'}."
            )
            for template in item.pull.templates if item.pull else []:
                self.out.line(f"  new template: {template}")

    def cmd_outbox(self) -> None:
        from app.syncing.outbox import OutboxEntry, discard, entries, retry

        with self.open() as space:
            if self.args.retry:
                entry: OutboxEntry | None = retry(space, self.args.retry)
                message = f"Queued again: {entry.submission_id if entry else ''}."
            elif self.args.discard:
                discard(space, self.args.discard)
                entry, message = None, "Taken out of the outbox."
            else:
                entry, message = None, ""
            found = entries(space)
        if message:
            if self.out.as_json:
                self.out.json({"ok": True, "entry": entry.to_dict() if entry else None})
            else:
                self.out.line(message)
            return
        if self.out.as_json:
            self.out.json([e.to_dict() for e in found])
            return
        if not found:
            self.out.line("The outbox is empty.")
        for e in found:
            titles = "; ".join(e.titles)
            self.out.line(f"{e.submission_id[:8]}  {e.state:<9}  {e.workspace_name} / "
                          f"{e.point_name}  {titles}")  # fmt: skip
            if e.state == "delivered":
                self.out.line(f"          delivered {_when(e.delivered_at)}, receipt verified")
            elif e.last_error:
                then = f"; next try after {_when(e.next_attempt)}" if e.next_attempt else ""
                self.out.line(f"          {e.last_error} (attempt {e.attempts}{then})")

    def cmd_feedback(self) -> None:
        from app.syncing.status import DECISION_LABELS, asset_status

        with self.open() as space:
            asset_id = space.resolve_asset_id(self.args.id)
            title = space.get_asset(asset_id).title
            status = asset_status(space, asset_id)
        if self.out.as_json:
            self.out.json({"title": title, **status.to_dict()})
            return
        self.out.line(title)
        if not (status.submissions or status.shares):
            self.out.line("  Never sent or shared.")
        for s in status.submissions:
            received = f", received {_when(s.receipt.received_at)}" if s.receipt else ""
            reason = f": {s.reason}" if s.reason else ""
            where = {"queued": "queued for", "sending": "being sent to", "failed": "failed for",
                     "withdrawn": "withdrawn from"}.get(s.state, f"{s.state} to")  # fmt: skip
            self.out.line(f"  {where} {s.point_name} ({s.workspace_name}){received}{reason}")
        if status.decision is not None and status.decision.decision:
            label = DECISION_LABELS.get(status.decision.decision, status.decision.decision)
            self.out.line(f"  Decision: {label} ({status.decision.author}, "
                          f"{_when(status.decision.created_at)})")  # fmt: skip
        for item in status.feedback:
            what = {"decision": "decision", "peer_review": "peer review"}.get(item.kind, "comment")
            rating = f", rated {item.rating} of 5" if item.rating else ""
            self.out.line(f"  - {item.author} ({what}{rating}, {_when(item.created_at)}):")
            for line in (item.text or "").splitlines() or [""]:
                self.out.line(f"      {line}")
        for share in status.shares:
            state = "revoked" if share.revoked else (share.url or "address lost")
            self.out.line(f"  Shared as {share.title!r}: {state}")
        for comment in status.share_comments:
            self.out.line(f"  - comment on the page by {comment.author_name or 'someone'}: "
                          f"{comment.text}")  # fmt: skip

    def cmd_reviews(self) -> None:
        from app.syncing.reviews import review_request, review_requests, send_peer_review

        if (self.args.send is not None or self.args.rating is not None) and not self.args.request:
            raise UsageError("name the review request to answer")
        if self.args.rating is not None and self.args.send is None:
            raise UsageError("--rating goes with --send")
        text = sys.stdin.read() if self.args.send == "-" else self.args.send
        with self.open() as space:
            if self.args.request is None:
                found = review_requests(space)
            else:
                found = [review_request(space, self.args.request)]
                if text is not None:
                    found = [send_peer_review(space, found[0].id, text, self.args.rating)]
        if self.out.as_json:
            shown = [_review_json(r) for r in found]
            self.out.json(shown if self.args.request is None else shown[0])
            return
        if text is not None:
            self.out.line(f"Sent your review of {_review_titles(found[0])} to "
                          f"{found[0].data.get('workspace_name', '')}.")  # fmt: skip
            return
        if not found:
            self.out.line("Nobody has asked you to review a submission.")
        for record in found if self.args.request is None else []:
            data = record.data
            state = f"reviewed {_when(data['reviewed_at'])}" if data.get("reviewed_at") else "to do"
            self.out.line(f"{record.id[:8]}  {state:<28}  {data.get('workspace_name', '')}  "
                          f"{_review_titles(record)}")  # fmt: skip
        if self.args.request is not None:
            _print_review_request(self.out, found[0])

    def cmd_resources(self) -> None:
        from app.syncing.resources import organisation_resources, save_document

        with self.open() as space:
            found = organisation_resources(space)
            if self.args.save:
                wanted, target = self.args.save
                chosen = _one_resource(found, wanted)
                save_document(space, chosen.id, Path(target))
        if self.args.save:
            if self.out.as_json:
                self.out.json({"id": chosen.id, "saved": str(Path(target).absolute())})
            else:
                self.out.line(f"Saved {chosen.name!r} to {target}.")
            return
        if self.out.as_json:
            self.out.json([r.__dict__ for r in found])
            return
        if not found:
            self.out.line("No documents or links from an organisation yet.")
        for r in found:
            if r.kind == "link":
                what = r.url or "an address that cannot be opened"
            elif r.kept:
                what = f"document, {_human_size(r.size or 0)}, kept"
            else:
                what = f"document, not kept: {r.problem or 'unknown reason'}"
            self.out.line(f"{r.id[:8]}  {r.workspace_name}  {r.name} (v{r.version}): {what}")

    def cmd_share(self) -> None:
        from app.syncing.accounts import find_account
        from app.syncing.disclosure import preview
        from app.syncing.sharing import publish_share, revoke_share

        if self.args.revoke:
            if self.args.ids:
                raise UsageError("--revoke takes a share id, not assets")
            with self.open() as space:
                record = revoke_share(space, self.args.revoke)
            if self.out.as_json:
                self.out.json({"share_id": record.data["share_id"], "revoked": True})
            else:
                self.out.line(f"The page {record.data['title']!r} is taken down.")
            return
        if not self.args.ids:
            raise UsageError("name the assets to share, or --revoke SHARE")
        expires = _expiry(self.args.expires) if self.args.expires else None
        with self.open() as space:
            account = find_account(space, self.args.workspace)
            shown = preview(space, self.args.ids, account, "",
                            include_tags=self.args.include_tags)  # fmt: skip
            if not self._confirm(shown, "Publish this as a public web page?"):
                return
            record = publish_share(space, shown, title=self.args.title,
                                   comments=self.args.comments, expires_at=expires)  # fmt: skip
        if self.out.as_json:
            keys = ("share_id", "url", "title", "comments_enabled", "expires_at")
            self.out.json({k: record.data.get(k) for k in keys})
            return
        self.out.line(f"Published: {record.data['url']}")
        revoke = f"cairn share {self.args.space} --revoke {record.data['share_id'][:8]}"
        self.out.line(f"Anyone with this address can read the page; '{revoke}' takes it down.")

    def cmd_withdraw(self) -> None:
        from app.syncing.outbox import withdraw

        with self.open() as space:
            record = withdraw(space, self.args.submission)
        if self.out.as_json:
            self.out.json({"submission_id": record.data["submission_id"],
                           "status": record.data["status"]})  # fmt: skip
        else:
            self.out.line(f"Withdrawn from {record.data.get('point_name')}; the receipt is kept.")


def _one_resource(found: Sequence[OrganisationResource], wanted: str) -> OrganisationResource:
    from app.syncing.errors import NoSuchEntry

    text = wanted.strip()
    matches = [r for r in found if r.id == text.lower() or r.name.casefold() == text.casefold()]
    if not matches and len(text) >= 4:
        matches = [r for r in found if r.id.startswith(text.lower())]
    if len(matches) != 1:
        raise NoSuchEntry(f"no single document or link matches {wanted!r}; see "
                          "'cairn resources SPACE'")  # fmt: skip
    return matches[0]


def _review_titles(record: SyncRecord) -> str:
    assets = [a for a in record.data.get("assets") or [] if isinstance(a, dict)]
    return "; ".join(str(a.get("title", "")) for a in assets) or "a submission"


def _review_json(record: SyncRecord) -> dict[str, Any]:
    keys = ("account_id", "workspace_name", "submission_id", "received", "assets",
            "reviewed_at", "review_text", "review_rating")  # fmt: skip
    return {"id": record.id, **{k: record.data.get(k) for k in keys}}


def _print_review_request(out: Output, record: SyncRecord) -> None:
    """A colleague's submission as it was sent, field by field, and the review if sent."""
    from app.syncing.disclosure import display_text

    data = record.data
    out.line(f"Review request {record.id} from {data.get('workspace_name', '')}, received "
             f"{_when(data.get('received'))}")  # fmt: skip
    for asset in data.get("assets") or []:
        if not isinstance(asset, dict):
            continue
        out.line(f"  {asset.get('title', '')} ({asset.get('template', '')})")
        for answer in asset.get("fields") or []:
            if isinstance(answer, dict):
                label = answer.get("label") or answer.get("name") or ""
                out.line(f"    {label}: {display_text(answer.get('value'))}")
        for attachment in asset.get("attachments") or []:
            if isinstance(attachment, dict):
                out.line(f"    file: {attachment.get('name', '')} "
                         f"({_human_size(int(attachment.get('size') or 0))})")  # fmt: skip
    if data.get("reviewed_at"):
        rating = data.get("review_rating")
        stars = f", rated {rating} of 5" if rating else ""
        out.line(f"  Your review (sent {_when(data['reviewed_at'])}{stars}):")
        for line in str(data.get("review_text") or "").splitlines() or [""]:
            out.line(f"      {line}")
    else:
        out.line("  Not reviewed yet: answer with --send TEXT [--rating 1-5].")


def _point_id(account: Account, wanted: str) -> str:
    """A point of the account by name or id; a full id is taken as it is (the server
    judges it) when the account has not heard of the point yet."""
    import uuid

    from app.syncing.errors import NoSuchPoint

    try:
        return str(account.point(wanted)["id"])
    except NoSuchPoint as missing:
        try:
            return str(uuid.UUID(wanted.strip()))
        except ValueError:
            raise missing from None


def _expiry(text: str) -> Any:
    from datetime import UTC, datetime, time

    try:
        if len(text.strip()) == 10:
            day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
            return datetime.combine(day, time(23, 59, 59), UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--expires takes a date (YYYY-MM-DD) or a time, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(iso: str | None) -> str:
    """A stored UTC time as 'YYYY-MM-DD HH:MM UTC'."""
    return f"{iso[:16].replace('T', ' ')} UTC" if iso else ""


def _print_preview(out: Output, shown: Preview) -> None:
    """Everything the submission or page would disclose, field by field."""
    where = (f"{shown.point_name}, in {shown.workspace_name}" if shown.point_id
             else f"a public web page of {shown.workspace_name}")  # fmt: skip
    out.line(f"To: {where} ({shown.server_url})")
    count = len(shown.assets)
    out.line(f"This sends {count} asset{'s' if count != 1 else ''} and "
             f"{shown.attachment_count} attachment(s) ({_human_size(shown.attachment_bytes)}), "
             "exactly as below:")  # fmt: skip
    for asset in shown.assets:
        out.line("")
        out.line(f"  {_printable(asset.title)}  ({asset.template}, version {asset.version})")
        if asset.skills:
            out.line(f"    skills: {', '.join(asset.skills)}")
        if asset.tags:
            out.line(f"    tags: {', '.join(asset.tags)}")
        for f in asset.fields:
            lines = f.text.splitlines() or [""]
            out.line(f"    {f.label}: {lines[0]}")
            for extra in lines[1:]:
                out.line(f"      {extra}")
        for a in asset.attachments:
            out.line(f"    attachment: {_printable(a.name)} ({_human_size(a.size)})")
    if shown.not_included:
        out.line("")
        out.line("Linked from these but NOT included (they stay on this device):")
        for linked in shown.not_included:
            out.line(f"  - {_printable(linked.title)}")
    out.line("")


# -------------------------------------------------------------------- main


def _printable(text: str) -> str:
    """Text safe to print on one line: undecodable bytes as U+FFFD, control and
    direction-changing characters as escapes (a file name cannot break a line)."""
    text = os.fsencode(text).decode("utf-8", "replace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _fail(code: int, message: str) -> int:
    print(f"cairn: {message}", file=sys.stderr)
    return code


def _exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, WrongPassphrase | WrongRecoveryKey):
        return EXIT_WRONG_SECRET
    if isinstance(exc, DamagedSpace):
        return EXIT_DAMAGED
    if isinstance(exc, NoSuchAsset | NoSuchAttachment | NoSuchVersion | AmbiguousId):
        return EXIT_NOT_FOUND
    if isinstance(exc, NotASpace | UnsupportedArchive):
        return EXIT_NOT_A_SPACE
    if isinstance(exc, WrongArchivePassphrase):
        return EXIT_WRONG_SECRET
    if isinstance(exc, DamagedArchive):
        return EXIT_DAMAGED
    if isinstance(exc, FormatUnavailable | UnknownFormat | InvalidInput):
        return EXIT_USAGE
    if isinstance(exc, DisclosureError | ReviewError | InvalidServerAddress):
        return EXIT_USAGE
    if isinstance(exc, SyncSetupError):
        return EXIT_NOT_FOUND
    if isinstance(exc, ServerKeyChanged | BadServerSignature | CertificateRejected):
        return EXIT_UNTRUSTED
    if isinstance(exc, Rejected | NotAuthorised):
        return EXIT_REFUSED
    if isinstance(exc, SyncError) and exc.retryable:
        return EXIT_OFFLINE
    if isinstance(
        exc,
        UsageError
        | PassphraseUnavailable
        | WeakPassphrase
        | UnknownTemplate
        | InvalidAnswers
        | TemplateError,
    ):
        return EXIT_USAGE
    return EXIT_ERROR


def _message_for(exc: BaseException) -> str:
    if isinstance(exc, InvalidAnswers):
        lines = "\n".join(f"  {problem}" for problem in exc.problems)
        return f"the answers do not fit the template; nothing was saved:\n{lines}"
    if isinstance(exc, TemplateError):
        return "the template has problems:\n" + "\n".join(f"  {p}" for p in exc.problems)
    if isinstance(exc, UnknownTemplate):
        return str(exc.args[0])
    if isinstance(exc, NoSuchAsset):
        return f"no asset has the id {exc}"
    if isinstance(exc, NoSuchAttachment):
        return f"no attachment has the id {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror.lower()}{where}"
    if isinstance(exc, FileExistsError):
        return str(exc)
    return str(exc) or type(exc).__name__


def has_display() -> bool:
    """Whether a window can be shown (Qt aborts the process if it cannot)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True  # Windows and macOS always have their native platform


def _start_desktop(
    parser: argparse.ArgumentParser, *, demo: bool = False, open_path: Path | None = None
) -> int:
    """`cairn` alone opens the desktop app (`cairn FILE` on a space or an archive,
    as the file manager starts it); Qt is imported only here."""
    if not has_display():
        parser.print_help()
        print(
            "\ncairn: no display is available, so the desktop app cannot open here; "
            "the commands above work without one.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from ui.app import run

    return run([sys.argv[0]], demo=demo, open_path=open_path)


def _file_to_open(arguments: Sequence[str]) -> Path | None:
    """The one argument, if it names an existing file rather than a command: a path
    with a folder or an extension (commands have neither), as file managers pass."""
    if len(arguments) != 1 or arguments[0].startswith("-"):
        return None
    path = Path(arguments[0])
    named_as_file = path.suffix or os.sep in arguments[0] or "/" in arguments[0]
    return path if named_as_file and path.is_file() else None


def main(argv: Sequence[str] | None = None, *, kdf_policy: KdfPolicy = PRODUCTION_POLICY) -> int:
    """Run the command line; returns the exit code (see EXIT_CODES_HELP)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in SERVER_COMMANDS:
        # Imported only here: the desktop commands never load the server (FastAPI).
        try:
            from sync.server.cli import main as server_main
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("sync.server"):
                raise
            # The desktop bundle leaves the server out (see packaging/README.md).
            return _fail(EXIT_USAGE, "the workspace server is not part of this desktop build; "
                         "install Cairn's wheel to run it (see docs/install.md)")  # fmt: skip
        return server_main(arguments)
    parser = build_parser()
    if not arguments or arguments == ["--demo"]:
        return _start_desktop(parser, demo=bool(arguments))
    if (path := _file_to_open(arguments)) is not None:
        return _start_desktop(parser, open_path=path)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.self_check:
        from app.self_check import run as run_self_check

        return run_self_check()
    try:
        return Runner(args, kdf_policy).run()
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    except Cancelled:
        return _fail(130, "cancelled; nothing was written")
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error worth a message.
        sys.stderr.close()
        return EXIT_OK
    except (
        StoreError, UsageError, PassphraseUnavailable, OSError, UnknownTemplate, InvalidAnswers,
        TemplateError, TransferError, SyncError, SyncSetupError,
    ) as exc:  # fmt: skip
        return _fail(_exit_code_for(exc), _message_for(exc))
    except Exception as exc:
        # Never a traceback (it could quote data); details only when asked for.
        if os.environ.get("CAIRN_DEBUG"):
            raise
        return _fail(
            EXIT_ERROR,
            f"internal error ({type(exc).__name__}); "
            "run with CAIRN_DEBUG=1 for details and please report it",
        )
