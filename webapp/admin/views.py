"""The admin pages: thin views over webapp.accounts and webapp.inventory."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from .. import accounts, inventory
from ..models import ADMIN_PERMISSION

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _admins_only() -> None:
    if not current_user.has_permissions([ADMIN_PERMISSION]):
        abort(403)


@bp.get("/")
def index():
    return render_template("admin/index.html", nav_current="admin")


@bp.get("/users/")
def users():
    return render_template("admin/users.html", users=accounts.list_users(), nav_current="admin")


@bp.get("/roles/")
def roles():
    return render_template("admin/roles.html", roles=accounts.list_roles(), nav_current="admin")


@bp.get("/hosts/")
def hosts():
    return render_template("admin/hosts.html", hosts=inventory.list_hosts(), nav_current="admin")


@bp.get("/groups/")
def groups():
    return render_template("admin/groups.html", groups=inventory.list_groups(),
                           nav_current="admin")
