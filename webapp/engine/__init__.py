"""The engine: dispatch runs to RQ workers that run sessions over SSH and publish results."""

from __future__ import annotations

from flask import Flask

from .state import MinkeState


def init_app(app: Flask) -> None:
    """Load the session modules and hang the engine's state off ``app.extensions["minke"]``."""
    from sessions.discovery import load_sessions

    load_sessions(app.config["MINKE_SESSION_MODULES"])
    app.extensions["minke"] = MinkeState(app.config)
