"""Log in and out."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from redis import RedisError

from ..audit import log_action
from ..extensions import db
from .credentials import authenticate
from .forms import LoginForm
from .logins import end_login, start_login
from .redirects import local_target
from .throttle import LoginThrottle

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

BAD_CREDENTIALS = "Unknown user name or wrong password."
THROTTLED = ("Too many failed logins {what}: try again in {minutes} minute{s}."
             " Even the right password is refused until then.")
UNAVAILABLE = "Logging in is unavailable: the attempt counter (Redis) does not answer."


def _throttle() -> LoginThrottle:
    config = current_app.config
    state = current_app.extensions["minke"]
    return LoginThrottle(state.redis, state.keys.prefix,
                         user_limit=config["MINKE_LOGIN_USER_LIMIT"],
                         address_limit=config["MINKE_LOGIN_ADDRESS_LIMIT"],
                         window=config["MINKE_LOGIN_WINDOW"])


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = local_target(request.args.get("next")) or url_for("home.home")
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template("auth/login.html", form=form, error=None), status
    throttle, address = _throttle(), request.remote_addr or "unknown"
    try:
        refused = throttle.check(form.name.data, address)
        if refused is None:
            user = authenticate(form.name.data, form.password.data)
            if user is None:
                throttle.failed(form.name.data, address)
            else:
                throttle.succeeded(form.name.data)
    except RedisError as exc:  # refused, not waved through: no count, no login
        log.error("login refused: Redis does not answer: %s", exc)
        return render_template("auth/login.html", form=form, error=UNAVAILABLE), 503
    if refused is not None:
        minutes = -(-refused.retry_after // 60)
        what = "for this user name" if refused.what == "user" else "from your address"
        error = THROTTLED.format(what=what, minutes=minutes, s="" if minutes == 1 else "s")
        response = render_template("auth/login.html", form=form, error=error)
        return response, 429, {"Retry-After": str(refused.retry_after)}
    if user is None:
        log_action("login.failed", f"user {form.name.data}", user=None, commit=True)
        return render_template("auth/login.html", form=form, error=BAD_CREDENTIALS), 401
    start_login(user, remember=form.remember.data, address=address,
                user_agent=request.headers.get("User-Agent", ""))
    log_action("login.success", f"user {user.name}", user=user, commit=True)
    login_user(user, remember=form.remember.data)
    return redirect(target)


@bp.post("/logout")
@login_required
def logout():
    # CSRFProtect has checked the token before the view runs
    user = current_user._get_current_object()
    end_login(user, user.login_id, action="login.logout")  # this login's cookies, everywhere
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))
