"""History: past runs with filters, each object's sessions, re-runs and exports."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .queries import session_title
    from .views import bp

    app.jinja_env.globals["session_title"] = session_title
    app.register_blueprint(bp)
