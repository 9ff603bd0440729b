"""Sync in the app (app/syncing) against a real workspace server: connecting, the
preview of what a submission discloses, the outbox, pushing, pulling, shares, status
per asset, and the `cairn` commands that drive them."""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from app.forms.library import TemplateLibrary, organisation_template_root
from app.space import Space
from app.syncing import kinds
from app.syncing.accounts import (
    Account,
    accounts,
    client_for,
    connect,
    disconnect,
    find_account,
    save_account,
)
from app.syncing.disclosure import preview, queue_submission
from app.syncing.errors import DisclosureError, NoSuchEntry, NoSuchPoint, ReviewError
from app.syncing.outbox import entries, push, retry, withdraw
from app.syncing.pulling import (
    folder_name,
    forget_organisation_names,
    install_organisation_templates,
    learn_organisation_names,
    organisation_names,
    pull,
)
from app.syncing.resources import MAX_DOCUMENT_BYTES, document_content, organisation_resources
from app.syncing.reviews import review_request, review_requests, send_peer_review
from app.syncing.sharing import publish_share, revoke_share, update_share
from app.syncing.status import asset_status, badges
from store.kdf import KdfPolicy
from store.records import AssetRecord, SyncRecord
from sync.errors import InviteInvalid
from sync.protocol import SUBMISSION_FORMAT, SignedDocument, SubmissionPayload, parse_body
from sync.protocol import verify_bytes as verify_signature
from sync.server import directory, resources, reviews
from sync.server.models import Membership, Share, Submission
from tests.conftest import PASSPHRASE
from tests.live_server import LiveServer, free_port, running_server
from tests.server.browser import Browser
from tests.server.client import Org, join, make_invite, make_org, snapshot

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> LiveServer:  # type: ignore[misc]
    """One server for the module (SQLite); tests keep apart with their own workspaces."""
    with running_server(tmp_path_factory.mktemp("syncing-server"), "sqlite") as live:
        yield live


@pytest.fixture(autouse=True)
def _organisation_names_forgotten() -> Iterator[None]:
    """The organisations' names a test's space taught this process go with the test."""
    yield
    forget_organisation_names()


# --------------------------------------------------------------------- helpers


def connected(
    space: Space, server: LiveServer, *, mode: str = "open", org: Org | None = None,
    url: str | None = None,
) -> tuple[Account, Org]:  # fmt: skip
    """The space connected to a new workspace (or ``org``) with a fresh invite."""
    org = org or make_org(server, mode=mode)
    return connect(space, url or server.url, make_invite(server, org), "Test laptop"), org


def smart_plan(space: Space, title: str = "Run a retrospective", **extra: object) -> AssetRecord:
    template = TemplateLibrary.load().get("smart-plan")
    fields = {"specific": "Run our team's first retrospective.", "deadline": "2026-03-01",
              **extra}  # fmt: skip
    return space.add_asset(template.qualified_id, title, fields, template=template)


def attach_random(space: Space, asset_id: str, folder: Path, size: int, name: str) -> str:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return space.attach(asset_id, path).id


def queued(space: Space, account: Account, *asset_ids: str) -> SyncRecord:
    return queue_submission(space, preview(space, list(asset_ids), account,
                                           account.points[0]["id"]))  # fmt: skip


def stored_submissions(server: LiveServer, submission_id: str) -> list[Submission]:
    with server.session() as session:
        return list(session.exec(select(Submission).where(col(Submission.id) == submission_id)))


def add_feedback(
    server: LiveServer, submission_id: str, text: str = "", *, decision: str | None = None
) -> None:
    with server.session() as session:
        submission = reviews.submission_or_404(session, submission_id)
        reviewer = directory.user_for_email(session, "reviewer@example.org")
        kind = "decision" if decision else "comment"
        reviews.add_feedback(session, submission, reviewer, "reviewer", kind, text=text,
                             decision=decision)  # fmt: skip
        session.commit()


# -------------------------------------------------------------------- connect


