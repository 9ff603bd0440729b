"""Errors the server answers with: a status, a machine-readable code and a sentence."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Raised anywhere under a route; becomes ``{"error": {"code", "message"}}``."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details
        self.headers = headers


class Unauthorised(ApiError):
    status = 401
    code = "unauthorised"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Gone(ApiError):
    status = 410
    code = "gone"


class TooLarge(ApiError):
    status = 413
    code = "too_large"


class Unprocessable(ApiError):
    status = 422
    code = "invalid_request"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"
