"""The profile page: make an API token (shown once), list and revoke them; list the
user's logins (browsers) and end one or all of them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..api.tokens import TokenError, create_token, revoke_token, user_tokens
from ..auth.logins import LoginError, end_all_logins, end_login, idle_limit, user_logins
from ..extensions import db

bp = Blueprint("profile", __name__, url_prefix="/profile")


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=80)],
                       description="What uses it, e.g. the CI pipeline of the web servers.")


class RevokeForm(FlaskForm):
    """Only the CSRF token."""


def _render(form: TokenForm, token: str | None = None, status: int = 200):
    return render_template("profile/index.html", form=form, revoke_form=RevokeForm(),
                           tokens=user_tokens(current_user), new_token=token,
                           logins=user_logins(current_user), idle_days=idle_limit().days,
                           roles=current_user.roles), status


@bp.get("/")
@login_required
def index():
    return _render(TokenForm())


@bp.post("/tokens")
@login_required
def create():
    form = TokenForm()
    if not form.validate():
        return _render(form, status=400)
    try:
        _row, token = create_token(current_user._get_current_object(), form.name.data)
    except TokenError as exc:
        form.name.errors.append(str(exc))
        return _render(form, status=400)
    db.session.commit()
    # rendered, not redirected: the token must not travel in the (signed, readable) session
    return _render(TokenForm(formdata=None), token)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    if not RevokeForm().validate():
        abort(400)
    try:
        row = revoke_token(current_user._get_current_object(), token_id)
    except TokenError:
        abort(404)
    db.session.commit()
    flash(f"Token “{row.name}” revoked: requests with it are refused from now on.", "success")
    return redirect(url_for(".index"))


@bp.post("/logins/<int:login_id>/end")
@login_required
def end_one(login_id: int):
    if not RevokeForm().validate():
        abort(400)
    user = current_user._get_current_object()
    try:
        end_login(user, login_id)
    except LoginError:
        abort(404)
    db.session.commit()
    if login_id == user.login_id:
        logout_user()
        flash("You logged out: that login was this browser's.", "info")
        return redirect(url_for("auth.login"))
    flash("Logged out that browser: its cookies are refused from now on.", "success")
    return redirect(url_for(".index"))


@bp.post("/logins/end-all")
@login_required
def end_all():
    if not RevokeForm().validate():
        abort(400)
    count = end_all_logins(current_user._get_current_object(), "revoked")
    db.session.commit()
    logout_user()
    flash(f"Logged out everywhere ({count} login{'' if count == 1 else 's'} ended).", "info")
    return redirect(url_for("auth.login"))
