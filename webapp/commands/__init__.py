"""Commands defined in the browser (django-minke's contrib.commands): admins define shell
commands and command groups; each becomes a session in every process (sync.py)."""

from __future__ import annotations

from flask import Flask, request

from .sync import sync_sessions


def init_app(app: Flask) -> None:
    from .views import bp

    app.before_request(_sync_sessions)
    app.register_blueprint(bp)


def _sync_sessions() -> None:
    """Every request sees the commands as the database has them (one small read)."""
    if request.endpoint != "static":
        sync_sessions()
