"""The token-authenticated JSON API (/api/v1): sessions, objects, runs, events, stop,
export; tokens are made on the profile page (webapp/profile)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from ..extensions import csrf
    from . import (  # noqa: F401  # their routes join the blueprint
        notifications,
        schedules,
    )
    from .views import bp

    csrf.exempt(bp)  # no cookie authenticates the API: nothing for a forged request to ride on
    app.register_blueprint(bp)
