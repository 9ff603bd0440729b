"""Server-rendered pages for reviewers and admins, and public share pages (no script)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """A plain page for an error in the browser."""
    body = (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Cairn</title>"
        f"<h1>Something is not right</h1><p>{escape(message)}</p></html>"
    )
    return HTMLResponse(body, status_code=status, headers=headers)
