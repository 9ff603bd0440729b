"""A fault-injecting TCP proxy on 127.0.0.1, between the sync client and a live server.

It forwards bytes both ways and, when told, breaks things the way networks do:
refuses every connection while "down", cuts a connection after N more bytes towards
the server (in the middle of an upload or a request), drops a connection as soon as
the server's answer starts (the server did the work, the client never hears of it),
or rewrites one piece of an answer. Every fault fires once and then the proxy goes
back to forwarding. A cut is a reset (RST), as when a cable is pulled.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from contextlib import suppress

_BLOCK = 64 * 1024


class _Connection:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.cut_on_answer = False

    def abort(self) -> None:
        """Reset both sides (and so wake the pump blocked on the other one)."""
        _reset(self.client)
        _reset(self.upstream)


class FaultProxy:
    """Listens on a free port of 127.0.0.1 and forwards to ``target_port``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections = 0  # accepted, including refused ones
        self.bytes_up = 0  # client -> server, forwarded
        self.bytes_down = 0  # server -> client, forwarded
        self._lock = threading.Lock()
        self._down = False
        self._cut_up_after: int | None = None
        self._cut_answer_to: bytes | None = None
        self._rewrite: Callable[[bytes], bytes | None] | None = None
        self._open: set[_Connection] = set()
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so the accept loop sees close() promptly
        self.port: int = self._listener.getsockname()[1]
        self._start(self._accept_loop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- faults

    def down(self) -> None:
        """Reset open connections and refuse new ones until ``up``."""
        with self._lock:
            self._down = True
            open_now = list(self._open)
        for connection in open_now:
            connection.abort()

    def up(self) -> None:
        with self._lock:
            self._down = False

    def cut_upstream_after(self, count: int) -> None:
        """Reset the connection once ``count`` more bytes have gone towards the server."""
        with self._lock:
            self._cut_up_after = count

    def cut_answer_to(self, marker: bytes) -> None:
        """Reset the connection when the server starts answering a request that contained
        ``marker`` (e.g. ``b"POST /api/v1/submissions "``): the client gets no answer."""
        with self._lock:
            self._cut_answer_to = marker

    def rewrite_answer(self, change: Callable[[bytes], bytes | None]) -> None:
        """Replace the first block from the server for which ``change`` returns bytes."""
        with self._lock:
            self._rewrite = change

    # -------------------------------------------------------------- plumbing

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self._start(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            down = self._down or self._closed.is_set()
        try:
            upstream = None if down else socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            upstream = None
        if upstream is None:
            _reset(client)
            client.close()
            return
        connection = _Connection(client, upstream)
        with self._lock:
            self._open.add(connection)
        answers = threading.Thread(target=self._pump_down, args=(connection,), daemon=True)
        answers.start()
        self._pump_up(connection)
        answers.join()
        with self._lock:
            self._open.discard(connection)
        client.close()
        upstream.close()

    def _pump_up(self, connection: _Connection) -> None:
        while data := _recv(connection.client):
            cut = False
            with self._lock:
                if self._cut_answer_to is not None and self._cut_answer_to in data:
                    connection.cut_on_answer, self._cut_answer_to = True, None
                if self._cut_up_after is not None:
                    if len(data) >= self._cut_up_after:
                        data, cut, self._cut_up_after = data[: self._cut_up_after], True, None
                    else:
                        self._cut_up_after -= len(data)
                self.bytes_up += len(data)
            if cut or not _send(connection.upstream, data):
                connection.abort()
                return
        _half_close(connection.upstream)  # the client is done sending; let the answer come

    def _pump_down(self, connection: _Connection) -> None:
        while data := _recv(connection.upstream):
            with self._lock:
                cut = connection.cut_on_answer
                if self._rewrite is not None and (changed := self._rewrite(data)) is not None:
                    data, self._rewrite = changed, None
                if not cut:
                    self.bytes_down += len(data)
            if cut or not _send(connection.client, data):
                connection.abort()
                return
        _half_close(connection.client)

    def close(self) -> None:
        """Stop listening, reset every connection, and wait for every thread."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            open_now = list(self._open)
            threads = list(self._threads)
        for connection in open_now:
            connection.abort()
        for thread in threads:
            thread.join(timeout=5)
        leaked = [t for t in threads if t.is_alive()]
        assert not leaked, f"{len(leaked)} proxy threads did not stop"

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(_BLOCK)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _half_close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def _reset(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
