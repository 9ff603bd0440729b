"""The ASGI application: API routes under /api/v1, web pages, and what guards them all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.protocol import API_PREFIX, API_VERSION
from sync.server.config import ServerSettings
from sync.server.db import make_engine, migrate
from sync.server.errors import ApiError
from sync.server.ratelimit import RateLimiter

#: Pages need no script at all; styles come from our own stylesheet only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

_STATUS_CODES = {
    400: "bad_request", 401: "unauthorised", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "invalid_request", 429: "rate_limited",
}  # fmt: skip


def create_app(settings: ServerSettings, engine: Engine | None = None) -> FastAPI:
    """The server for ``settings``; migrates the database if it is behind."""
    from sync.server import api, web

    engine = engine or make_engine(settings)
    migrate(engine)
    app = FastAPI(
        title="Cairn workspace server",
        version=str(API_VERSION),
        description="Receives the evidence people choose to share, and sends feedback back.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sign_in_limiter = RateLimiter(settings.sign_in_limit)
    app.state.enrol_limiter = RateLimiter(settings.enrol_limit)
    app.state.comment_limiter = RateLimiter(settings.comment_limit)

    app.include_router(api.router)
    app.include_router(web.router)

    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, settings=settings)
    return app


# -------------------------------------------------------------------- errors


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """JSON for the API; a page for the browser."""
    if not _is_api(request):
        from sync.server.web import error_page

        return error_page(request, status, message, headers=headers)
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _api_error(request: Request, exc: ApiError) -> Response:
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    # Never echo the input back: it may be large, or a secret sent to the wrong field.
    details = [
        {"where": ".".join(str(p) for p in error.get("loc", ())), "problem": error.get("msg", "")}
        for error in exc.errors()[:20]
    ]
    return error_response(
        request, 422, "invalid_request", "the request does not have the expected shape", details
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # A bug: the documented error shape, and nothing of the request or the exception
    # (uvicorn still logs the traceback for the admin).
    return error_response(
        request, 500, "internal_error", "the server failed to handle this request; "
        "it has been logged for the administrator",
    )  # fmt: skip


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "the request cannot be handled"
    headers = exc.headers
    if exc.status_code == 404:
        message = "there is nothing at this address"
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        # Starlette names only the methods of the first route at this path; a path
        # served by several routes (GET and PUT of a blob) must list them all.
        headers = {**(headers or {}), "Allow": allowed}
    return error_response(request, exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> str:
    """The methods some route answers at this path (asked of the routes themselves:
    routers may be nested)."""
    routes = request.app.router.routes
    return ", ".join(
        method for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    )  # fmt: skip


# ---------------------------------------------------------------- middleware


class BodyTooLarge(StarletteHTTPException):
    """A body over the limit, found while reading it. An HTTPException, because FastAPI
    turns any other error met while parsing a JSON body into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request is larger than the limit of {limit} bytes")


class BodyLimit:
    """Refuse request bodies over the configured caps (413) before a route reads them.
    Attachment pieces (``/api/v1/blobs/``) have their own, larger cap."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = (
            self.settings.max_chunk_bytes
            if path.startswith(f"{API_PREFIX}/blobs/")
            else self.settings.max_body_bytes
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await self._refuse(scope, receive, send, limit)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        request = Request(scope, receive)
        response = error_response(
            request, 413, "too_large", f"the request is larger than the limit of {limit} bytes"
        )
        await response(scope, receive, send)


class SecurityHeaders:
    """Headers every answer carries: no framing, no sniffing, no referrer, strict CSP."""

    HEADERS = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.HEADERS if h[0] not in present)
                if scope.get("path", "").startswith("/api/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
