"""The audit log: :func:`record` (webapp/audit/log.py) and the admins' page."""

from __future__ import annotations

from flask import Flask

from .log import record

__all__ = ["init_app", "record"]


def init_app(app: Flask) -> None:
    from .views import bp

    app.register_blueprint(bp)
