"""Schedules: run a session on a target at set times as its owner (docs/schedules.md).

``calendar`` computes the times, ``operations`` makes and changes schedules, ``firing``
fires them exactly once, ``ticker`` is the ``minke scheduler`` loop; ``views`` is the
Schedules page.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from ..permissions import can_schedule
    from .views import bp

    app.jinja_env.globals["can_schedule"] = can_schedule
    app.register_blueprint(bp)
