"""Blueprint-wide permission guards."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user, login_required

from ..models import ADMIN_PERMISSION


def admins_only(bp: Blueprint) -> Blueprint:
    """Make every view of ``bp`` require a login and ``minke.admin`` (403 otherwise)."""

    @bp.before_request
    @login_required
    def _admins_only() -> None:
        if not current_user.has_permissions([ADMIN_PERMISSION]):
            abort(403)

    return bp
