"""The Socket.IO server of a web process: its concurrency model, timeouts and door.

A web process serves its live pages from greenlets when it runs under
gunicorn's gevent worker (``scripts/start``, docs/deploy.md): one open
WebSocket costs a greenlet and a socket, not a thread, so a thousand viewers
leave the pages and the API their speed. Everything else that creates the
app (the ``minke`` CLI, the worker, the tests' in-process app) is not
monkey-patched and keeps plain threads.
"""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO

from ..greenlets import gevent_patched

# seconds: Engine.IO's own defaults, stated so that docs/deploy.md and the caps agree with
# them; a client that answers no ping within interval + timeout is disconnected
PING_INTERVAL = 25
PING_TIMEOUT = 20

socket_server = SocketIO()


def async_mode() -> str:
    """``"gevent"`` in a process gevent has monkey-patched (gunicorn ``-k gevent``), else
    ``"threading"``: the mode must match what blocking calls do in this process."""
    return "gevent" if gevent_patched() else "threading"


def init_app(app: Flask) -> None:
    """Create the app's Socket.IO server on the Redis message queue and put the gate
    (:mod:`.gate`) in front of its endpoint."""
    from . import gate

    socket_server.init_app(app, async_mode=async_mode(), message_queue=app.config["REDIS_URL"],
                           ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)
    gate.install(app, socket_server)
