"""Fuzzing the API with schemathesis, on a live server over SQLite and PostgreSQL.

Every operation in the server's own OpenAPI document gets generated requests, valid and
invalid, with a real device token and without one. Signed documents are fuzzed as well:
a random signature stops at the signature check, so the bodies inside signed
submissions are generated separately and then signed with the member's real key.
No input may make the server fail (5xx), and every refusal has the documented shape.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from sqlmodel import create_engine

from sync.protocol import (
    API_PREFIX,
    SUBMISSION_FORMAT,
    ErrorResponse,
    SubmissionPayload,
    sign_bytes,
)
from sync.server.app import create_app
from sync.server.config import ServerSettings
from tests.live_server import LiveServer
from tests.server.client import Member, Org, join, make_invite, make_org

#: Bounded and reproducible: the same cases on every run, no shrinking (a failure
#: reports the case as found), at most 15 generated cases per operation and phase.
CONFIG: dict[str, Any] = {
    "seed": 7,
    "generation": {"max-examples": 15, "deterministic": True, "no-shrink": True,
                   "database": "none"},
    # A well-formed request can still be refused for what it says (a signature that
    # does not match, an unknown invite code): the schema cannot express that.
    "checks": {"positive_data_acceptance": {"enabled": False}},
}  # fmt: skip


def _document() -> dict[str, Any]:
    # pytest makes one test per operation while collecting, before any server runs, so
    # the document comes from the same application built in memory; the first test
    # checks it is the one the live server publishes.
    app = create_app(ServerSettings(data_dir=Path("/nonexistent")), create_engine("sqlite://"))
    return app.openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture(scope="module")
def org(server: LiveServer) -> Org:
    return make_org(server, mode="open")


@pytest.fixture(scope="module")
def member(server: LiveServer, org: Org) -> Member:
    return join(server, org)


def _assert_well_formed(response: requests.Response | Any, server: LiveServer) -> None:
    """No server error, and a refusal says what is wrong in the documented shape."""
    status = response.status_code
    if status >= 500:
        raise AssertionError(
            f"{status} from the server; its log ends:\n{server.log_text()[-3000:]}"
        )
    if status >= 400:
        ErrorResponse.model_validate_json(response.content)


# ----------------------------------------------------------- found by fuzzing
# (First in the file: the fuzzing of /enrol uses up the rate limit on enrolment.)


def test_a_nul_character_in_text_is_refused_on_both_databases(
    server: LiveServer, org: Org, member: Member
) -> None:
    """PostgreSQL cannot store U+0000 in text: it was a 500 there (and stored on SQLite)."""
    payload = member.payload(org.point_id).model_dump(mode="json")
    payload["assets"][0]["title"] = "Plan\x00B"  # past the client's own checks
    answer = member.post(
        "/submissions",
        data=sign_bytes(
            member.identity, SUBMISSION_FORMAT, json.dumps(payload).encode()
        ).model_dump_json(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_document"
    assert member.get(f"/submissions/{payload['submission_id']}").status_code == 404

    code = make_invite(server, org)
    enrolment = {"invite_code": code, "identity_key": member.identity_hex, "device_name": "Pad\x00"}
    refused = requests.post(server.api("/enrol"), json=enrolment, timeout=30)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_request"
    # Nothing was taken: the same invite still works with a proper name.
    enrolment["device_name"] = "Pad"
    assert requests.post(server.api("/enrol"), json=enrolment, timeout=30).status_code == 201


def test_more_requests_at_once_than_worker_threads_all_get_answers(
    server: LiveServer, org: Org, member: Member
) -> None:
    """Found by the load benchmark: with more requests at once than the server's worker
    threads (40), on SQLite every worker waited for the write lock held by a request
    that needed a worker to finish; nothing moved for the 30 s busy timeout, and then
    requests failed with 500 "database is locked"."""
    clients = 60
    start = threading.Barrier(clients)

    def device(_: int) -> list[int]:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {member.token}"
        start.wait()
        statuses = []
        for _round in range(2):
            signed = member.sign(member.payload(org.point_id))
            statuses.append(http.post(server.api("/submissions"), data=signed.model_dump_json(),
                                      headers={"Content-Type": "application/json"},
                                      timeout=20).status_code)  # fmt: skip
            statuses.append(http.get(server.api("/pull"), timeout=20).status_code)
        return statuses

    with ThreadPoolExecutor(clients) as pool:
        answers = [status for statuses in pool.map(device, range(clients)) for status in statuses]
    assert sorted(set(answers)) == [200, 201]
    assert answers.count(201) == 2 * clients


def test_the_same_submission_sent_at_once_on_several_connections_gets_one_receipt(
    server: LiveServer, org: Org, member: Member
) -> None:
    """Found by the load benchmark: on PostgreSQL the twin that lost the race failed
    with 500 (a unique violation) instead of getting the same receipt as a retry."""
    senders = 8
    for _attempt in range(5):
        signed = member.sign(member.payload(org.point_id)).model_dump_json()
        start = threading.Barrier(senders)

        def send(_: int, signed: str = signed, start: threading.Barrier = start) -> tuple[int, str]:
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {member.token}"
            start.wait()
            answer = http.post(server.api("/submissions"), data=signed, timeout=30,
                               headers={"Content-Type": "application/json"})  # fmt: skip
            return answer.status_code, answer.text

        with ThreadPoolExecutor(senders) as pool:
            answers = list(pool.map(send, range(senders)))
        assert sorted(status for status, _ in answers) == [200] * (senders - 1) + [201], answers
        assert len({text for _, text in answers}) == 1


def test_a_method_not_allowed_names_every_method_the_address_takes(server: LiveServer) -> None:
    """Found by fuzzing: Starlette named only the first route's methods at a path
    served by several (GET and PUT of a blob)."""
    answer = requests.delete(server.api(f"/blobs/{'0' * 64}"), timeout=30)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, PUT"
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_the_fuzzed_document_is_the_one_the_server_publishes(server: LiveServer) -> None:
    published = requests.get(server.api("/openapi.json"), timeout=30)
    assert published.status_code == 200
    assert published.json() == DOCUMENT


@schema.parametrize()
def test_any_request_with_a_device_token(case: Case, server: LiveServer, member: Member) -> None:
    response = case.call_and_validate(
        base_url=server.url, headers={"Authorization": f"Bearer {member.token}"}
    )
    if case.path.startswith(API_PREFIX):
        _assert_well_formed(response, server)


@schema.parametrize()
@settings(max_examples=5)  # almost all stop at the missing token
def test_any_request_without_a_token(case: Case, server: LiveServer) -> None:
    response = case.call_and_validate(base_url=server.url)
    if case.path.startswith(API_PREFIX):
        _assert_well_formed(response, server)


# ------------------------------------------------------------- signed documents


def _body_schema(model: type[Any]) -> schemathesis.schemas.BaseSchema:
    """A one-operation OpenAPI document whose request body is ``model``: schemathesis
    then generates bodies for it (valid ones, and ones that break its rules)."""
    json_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components = json_schema.pop("$defs", {})
    _shorten_lists([json_schema, components])
    components[model.__name__] = json_schema
    document = {
        "openapi": "3.1.0",
        "info": {"title": model.__name__, "version": "1"},
        "paths": {"/body": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}},
            "responses": {"200": {"description": "ok"}},
        }}},
        "components": {"schemas": components},
    }  # fmt: skip
    return schemathesis.openapi.from_dict(document)


def _shorten_lists(node: Any) -> None:
    """At most 3 items in any list: the limits on lengths have tests of their own, and
    small documents keep the fuzzing fast while still varying every field."""
    if isinstance(node, dict):
        if node.get("type") == "array":
            node["maxItems"] = min(node.get("maxItems", 3), 3)
        for value in node.values():
            _shorten_lists(value)
    elif isinstance(node, list):
        for value in node:
            _shorten_lists(value)


PAYLOADS = _body_schema(SubmissionPayload)["/body"]["POST"]


def _signed_submission(member: Member, point_id: str, body: Any, valid: bool) -> str:
    if isinstance(body, dict):
        # Aim at this member's workspace and point, so generated content gets checked
        # beyond them.
        body = {**body, "workspace_id": member.workspace_id, "point_id": point_id,
                "identity_key": member.identity_hex}  # fmt: skip
        if valid:
            # ... and valid ones all the way into storage: a new id (generation repeats
            # itself), and no attachments (they would have to be uploaded first).
            body["submission_id"] = str(uuid.uuid4())
            for asset in body.get("assets", []):
                asset["attachments"] = []
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sign_bytes(member.identity, SUBMISSION_FORMAT, raw).model_dump_json()


@settings(
    max_examples=30, derandomize=True, deadline=None, database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    st.one_of(
        st.tuples(st.just(True), PAYLOADS.as_strategy(GenerationMode.POSITIVE)),
        st.tuples(st.just(False), PAYLOADS.as_strategy(GenerationMode.NEGATIVE)),
    )
)
def test_any_signed_submission(
    server: LiveServer, org: Org, member: Member, generated: tuple[bool, Case]
) -> None:
    valid, case = generated
    answer = member.post(
        "/submissions",
        data=_signed_submission(member, org.point_id, case.body, valid),
        headers={"Content-Type": "application/json"},
    )
    _assert_well_formed(answer, server)
    if valid and "\\u0000" not in json.dumps(case.body):  # the schema cannot say "no NUL"
        assert answer.status_code == 201, answer.text
