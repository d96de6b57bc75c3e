"""Logging in and out; loading the user for Flask-Login."""

from __future__ import annotations

from flask import Flask

from ..extensions import db, login_manager
from ..models import User


def init_app(app: Flask) -> None:
    from .views import bp

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(_load_user)
    app.register_blueprint(bp)


def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None
