"""Whole WebSocket frames on the wire, whatever the server model.

simple-websocket 1.1.0 (Engine.IO's WebSocket under gunicorn) writes each frame
with one ``socket.send``, which may write only part of it: under gevent whenever
the client's receive buffer is nearly full (a slow reader, a burst of events),
on a thread when the socket has a timeout. The rest of the frame is dropped, the
client's framing goes out of step, it misses the following events and pings and
gives up ~30 s later (simple-websocket issue #45, fixed upstream after the last
release; bench/RESULTS.md section 9 measured it as viewers dropped at random).

:class:`WholeFrames` stands in for the request's socket: ``send`` writes the whole
buffer (``sendall``), one writer at a time, since Engine.IO's writer and
simple-websocket's reader (its pongs and close frames) both write. Reading and
everything else go to the socket itself.
"""

from __future__ import annotations

import threading
from typing import Any

SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")
"""The environ keys simple-websocket takes the connection's socket from."""


class WholeFrames:
    """A socket whose ``send`` writes everything it is given, or raises."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._lock = threading.Lock()  # gevent's lock in a patched web process

    def send(self, data: bytes, flags: int = 0) -> int:
        with self._lock:
            self._sock.sendall(data, flags)
        return len(data)

    sendall = send

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def whole_frames(environ: dict[str, Any]) -> None:
    """Make the WebSocket that Engine.IO opens for this request write whole frames."""
    for key in SOCKET_KEYS:
        sock = environ.get(key)
        if sock is not None and not isinstance(sock, WholeFrames):
            environ[key] = WholeFrames(sock)
