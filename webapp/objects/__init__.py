"""The object lists: pick objects, a session, fill its form, confirm, run."""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from ..permissions import can_list
from ..status import BADGES, badge_key
from .specs import list_specs


def init_app(app: Flask) -> None:
    from .views import bp

    app.jinja_env.globals.update(badge_key=badge_key, badge_labels=BADGES)
    app.context_processor(_navigation)
    app.register_blueprint(bp)


def _navigation() -> dict:
    """What the layout's navigation needs: the lists the user may open, the current one."""
    def nav_lists():
        return [spec for spec in list_specs().values() if can_list(current_user, spec.model)]

    current = request.blueprint
    if current == "objects":
        current = (request.view_args or {}).get("slug")
    return {"nav_lists": nav_lists, "nav_current": current}
