"""Connected workspaces: redeem an invite, keep the device token and the pinned server
key in the space (sealed, like everything in it), and forget them again.

One account is one workspace on one server, reached with one device token. A space
may hold several, on one server or on several. The token is a secret: it is never
printed, logged or put in ``repr``; ``Account.public()`` is what may be shown.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.space import Space
from app.syncing import kinds
from app.syncing.errors import AmbiguousAccount, NoSuchAccount, NoSuchPoint
from app.syncing.records import RecordSource
from store.records import SyncRecord
from sync.client import ServerKeys, WorkspaceClient
from sync.errors import NotAuthorised, ServerKeyChanged, SyncError, TokenExpired, TokenRevoked
from sync.protocol import AccountInfo, PointInfo, key_id

#: Outbox entries of an account that was disconnected carry this error code; connecting
#: the same workspace again puts them back in the queue.
DISCONNECTED = "disconnected"
#: Account problems (``account_problem``'s codes) that only the person can clear: a new
#: invite, or a decision about a server key. Background sync leaves such an account
#: alone until they act or ask to sync now; trying again by itself would only fail again.
NEEDS_A_PERSON = frozenset(
    {"token_revoked", "token_expired", "not_authorised", "server_key_changed",
     "certificate_rejected"}
)  # fmt: skip


@dataclass
class Account:
    """A connected workspace, as kept in the space (kind "account")."""

    id: str
    server_url: str
    server_name: str
    device_id: str
    device_name: str
    device_token: str = field(repr=False)
    token_expires_at: str
    server_key: str
    earlier_keys: list[str]
    member_id: str
    email: str
    workspace_id: str
    workspace_name: str
    role: str
    #: The submission points as last heard from the server (id, name, mode, deadline,
    #: accepting), so that a submission can be prepared while offline.
    points: list[dict[str, Any]] = field(default_factory=list)
    #: Pass as ``after`` to the next pull.
    cursor: int = 0
    connected_at: str = ""
    last_sync: str | None = None
    #: The last problem that stopped sync for the whole account (a revoked device, a
    #: server key that changed...), as {"code", "message", "at"}; cleared by success.
    problem: dict[str, Any] | None = None
    #: A CA bundle to trust the server's certificate with (a private CA), if one was given.
    ca_bundle: str | None = None

    @property
    def needs_a_person(self) -> bool:
        """Whether sync stopped for this account until the person acts (NEEDS_A_PERSON)."""
        return (self.problem or {}).get("code") in NEEDS_A_PERSON

    @property
    def host(self) -> str:
        return urlsplit(self.server_url).netloc

    @property
    def label(self) -> str:
        """How a person tells accounts apart: the workspace and the server."""
        return f"{self.workspace_name} ({self.host})"

    @property
    def keys(self) -> ServerKeys:
        return ServerKeys(
            bytes.fromhex(self.server_key), tuple(bytes.fromhex(k) for k in self.earlier_keys)
        )

    @property
    def server_key_id(self) -> str:
        return key_id(bytes.fromhex(self.server_key))

    def to_record(self) -> SyncRecord:
        data = {name: getattr(self, name) for name in _FIELDS if name != "id"}
        return SyncRecord(self.id, kinds.ACCOUNT, data)

    @classmethod
    def from_record(cls, record: SyncRecord) -> Account:
        values: dict[str, Any] = {name: record.data.get(name) for name in _FIELDS if name != "id"}
        values["points"] = list(values.get("points") or [])
        values["earlier_keys"] = list(values.get("earlier_keys") or [])
        values["cursor"] = int(values.get("cursor") or 0)
        return cls(id=record.id, **values)

    def public(self) -> dict[str, Any]:
        """Everything but the device token: what the command line and the UI may show."""
        data = {name: getattr(self, name) for name in _FIELDS if name != "device_token"}
        data["label"] = self.label
        data["server_key_id"] = self.server_key_id
        return data

    def point(self, wanted: str) -> dict[str, Any]:
        """A submission point by id, id prefix or name (case-insensitive)."""
        text = wanted.strip()
        for point in self.points:
            if text in (point["id"], point["name"]) or point["name"].casefold() == text.casefold():
                return point
        matches = [p for p in self.points if len(text) >= 4 and p["id"].startswith(text.lower())]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(repr(p["name"]) for p in self.points) or "none"
        raise NoSuchPoint(
            f"{self.workspace_name} has no submission point {wanted!r} (known: {known}; "
            "a sync brings the list up to date)"
        )


_FIELDS = tuple(Account.__dataclass_fields__)


def default_device_name() -> str:
    return f"Cairn on {platform.node() or 'this computer'}"[:200]


def accounts(space: RecordSource) -> list[Account]:
    """Every connected workspace, in the order they were connected."""
    return [Account.from_record(r) for r in space.sync_records(kinds.ACCOUNT)]


def get_account(space: Space, account_id: str) -> Account:
    record = space.sync_record(account_id)
    if record is None or record.kind != kinds.ACCOUNT:
        raise NoSuchAccount("this workspace is no longer connected")
    return Account.from_record(record)


def find_account(space: Space, wanted: str | None) -> Account:
    """An account by record id (or a prefix of 4 or more), workspace id or name, or
    ``name@host``; with ``None``, the only one there is."""
    known = accounts(space)
    if not known:
        raise NoSuchAccount("this space is not connected to any workspace; use 'cairn connect'")
    if wanted is None:
        if len(known) == 1:
            return known[0]
        raise AmbiguousAccount(
            "this space is connected to several workspaces; say which: "
            + ", ".join(a.label for a in known)
        )
    text = wanted.strip()
    exact = [
        a for a in known
        if text in (a.id, a.workspace_id)
        or text.casefold() in (a.workspace_name.casefold(),
                               f"{a.workspace_name}@{a.host}".casefold())
    ]  # fmt: skip
    if not exact and len(text) >= 4:
        exact = [a for a in known if a.id.startswith(text.lower())]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise AmbiguousAccount(
            f"{wanted!r} matches several workspaces: " + ", ".join(a.label for a in exact)
            + "; give NAME@HOST or the account id"
        )
    raise NoSuchAccount(
        f"no connected workspace matches {wanted!r} (connected: "
        + ", ".join(a.label for a in known) + ")"
    )


def save_account(space: Space, account: Account) -> Account:
    space.put_sync_record(account.to_record())
    return account


def client_for(
    space: Space, account: Account, *, ca_bundle: Path | None = None,
    timeout: tuple[float, float] = (5.0, 60.0), piece_bytes: int | None = None,
) -> WorkspaceClient:  # fmt: skip
    """A client for this account. A planned key rotation it follows (through the server's
    endorsements) is saved to the account at once, so the new key stays pinned."""

    def keep(keys: ServerKeys) -> None:
        account.server_key = keys.current.hex()
        account.earlier_keys = [k.hex() for k in keys.earlier]
        save_account(space, account)

    options: dict[str, Any] = {"piece_bytes": piece_bytes} if piece_bytes else {}
    return WorkspaceClient(
        account.server_url, token=account.device_token, pinned_key=account.keys.current,
        earlier_keys=account.keys.earlier, timeout=timeout,
        ca_bundle=ca_bundle or (Path(account.ca_bundle) if account.ca_bundle else None),
        on_keys_changed=keep, **options,
    )  # fmt: skip


def companion_client(account: Account, like: WorkspaceClient) -> WorkspaceClient:
    """Another client like ``like`` (address, token, keys, timeouts, piece size), for
    another thread: a client is not to be shared between threads."""
    keys = like.keys or account.keys
    return WorkspaceClient(
        like.base_url, token=like.token, pinned_key=keys.current, earlier_keys=keys.earlier,
        timeout=like.timeout, piece_bytes=like.piece_bytes,
        ca_bundle=Path(account.ca_bundle) if account.ca_bundle else None,
        on_keys_changed=like.on_keys_changed,
    )  # fmt: skip


def points_from(info: AccountInfo) -> list[dict[str, Any]]:
    return [_point(p) for p in info.points]


def _point(point: PointInfo) -> dict[str, Any]:
    return {
        "id": str(point.id), "name": point.name, "mode": point.mode,
        "deadline": kinds.iso(point.deadline) if point.deadline else None,
        "accepting": point.accepting,
    }  # fmt: skip


def connect(
    space: Space,
    server_url: str,
    invite_code: str,
    device_name: str | None = None,
    *,
    ca_bundle: Path | None = None,
) -> Account:
    """Redeem an invite code with the space's identity key and keep the account.

    If the space already trusts a key for this server (another workspace there), the
    server must still show it, or a planned rotation from it, before the code is spent
    (ServerKeyChanged otherwise). Connecting a workspace that is connected already
    replaces its device and token and keeps its pull cursor; outbox entries left by a
    disconnected account of the same workspace go back in the queue.
    """
    address = server_url.strip().rstrip("/")
    same_server = [a for a in accounts(space) if a.server_url == address]
    pinned = same_server[0].keys if same_server else None
    name = " ".join((device_name or default_device_name()).split())[:200] or "Cairn"
    client = WorkspaceClient(
        address, pinned_key=pinned.current if pinned else None,
        earlier_keys=pinned.earlier if pinned else (), ca_bundle=ca_bundle,
    )  # fmt: skip
    with client:
        enrolled = client.enrol(invite_code, space.identity_public_key(), name)
        keys = client.keys
        assert keys is not None  # enrol pins the key
        try:
            info: AccountInfo | None = client.me()
        except SyncError:  # the code is spent; the points can come with the next sync
            info = None
    now = kinds.iso(kinds.utc_now())
    previous = next((a for a in same_server if a.workspace_id == str(enrolled.workspace.id)), None)
    account = Account(
        id=previous.id if previous else kinds.derived_id(kinds.ACCOUNT, str(enrolled.device_id)),
        server_url=address,
        server_name=_server_name(client, address),
        device_id=str(enrolled.device_id),
        device_name=name,
        device_token=enrolled.device_token,
        token_expires_at=kinds.iso(enrolled.token_expires_at),
        server_key=keys.current.hex(),
        earlier_keys=[k.hex() for k in keys.earlier],
        member_id=str(enrolled.member_id),
        email=enrolled.email,
        workspace_id=str(enrolled.workspace.id),
        workspace_name=enrolled.workspace.name,
        role=enrolled.workspace.role,
        points=points_from(info) if info else (previous.points if previous else []),
        cursor=previous.cursor if previous else 0,
        connected_at=now,
        ca_bundle=str(Path(ca_bundle).absolute()) if ca_bundle else None,
    )
    records = [account.to_record()]
    # The same server's other accounts follow a key it rotated to meanwhile.
    for other in same_server:
        if other.id != account.id and other.server_key != account.server_key:
            other.server_key, other.earlier_keys = account.server_key, account.earlier_keys
            records.append(other.to_record())
    records += _adopted_entries(space, account)
    space.put_sync_records(records)
    return account


def _server_name(client: WorkspaceClient, address: str) -> str:
    try:
        return client.server_info().name
    except SyncError:  # only a label; the host will do
        return urlsplit(address).netloc


def _adopted_entries(space: Space, account: Account) -> list[SyncRecord]:
    adopted = []
    for record in space.sync_records(kinds.OUTBOX):
        data = record.data
        if (
            data.get("error_code") == DISCONNECTED
            and data.get("server_url") == account.server_url
            and data.get("workspace_id") == account.workspace_id
        ):
            data = {**data, "account_id": account.id, "state": "queued", "error_code": None,
                    "last_error": None, "next_attempt": None}  # fmt: skip
            adopted.append(SyncRecord(record.id, record.kind, data, record.asset_ids))
    return adopted


def disconnect(space: Space, account: Account) -> int:
    """Forget the account and its token. Receipts, feedback and shares stay; outbox entries
    not yet delivered stay too, marked as failed until the workspace is connected again.
    Returns how many such entries there are."""
    waiting = []
    for record in space.sync_records(kinds.OUTBOX):
        data = record.data
        if data.get("account_id") == account.id and data.get("state") != "delivered":
            data = {**data, "state": "failed", "error_code": DISCONNECTED,
                    "last_error": f"{account.label} was disconnected; connect it again to "
                                  "send this"}  # fmt: skip
            waiting.append(SyncRecord(record.id, record.kind, data, record.asset_ids))
    space.put_sync_records(waiting, delete=[account.id])
    return len(waiting)


def accept_server_key(space: Space, account: Account, key_id_shown: str) -> list[Account]:
    """Trust the key the server shows now, after a person checked with the organisation
    that the server was really set up again (ServerKeyChanged): ``key_id_shown`` is
    the key id they were told and compared, and the server must show exactly that key.
    Every account on that server follows; the old keys stay trusted for documents
    signed before. ServerKeyChanged if the server now shows yet another key."""
    with client_for(space, account) as client:
        info = client.server_info()
    offered = bytes.fromhex(info.server_key)
    if key_id(offered) != key_id_shown.strip().lower():
        raise ServerKeyChanged(account.keys.current, offered)
    changed = []
    for other in accounts(space):
        if other.server_url != account.server_url or other.server_key == offered.hex():
            continue
        earlier = [k for k in (*other.earlier_keys, other.server_key) if k != offered.hex()]
        other.server_key, other.earlier_keys = offered.hex(), earlier
        if other.problem and other.problem.get("code") == "server_key_changed":
            other.problem = None
        changed.append(other)
    space.put_sync_records([a.to_record() for a in changed])
    return changed


def refresh(account: Account, info: AccountInfo) -> None:
    """Take in what the server says about the account now (names, role, points)."""
    account.workspace_name = info.workspace.name
    account.role = info.workspace.role
    account.email = info.email
    account.token_expires_at = kinds.iso(info.token_expires_at)
    account.points = points_from(info)


def account_problem(error: Exception) -> tuple[str, str]:
    """A sentence for the person and a code, for the errors that stop a whole account
    (a revoked or expired device, a server key that changed, a refused certificate)."""
    if isinstance(error, TokenRevoked):
        return ("the organisation has disconnected this device; nothing was lost: your "
                "submissions wait in the outbox; connect again with a new invite",
                "token_revoked")  # fmt: skip
    if isinstance(error, TokenExpired):
        return ("this device's connection has expired; nothing was lost: connect again with "
                "a new invite and the outbox will be sent", "token_expired")  # fmt: skip
    if isinstance(error, NotAuthorised):
        return (f"the server no longer accepts this device ({error}); nothing was lost: "
                "connect again with a new invite", "not_authorised")  # fmt: skip
    if isinstance(error, ServerKeyChanged):
        return (f"{error}. Nothing was sent; the outbox is kept. The server now shows the key "
                f"{key_id(error.offered)}, not {key_id(error.pinned)}",
                "server_key_changed")  # fmt: skip
    return str(error), "certificate_rejected"
