"""What the space knows about an asset's life in workspaces, as plain data for the UI and
the command line: its submissions (queued, sending, delivered with the receipt, failed
with the reason, withdrawn), the feedback thread, the latest decision, and its shares.
One pass over the space's sync records; call it from a worker, not the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.syncing import kinds
from app.syncing.outbox import OutboxEntry, in_flight
from app.syncing.records import RecordSource
from store.records import SyncRecord
from sync.protocol import SignedDocument

DECISION_LABELS = {
    "validated": "Validated",
    "needs_more_evidence": "Needs more evidence",
    "not_yet": "Not yet",
}


@dataclass(frozen=True)
class FeedbackItem:
    id: str
    submission_id: str
    workspace_name: str
    kind: str
    author: str
    author_role: str
    text: str
    decision: str | None
    rating: int | None
    rubric: str | None
    created_at: str

    @classmethod
    def from_record(cls, record: SyncRecord) -> FeedbackItem:
        d = record.data
        return cls(
            id=record.id, submission_id=d.get("submission_id", ""),
            workspace_name=d.get("workspace_name", ""), kind=d.get("kind", "comment"),
            author=d.get("author", ""), author_role=d.get("author_role", ""),
            text=d.get("text", ""), decision=d.get("decision"), rating=d.get("rating"),
            rubric=d.get("rubric"), created_at=d.get("created_at", ""),
        )  # fmt: skip


@dataclass(frozen=True)
class ReceiptInfo:
    id: str
    submission_id: str
    workspace_name: str
    point_name: str
    status: str
    received_at: str
    payload_sha256: str
    server_key_id: str

    @classmethod
    def from_record(cls, record: SyncRecord) -> ReceiptInfo:
        d = record.data
        receipt = SignedDocument.model_validate(d["receipt"])
        return cls(
            id=record.id, submission_id=d.get("submission_id", ""),
            workspace_name=d.get("workspace_name", ""), point_name=d.get("point_name", ""),
            status=d.get("status", "received"), received_at=d.get("received_at", ""),
            payload_sha256=d.get("payload_sha256", ""), server_key_id=receipt.key_id,
        )  # fmt: skip


@dataclass(frozen=True)
class SubmissionState:
    """One submission of the asset: ``state`` is queued, sending, delivered, failed or
    withdrawn; ``entry`` is the outbox entry (None for one sent from another device),
    ``receipt`` the verified receipt once delivered."""

    submission_id: str
    workspace_name: str
    point_name: str
    state: str
    entry: OutboxEntry | None
    receipt: ReceiptInfo | None

    @property
    def reason(self) -> str | None:
        """Why it failed or waits, if it does."""
        return self.entry.last_error if self.entry and self.state != "delivered" else None


@dataclass(frozen=True)
class ShareInfo:
    share_id: str
    title: str
    url: str | None
    comments_enabled: bool
    expires_at: str | None
    revoked: bool
    state: str

    @classmethod
    def from_record(cls, record: SyncRecord) -> ShareInfo:
        d = record.data
        return cls(
            share_id=d["share_id"], title=d.get("title", ""), url=d.get("url"),
            comments_enabled=bool(d.get("comments_enabled")), expires_at=d.get("expires_at"),
            revoked=bool(d.get("revoked")), state=d.get("state", ""),
        )  # fmt: skip


@dataclass(frozen=True)
class ShareComment:
    share_id: str
    author_name: str
    text: str
    created_at: str


@dataclass(frozen=True)
class AssetSyncStatus:
    asset_id: str
    submissions: tuple[SubmissionState, ...]
    feedback: tuple[FeedbackItem, ...]
    decision: FeedbackItem | None
    shares: tuple[ShareInfo, ...]
    share_comments: tuple[ShareComment, ...]

    @property
    def badge(self) -> str:
        """One word for the library: failed, sending, queued, the latest decision on a
        submission that still stands (validated, needs_more_evidence, not_yet), delivered,
        withdrawn (every submission that was delivered was withdrawn since), or "" (never
        sent)."""
        return _badge(self.submissions, self.feedback)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "badge": self.badge,
            "submissions": [
                {"submission_id": s.submission_id, "workspace": s.workspace_name,
                 "point": s.point_name, "state": s.state, "reason": s.reason,
                 "attempts": s.entry.attempts if s.entry else None,
                 "next_attempt": s.entry.next_attempt if s.entry else None,
                 "received_at": s.receipt.received_at if s.receipt else None,
                 "receipt_key_id": s.receipt.server_key_id if s.receipt else None}
                for s in self.submissions
            ],
            "feedback": [f.__dict__ for f in self.feedback],
            "decision": self.decision.__dict__ if self.decision else None,
            "shares": [s.__dict__ for s in self.shares],
            "share_comments": [c.__dict__ for c in self.share_comments],
        }  # fmt: skip


def _badge(submissions: Iterable[SubmissionState], feedback: Iterable[FeedbackItem]) -> str:
    states = {s.state for s in submissions}
    for state in ("failed", "sending", "queued"):
        if state in states:
            return state
    # A decision on a submission the person withdrew is history, not the asset's state.
    withdrawn = {s.submission_id for s in submissions if s.state == "withdrawn"}
    standing = [
        f.decision for f in feedback
        if f.kind == "decision" and f.decision and f.submission_id not in withdrawn
    ]  # fmt: skip
    if standing:
        return str(standing[-1])
    for state in ("delivered", "withdrawn"):
        if state in states:
            return state
    return ""


def asset_status(space: RecordSource, asset_id: str) -> AssetSyncStatus:
    """Everything the space knows about this asset's submissions, feedback and shares."""
    return _status(asset_id, space.sync_records(asset_id=asset_id), in_flight())


