"""A bug in a route still answers in the documented shape and says nothing of the
request. (The one place a fault is injected: a route that raises, added in-process,
since the real routes have no known way to fail.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from sync.server.app import create_app
from sync.server.config import ServerSettings


def test_an_unexpected_failure_is_a_json_500_for_the_api_and_a_page_for_the_browser(
    tmp_path: Path,
) -> None:
    settings = ServerSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/s.db")
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("secret detail from the database")

    app.add_api_route("/api/v1/boom", boom)
    app.add_api_route("/boom", boom)

    status, headers, body = _get(app, "/api/v1/boom")
    assert status == 500
    assert json.loads(body)["error"]["code"] == "internal_error"
    assert b"secret" not in body
    status, headers, body = _get(app, "/boom")
    assert status == 500
    assert headers[b"content-type"].startswith(b"text/html")
    assert b"secret" not in body


def _get(app: Any, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    """One GET straight through the ASGI app (no HTTP client library needed)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [(b"host", b"127.0.0.1")], "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "root_path": "",
             "http_version": "1.1", "asgi": {"version": "3.0"}}  # fmt: skip
    # Starlette re-raises after answering, so that the server logs the traceback.
    with contextlib.suppress(RuntimeError):
        asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body
