"""The admin pages (permission ``minke.admin``): users, roles, hosts and host groups."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import hosts  # noqa: F401  (its views join the blueprint)
    from .views import bp

    app.register_blueprint(bp)
