"""The audit log: :func:`log_action` (webapp/audit/log.py) and the admins' page."""

from __future__ import annotations

from flask import Flask

from .log import log_action

__all__ = ["init_app", "log_action"]


def init_app(app: Flask) -> None:
    from .views import bp

    app.register_blueprint(bp)
