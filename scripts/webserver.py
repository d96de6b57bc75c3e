"""The one command line of a web process, for ``scripts/start``, the tests and the benchmarks.

gunicorn with its gevent worker: Flask-SocketIO's own recommendation for
production (its "Deployment" page), with simple-websocket (never install
gevent-websocket: plain ``-k gevent`` then fails every WebSocket handshake).
One process per port (``-w 1``: gunicorn's balancing is not sticky); an open
WebSocket costs a greenlet, not a thread. docs/deploy.md has the measurements
behind the choice (bench/team.py).

    cmd = web_command("127.0.0.1:5000")
"""

from __future__ import annotations

import sys

# connections one process serves at once (gunicorn's default is 1000): the live viewers
# plus the requests of pages and the API; what exceeds it waits in the listen backlog
WORKER_CONNECTIONS = 4000
# the model before issue 18, kept for bench/team.py's side-by-side: a thread per connection
OLD_THREADS = 50


def web_command(bind: str, *, model: str = "gevent", threads: int = OLD_THREADS,
                extra: tuple[str, ...] = ()) -> list[str]:
    """``python -m gunicorn …`` serving ``wsgi:app`` on ``bind``.

    :param model: ``"gevent"`` (what Minke runs) or ``"gthread"`` (``threads`` threads, the
        old model; only bench/team.py compares against it).
    """
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-w", "1", "-b", bind]
    if model == "gevent":
        cmd += ["-k", "gevent", "--worker-connections", str(WORKER_CONNECTIONS)]
    elif model == "gthread":
        cmd += ["-k", "gthread", "--threads", str(threads)]
    else:
        raise ValueError(f"unknown server model {model!r}")
    return [*cmd, *extra, "wsgi:app"]
