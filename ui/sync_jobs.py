"""The workspace-sync jobs the desktop runs on the task runner, and the plain data they
hand back to the GUI thread (see ui/sync_controller.py for who runs which, where).

Jobs take a Space and plain values and return frozen dataclasses: never widgets, and
never an account's device token (``AccountView`` is what the UI sees of an account).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.space import Space
from app.syncing import kinds, reviews
from app.syncing.accounts import Account, accounts, connect, disconnect, get_account
from app.syncing.disclosure import Preview, display_text, preview, queue_submission
from app.syncing.outbox import (
    OutboxEntry,
    PushProgress,
    discard,
    entries,
    next_attempt_in,
    retry,
    withdraw,
)
from app.syncing.pulling import pull
from app.syncing.records import RecordSource, RecordsRead
from app.syncing.resources import OrganisationResource, organisation_resources
from app.syncing.sharing import publish_share, revoke_share, shares
from app.syncing.status import AssetSyncStatus, ShareInfo, asset_status, badges
from app.syncing.worker import SyncReport, sync_once
from store.records import SyncRecord


@dataclass(frozen=True)
class PointView:
    """A submission point as last heard from the server."""

    id: str
    name: str
    mode: str  # "locked": one final submission; "open": withdrawable until the deadline
    deadline: str | None
    accepting: bool

    def is_open(self, now: datetime | None = None) -> bool:
        """Whether it takes submissions (as far as the device knows)."""
        due = kinds.parse_iso(self.deadline)
        return self.accepting and (due is None or due > (now or kinds.utc_now()))


@dataclass(frozen=True)
class AccountView:
    """What the UI shows of a connected workspace (everything but its token)."""

    id: str
    label: str
    workspace_name: str
    host: str
    server_url: str
    email: str
    role: str
    device_name: str
    points: tuple[PointView, ...]
    last_sync: str | None
    problem_code: str | None = None
    problem_message: str | None = None

    def point(self, point_id: str) -> PointView | None:
        return next((p for p in self.points if p.id == point_id), None)


def account_view(account: Account) -> AccountView:
    problem = account.problem or {}
    return AccountView(
        id=account.id, label=account.label, workspace_name=account.workspace_name,
        host=account.host, server_url=account.server_url, email=account.email, role=account.role,
        device_name=account.device_name,
        points=tuple(PointView(str(p.get("id", "")), str(p.get("name", "")),
                               str(p.get("mode", "locked")), p.get("deadline"),
                               bool(p.get("accepting", True)))
                     for p in account.points),
        last_sync=account.last_sync, problem_code=problem.get("code"),
        problem_message=problem.get("message"),
    )  # fmt: skip


@dataclass(frozen=True)
class FeedbackView:
    """One asset's life in workspaces, for the editor's Feedback tab."""

    asset_id: str
    status: AssetSyncStatus
    #: Submission ids whose point lets them be withdrawn now (open, before the deadline).
    withdrawable: frozenset[str]
    #: Receipt record ids by submission id (what ``withdraw`` takes).
    receipts: dict[str, str]


@dataclass(frozen=True)
class ReviewedAsset:
    """One asset of a colleague's submission, as a peer reviewer reads it."""

    title: str
    template: str
    fields: tuple[tuple[str, str], ...]  # (label, value as text)
    files: tuple[tuple[str, int], ...]  # (name, size)


@dataclass(frozen=True)
class ReviewRequest:
    """A colleague's submission this person was asked to peer-review."""

    id: str  # the sync record's id
    account_id: str
    workspace_name: str
    submission_id: str
    received: str
    assets: tuple[ReviewedAsset, ...]
    reviewed_at: str | None = None

    @property
    def titles(self) -> str:
        return ", ".join(a.title for a in self.assets)


def _review_request(record: SyncRecord) -> ReviewRequest:
    data = record.data
    shown = []
    for asset in data.get("assets") or []:
        if not isinstance(asset, dict):
            continue
        fields = tuple((str(f.get("label") or f.get("name") or ""), display_text(f.get("value")))
                       for f in asset.get("fields") or [] if isinstance(f, dict))  # fmt: skip
        files = tuple((str(a.get("name", "")), int(a.get("size", 0)))
                      for a in asset.get("attachments") or [] if isinstance(a, dict))  # fmt: skip
        shown.append(ReviewedAsset(str(asset.get("title", "")), str(asset.get("template", "")),
                                   fields, files))  # fmt: skip
    return ReviewRequest(
        id=record.id, account_id=str(data.get("account_id", "")),
        workspace_name=str(data.get("workspace_name", "")),
        submission_id=str(data.get("submission_id", "")), received=str(data.get("received", "")),
        assets=tuple(shown), reviewed_at=data.get("reviewed_at"),
    )  # fmt: skip


@dataclass(frozen=True)
class SyncSnapshot:
    """Everything the window shows about sync, read in one store job."""

    accounts: tuple[AccountView, ...]
    #: The library's badge per asset (see ``library_badges``).
    badges: dict[str, str]
    entries: tuple[OutboxEntry, ...]
    #: Seconds until an entry of an account that can send is due (0: now), or None.
    next_due: float | None
    feedback: FeedbackView | None = None
    review_requests: tuple[ReviewRequest, ...] = ()
    #: Documents and links from the connected organisations.
    resources: tuple[OrganisationResource, ...] = ()

    @property
    def waiting(self) -> int:
        return sum(1 for e in self.entries if e.state in ("queued", "sending"))

    @property
    def failed(self) -> int:
        return sum(1 for e in self.entries if e.state == "failed")

    @property
    def reviews_to_write(self) -> int:
        return sum(1 for r in self.review_requests if not r.reviewed_at)


