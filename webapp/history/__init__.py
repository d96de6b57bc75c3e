"""History: past runs with filters, each object's sessions, re-runs and exports."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .views import bp

    app.register_blueprint(bp)
