"""The portable archive carries a person's workspace life (format 2): receipts, feedback
and decisions, review requests, shares, comments on them and organisation resources,
made by the app's own sync code against a real workspace server. The device's account
and outbox stay behind."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from app.age import AgeReader
from app.forms.library import TemplateLibrary, organisation_template_root
from app.portable import NewSpace, export_portable, import_portable
from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import Account, accounts, connect
from app.syncing.disclosure import preview, queue_submission
from app.syncing.outbox import push
from app.syncing.pulling import pull
from app.syncing.reviews import send_peer_review
from app.syncing.sharing import publish_share
from app.syncing.status import asset_status
from app.transfer import ExportJob
from store.kdf import KdfPolicy
from store.records import SyncRecord
from sync.protocol import (
    RECEIPT_FORMAT,
    SUBMISSION_FORMAT,
    SignedDocument,
    key_id,
    verify_bytes,
)
from sync.server import directory, resources, reviews
from sync.server.models import Membership, Submission
from tests.live_server import REPO, LiveServer, running_server
from tests.server.browser import Browser
from tests.server.client import Org, join, make_invite, make_org, snapshot

ARCHIVE_PASSPHRASE = "the archive's own passphrase"
WORK_FACTOR = 10
SCHEMAS = REPO / "docs" / "schemas"
#: Every kind the person keeps; the device's two are never exported.
PERSONS = {kinds.RECEIPT, kinds.FEEDBACK, kinds.REVIEW_REQUEST, kinds.SHARE,
           kinds.SHARE_COMMENT, kinds.RESOURCE}  # fmt: skip
DEVICES = {kinds.ACCOUNT, kinds.OUTBOX}
#: The title of what a colleague submitted for this person to review: it is theirs,
#: and never goes into this person's archive.
COLLEAGUES_TITLE = "Colleague's own plan, for review only"


def in_archive(record: SyncRecord) -> SyncRecord:
    """A record as the archive carries it: all of it, but of a review request only the
    reviewer's part (without the colleague's submission)."""
    if record.kind != kinds.REVIEW_REQUEST:
        return record
    data = {k: v for k, v in record.data.items() if k not in ("assets", "event")}
    return SyncRecord(record.id, record.kind, data, record.asset_ids, record.version,
                      record.updated)  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("portable-server"), "sqlite") as live:
        yield live


@dataclass
class Life:
    """A space that has lived in a workspace, and what the tests look at."""

    account: Account
    org: Org
    plan: str
    waiting: str
    template: str


def add_feedback(server: LiveServer, submission_id: str, text: str,
                 decision: str | None = None) -> None:  # fmt: skip
    with server.session() as session:
        submission = reviews.submission_or_404(session, submission_id)
        reviewer = directory.user_for_email(session, "reviewer@example.org")
        kind = "decision" if decision else "comment"
        reviews.add_feedback(session, submission, reviewer, "reviewer", kind, text=text,
                             decision=decision)  # fmt: skip
        session.commit()


def live_in_a_workspace(space: Space, server: LiveServer, tmp_path: Path) -> Life:
    """Every kind of sync record, each made the way the app makes it."""
    org = make_org(server, mode="open")
    account = connect(space, server.url, make_invite(server, org), "Old laptop")
    smart_plan = TemplateLibrary.load().get("smart-plan")
    plan = space.add_asset(smart_plan.qualified_id, "Run a retrospective",
                           {"specific": "Run our team's first retrospective."},
                           template=smart_plan)  # fmt: skip
    (tmp_path / "agenda.txt").write_bytes(b"1. what went well\n")
    space.attach(plan.id, tmp_path / "agenda.txt")
    point = account.points[0]["id"]
    sent = queue_submission(space, preview(space, [plan.id], account, point))
    assert push(space, account).delivered == [sent.id]
    add_feedback(server, sent.id, "Good plan; add a review date.")
    add_feedback(server, sent.id, "Well evidenced.", decision="validated")

    journal = (REPO / "templates" / "journal.toml").read_text("utf-8")
    journal = journal.replace('id = "journal"', 'id = "team-journal"', 1)
    colleague = join(server, org)
    theirs = snapshot(title=COLLEAGUES_TITLE)
    answer = colleague.submit(colleague.sign(colleague.payload(org.point_id, [theirs])))
    assert answer.status_code in (200, 201), answer.text
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        resources.publish(session, server.settings(), workspace, name="Team journal",
                          kind="template", content=journal.encode())  # fmt: skip
        submission = session.get(Submission, answer.json()["submission_id"])
        member = session.get(Membership, account.member_id)
        assert submission is not None
        assert member is not None
        reviews.assign_peer(session, submission, member,
                            directory.user_for_email(session, "lead@example.org"))  # fmt: skip
        session.commit()

    share = publish_share(space, preview(space, [plan.id], account, ""), title="My plan",
                          comments=True)  # fmt: skip
    page = share.data["url"].removeprefix(server.url)
    comment = Browser(server).submit(page, f"{page}/comments", author_name="Grace",
                                     text="Nice one")  # fmt: skip
    assert comment.status_code == 303
    pulled = pull(space, account)
    assert not pulled.warnings
    [template] = pulled.templates
    [request] = space.sync_records(kinds.REVIEW_REQUEST)
    send_peer_review(space, request.id, "Clear goals; the deadline could be sooner.", 4)

    other = space.add_asset("builtin/journal", "Not sent yet", {})
    waiting = queue_submission(space, preview(space, [other.id], account, point))
    assert {r.kind for r in space.sync_records()} == PERSONS | DEVICES
    return Life(account, org, plan.id, waiting.id, template)


def export(space: Space, out: Path) -> tuple[Path, list[str]]:
    job = ExportJob(space, out, archive_passphrase=ARCHIVE_PASSPHRASE,
                    archive_work_factor=WORK_FACTOR)  # fmt: skip
    return out, export_portable(job).warnings


def members(archive: Path) -> dict[str, bytes]:
    with archive.open("rb") as handle:
        plain = AgeReader(handle, ARCHIVE_PASSPHRASE).read()
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def by_id(records: list[SyncRecord]) -> dict[str, SyncRecord]:
    return {record.id: record for record in records}


def test_a_restored_space_has_every_record_of_the_person_and_none_of_the_device(
    space: Space, server: LiveServer, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    life = live_in_a_workspace(space, server, tmp_path)
    kept = [in_archive(r) for r in space.sync_records() if r.kind in PERSONS]
    [request] = space.sync_records(kinds.REVIEW_REQUEST)
    assert COLLEAGUES_TITLE in json.dumps(request.data)  # in the space, for reviewing
    token = life.account.device_token

    archive, warnings = export(space, tmp_path / "me.cairn-archive")

    assert any("connect again with a new invite" in w for w in warnings)
    assert any(w.startswith("1 submission(s) not yet delivered") for w in warnings)
    files = members(archive)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format_version"] == 2
    assert manifest["contents"]["sync_records"] == len(kept)
    folders = Counter(name.split("/")[0] for name in files if name.endswith(".json"))
    assert folders["disclosures"] == 2  # the receipt and the share
    assert folders["feedback"] == 4  # a comment, a decision, a review request, a share comment
    assert folders["resources"] == 1
    everything = b"".join(files.values())
    assert token.encode() not in everything
    assert COLLEAGUES_TITLE.encode() not in everything  # but never in the archive
    assert life.waiting.encode() not in everything  # the outbox entry's id
    schema = json.loads((SCHEMAS / "sync-record.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for name, data in files.items():
        if name.split("/")[0] in ("disclosures", "feedback", "resources"):
            jsonschema.validate(json.loads(data), schema, cls=jsonschema.Draft202012Validator)

    # A new computer: no organisation templates there yet.
    shutil.rmtree(organisation_template_root())
    target = tmp_path / "new-laptop.cairn"
    report = import_portable(archive, NewSpace(target, "new passphrase", kdf_policy),
                             ARCHIVE_PASSPHRASE)  # fmt: skip
    assert report.details["sync_records_new"] == len(kept)
    assert report.details["organisation_templates_installed"] == 1
    with Space.open(target, "new passphrase", kdf_policy=kdf_policy) as restored:
        # Exactly as kept: ids, kinds, asset ids, versions, update times and data.
        assert by_id(restored.sync_records()) == by_id(kept)
        assert accounts(restored) == []
        assert restored.sync_records(kinds.OUTBOX) == []
        assert restored.verify().ok

        # The signatures still check: the server's on the receipt, the person's own on
        # what was sent (with the identity key that travelled in the archive).
        [receipt] = restored.sync_records(kinds.RECEIPT)
        signed = SignedDocument.model_validate(receipt.data["receipt"])
        server_key = bytes.fromhex(life.account.server_key)
        # The key travels with the receipt, so it can be checked without the account.
        assert receipt.data["server_key"] == life.account.server_key
        assert {r.data["server_key"] for r in restored.sync_records(kinds.FEEDBACK)} == {
            life.account.server_key}  # fmt: skip
        assert signed.key_id == key_id(server_key)
        verify_bytes(server_key, RECEIPT_FORMAT, signed.body_bytes(), signed.signature_bytes())
        sent = SignedDocument.model_validate(receipt.data["submission"])
        verify_bytes(restored.identity_public_key(), SUBMISSION_FORMAT, sent.body_bytes(),
                     sent.signature_bytes())  # fmt: skip

        # What the person sees of the plan is what they saw before.
        status = asset_status(restored, life.plan)
        assert [s.state for s in status.submissions] == ["delivered"]
        assert status.decision is not None
        assert status.decision.decision == "validated"
        assert [f.text for f in status.feedback] == ["Good plan; add a review date.",
                                                     "Well evidenced."]  # fmt: skip
        assert [(c.author_name, c.text) for c in status.share_comments] == [("Grace", "Nice one")]
        assert TemplateLibrary.load().find(life.template) is not None

        again, _ = export(restored, tmp_path / "again.cairn-archive")
    assert {n: d for n, d in members(again).items() if n != "manifest.json"} == {
        n: d for n, d in files.items() if n != "manifest.json"
    }


def test_connecting_the_restored_space_again_brings_nothing_twice(
    space: Space, server: LiveServer, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    """After a restore, the person connects with a new invite; the pull starts from the
    beginning, and what the archive brought is the same record, not a second one."""
    life = live_in_a_workspace(space, server, tmp_path)
    archive, _ = export(space, tmp_path / "me.cairn-archive")
    target = tmp_path / "new-laptop.cairn"
    import_portable(archive, NewSpace(target, "pw", kdf_policy), ARCHIVE_PASSPHRASE)
    with Space.open(target, "pw", kdf_policy=kdf_policy) as restored:
        before = Counter(r.kind for r in restored.sync_records())
        code = make_invite(server, life.org, email=life.account.email)
        account = connect(restored, server.url, code, "New laptop")
        assert pull(restored, account).cursor > 0
        after = Counter(r.kind for r in restored.sync_records())
        assert after == before + Counter({kinds.ACCOUNT: 1})
        assert asset_status(restored, life.plan).decision is not None


def test_merging_the_archive_back_changes_nothing_and_a_newer_record_wins(
    space: Space, server: LiveServer, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    life = live_in_a_workspace(space, server, tmp_path)
    archive, _ = export(space, tmp_path / "me.cairn-archive")
    before = by_id(space.sync_records())

    report = import_portable(archive, space, ARCHIVE_PASSPHRASE)

    persons = [r for r in before.values() if r.kind in PERSONS]
    # The review request here has the colleague's submission, the archive's only the
    # review: the space's copy is kept.
    assert report.details["sync_records_unchanged"] == len(persons) - 1
    assert report.details["sync_records_kept"] == 1
    assert report.details["sync_records_new"] == report.details["sync_records_updated"] == 0
    assert by_id(space.sync_records()) == before

    # On the laptop, the share was revoked after the archive was made; here it was not.
    laptop_path = tmp_path / "laptop.cairn"
    import_portable(archive, NewSpace(laptop_path, "pw", kdf_policy), ARCHIVE_PASSPHRASE)
    [share] = space.sync_records(kinds.SHARE)
    with Space.open(laptop_path, "pw", kdf_policy=kdf_policy) as laptop:
        laptop.put_sync_record(SyncRecord(share.id, share.kind, {**share.data, "revoked": True},
                                          share.asset_ids))  # fmt: skip
        newer, _ = export(laptop, tmp_path / "laptop.cairn-archive")
    merged = import_portable(newer, space, ARCHIVE_PASSPHRASE)
    assert merged.details["sync_records_updated"] == 1
    now = space.sync_record(share.id)
    assert now is not None
    assert now.data["revoked"] is True
    assert now.version > share.version
    assert space.verify().ok
    assert asset_status(space, life.plan).shares[0].revoked
    # Changed here since: this space's record is newer than the laptop's, and is kept.
    space.put_sync_record(SyncRecord(share.id, share.kind, {**now.data, "comments_enabled": False},
                                     share.asset_ids))  # fmt: skip
    again = import_portable(newer, space, ARCHIVE_PASSPHRASE)
    assert again.details["sync_records_kept"] == 2  # the share, and the review request again
    latest = space.sync_record(share.id)
    assert latest is not None
    assert (latest.data["revoked"], latest.data["comments_enabled"]) == (True, False)
