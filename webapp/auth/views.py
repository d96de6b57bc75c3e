from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user

from ..extensions import db
from ..models import User
from .forms import LoginForm

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(sa.select(User).where(User.name == form.name.data))
        if user is not None and user.active and user.check_password(form.password.data):
            login_user(user)
            target = request.args.get("next", "")
            # only follow local paths, never another site
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("web.index")
            return redirect(target)
        flash("Unknown user or wrong password.", "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