def test_an_invite_connects_the_space_and_the_account_is_kept_sealed(
    space: Space, space_path: Path, kdf_policy: KdfPolicy, server: LiveServer
) -> None:
    account, org = connected(space, server)
    other, _ = connected(space, server)  # a second workspace on the same server

    assert account.workspace_id == org.workspace_id
    assert account.server_key == other.server_key  # one server, one pinned key
    assert [p["name"] for p in account.points] == ["Q3 evidence"]
    assert account.device_token not in repr(account)
    assert "device_token" not in account.public()
    space.lock()

    assert account.device_token.encode() not in space_path.read_bytes()  # sealed
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as again:
        kept = accounts(again)
        assert [a.workspace_name for a in kept] == [account.workspace_name, other.workspace_name]
        assert kept[0].device_token == account.device_token
        assert find_account(again, org.name).id == account.id
        code = make_invite(server, org, email=account.email)
        # Connecting the same workspace again replaces its device; it stays one account.
        renewed = connect(again, server.url, code, "Laptop")
        assert (renewed.id, renewed.workspace_id) == (account.id, account.workspace_id)
        assert renewed.device_id != account.device_id
        with pytest.raises(InviteInvalid):  # an invite works once
            connect(again, server.url, code, "Laptop")
        assert len(accounts(again)) == 2


# ----------------------------------------------------------------- disclosure


def test_the_preview_shows_every_field_and_attachment_and_what_stays_behind(
    space: Space, server: LiveServer, tmp_path: Path
) -> None:
    account, _ = connected(space, server)
    journal = space.add_asset("builtin/journal", "Private journal", {"body": "not for work"},
                              tags=["personal"])  # fmt: skip
    plan = smart_plan(space, actions=[{"text": "Ask Sam to observe", "done": True,
                                       "due": "2026-02-01"}])  # fmt: skip
    space.edit_asset(plan.id, add_links=[journal.id], add_tags=["private-tag"])
    attachment = attach_random(space, plan.id, tmp_path, 300_000, "notes.pdf")

    shown = preview(space, [plan.id[:8]], account, account.points[0]["id"])

    [asset] = shown.assets
    assert [(f.label, f.text) for f in asset.fields] == [
        ("Specific", "Run our team's first retrospective."),
        ("Time-bound: done by", "2026-03-01"),
        ("Actions", "[x] Ask Sam to observe (by 2026-02-01)"),
    ]
    assert [(a.attachment_id, a.name, a.size) for a in asset.attachments] == [
        (attachment, "notes.pdf", 300_000)
    ]
    assert asset.tags == ()  # tags stay on the device unless asked for
    assert [(n.asset_id, n.title) for n in shown.not_included] == [(journal.id, "Private journal")]
    assert shown.point_name == "Q3 evidence"
    sent = json.dumps([s.model_dump(mode="json") for s in shown.snapshots])
    assert "Private journal" not in sent
    assert "not for work" not in sent
    assert "private-tag" not in sent
    assert "private-tag" in json.dumps(
        [s.model_dump(mode="json") for s in preview(space, [plan.id], account,
                                                      account.points[0]["id"],
                                                      include_tags=True).snapshots]
    )  # fmt: skip

    with pytest.raises(NoSuchPoint):
        account.point("No such point")
    with pytest.raises(DisclosureError):
        preview(space, [], account, account.points[0]["id"])


def test_a_queued_submission_is_signed_by_the_space_and_waits_across_restarts(
    space: Space, space_path: Path, kdf_policy: KdfPolicy, server: LiveServer
) -> None:
    account, _ = connected(space, server)
    plan = smart_plan(space)
    shown = preview(space, [plan.id], account, account.points[0]["id"])
    space.edit_asset(plan.id, title="Changed after the preview")
    with pytest.raises(DisclosureError, match="changed after the preview"):
        queue_submission(space, shown)  # what was shown is what is sent, or nothing

    entry = queued(space, account, plan.id)
    space.lock()

    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as again:
        [waiting] = entries(again)
        assert (waiting.id, waiting.state, waiting.titles) == (
            entry.id, "queued", ("Changed after the preview",)
        )  # fmt: skip
        signed = SignedDocument.model_validate(again.sync_record(entry.id).data["document"])  # type: ignore[union-attr]
        verify_signature(again.identity_public_key(), SUBMISSION_FORMAT, signed.body_bytes(),
                         signed.signature_bytes())  # fmt: skip
        payload = parse_body(signed.body_bytes(), SubmissionPayload)
        assert str(payload.submission_id) == entry.id
        assert str(payload.point_id) == account.points[0]["id"]
        assert asset_status(again, plan.id).badge == "queued"


# ----------------------------------------------------------------------- push


