"""The engine: dispatch runs to RQ workers that run sessions over SSH and publish results.

The package itself imports nothing at module level: its modules import each other
(``from . import events``) without pulling in the process state.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Load the session modules and hang the engine's state off ``app.extensions["minke"]``."""
    from sessions.discovery import load_sessions

    from .state import MinkeState

    load_sessions(app.config["MINKE_SESSION_MODULES"])
    app.extensions["minke"] = MinkeState(app.config)
