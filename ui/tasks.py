"""One task runner for background work (see shared/STYLE.md, point 4).

Store jobs run one at a time on their own thread (the space file serialises
writes anyway, and ordering matters: a save must land before the next read);
network jobs run in parallel on another pool. Jobs take plain data and return
plain data; their result or exception is delivered on the GUI thread.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


class _Relay(QObject):
    """Carries a finished job's outcome back to the GUI thread (queued signal)."""

    finished = Signal(int, bool, object)


class _Job(QRunnable):
    def __init__(self, job_id: int, function: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.job_id = job_id
        self.function = function
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:  # runs on a pool thread
        try:
            result = self.function()
        except BaseException as exc:  # delivered to the caller, never lost
            self.relay.finished.emit(self.job_id, False, exc)
            return
        self.relay.finished.emit(self.job_id, True, result)


class TaskRunner(QObject):
    """Runs callables off the GUI thread and calls back on it."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store_pool = QThreadPool(self)
        self._store_pool.setMaxThreadCount(1)
        self._network_pool = QThreadPool(self)
        self._network_pool.setMaxThreadCount(4)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None,
                                         Callable[[BaseException], None] | None]] = {}  # fmt: skip

    def run_store(
        self,
        function: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> int:
        """Queue a store job; jobs run one at a time, in order."""
        return self._start(self._store_pool, function, on_done, on_error)

    def run_network(
        self,
        function: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> int:
        return self._start(self._network_pool, function, on_done, on_error)

    def _start(
        self,
        pool: QThreadPool,
        function: Callable[[], Any],
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
    ) -> int:
        job_id = next(self._ids)
        self._callbacks[job_id] = (on_done, on_error)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)
        pool.start(_Job(job_id, function, self._relay))
        return job_id

    def forget(self, job_id: int) -> None:
        """Drop a job's callbacks (e.g. a search superseded by the next keystroke)."""
        if job_id in self._callbacks:
            self._callbacks[job_id] = (None, None)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every queued job has finished (shutdown and tests only)."""
        return self._store_pool.waitForDone(msecs) and self._network_pool.waitForDone(msecs)

    @Slot(int, bool, object)
    def _on_finished(self, job_id: int, ok: bool, payload: object) -> None:
        on_done, on_error = self._callbacks.pop(job_id, (None, None))
        if not self._callbacks:
            self.busy_changed.emit(False)
        if ok and on_done is not None:
            on_done(payload)
        elif not ok and on_error is not None:
            on_error(payload)  # type: ignore[arg-type]
        elif not ok and not isinstance(payload, Exception):
            raise payload  # type: ignore[misc]