def _status(asset_id: str, records: list[SyncRecord], sending: frozenset[str]) -> AssetSyncStatus:
    by_kind: dict[str, list[SyncRecord]] = {}
    for record in records:
        by_kind.setdefault(record.kind, []).append(record)
    receipts = {r.data.get("submission_id"): r for r in by_kind.get(kinds.RECEIPT, [])}
    submissions = []
    seen = set()
    for record in by_kind.get(kinds.OUTBOX, []):
        entry = OutboxEntry.from_record(record, sending)
        receipt_record = receipts.get(entry.submission_id)
        receipt = ReceiptInfo.from_record(receipt_record) if receipt_record else None
        state = "withdrawn" if receipt and receipt.status == "withdrawn" else entry.state
        submissions.append(SubmissionState(entry.submission_id, entry.workspace_name,
                                           entry.point_name, state, entry, receipt))  # fmt: skip
        seen.add(entry.submission_id)
    for submission_id, record in receipts.items():
        if submission_id not in seen:
            receipt = ReceiptInfo.from_record(record)
            state = "withdrawn" if receipt.status == "withdrawn" else "delivered"
            submissions.append(SubmissionState(
                str(submission_id), receipt.workspace_name, receipt.point_name, state, None,
                receipt,
            ))  # fmt: skip
    feedback = sorted((FeedbackItem.from_record(r) for r in by_kind.get(kinds.FEEDBACK, [])),
                      key=lambda f: (f.created_at, f.id))  # fmt: skip
    decisions = [f for f in feedback if f.kind == "decision" and f.decision]
    shares = tuple(ShareInfo.from_record(r) for r in by_kind.get(kinds.SHARE, []))
    comments = tuple(
        ShareComment(r.data.get("share_id", ""), r.data.get("author_name") or "",
                     r.data.get("text", ""), r.data.get("created_at") or "")
        for r in by_kind.get(kinds.SHARE_COMMENT, [])
    )  # fmt: skip
    return AssetSyncStatus(
        asset_id=asset_id, submissions=tuple(submissions), feedback=tuple(feedback),
        decision=decisions[-1] if decisions else None, shares=shares, share_comments=comments,
    )  # fmt: skip


def badges(space: RecordSource) -> dict[str, str]:
    """The library's status badge of every asset that has one (one pass over the records)."""
    per_asset: dict[str, list[SyncRecord]] = {}
    for record in space.sync_records():
        if record.kind in (kinds.OUTBOX, kinds.RECEIPT, kinds.FEEDBACK):
            for asset_id in record.asset_ids:
                per_asset.setdefault(asset_id, []).append(record)
    sending = in_flight()
    found = {}
    for asset_id, records in per_asset.items():
        badge = _status(asset_id, records, sending).badge
        if badge:
            found[asset_id] = badge
    return found
