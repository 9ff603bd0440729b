"""In-process rate limits for sign-in, invite redemption and public comments."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from sync.server.config import RateLimit
from sync.server.errors import RateLimited


class RateLimiter:
    """A sliding window per key; thread-safe. One server process holds its own windows,
    which is what a single-process server needs (a cluster would share them).

    ``check`` counts every attempt (public comments). For secrets that are guessed
    (passwords, invite codes) count only failures: ``ensure_allowed`` before trying,
    ``record_failure`` after a wrong guess, so honest use never locks anyone out.
    """

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one attempt for ``key``; RateLimited (429) if over the limit."""
        with self._lock:
            self._raise_if_full(key, time.monotonic())
            self._hits.setdefault(key, deque()).append(time.monotonic())
            self._forget_idle()

    def ensure_allowed(self, key: str) -> None:
        """RateLimited (429) if ``key`` has used up its window; counts nothing."""
        with self._lock:
            self._raise_if_full(key, time.monotonic())

    def record_failure(self, key: str) -> None:
        with self._lock:
            self._hits.setdefault(key, deque()).append(time.monotonic())
            self._forget_idle()

    def _raise_if_full(self, key: str, now: float) -> None:
        hits = self._hits.get(key)
        if hits is None:
            return
        while hits and hits[0] <= now - self.limit.seconds:
            hits.popleft()
        if len(hits) >= self.limit.count:
            retry = max(1, math.ceil(hits[0] + self.limit.seconds - now))
            raise RateLimited(
                f"too many attempts; try again in {retry} seconds",
                headers={"Retry-After": str(retry)},
            )

    def _forget_idle(self) -> None:
        if len(self._hits) > 100_000:  # forget idle keys rather than grow forever
            self._hits = {k: v for k, v in self._hits.items() if v}
