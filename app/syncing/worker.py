"""One round of sync for every connected workspace: push the outbox, then pull.

``sync_once`` is what ``cairn sync`` runs once and what the desktop app's network
worker runs whenever it wakes: at start, after a submission is queued, when
``outbox.next_attempt_in`` says an entry is due, and every few minutes to pull. It
takes plain data and returns plain data; every error from a server is in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.space import Space
from app.syncing.accounts import Account, accounts, client_for
from app.syncing.outbox import PushProgress, PushReport, push
from app.syncing.pulling import PullReport, pull


@dataclass
class AccountReport:
    account_id: str
    label: str
    push: PushReport
    pull: PullReport | None = None

    @property
    def problems(self) -> list[str]:
        """Sentences for the person: what stopped, waits or failed."""
        found = []
        if self.push.stopped:
            found.append(f"{self.label}: {self.push.stopped}")
        elif self.push.unreachable and self.push.waiting:
            reason = self.push.waiting[0][1]
            found.append(f"{self.label}: {reason}; {len(self.push.waiting)} submission(s) wait "
                         "in the outbox and will be sent when it is back")  # fmt: skip
        for _entry, reason in self.push.failed:
            found.append(f"{self.label}: a submission was refused: {reason}")
        if self.pull is not None and self.pull.stopped:
            found.append(f"{self.label}: {self.pull.stopped}")
        if self.pull is not None:
            found += [f"{self.label}: {warning}" for warning in self.pull.warnings]
        return found


@dataclass
class SyncReport:
    accounts: list[AccountReport] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [p for report in self.accounts for p in report.problems]

    @property
    def ok(self) -> bool:
        return not self.problems


def sync_once(
    space: Space,
    account_ids: Sequence[str] | None = None,
    *,
    only_due: bool = True,
    pull_too: bool = True,
    progress: Callable[[PushProgress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SyncReport:
    """Push each account's outbox, then pull what is new for it, account by account.
    An account whose server cannot be reached is not pulled (its entries wait)."""
    report = SyncReport()
    chosen: list[Account] = [
        a for a in accounts(space) if account_ids is None or a.id in account_ids
    ]
    for account in chosen:
        if cancelled is not None and cancelled():
            break
        with client_for(space, account) as client:
            pushed = push(space, account, client=client, only_due=only_due, progress=progress,
                          cancelled=cancelled)  # fmt: skip
            entry = AccountReport(account.id, account.label, pushed)
            if pull_too and not (pushed.unreachable or pushed.stopped):
                entry.pull = pull(space, account, client=client)
        report.accounts.append(entry)
    return report
