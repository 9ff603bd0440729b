"""Spreading kept-alive connections evenly over the worker processes (``--workers``).

The workers share one listening socket, and whichever is quickest accepts a new
connection: when many clients connect at once, one worker takes a burst of them. With
keep-alive a client then stays with that worker, so one worker can serve twice the
connections of another, and its clients wait twice as long (50 devices: 36 on one
worker and 14 on the other). Each worker counts its open connections in memory shared
with the others; a worker holding more than its share answers the next request on one
of them with ``Connection: close``, and the client's next connection is accepted by
whichever worker is free first.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_CONTEXT = multiprocessing.get_context("spawn")


class ConnectionShares:
    """Open connections per worker, in memory shared by the workers: a slot each,
    claimed by process id (a worker that replaces a dead one takes its slot over)."""

    def __init__(self, workers: int) -> None:
        self.lock = _CONTEXT.Lock()
        # Room for twice as many: uvicorn's supervisor can add workers (SIGTTIN).
        self.owners = _CONTEXT.RawArray("i", 2 * workers)
        self.counts = _CONTEXT.RawArray("i", 2 * workers)
        self.slot = -1

    def __getstate__(self) -> dict[str, Any]:
        # Travels to each worker as it is spawned (the only way shared memory can).
        return {"lock": self.lock, "owners": self.owners, "counts": self.counts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.slot = -1

    def claim(self) -> None:
        """Take a slot for this process: a free one, or one whose process is gone."""
        pid = os.getpid()
        with self.lock:
            for index, owner in enumerate(self.owners):
                if owner in (0, pid) or not _alive(owner):
                    self.owners[index] = pid
                    self.counts[index] = 0
                    self.slot = index
                    return

    def release(self) -> None:
        if self.slot >= 0:
            with self.lock:
                if self.owners[self.slot] == os.getpid():
                    self.owners[self.slot] = 0
                    self.counts[self.slot] = 0
            self.slot = -1

    def add(self, change: int) -> None:
        if self.slot >= 0:
            with self.lock:
                self.counts[self.slot] += change

    def over_share(self) -> bool:
        """Whether this worker holds more than its share of the open connections (an
        equal part of all of them, rounded up)."""
        if self.slot < 0:
            return False
        with self.lock:
            live = [c for owner, c in zip(self.owners, self.counts, strict=True) if owner]
            mine = self.counts[self.slot]
        return len(live) > 1 and mine > math.ceil(sum(live) / len(live))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: This worker's shares (None in a server of one process).
_shares: ConnectionShares | None = None


def install(shares: ConnectionShares) -> None:
    """In a worker process: take a slot in ``shares`` and count connections in it."""
    global _shares
    _shares = shares
    shares.claim()
    atexit.register(shares.release)


class BalancedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, counting this worker's connections in its shares and
    closing one after its current request while the worker holds more than its share."""

    counted = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if _shares is not None:
            _shares.add(1)
            self.counted = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._uncount()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if (
            self.counted
            and _shares is not None
            and cycle is not None
            and cycle.keep_alive
            and _shares.over_share()
        ):
            # Answered, then closed: counted as gone now, so that the requests on other
            # connections meanwhile do not all leave too.
            cycle.keep_alive = False
            self._uncount()

    def _uncount(self) -> None:
        if self.counted and _shares is not None:
            self.counted = False
            _shares.add(-1)