def test_push_delivers_once_and_keeps_the_verified_receipt_with_the_asset(
    space: Space, server: LiveServer, tmp_path: Path
) -> None:
    account, _ = connected(space, server)
    plan = smart_plan(space)
    attach_random(space, plan.id, tmp_path, 3 * MiB + 5, "recording.mp4")
    unsent = smart_plan(space, "Not chosen")
    entry = queued(space, account, plan.id)
    seen: list[str] = []

    report = push(space, account, progress=lambda event: seen.append(event.phase))

    assert report.delivered == [entry.id]
    assert seen[0] == "uploading"
    assert seen[-2:] == ["submitting", "delivered"]
    [stored] = stored_submissions(server, entry.id)
    status = asset_status(space, plan.id)
    [submission] = status.submissions
    assert submission.state == "delivered"
    assert submission.receipt is not None
    assert submission.receipt.payload_sha256 == stored.payload_sha256
    receipt = space.sync_record(submission.receipt.id)
    assert receipt is not None
    assert receipt.asset_ids == [plan.id]
    kept = SignedDocument.model_validate(receipt.data["receipt"])
    assert kept == SignedDocument.model_validate_json(stored.receipt)
    assert asset_status(space, unsent.id).submissions == ()
    assert badges(space) == {plan.id: "delivered"}
    assert push(space, account).delivered == []  # nothing left to send
    assert len(stored_submissions(server, entry.id)) == 1


def test_a_refused_submission_fails_with_the_reason_and_can_be_retried(
    space: Space, server: LiveServer
) -> None:
    account, org = connected(space, server, mode="locked")
    first, second = smart_plan(space, "First"), smart_plan(space, "Second")
    queued(space, account, first.id)
    again = queued(space, account, second.id)

    report = push(space, account)

    assert len(report.delivered) == 1
    [(failed_id, reason)] = report.failed
    assert failed_id == again.id
    assert "locked" in reason
    [state] = asset_status(space, second.id).submissions
    assert (state.state, state.entry.error_code if state.entry else None) == (
        "failed", "point_locked"
    )  # fmt: skip
    assert state.reason == reason
    assert push(space, account).failed == []  # a failed entry waits for the person

    assert retry(space, again.id[:8]).state == "queued"
    assert push(space, account).failed[0][0] == again.id  # still refused, still kept
    assert stored_submissions(server, again.id) == []


# ----------------------------------------------------------------------- pull


def test_pull_brings_feedback_decisions_and_templates_home(
    space: Space, server: LiveServer, tmp_path: Path
) -> None:
    account, org = connected(space, server)
    plan = smart_plan(space)
    entry = queued(space, account, plan.id)
    push(space, account)
    add_feedback(server, entry.id, "Good plan; add a review date.")
    add_feedback(server, entry.id, "Well evidenced.", decision="validated")
    template = (Path("templates") / "journal.toml").read_text("utf-8")
    template = template.replace('id = "journal"', 'id = "team-journal"').replace(
        'name = "', 'name = "Team ', 1
    )
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        resources.publish(session, server.settings(), workspace, name="Team journal",
                          kind="template", content=template.encode())  # fmt: skip
        resources.publish(session, server.settings(), workspace, name="Broken",
                          kind="template", content=b'id = "x"\n')  # fmt: skip
        session.commit()

    report = pull(space, account, page_size=2)

    assert report.stored == {"feedback": 2, "resource": 2}
    assert report.cursor == 4
    assert len(report.warnings) == 1
    assert "Broken" in report.warnings[0]
    status = asset_status(space, plan.id)
    assert [f.text for f in status.feedback] == ["Good plan; add a review date.", "Well evidenced."]
    assert status.decision is not None
    assert status.decision.decision == "validated"
    assert badges(space)[plan.id] == "validated"
    [installed] = report.templates
    assert installed == f"org/{folder_name(org.workspace_id)}/team-journal"
    picked = TemplateLibrary.load().get(installed)
    assert picked.name.startswith("Team ")
    assert pull(space, account).stored == {}  # nothing new, nothing twice

    # The config folder says nothing of the organisation; its name is in the space.
    written = list(organisation_template_root().rglob("*"))
    assert written
    slug = org.name.lower().replace(" ", "-")
    for path in written:
        assert org.name not in str(path)
        assert slug not in str(path).lower()
        if path.is_file():
            assert org.name.encode() not in path.read_bytes()
            assert org.workspace_id.encode() not in path.read_bytes()
    assert organisation_names()[installed.split("/")[1]] == org.name  # learnt by the pull
    forget_organisation_names()  # the space locks
    assert installed.split("/")[1] not in organisation_names()
    assert learn_organisation_names(space) == {installed.split("/")[1]: org.name}
    assert organisation_names()[installed.split("/")[1]] == org.name

    # On another computer (no templates folder yet), the space puts them back.
    shutil.rmtree(organisation_template_root())
    forget_organisation_names()
    assert TemplateLibrary.load().find(installed) is None
    assert install_organisation_templates(space) == [installed]
    assert TemplateLibrary.load().get(installed).name == picked.name
    assert organisation_names()[installed.split("/")[1]] == org.name


