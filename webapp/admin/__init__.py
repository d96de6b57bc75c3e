"""The admin pages (permission ``minke.admin``): users, roles, hosts and host groups; the
host and host group pages also for ``minke.edit_hosts``."""

from __future__ import annotations

from flask import Flask

from ..permissions import admin_sections


def init_app(app: Flask) -> None:
    from . import hosts  # noqa: F401  (its views join the blueprint)
    from .views import bp

    # the menu and the admin index show only the sections the user may open
    app.jinja_env.globals.update(admin_sections=admin_sections)
    app.register_blueprint(bp)
