"""Bringing things home: feedback, decisions, peer-review requests, comments on shares,
withdrawals and the organisation's resources, by incremental pull.

Each page of events is verified by the client (the server's signature on each event,
and on each feedback document inside one) and stored with the new cursor in one
transaction, beside the assets it concerns. Record ids follow from the event's own id,
so a page stored twice (a crash after the commit, before the cursor moved in memory)
changes nothing.

An event that does not verify stops the pull: the events before it are kept, the
cursor stays just before it, and the report (and the account's ``problem``) says
which one it was; nothing after a forged item is trusted blindly.

Templates the organisation publishes are installed in its folder of
``TemplateLibrary``'s organisation templates (``org/<folder>/<id>``), so they appear in
the template picker. The folder is named by a hash of the workspace's id
(``folder_name``), not after the organisation: the config folder is not encrypted, and
which employer a person has is theirs to tell. The picker's heading, the organisation's
name, comes from the unlocked space (``learn_organisation_names``). Their text is also
kept in the space, so ``install_organisation_templates`` can put them back on another
computer. Documents are kept in the space, within bounds (see ``resources``); a link is
its record. Templates and documents are fetched into memory and checked against the
size and SHA-256 of their signed event; one that does not match is reported and left
out, and the pull goes on.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.files import atomic_writer
from app.forms.library import organisation_template_root
from app.forms.loader import TemplateError, parse_template
from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import (
    Account,
    account_problem,
    accounts,
    client_for,
    refresh,
    save_account,
)
from app.syncing.resources import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS_BYTES,
    file_record,
    kept_document_bytes,
    resource_record_ids,
)
from store.records import SyncRecord
from sync.client import PulledEvent, WorkspaceClient
from sync.errors import (
    BadServerSignature,
    CertificateRejected,
    NotAuthorised,
    ServerKeyChanged,
    SyncError,
)
from sync.protocol import MAX_PULL_LIMIT, ResourceInfo

#: The largest template file taken from an organisation (the server refuses larger ones).
MAX_TEMPLATE_BYTES = 1024 * 1024

#: The file in which an earlier Cairn said whose an organisation's folder was (its folders
#: were named after the organisation; see ``organisation_folder``).
_LEGACY_OWNER_FILE = ".organisation.json"


@dataclass
class PullReport:
    account_id: str
    #: How many records of each kind were stored (or updated).
    stored: Counter[str] = field(default_factory=Counter)
    cursor: int = 0
    #: Templates installed, by qualified id (``org/<name>/<id>``).
    templates: list[str] = field(default_factory=list)
    #: Resources that arrived but could not be used (a template with problems...).
    warnings: list[str] = field(default_factory=list)
    #: The event that did not verify (its number), if one did not.
    bad_event: int | None = None
    #: Why the pull stopped early, if it did (a sentence for the person).
    stopped: str | None = None
    stopped_code: str | None = None
    unreachable: bool = False


def pull(
    space: Space,
    account: Account,
    *,
    client: WorkspaceClient | None = None,
    page_size: int = MAX_PULL_LIMIT,
    template_root: Path | None = None,
    refresh_account: bool = True,
) -> PullReport:
    """Fetch and store everything after the account's cursor, page by page.

    Nothing is raised for what the server or the network does: a connection that drops
    leaves the pages stored so far (``unreachable``), a forged event stops the pull
    before it (``bad_event``), a revoked device or a changed server key stops the
    account (``stopped``, also kept in ``account.problem``). ``refresh_account`` first
    checks the server's key and asks for the account's points, names and role.
    """
    report = PullReport(account.id, cursor=account.cursor)
    own_client = client is None
    active = client or client_for(space, account)
    root = template_root or organisation_template_root()
    try:
        if refresh_account:
            # A server whose key changed unexpectedly is told so even when it has nothing
            # new to send (every document from it would be refused anyway).
            active.check_server_key()
            refresh(account, active.me())
        while True:
            try:
                page = active.pull(after=account.cursor, limit=page_size)
            except BadServerSignature as bad:
                verified: list[PulledEvent] = list(bad.verified or [])
                cursor = verified[-1].seq if verified else account.cursor
                _store_page(space, account, active, verified, cursor, root, report)
                report.bad_event = bad.seq
                report.stopped = (f"the server sent something that does not carry its valid "
                                  f"signature, so it was rejected ({bad})")  # fmt: skip
                report.stopped_code = "bad_signature"
                account.problem = {"code": "bad_signature", "message": report.stopped,
                                   "seq": bad.seq, "at": kinds.iso(kinds.utc_now())}  # fmt: skip
                save_account(space, account)
                return report
            _store_page(space, account, active, page.items, page.cursor, root, report)
            if not page.more:
                break
    except (NotAuthorised, ServerKeyChanged, CertificateRejected) as exc:
        report.stopped, report.stopped_code = account_problem(exc)
        account.problem = {"code": report.stopped_code, "message": report.stopped,
                           "at": kinds.iso(kinds.utc_now())}  # fmt: skip
        save_account(space, account)
        return report
    except SyncError as exc:
        report.unreachable = True
        report.stopped, report.stopped_code = str(exc), "unreachable"
        return report
    finally:
        if own_client:
            active.close()
    account.last_sync = kinds.iso(kinds.utc_now())
    if account.problem:
        account.problem = None
    save_account(space, account)
    return report


def _store_page(
    space: Space, account: Account, client: WorkspaceClient, items: list[PulledEvent],
    cursor: int, root: Path, report: PullReport,
) -> None:  # fmt: skip
    """The records for one page of events, and the account with its new cursor, in one
    transaction. Templates and documents are fetched before it, so a download that fails
    on the way leaves the cursor where it was and the next pull tries again."""
    page = _Page(space)
    for item in items:
        record = _record_for(space, account, client, item, page, root, report)
        if record is not None:
            page.put(record)
            report.stored[record.kind] += 1
    account.cursor = cursor
    report.cursor = cursor
    space.put_sync_records([*page.pending.values(), account.to_record()],
                           delete=page.deleted - page.pending.keys())  # fmt: skip


@dataclass
class _Page:
    """The records one page of events writes (and deletes), before they are written."""

    space: Space
    pending: dict[str, SyncRecord] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def current(self, record_id: str) -> SyncRecord | None:
        if record_id in self.deleted:
            return None
        return self.pending.get(record_id) or self.space.sync_record(record_id)

    def put(self, record: SyncRecord) -> None:
        self.pending[record.id] = record
        self.deleted.discard(record.id)

    def delete(self, record_id: str) -> None:
        self.pending.pop(record_id, None)
        self.deleted.add(record_id)


def _key_hex(key: bytes | None) -> str | None:
    return key.hex() if key else None


def _record_for(
    space: Space, account: Account, client: WorkspaceClient, item: PulledEvent,
    page: _Page, root: Path, report: PullReport,
) -> SyncRecord | None:  # fmt: skip
    current = page.current
    event = item.event
    base = {"account_id": account.id, "workspace_id": account.workspace_id,
            "workspace_name": account.workspace_name, "seq": item.seq,
            "event_id": str(event.event_id), "received": kinds.iso(event.created_at),
            "event": item.signed.model_dump(),
            "server_key": _key_hex(client.trusted_key(item.signed.key_id))}  # fmt: skip
    if event.kind == "feedback" and item.feedback is not None:
        feedback = item.feedback
        asset_ids = list(feedback.asset_ids)
        if not asset_ids:  # fall back on what we sent in that submission
            receipt = current(kinds.derived_id(kinds.RECEIPT, str(feedback.submission_id)))
            asset_ids = list(receipt.asset_ids) if receipt else []
        data = {**base, "submission_id": str(feedback.submission_id),
                "feedback_id": str(feedback.feedback_id), "kind": feedback.kind,
                "author": feedback.author, "author_role": feedback.author_role,
                "text": feedback.text, "decision": feedback.decision, "rating": feedback.rating,
                "rubric": feedback.rubric, "created_at": kinds.iso(feedback.created_at),
                "feedback": (item.feedback_signed.model_dump()
                             if item.feedback_signed else None)}  # fmt: skip
        return SyncRecord(kinds.derived_id(kinds.FEEDBACK, str(feedback.feedback_id)),
                          kinds.FEEDBACK, data, asset_ids)  # fmt: skip
    if event.kind == "review_request":
        data = {**base, "submission_id": str(event.data.get("submission_id", "")),
                "assignment_id": str(event.data.get("assignment_id", "")),
                "assets": event.data.get("assets", [])}  # fmt: skip
        key = str(data["assignment_id"] or data["event_id"])
        return SyncRecord(kinds.derived_id(kinds.REVIEW_REQUEST, key), kinds.REVIEW_REQUEST, data)
    if event.kind == "share_comment":
        share_id = str(event.data.get("share_id", ""))
        share = current(kinds.derived_id(kinds.SHARE, share_id))
        data = {**base, "share_id": share_id,
                "comment_id": str(event.data.get("comment_id", "")),
                "title": event.data.get("title"), "author_name": event.data.get("author_name"),
                "text": event.data.get("text", ""),
                "created_at": event.data.get("created_at")}  # fmt: skip
        key = str(data["comment_id"] or data["event_id"])
        return SyncRecord(kinds.derived_id(kinds.SHARE_COMMENT, key), kinds.SHARE_COMMENT, data,
                          list(share.asset_ids) if share else [])  # fmt: skip
    if event.kind == "withdrawn":
        receipt = current(kinds.derived_id(kinds.RECEIPT, str(event.data.get("submission_id"))))
        if receipt is None:  # withdrawn from another device, sent from it too
            return None
        data = {**receipt.data, "status": "withdrawn",
                "withdrawn_at": event.data.get("withdrawn_at")}  # fmt: skip
        return SyncRecord(receipt.id, receipt.kind, data, receipt.asset_ids)
    if event.kind == "resource":
        return _resource_record(space, account, client, item, base, page, root, report)
    return None


def _resource_record(
    space: Space, account: Account, client: WorkspaceClient, item: PulledEvent,
    base: dict[str, Any], page: _Page, root: Path, report: PullReport,
) -> SyncRecord:  # fmt: skip
    info = ResourceInfo.model_validate(item.event.data)
    record_id = resource_record_ids(account, str(info.id))[0]
    # An earlier Cairn kept a resource under an id made from the account, so connecting
    # again (after restoring an archive, say) made a second copy: the new record replaces
    # it, with its file (before the documents' quota is counted).
    for earlier in space.sync_records(kinds.RESOURCE):
        if earlier.id != record_id and _same_resource(earlier, account, client, str(info.id)):
            page.delete(earlier.id)
            if isinstance(earlier.data.get("file_record"), str):
                page.delete(earlier.data["file_record"])
    data: dict[str, Any] = {**base, **info.model_dump(mode="json")}
    data["resource_id"] = str(info.id)
    where = f"{info.name!r} from {account.workspace_name}"
    if info.kind == "template":
        content = _download(client, info, MAX_TEMPLATE_BYTES)
        installed: str | _Problem = content if isinstance(content, _Problem) else ""
        if isinstance(content, bytes):
            data["template_text"] = text = content.decode("utf-8", "replace")
            installed = _install_template(account.workspace_id, account.workspace_name, text,
                                          root)  # fmt: skip
        if isinstance(installed, str):
            data["installed_as"] = installed
            report.templates.append(installed)
        else:
            data["problem"] = installed.message
            report.warnings.append(f"the template {where} was not installed: {installed.message}")
    elif info.kind == "document":
        kept = _keep_document(space, account, client, info, data, page)
        if isinstance(kept, _Problem):
            data["problem"] = kept.message
            report.warnings.append(f"the document {where} was not kept: {kept.message}")
        else:
            data["file_record"] = kept
    # The latest version of a resource replaces the record of the one before.
    return SyncRecord(record_id, kinds.RESOURCE, data)


def _same_resource(
    record: SyncRecord, account: Account, client: WorkspaceClient, resource_id: str
) -> bool:
    """Whether ``record`` is of this resource of this account's organisation: the same
    ids, and announced in an event signed with a key of this server (another server
    cannot make a record of ours go by naming the same ids)."""
    event = record.data.get("event")
    key = event.get("key_id") if isinstance(event, dict) else None
    return (
        record.data.get("resource_id") == resource_id
        and record.data.get("workspace_id") == account.workspace_id
        and isinstance(key, str)
        and client.knows_key(key)
    )


def _download(client: WorkspaceClient, info: ResourceInfo, limit: int) -> bytes | _Problem:
    """A template's or document's bytes, fetched into memory (never a temporary file) and
    checked against the signed event; or why not. A file that does not match is not
    kept, and the pull goes on (the event itself was signed); a network failure raises,
    and the next pull tries again from this event."""
    if info.sha256 is None or info.size is None:
        return _Problem("the server did not say what the file holds")
    if info.size > limit:
        return _Problem(f"it is {info.size / 1048576:.1f} MiB, and Cairn keeps files of at "
                        f"most {limit / 1048576:.0f} MiB from an organisation")  # fmt: skip
    try:
        return client.fetch_resource(info.id, info.version, sha256=info.sha256, size=info.size)
    except BadServerSignature as bad:
        return _Problem(f"{bad}; tell the organisation")


def _keep_document(
    space: Space, account: Account, client: WorkspaceClient, info: ResourceInfo,
    data: dict[str, Any], page: _Page,
) -> str | _Problem:  # fmt: skip
    """Fetch a document into the page's records; the id of the record holding its bytes,
    or why it is not kept. The previous version's bytes go either way."""
    record_id = resource_record_ids(account, str(info.id))[1]
    page.delete(record_id)
    sizes = kept_document_bytes(space, page.pending)
    others = sum(size for kept_id, size in sizes.items() if kept_id not in page.deleted)
    if others + (info.size or 0) > MAX_DOCUMENTS_BYTES:
        return _Problem(f"the space keeps at most {MAX_DOCUMENTS_BYTES // 1048576} MiB of "
                        "organisations' documents, and that is used up")  # fmt: skip
    content = _download(client, info, MAX_DOCUMENT_BYTES)
    if isinstance(content, _Problem):
        return content
    stored = file_record(account, str(info.id), data, content)
    page.put(stored)
    return stored.id


