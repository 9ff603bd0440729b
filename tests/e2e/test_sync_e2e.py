"""End to end: a member's space and a reviewer on one real workspace server.

The member connects with an invite, chooses a plan with a 50 MB attachment and sends
it with `cairn`; a reviewer signs in on the server's web pages, comments and validates
it; the member syncs and ends up with the verified receipt, the feedback and the
decision kept beside the plan. Nothing the member did not choose ever reached the
server: its database and its files are searched for every unchosen title, answer and
attachment byte.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from app.space import Space
from app.syncing.accounts import find_account
from app.syncing.status import asset_status
from store.kdf import KdfPolicy
from sync.protocol import RECEIPT_FORMAT, ReceiptBody, SignedDocument, open_document, sha256_hex
from sync.server.models import Blob, Submission, SubmissionAsset, SubmissionAttachment, Upload
from tests.conftest import PASSPHRASE
from tests.live_server import LiveServer, running_server
from tests.server.browser import make_staff, signed_in
from tests.server.client import make_invite, make_org

MiB = 1024 * 1024
UNSENT_TITLE = "Unsent-title-3b7e: my private worries"
UNSENT_TEXT = "Unsent-answer-91c2: nobody at work should read this"
UNSENT_BYTES = b"Unsent-attachment-bytes-5d0f:"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("e2e-server"), "sqlite") as live:
        yield live


def _file(path: Path, size: int, prefix: bytes = b"") -> str:
    """A file of ``size`` random bytes (after ``prefix``); returns its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        block = prefix + os.urandom(min(size, MiB) - len(prefix))
        written = 0
        while written < size:
            piece = block[: size - written]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            block = os.urandom(MiB)
    return digest.hexdigest()