def test_a_template_folder_named_after_the_organisation_by_an_earlier_cairn_is_kept(
    space: Space, server: LiveServer
) -> None:
    account, org = connected(space, server)
    # An earlier Cairn named the folder after the organisation, and assets record the
    # template ids it gave: org/<that name>/<id>.
    legacy = organisation_template_root() / "support-team"
    legacy.mkdir(parents=True)
    (legacy / ".organisation.json").write_text(
        json.dumps({"workspace_id": org.workspace_id, "name": org.name}), "utf-8")  # fmt: skip
    journal = (Path("templates") / "journal.toml").read_text("utf-8")
    old = journal.replace('id = "journal"', 'id = "shift-log"', 1)
    (legacy / "shift-log.toml").write_text(old, "utf-8")
    template = TemplateLibrary.load().get("org/support-team/shift-log")
    written = space.add_asset(template.qualified_id, "Tuesday", {"entry": "Quiet."},
                              template=template)  # fmt: skip
    forget_organisation_names()
    assert organisation_names()["support-team"] == org.name  # from its owner file
    newer = old.replace('version = "', 'version = "9', 1)
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        resources.publish(session, server.settings(), workspace, name="Shift log",
                          kind="template", content=newer.encode())  # fmt: skip
        session.commit()

    report = pull(space, account)

    assert report.templates == ["org/support-team/shift-log"]  # updated where it was
    assert not (organisation_template_root() / folder_name(org.workspace_id)).exists()
    library = TemplateLibrary.load()
    assert library.exact(written.template_id) is not None  # the asset keeps its template
    assert library.exact(written.template_id).version.startswith("9")  # type: ignore[union-attr]
    assert learn_organisation_names(space)["support-team"] == org.name


def test_a_withdrawn_submission_shows_as_withdrawn_whoever_withdrew_it(
    space: Space, server: LiveServer
) -> None:
    from ui.sync_jobs import library_badges

    account, _ = connected(space, server, mode="open")
    here, elsewhere = smart_plan(space, "Withdrawn here"), smart_plan(space, "Withdrawn elsewhere")
    first, second = queued(space, account, here.id), queued(space, account, elsewhere.id)
    push(space, account)
    add_feedback(server, first.id, "Well evidenced.", decision="validated")
    add_feedback(server, second.id, "Noted.")
    pull(space, account)
    assert library_badges(space) == {here.id: "validated", elsewhere.id: "feedback"}

    withdraw(space, first.id)  # from this device
    with client_for(space, account) as client:  # from another device: heard of by pull
        client.withdraw(uuid.UUID(second.id))
    assert asset_status(space, elsewhere.id).submissions[0].state == "delivered"
    pull(space, account)

    for asset in (here, elsewhere):
        status = asset_status(space, asset.id)
        assert [s.state for s in status.submissions] == ["withdrawn"]
        assert status.badge == "withdrawn"
    # The decision stays in the thread, but it no longer stands for the asset.
    assert asset_status(space, here.id).decision is not None
    assert badges(space) == {here.id: "withdrawn", elsewhere.id: "withdrawn"}
    assert library_badges(space) == {here.id: "withdrawn", elsewhere.id: "withdrawn"}

    again = queued(space, account, here.id)  # sent again: that submission is what counts
    assert badges(space)[here.id] == "queued"
    push(space, account)
    assert badges(space)[here.id] == "delivered"
    add_feedback(server, again.id, "Better.", decision="not_yet")
    pull(space, account)
    assert badges(space)[here.id] == "not_yet"


def publish_resource(server: LiveServer, org: Org, name: str, kind: str, **values: object) -> None:
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        resources.publish(session, server.settings(), workspace, name=name, kind=kind,
                          **values)  # type: ignore[arg-type]  # fmt: skip
        session.commit()


