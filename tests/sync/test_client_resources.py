"""The sync client's in-memory resource download (fetch_resource) against a real server:
the bytes the signed event announced, or a refusal."""

from __future__ import annotations

import hashlib

import pytest

from sync.errors import BadServerSignature, Rejected
from sync.protocol import ResourceInfo
from sync.server import directory, resources
from tests.live_server import LiveServer
from tests.sync.conftest import enrol_device
from tests.sync.proxy import FaultProxy


def test_a_resource_is_fetched_into_memory_exactly_as_announced(
    server: LiveServer, proxy: FaultProxy
) -> None:
    device = enrol_device(server)
    content = b"%PDF-1.4 onboarding checklist " * 3000
    with server.session() as session:
        workspace = directory.find_workspace(session, device.org.workspace_id)
        resources.publish(session, server.settings(), workspace, name="Checklist",
                          kind="document", content=content,
                          media_type="application/pdf")  # fmt: skip
        session.commit()
    [item] = device.client.pull().items
    announced = ResourceInfo.model_validate(item.event.data)  # verified by pull
    assert announced.sha256 is not None
    assert announced.size == len(content)

    fetched = device.client.fetch_resource(
        announced.id, announced.version, sha256=announced.sha256, size=announced.size
    )

    assert fetched == content
    other = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(BadServerSignature, match="not the one the server announced"):
        device.client.fetch_resource(announced.id, announced.version, sha256=other,
                                     size=announced.size)  # fmt: skip
    with pytest.raises(BadServerSignature, match="larger than announced"):
        device.client.fetch_resource(announced.id, announced.version, sha256=announced.sha256,
                                     size=1000)  # fmt: skip
    with pytest.raises(Rejected) as missing:
        device.client.fetch_resource(announced.id, 9, sha256=announced.sha256,
                                     size=announced.size)  # fmt: skip
    assert missing.value.status == 404

    # A server (or a machine in between) that swaps one byte on the way is caught.
    through = device.restarted(proxy.url)
    proxy.rewrite_answer(lambda block: block.replace(b"onboarding", b"ONBOARDING", 1)
                         if b"onboarding" in block else None)  # fmt: skip
    with pytest.raises(BadServerSignature, match="not the one the server announced"):
        through.fetch_resource(announced.id, announced.version, sha256=announced.sha256,
                               size=announced.size)  # fmt: skip
    through.close()
