"""Logging in and out, loading the user for Flask-Login, and the login every page requires."""

from __future__ import annotations

import datetime as dt

from flask import Flask, jsonify, request
from flask_login import current_user

from ..database import begin_read_only
from ..extensions import login_manager
from .logins import load_user

# Endpoints a visitor reaches without logging in: the login page and the CSS it needs.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})


def init_app(app: Flask) -> None:
    from .views import bp

    # login throttling (throttle.py): failed attempts per user name / address per window
    app.config.setdefault("MINKE_LOGIN_USER_LIMIT", 5)
    app.config.setdefault("MINKE_LOGIN_ADDRESS_LIMIT", 20)
    app.config.setdefault("MINKE_LOGIN_WINDOW", 15 * 60)
    # a login unused this long ends (logins.py), and the remember-me cookie lasts as long
    days = float(app.config.get("MINKE_LOGIN_DAYS") or 30)
    app.config.setdefault("REMEMBER_COOKIE_DURATION", dt.timedelta(days=days))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)
    app.before_request(_read_only_for_safe_methods)
    app.before_request(_require_login)
    app.register_blueprint(bp)


def _read_only_for_safe_methods() -> None:
    """GET and HEAD requests only read: their transaction must not take SQLite's write lock
    (it would stall the workers' writes for as long as a page takes to render)."""
    if request.method in ("GET", "HEAD"):
        begin_read_only()


def _require_login():
    """Every page and JSON endpoint needs a logged-in user, whatever its view forgot.

    Views keep their own ``login_required`` too; this is the net under them.
    Clients asking for JSON get a 401 instead of a redirect to the login page.
    """
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None  # None: no route matched, Flask answers 404/405 on its own
    if request.blueprint == "api":
        return None  # tokens, never the session cookie: webapp/api/auth.py
    if current_user.is_authenticated:
        return None
    if _wants_json():
        return jsonify(error="login required"), 401
    return login_manager.unauthorized()


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json" or request.path.endswith(".json")
