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
    which is what a single-process server needs (a cluster would share them)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one attempt for ``key``; RateLimited (429) if over the limit."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.limit.seconds:
                hits.popleft()
            if len(hits) >= self.limit.count:
                retry = max(1, math.ceil(hits[0] + self.limit.seconds - now))
                raise RateLimited(
                    f"too many attempts; try again in {retry} seconds",
                    headers={"Retry-After": str(retry)},
                )
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle keys rather than grow forever
                self._hits = {k: v for k, v in self._hits.items() if v}
