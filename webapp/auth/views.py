"""Log in and out."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db
from ..models import User
from .forms import LoginForm
from .redirects import local_target

bp = Blueprint("auth", __name__)

BAD_CREDENTIALS = "Unknown user name or wrong password."


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = local_target(request.args.get("next")) or url_for("objects.home")
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if form.errors else 200
        return render_template("auth/login.html", form=form, error=None), status
    user = db.session.scalar(sa.select(User).where(User.name == form.name.data))
    if user is None or not user.active or not user.check_password(form.password.data):
        return render_template("auth/login.html", form=form, error=BAD_CREDENTIALS), 401
    login_user(user, remember=form.remember.data)
    return redirect(target)


@bp.post("/logout")
@login_required
def logout():
    # CSRFProtect has checked the token before the view runs
    logout_user()
    return redirect(url_for("auth.login"))