@dataclass(frozen=True)
class SyncOutcome:
    """What one round of sync did, as the window reports it."""

    report: SyncReport
    #: How many new pieces of feedback arrived, per account id.
    new_feedback: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    review_requests: int = 0


# ------------------------------------------------------------------ reading


def library_badges(space: RecordSource) -> dict[str, str]:
    """``status.badges``, with "feedback" for a delivered asset that has feedback but no
    decision yet."""
    found = badges(space)
    discussed = {a for r in space.sync_records(kinds.FEEDBACK) for a in r.asset_ids}
    for asset_id in discussed & found.keys():
        if found[asset_id] == "delivered":
            found[asset_id] = "feedback"
    return found


def feedback_view(
    space: RecordSource, asset_id: str, known: Sequence[AccountView]
) -> FeedbackView:
    status = asset_status(space, asset_id)
    now = kinds.utc_now()
    by_account = {a.id: a for a in known}
    withdrawable, receipts = set(), {}
    for submission in status.submissions:
        if submission.receipt is None:
            continue
        receipts[submission.submission_id] = submission.receipt.id
        if submission.state != "delivered":
            continue
        record = space.sync_record(submission.receipt.id)
        data = record.data if record is not None else {}
        account = by_account.get(str(data.get("account_id", "")))
        point = account.point(str(data.get("point_id", ""))) if account else None
        if point is not None and point.mode == "open" and point.is_open(now):
            withdrawable.add(submission.submission_id)
    return FeedbackView(asset_id, status, frozenset(withdrawable), receipts)


def snapshot(space: Space, asset_id: str | None = None) -> SyncSnapshot:
    # One read of the records for all of it: each read opens every record, the
    # organisations' documents included.
    records = RecordsRead(space)
    views = tuple(account_view(a) for a in accounts(records))
    return SyncSnapshot(
        accounts=views, badges=library_badges(records), entries=tuple(entries(records)),
        next_due=next_attempt_in(records),
        feedback=feedback_view(records, asset_id, views) if asset_id else None,
        review_requests=tuple(_review_request(r)
                              for r in records.sync_records(kinds.REVIEW_REQUEST))[::-1],
        resources=tuple(organisation_resources(records)),
    )  # fmt: skip


def asset_titles(space: Space, asset_ids: Sequence[str]) -> list[tuple[str, str]]:
    return [(a, space.get_asset(a).title) for a in asset_ids]


def share_list(space: Space, asset_ids: Sequence[str]) -> list[ShareInfo]:
    """The public pages showing any of these assets, newest first."""
    seen: dict[str, ShareInfo] = {}
    for asset_id in asset_ids:
        for record in shares(space, asset_id):  # oldest first
            seen.setdefault(record.id, ShareInfo.from_record(record))
    return list(seen.values())[::-1]


# ------------------------------------------------------------------ changing


def connect_account(space: Space, url: str, code: str, device_name: str) -> AccountView:
    return account_view(connect(space, url, code, device_name))


def disconnect_account(space: Space, account_id: str) -> int:
    return disconnect(space, get_account(space, account_id))


def make_preview(
    space: Space, asset_ids: Sequence[str], account_id: str, point_id: str, include_tags: bool
) -> Preview:
    return preview(space, asset_ids, get_account(space, account_id), point_id,
                   include_tags=include_tags)  # fmt: skip


def queue(space: Space, shown: Preview) -> OutboxEntry:
    return OutboxEntry.from_record(queue_submission(space, shown))


def retry_entries(space: Space, entry_ids: Sequence[str]) -> int:
    for entry_id in entry_ids:
        retry(space, entry_id)
    return len(entry_ids)


def discard_entry(space: Space, entry_id: str) -> None:
    discard(space, entry_id)


def refresh_points(space: Space, account_id: str) -> AccountView:
    """Pull once for one account (which also brings its submission points up to date)."""
    account = get_account(space, account_id)
    pull(space, account)
    return account_view(get_account(space, account_id))


def send_peer_review(space: Space, request_id: str, text: str, rating: int | None) -> ReviewRequest:
    """Send this person's review of a colleague's submission (``reviews.send_peer_review``:
    the server's verified answer is kept and the request marked reviewed)."""
    return _review_request(reviews.send_peer_review(space, request_id, text, rating))


def withdraw_submission(space: Space, receipt_id: str) -> str:
    return str(withdraw(space, receipt_id).data.get("status", "withdrawn"))


def publish(
    space: Space, shown: Preview, title: str, comments: bool, expires_at: datetime | None,
    progress: Callable[[int, int], None] | None = None,
) -> ShareInfo:  # fmt: skip
    record = publish_share(space, shown, title=title, comments=comments, expires_at=expires_at,
                           progress=progress)  # fmt: skip
    return ShareInfo.from_record(record)


def revoke(space: Space, share_id: str) -> ShareInfo:
    return ShareInfo.from_record(revoke_share(space, share_id))


def run_sync(
    space: Space,
    account_ids: Sequence[str] | None,
    *,
    only_due: bool,
    progress: Callable[[PushProgress], None] | None = None,
    cancelled: threading.Event | None = None,
) -> SyncOutcome:
    """One round of push and pull (``worker.sync_once``); on a network thread."""
    report = sync_once(space, account_ids, only_due=only_due, progress=progress,
                       cancelled=cancelled.is_set if cancelled else None)  # fmt: skip
    new_feedback: dict[str, int] = {}
    delivered = requests = 0
    for item in report.accounts:
        delivered += len(item.push.delivered)
        requests += item.pull.stored.get(kinds.REVIEW_REQUEST, 0) if item.pull else 0
        count = item.pull.stored.get(kinds.FEEDBACK, 0) if item.pull else 0
        if count:
            new_feedback[item.account_id] = count
    return SyncOutcome(report, new_feedback, delivered, requests)
