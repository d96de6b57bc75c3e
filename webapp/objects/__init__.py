"""The dashboard's home and object lists: pick objects, a session, fill its form, confirm, run."""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from .badges import BADGES, badge_key
from .specs import VIEW_HOSTS, list_specs


def init_app(app: Flask) -> None:
    from .views import bp

    app.jinja_env.globals.update(badge_key=badge_key, badge_labels=BADGES)
    app.context_processor(_navigation)
    app.register_blueprint(bp)


def _navigation() -> dict:
    """What the layout's navigation needs: the lists the user may open, the current one."""
    def nav_lists():
        if not current_user.is_authenticated or not current_user.has_permissions([VIEW_HOSTS]):
            return []
        return list(list_specs().values())

    current = request.blueprint
    if current == "objects":
        current = (request.view_args or {}).get("slug")
    return {"nav_lists": nav_lists, "nav_current": current}