def _files_containing(folder: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``folder`` (the database included) holding one of ``needles``."""
    found = []
    overlap = max(len(n) for n in needles)
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        tail = b""
        with path.open("rb") as handle:
            while block := handle.read(MiB):
                window = tail + block
                if any(n in window for n in needles):
                    found.append(str(path))
                    break
                tail = window[-overlap:]
    return found


def test_a_member_submits_a_plan_a_reviewer_validates_it_and_the_rest_never_leaves(
    cli, space_path: Path, server: LiveServer, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:  # type: ignore[no-untyped-def]
    org = make_org(server, mode="locked")
    assert cli("init", space_path).code == 0
    joined = cli("connect", space_path, server.url, "--invite", make_invite(server, org))
    assert joined.code == 0, joined.err

    plan = cli("add", space_path, "--template", "smart-plan",
               "--title", "Run our first retrospective",
               "--set", "specific=Run a retrospective with the whole team by March.",
               "--set", "deadline=2026-03-31").out.strip()  # fmt: skip
    recording = tmp_path / "retrospective.mp4"
    recording_sha = _file(recording, 50 * MiB)
    assert cli("attach", space_path, plan, recording).code == 0
    private = cli("add", space_path, "--template", "journal", "--title", UNSENT_TITLE,
                  "--set", f"entry={UNSENT_TEXT}").out.strip()  # fmt: skip
    secret = tmp_path / "worries.txt"
    secret_sha = _file(secret, 200_000, UNSENT_BYTES)
    assert cli("attach", space_path, private, secret).code == 0
    assert cli("edit", space_path, plan, "--link", private).code == 0  # linked, not chosen
    elsewhere = cli("add", space_path, "--template", "journal", "--title", "Another day",
                    "--set", f"entry={UNSENT_TEXT} (again)").out.strip()  # fmt: skip
    assert elsewhere

    # The member sees exactly what will go, and what will not, then confirms.
    submitted = cli("submit", space_path, plan, "--point", "Q3 evidence", "--yes")
    assert submitted.code == 0, submitted.err
    assert "Specific: Run a retrospective with the whole team by March." in submitted.out
    assert "attachment: retrospective.mp4 (50.0 MiB)" in submitted.out
    assert "NOT included" in submitted.out
    assert UNSENT_TITLE in submitted.out.split("NOT included")[1]
    assert UNSENT_TEXT not in submitted.out
    [entry] = json.loads(cli("outbox", space_path, "--json").out)
    submission_id = entry["submission_id"]

    synced = cli("sync", space_path)
    assert synced.code == 0, synced.err
    assert "1 sent" in synced.out

    # A reviewer reads it on the web, comments and validates it.
    reviewer = make_staff(server, org, "reviewer", name="Rita Reviewer")
    browser = signed_in(server, reviewer)
    queue = browser.get(f"/w/{org.workspace_id}")
    assert "Run our first retrospective" in queue.text
    page = f"/w/{org.workspace_id}/submissions/{submission_id}"
    review = browser.get(page)
    assert "Signature valid" in review.text
    assert "Run a retrospective with the whole team by March." in review.text
    assert "retrospective.mp4" in review.text
    assert UNSENT_TITLE not in review.text
    answer = browser.submit(page, f"{page}/comments", text="Good plan: who will facilitate?")
    assert answer.status_code == 303
    answer = browser.submit(page, f"{page}/decisions", decision="validated", rating=4,
                            rubric="Planning", text="Well evidenced.")  # fmt: skip
    assert answer.status_code == 303

    synced = cli("sync", space_path)
    assert synced.code == 0, synced.err
    shown = cli("feedback", space_path, plan)
    assert "Decision: Validated (Rita Reviewer" in shown.out
    assert "Good plan: who will facilitate?" in shown.out

    # The member's space holds the verified receipt, the feedback and the decision.
    with Space.open(space_path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as space:
        status = asset_status(space, plan)
        [submission] = status.submissions
        assert submission.state == "delivered"
        assert submission.receipt is not None
        record = space.sync_record(submission.receipt.id)
        assert record is not None
        assert record.asset_ids == [plan]
        account = find_account(space, None)
        sent = SignedDocument.model_validate(record.data["submission"])
        receipt = open_document(SignedDocument.model_validate(record.data["receipt"]),
                                bytes.fromhex(account.server_key), RECEIPT_FORMAT,
                                ReceiptBody)  # fmt: skip
        assert str(receipt.submission_id) == submission_id
        assert receipt.payload_sha256 == sha256_hex(sent.body_bytes())
        assert [(f.kind, f.text) for f in status.feedback] == [
            ("comment", "Good plan: who will facilitate?"), ("decision", "Well evidenced.")
        ]  # fmt: skip
        assert status.decision is not None
        assert (status.decision.decision, status.decision.rating) == ("validated", 4)
        assert status.badge == "validated"
        for unchosen in (private, elsewhere):
            assert asset_status(space, unchosen).submissions == ()
            assert space.sync_records(asset_id=unchosen) == []

    # And the server has the plan and its recording, and nothing else of the member's.
    with server.session() as session:
        [stored] = session.exec(select(Submission).where(col(Submission.id) == submission_id))
        assert stored.payload_sha256 == receipt.payload_sha256
        members_rows = session.exec(
            select(Submission).where(col(Submission.membership_id) == stored.membership_id)
        ).all()
        assert len(members_rows) == 1
        sent_assets = session.exec(
            select(SubmissionAsset).where(col(SubmissionAsset.submission_id) == submission_id)
        )
        assert [a.asset_id for a in sent_assets] == [plan]
        sent_files = session.exec(
            select(SubmissionAttachment)
            .where(col(SubmissionAttachment.submission_id) == submission_id)
        )  # fmt: skip
        assert [a.sha256 for a in sent_files] == [recording_sha]
        uploads = session.exec(
            select(Upload).where(col(Upload.membership_id) == stored.membership_id)
        )
        assert {u.sha256 for u in uploads} == {recording_sha}
        blobs = {b.sha256 for b in session.exec(select(Blob))}
        assert recording_sha in blobs
        assert secret_sha not in blobs
        for text in (UNSENT_TITLE, UNSENT_TEXT, private, elsewhere):
            assert text.encode() not in stored.payload
    assert _files_containing(server.data_dir, [
        UNSENT_TITLE.encode(), UNSENT_TEXT.encode(), UNSENT_BYTES, private.encode(),
        elsewhere.encode(), secret_sha.encode(),
    ]) == []  # fmt: skip
    assert any(p.name == recording_sha for p in server.data_dir.rglob("*"))
    # The search does find what was sent (in the database file and the blob store).
    assert _files_containing(server.data_dir, [b"Run our first retrospective"])
