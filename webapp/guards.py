"""Blueprint-wide permission guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, request
from flask_login import current_user, login_required

from .errors import refuse
from .permissions import ADMIN, can_open_admin

View = TypeVar("View", bound=Callable)


def admins_only(bp: Blueprint) -> Blueprint:
    """Make every view of ``bp`` require a login and ``minke.admin`` (403 otherwise), or
    the permission a view names with :func:`also_for`."""

    @bp.before_request
    @login_required
    def _admins_only() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        permission = getattr(view, "minke_permission", ADMIN)
        if not can_open_admin(current_user, permission):
            refuse("open this admin page", permission)

    return bp


def also_for(permission: str) -> Callable[[View], View]:
    """Open a view of an :func:`admins_only` blueprint to holders of ``permission`` too
    (put it below the route decorator)."""

    def mark(view: View) -> View:
        cast(Any, view).minke_permission = permission  # a function's attribute (Callable has none)
        return view

    return mark
