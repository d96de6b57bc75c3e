"""Whether this process runs on gevent's greenlets (the web process, scripts/webserver.py).

gunicorn's gevent worker monkey-patches the standard library before it loads
the app; the worker, the CLI and the tests' in-process apps are never patched.
Code whose blocking calls would hold every greenlet (SQLite's busy wait) or
that must pick a concurrency model (Flask-SocketIO) asks here.
"""

from __future__ import annotations

import sys


def gevent_patched() -> bool:
    """True once gevent has monkey-patched this process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")
