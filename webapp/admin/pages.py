"""What every admin page does alike: render, store one change, confirm it, refuse it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for

from .. import accounts, inventory
from ..extensions import db
from .forms import ActionForm

DomainError = (accounts.AccountError, inventory.InventoryError)
"""The domain errors whose message a page shows as the reason a change was refused."""


def page(template: str, form=None, error: str | None = None, **context: Any):
    """Render an admin page: 400 for a POST (a change that is stored redirects instead)."""
    status = 400 if request.method == "POST" else 200
    return render_template(f"admin/{template}", nav_current="admin", form=form, error=error,
                           **context), status


def save(change: Callable[[], object]) -> str | None:
    """Run ``change`` (one domain function) and commit; the reason it was refused (after a
    rollback: nothing changed), or None when it is stored."""
    try:
        change()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return str(exc)
    except sa.exc.IntegrityError as exc:  # another admin stored the same name meanwhile
        db.session.rollback()
        return f"the database refused the change: {exc.orig}"
    return None


def done(message: str, endpoint: str, **args: Any):
    flash(message, "success")
    return redirect(url_for(endpoint, **args))


def action_form() -> ActionForm:
    """The CSRF-only form of a button; :raises 400: when its token is missing or wrong."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    return form


def confirm_delete(form: ActionForm, error: str | None, what: str, back: str,
                   consequence: str):
    return page("confirm_delete.html", form, error, what=what, back=back,
                consequence=consequence)