@dataclass(frozen=True)
class _Problem:
    message: str


def _install_template(
    workspace_id: str, workspace_name: str, text: str, root: Path
) -> str | _Problem:
    """Write a template into the organisation's folder; its qualified id, or the problem."""
    try:
        folder = organisation_folder(workspace_id, root)
    except OSError as error:
        return _Problem(f"its folder could not be made in {root}: {error.strerror or error}")
    source = f"org/{folder.name}"
    try:
        template = parse_template(text, f"{source}/template.toml", source=source)
    except TemplateError as error:
        return _Problem("; ".join(str(p.message) for p in error.problems[:3]))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_writer(folder / f"{template.id}.toml", mode=0o644) as handle:
            handle.write(text.encode("utf-8"))
    except OSError as error:
        return _Problem(f"it could not be written in {folder}: {error.strerror or error}")
    _remember_names({folder.name: workspace_name})
    return template.qualified_id


def folder_name(workspace_id: str) -> str:
    """The name of a workspace's template folder: a hash of its id, which says nothing of
    the organisation to whoever reads the config folder (its name stays in the space)."""
    digest = hashlib.sha256(f"cairn organisation folder\0{workspace_id}".encode())
    return digest.hexdigest()[:16]


def organisation_folder(workspace_id: str, root: Path | None = None) -> Path:
    """The workspace's template folder (made if it is missing): ``<root>/<folder_name>``,
    or the folder an earlier Cairn named after the organisation, if it made one. Those
    are kept as they are: their name is part of the template ids that assets (perhaps
    in other spaces on this computer) record, so renaming them would orphan the assets."""
    root = root or organisation_template_root()
    folder = _legacy_folder(workspace_id, root) or root / folder_name(workspace_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _legacy_folder(workspace_id: str, root: Path) -> Path | None:
    """A folder named after the organisation (``support-team``) with an owner file naming
    this workspace, as Cairn made them before folders were named by ``folder_name``."""
    if not root.is_dir():
        return None
    for folder in sorted(root.iterdir()):
        owner = _owner(folder)
        if owner is not None and owner.get("workspace_id") == workspace_id:
            return folder
    return None


def _owner(folder: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads((folder / _LEGACY_OWNER_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


#: The organisations' names by template folder, for the template picker's headings, as
#: learnt from unlocked spaces (see ``learn_organisation_names``). Only here, in memory:
#: never written outside the space.
_names: dict[str, str] = {}
_names_lock = threading.Lock()


def _remember_names(names: dict[str, str]) -> None:
    with _names_lock:
        _names.update(names)


def learn_organisation_names(space: Space) -> dict[str, str]:
    """Remember, in this process, the name of each organisation whose templates the space
    holds or whose workspace it is connected to (by template folder); returns them. The
    desktop calls it after unlock and ``forget_organisation_names`` on lock; a pull that
    installs templates teaches their organisation's name by itself."""
    names: dict[str, str] = {}
    for record in space.sync_records(kinds.RESOURCE):
        installed = str(record.data.get("installed_as") or "")
        parts = installed.split("/")
        if len(parts) == 3 and parts[0] == "org" and record.data.get("workspace_name"):
            names[parts[1]] = str(record.data["workspace_name"])
    for account in accounts(space):  # the names as last heard, over those at install time
        names[folder_name(account.workspace_id)] = account.workspace_name
        legacy = _legacy_folder(account.workspace_id, organisation_template_root())
        if legacy is not None:
            names[legacy.name] = account.workspace_name
    _remember_names(names)
    return names


def forget_organisation_names() -> None:
    """The space is locked: its organisations' names are forgotten with it."""
    with _names_lock:
        _names.clear()


def organisation_names(root: Path | None = None) -> dict[str, str]:
    """The organisation's name for each ``<folder>`` of ``org/<folder>/...`` templates that
    one is known for, for the template picker's headings: those learnt from an unlocked
    space, and those an earlier Cairn wrote in its folders named after them."""
    root = root or organisation_template_root()
    names = {}
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            owner = _owner(folder)
            if owner is not None and isinstance(owner.get("name"), str):
                names[folder.name] = owner["name"]
    with _names_lock:
        names.update(_names)
    return names


def install_organisation_templates(space: Space, root: Path | None = None) -> list[str]:
    """Install every organisation template the space holds (on a new computer, after a
    restore); returns their qualified ids."""
    installed = []
    for record in space.sync_records(kinds.RESOURCE):
        text = record.data.get("template_text")
        if record.data.get("kind") == "template" and isinstance(text, str):
            result = _install_template(str(record.data.get("workspace_id")),
                                       str(record.data.get("workspace_name")), text,
                                       root or organisation_template_root())  # fmt: skip
            if isinstance(result, str):
                installed.append(result)
    return installed