def test_documents_and_links_arrive_checked_and_kept_sealed_within_bounds(
    space: Space, space_path: Path, kdf_policy: KdfPolicy, server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account, org = connected(space, server)
    guide = b"%PDF-1.4 how we give feedback, in plain words " + os.urandom(200_000)
    publish_resource(server, org, "Feedback guide", "document", content=guide,
                     media_type="application/pdf")  # fmt: skip
    publish_resource(server, org, "Handbook", "link", url="https://intranet.example.org/hb")
    too_big = os.urandom(MAX_DOCUMENT_BYTES + 1)
    publish_resource(server, org, "Recording", "document", content=too_big, media_type="video/mp4")

    report = pull(space, account)

    assert report.stored == {"resource": 3}
    assert len(report.warnings) == 1
    assert "'Recording'" in report.warnings[0]
    assert "at most 4 MiB" in report.warnings[0]
    found = {r.name: r for r in organisation_resources(space, account.id)}
    assert sorted(found) == ["Feedback guide", "Handbook", "Recording"]
    assert (found["Feedback guide"].kind, found["Feedback guide"].kept) == ("document", True)
    assert found["Feedback guide"].size == len(guide)
    assert found["Feedback guide"].media_type == "application/pdf"
    assert (found["Handbook"].kind, found["Handbook"].url) == (
        "link", "https://intranet.example.org/hb")  # fmt: skip
    assert not found["Recording"].kept
    assert "at most 4 MiB" in (found["Recording"].problem or "")
    resource, content = document_content(space, found["Feedback guide"].id)
    assert (resource.name, content) == ("Feedback guide", guide)
    with pytest.raises(NoSuchEntry, match="not kept"):
        document_content(space, found["Recording"].id)
    with pytest.raises(NoSuchEntry):
        document_content(space, found["Handbook"].id)

    # A new version replaces the one before; the space stays within its bounds.
    monkeypatch.setattr("app.syncing.pulling.MAX_DOCUMENTS_BYTES", 250_000)
    newer = b"%PDF-1.4 version two " + os.urandom(100_000)
    publish_resource(server, org, "Feedback guide", "document", content=newer,
                     media_type="application/pdf")  # fmt: skip
    publish_resource(server, org, "Rota", "document", content=os.urandom(100_000),
                     media_type="text/csv")  # fmt: skip
    report = pull(space, account)
    assert report.warnings == []
    assert document_content(space, found["Feedback guide"].id)[1] == newer
    assert len(space.sync_records(kinds.RESOURCE_FILE)) == 2
    publish_resource(server, org, "Slides", "document", content=os.urandom(100_000),
                     media_type="application/pdf")  # fmt: skip
    [full] = pull(space, account).warnings
    assert "'Slides'" in full
    assert "used up" in full
    assert not {r.name: r for r in organisation_resources(space)}["Slides"].kept
    space.lock()
    sealed = space_path.read_bytes()
    assert b"how we give feedback" not in sealed
    assert b"version two" not in sealed
    assert b"intranet.example.org" not in sealed


def test_a_resource_kept_by_an_earlier_cairn_under_its_account_is_replaced_not_doubled(
    space: Space, server: LiveServer
) -> None:
    """Earlier, a resource's record id was made from the account, so connecting again
    kept a second copy. Now the next version replaces that record (and its file); a
    record from another server that names the same ids is left alone."""
    account, org = connected(space, server)
    publish_resource(server, org, "Feedback guide", "document", content=b"%PDF-1.4 one",
                     media_type="application/pdf")  # fmt: skip
    pull(space, account)
    [current] = space.sync_records(kinds.RESOURCE)
    [content] = space.sync_records(kinds.RESOURCE_FILE)
    resource_id = current.data["resource_id"]
    # As an earlier Cairn kept them, under another connection's account...
    old_account = str(uuid.uuid4())
    old_file = SyncRecord(kinds.derived_id(kinds.RESOURCE_FILE, old_account, resource_id),
                          kinds.RESOURCE_FILE, {**content.data, "account_id": old_account})
    old = SyncRecord(kinds.derived_id(kinds.RESOURCE, old_account, resource_id), kinds.RESOURCE,
                     {**current.data, "account_id": old_account, "file_record": old_file.id})
    # ...and one from another organisation's server that happens to use the same ids.
    stranger_event = {**current.data["event"], "key_id": "0123456789abcdef"}
    stranger = SyncRecord(kinds.derived_id(kinds.RESOURCE, "elsewhere", resource_id),
                          kinds.RESOURCE, {**current.data, "event": stranger_event})
    space.put_sync_records([old_file, old, stranger], delete=[current.id, content.id])

    publish_resource(server, org, "Feedback guide", "document", content=b"%PDF-1.4 two",
                     media_type="application/pdf")  # fmt: skip
    pull(space, account)

    ids = {r.id for r in space.sync_records(kinds.RESOURCE)}
    assert ids == {current.id, stranger.id}
    assert [r.id for r in space.sync_records(kinds.RESOURCE_FILE)] == [content.id]
    assert document_content(space, current.id)[1] == b"%PDF-1.4 two"


def test_a_document_that_is_not_the_one_announced_is_not_kept_and_the_pull_goes_on(
    space: Space, server: LiveServer
) -> None:
    from tests.sync.proxy import FaultProxy

    with FaultProxy(server.port) as proxy:
        account, org = connected(space, server, url=proxy.url)
        publish_resource(server, org, "Policy", "document", content=b"the real policy " * 100,
                         media_type="text/plain")  # fmt: skip
        add_later = smart_plan(space)
        entry = queued(space, account, add_later.id)
        push(space, account)
        add_feedback(server, entry.id, "After the document.")
        proxy.rewrite_answer(lambda block: block.replace(b"the real policy", b"the fake policy", 1)
                             if b"the real policy" in block else None)  # fmt: skip

        report = pull(space, account)

    assert report.stopped is None, report.stopped
    assert report.stored == {"resource": 1, "feedback": 1}  # the feedback after it came too
    [warning] = report.warnings
    assert "'Policy'" in warning
    assert "not the one the server announced" in warning
    [policy] = organisation_resources(space)
    assert not policy.kept
    assert space.sync_records(kinds.RESOURCE_FILE) == []


def test_the_resources_command_lists_documents_and_links_and_saves_a_document(
    cli, space_path: Path, server: LiveServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cli("init", space_path)
    org = make_org(server)
    assert cli("connect", space_path, server.url, "--invite", make_invite(server, org)).code == 0
    assert "No documents or links" in cli("resources", space_path).out
    rota = b"name,shift\nSam,early\n" * 500
    publish_resource(server, org, "Rota", "document", content=rota, media_type="text/csv")
    publish_resource(server, org, "Portal", "link", url="https://learning.example.org/")
    assert cli("sync", space_path).code == 0

    listed = cli("resources", space_path)
    assert f"{org.name}  Portal (v1): https://learning.example.org/" in listed.out
    assert "Rota (v1): document, 10.3 KiB, kept" in listed.out
    target = tmp_path / "rota.csv"
    saved = cli("resources", space_path, "--save", "rota", target)
    assert saved.code == 0, saved.err
    assert target.read_bytes() == rota
    assert cli("resources", space_path, "--save", "Portal", tmp_path / "x").code == 5
    assert not (tmp_path / "x").exists()


def test_a_share_is_published_commented_on_and_revoked(
    space: Space, server: LiveServer
) -> None:
    account, _ = connected(space, server)
    plan = smart_plan(space)
    shown = preview(space, [plan.id], account, "")

    record = publish_share(space, shown, title="My retrospective plan", comments=True)

    url = record.data["url"]
    assert url.startswith(server.url + "/s/")
    path = url.removeprefix(server.url)
    visitor = Browser(server)
    page = visitor.get(path)
    assert "first retrospective." in page.text
    assert "My retrospective plan" in page.text
    answer = visitor.submit(path, f"{path}/comments", author_name="Grace", text="Nice one")
    assert answer.status_code == 303
    pull(space, account)
    [comment] = asset_status(space, plan.id).share_comments
    assert (comment.author_name, comment.text) == ("Grace", "Nice one")

    form = visitor.form(path, f"{path}/comments")
    update_share(space, record.data["share_id"], comments=False)
    closed = visitor.post(f"{path}/comments", {**form, "author_name": "Grace", "text": "Again"})
    assert closed.status_code == 403
    assert asset_status(space, plan.id).shares[0].comments_enabled is False

    revoked = revoke_share(space, record.data["share_id"][:8])
    assert revoked.data["revoked"] is True
    assert visitor.get(path).status_code == 404
    with server.session() as session:
        assert session.get(Share, record.data["share_id"]) is not None
    [share] = asset_status(space, plan.id).shares
    assert share.revoked


def test_disconnecting_forgets_the_token_but_keeps_receipts_and_the_queue(
    space: Space, server: LiveServer
) -> None:
    account, org = connected(space, server)
    sent, waiting = smart_plan(space, "Sent"), smart_plan(space, "Waiting")
    queued(space, account, sent.id)
    push(space, account)
    entry = queued(space, account, waiting.id)

    assert disconnect(space, account) == 1
    assert accounts(space) == []
    assert all(account.device_token not in json.dumps(r.data) for r in space.sync_records())
    assert asset_status(space, sent.id).submissions[0].state == "delivered"
    [kept] = asset_status(space, waiting.id).submissions
    assert kept.state == "failed"
    assert "disconnected" in (kept.reason or "")

    again, _ = connected(space, server, org=org)  # connecting again sends what waited
    assert push(space, again).delivered == [entry.id]


# ---------------------------------------------------------------- peer review


def colleague_submission_for_review(server: LiveServer, org: Org, account: Account) -> str:
    """A colleague's submission in ``org``, assigned to ``account``'s member to review."""
    colleague = join(server, org)
    answer = colleague.submit(colleague.sign(colleague.payload(
        org.point_id, [snapshot("Plan: calmer incident calls",
                                approach="Use a checklist; name a scribe.")])))  # fmt: skip
    assert answer.status_code in (200, 201), answer.text
    submission_id = str(answer.json()["submission_id"])
    with server.session() as session:
        submission = session.get(Submission, submission_id)
        membership = session.get(Membership, account.member_id)
        assert submission is not None
        assert membership is not None
        reviews.assign_peer(session, submission, membership,
                            directory.user_for_email(session, "lead@example.org"))  # fmt: skip
        session.commit()
    return submission_id


def test_a_peer_review_is_sent_for_a_request_and_kept_with_it(
    space: Space, server: LiveServer
) -> None:
    account, org = connected(space, server)
    submission_id = colleague_submission_for_review(server, org, account)
    assert pull(space, account).stored == {"review_request": 1}
    [request] = review_requests(space)
    assert request.data["submission_id"] == submission_id
    assert review_request(space, submission_id[:8]).id == request.id
    with pytest.raises(ReviewError):  # nothing is sent for an empty review
        send_peer_review(space, request.id, "   ")
    with pytest.raises(ReviewError):
        send_peer_review(space, request.id, "Fine.", rating=6)
    with server.session() as session:
        assert reviews.thread(session, submission_id) == []

    sent = send_peer_review(space, request.id, " Clear steps; say who calls the customer. ", 4)
    again = send_peer_review(space, request.id, "Clear steps; say who calls the customer.", 4)

    with server.session() as session:
        [review] = reviews.thread(session, submission_id)  # sent twice, kept once
    assert (review.kind, review.text, review.rating, review.author_role) == (
        "peer_review", "Clear steps; say who calls the customer.", 4, "peer"
    )  # fmt: skip
    kept = space.sync_record(request.id)
    assert kept is not None
    assert kept.data["reviewed_at"] == sent.data["reviewed_at"] == again.data["reviewed_at"]
    assert kept.data["review_feedback_id"] == str(review.feedback_id)
    assert kept.data["review_feedback"]["kind"] == "peer_review"
    assert (kept.data["review_text"], kept.data["review_rating"]) == (review.text, 4)
    with pytest.raises(NoSuchEntry):
        review_request(space, "no-such-request")


def test_the_reviews_command_lists_shows_and_answers_a_request(
    cli, space_path: Path, server: LiveServer, kdf_policy: KdfPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    cli("init", space_path)
    org = make_org(server)
    assert cli("connect", space_path, server.url, "--invite", make_invite(server, org)).code == 0
    assert "Nobody has asked you" in cli("reviews", space_path).out
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as opened:
        account = find_account(opened, None)
    submission_id = colleague_submission_for_review(server, org, account)
    assert cli("sync", space_path).code == 0

    listed = cli("reviews", space_path)
    assert "to do" in listed.out
    assert "Plan: calmer incident calls" in listed.out
    request_id = listed.out.split()[0]
    shown = cli("reviews", space_path, request_id)
    assert "Use a checklist; name a scribe." in shown.out
    assert "Not reviewed yet" in shown.out
    assert cli("reviews", space_path, "--send", "Good").code == 2  # which request?
    assert cli("reviews", space_path, request_id, "--send", " ").code == 2

    monkeypatch.setattr("sys.stdin", io.StringIO("Clear steps.\nSay who calls the customer.\n"))
    sent = cli("reviews", space_path, request_id, "--send", "-", "--rating", "5")
    assert sent.code == 0, sent.err
    assert "Sent your review of Plan: calmer incident calls" in sent.out
    with server.session() as session:
        [review] = reviews.thread(session, submission_id)
    assert (review.text, review.rating) == ("Clear steps.\nSay who calls the customer.", 5)
    answered = json.loads(cli("reviews", space_path, request_id, "--json").out)
    assert answered["reviewed_at"]
    assert answered["review_rating"] == 5
    assert "reviewed" in cli("reviews", space_path).out


# ------------------------------------------------------------------------ CLI


def test_the_commands_connect_submit_sync_and_show_feedback(
    cli, space_path: Path, server: LiveServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", space_path).code == 0
    org = make_org(server, mode="open")
    code = make_invite(server, org)
    joined = cli("connect", space_path, server.url, "--invite", code, "--json")
    assert joined.code == 0, joined.err
    assert code not in joined.out
    data = json.loads(joined.out)
    assert "device_token" not in data
    assert data["workspace_name"] == org.name
    plan = cli("add", space_path, "--template", "smart-plan", "--title", "Lead a stand-up",
               "--set", "specific=Keep it to 15 minutes",
               "--set", "deadline=2026-05-01").out.strip()  # fmt: skip
    other = cli("add", space_path, "--template", "journal", "--title", "Secret",
                "--set", "entry=Private thoughts", "--link", plan).out.strip()  # fmt: skip
    cli("edit", space_path, plan, "--link", other)

    looked = cli("submit", space_path, plan, "--point", "Q3 evidence", "--preview")
    assert looked.code == 0
    assert "Specific: Keep it to 15 minutes" in looked.out
    assert "NOT included" in looked.out
    assert "Secret" in looked.out
    assert "Private thoughts" not in looked.out
    assert cli("outbox", space_path, "--json").out.strip() == "[]"
    refused = cli("submit", space_path, plan, "--point", "Q3 evidence")  # no tty, no --yes
    assert refused.code == 2
    assert "--yes" in refused.err
    assert cli("submit", space_path, plan, "--point", "nowhere", "--yes").code == 5

    sent = cli("submit", space_path, plan, "--point", "Q3 evidence", "--yes", "--json")
    assert sent.code == 0, sent.err
    submission_id = json.loads(sent.out)["queued"]["submission_id"]
    listed = cli("outbox", space_path)
    assert "queued" in listed.out
    assert "Lead a stand-up" in listed.out

    synced = cli("sync", space_path)
    assert synced.code == 0, synced.err
    assert "1 sent" in synced.out
    assert len(stored_submissions(server, submission_id)) == 1
    add_feedback(server, submission_id, "Try a timer.")
    add_feedback(server, submission_id, "", decision="needs_more_evidence")
    assert cli("sync", space_path).code == 0
    shown = cli("feedback", space_path, plan)
    assert "delivered to Q3 evidence" in shown.out
    assert "Decision: Needs more evidence" in shown.out
    assert "Try a timer." in shown.out

    withdrawn = cli("withdraw", space_path, submission_id)
    assert withdrawn.code == 0, withdrawn.err
    assert "withdrawn from Q3 evidence" in cli("feedback", space_path, plan).out
    with server.session() as session:
        assert session.get(Submission, submission_id).status == "withdrawn"  # type: ignore[union-attr]

    gone = cli("disconnect", space_path, org.name)
    assert gone.code == 0
    assert "not connected" in cli("sync", space_path).out.lower()


def test_sync_says_when_the_server_cannot_be_reached(
    cli, space_path: Path, server: LiveServer, kdf_policy: KdfPolicy
) -> None:  # type: ignore[no-untyped-def]
    cli("init", space_path)
    org = make_org(server)
    cli("connect", space_path, server.url, "--invite", make_invite(server, org))
    plan = cli("add", space_path, "--template", "journal", "--title", "Note",
               "--set", "entry=Today").out.strip()  # fmt: skip
    assert cli("submit", space_path, plan, "--point", "Q3 evidence", "--yes").code == 0
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as opened:
        account = find_account(opened, None)  # the server moves away: nothing answers there
        account.server_url = f"http://127.0.0.1:{free_port()}"
        save_account(opened, account)

    result = cli("sync", space_path)

    assert result.code == 10
    assert "wait in the outbox" in result.err
    listed = cli("outbox", space_path)
    assert "queued" in listed.out
    assert "attempt 1" in listed.out
