"""The admin pages (permission ``minke.admin``): the index, users and roles here; hosts and
host groups in webapp/admin/hosts.py, on the same blueprint (also open to
``minke.edit_hosts``, as is the index, which lists the sections the user may open).

Each view validates its form, calls one domain function of webapp/accounts.py,
webapp/inventory/ or webapp/engine/ssh/probe.py, commits once and redirects; a
refused change re-renders the page with the reason and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from .. import accounts
from ..auth.logins import end_all_logins, user_logins
from ..extensions import db
from ..guards import admins_only, also_for
from ..models import Role, User
from ..permissions import EDIT_HOSTS
from .forms import ActionForm, NewUserForm, PasswordForm, RoleForm, UserRolesForm
from .pages import action_form, confirm_delete, done, page, save

bp = admins_only(Blueprint("admin", __name__, url_prefix="/admin"))


@bp.get("/")
@also_for(EDIT_HOSTS)
def index():
    return page("index.html")


# users ---------------------------------------------------------------------------------------


def _with_roles(form):
    form.roles.choices = [(role.name, role.name) for role in accounts.list_roles()]
    return form


@bp.get("/users/")
def users():
    return page("users.html", users=accounts.list_users(), action_form=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = _with_roles(NewUserForm())
    error = None
    if form.validate_on_submit():
        error = save(lambda: accounts.create_user(form.name.data, form.password.data,
                                                   form.roles.data))
        if error is None:
            return done(f"Created user {form.name.data}.", ".users")
    return page("user_new.html", form, error)


def _user_page(user: User, form=None, password_form=None, error: str | None = None):
    """The user's page: their roles, password, logins and whether they may log in."""
    if form is None:
        form = _with_roles(UserRolesForm(formdata=None,
                                         data={"roles": [r.name for r in user.roles]}))
    return page("user_edit.html", form, error, user=user, action_form=ActionForm(),
                logins=user_logins(user),
                password_form=password_form or PasswordForm(formdata=None))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = _with_roles(UserRolesForm(data={"roles": [role.name for role in user.roles]}))
    error = None
    if form.validate_on_submit():
        error = save(lambda: accounts.set_roles(user, form.roles.data))
        if error is None:
            return done(f"Saved the roles of {user.name}.", ".users")
    return _user_page(user, form, error=error)


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        error = save(lambda: accounts.set_password(user, form.password.data))
        if error is None:
            return done(f"Set a new password for {user.name}; every login of theirs ended.",
                        ".edit_user", user_id=user.id)
    return _user_page(user, password_form=form, error=error)


def _set_active(user_id: int, active: bool):
    user = db.get_or_404(User, user_id)
    action_form()
    error = save(lambda: accounts.set_active(user, active))
    if error is None:
        return done(f"{'Enabled' if active else 'Disabled'} user {user.name}.", ".users")
    return _user_page(user, error=error)


@bp.post("/users/<int:user_id>/logout")
def logout_user(user_id: int):
    """Log the user out everywhere: every browser and remember-me cookie of theirs."""
    user = db.get_or_404(User, user_id)
    action_form()
    ended: list[int] = []
    error = save(lambda: ended.append(end_all_logins(user, "revoked")))
    if error is None:
        count = ended[0]
        return done(f"Logged {user.name} out everywhere ({count} login"
                    f"{'' if count == 1 else 's'} ended).", ".edit_user", user_id=user.id)
    return _user_page(user, error=error)


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int):
    return _set_active(user_id, True)


# roles ---------------------------------------------------------------------------------------


def _with_permissions(form: RoleForm, role: Role | None = None) -> list[tuple[str, Any]]:
    """Set the choices of ``form.permissions``; return them under their headings, each
    checkbox with its description. A role's permission no longer known stays listed."""
    groups = accounts.permission_groups()
    listed = {name for _heading, names in groups for name in names}
    kept = [name for name in (role.permissions if role else []) if name not in listed]
    if kept:
        groups.append(("No longer known", dict.fromkeys(kept, "no session requires it now")))
    form.permissions.choices = [(name, name) for _heading, names in groups for name in names]
    boxes = {box.data: box for box in form.permissions}
    return [(heading, [(boxes[name], text) for name, text in names.items()])
            for heading, names in groups]


@bp.get("/roles/")
def roles():
    return page("roles.html", roles=accounts.list_roles(), users=accounts.list_users())


@bp.route("/roles/new", methods=["GET", "POST"])
def new_role():
    form = RoleForm()
    groups = _with_permissions(form)
    error = None
    if form.validate_on_submit():
        error = save(lambda: accounts.create_role(form.name.data, form.permissions.data,
                                                   form.description.data or ""))
        if error is None:
            return done(f"Created role {form.name.data}.", ".roles")
    return page("role_edit.html", form, error, groups=groups, role=None)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
def edit_role(role_id: int):
    role = db.get_or_404(Role, role_id)
    form = RoleForm(obj=role)
    groups = _with_permissions(form, role)
    error = None
    if form.validate_on_submit():
        error = save(lambda: accounts.update_role(
            role, name=form.name.data, permissions=form.permissions.data,
            description=form.description.data or ""))  # None when the field is not sent
        if error is None:
            return done(f"Saved role {form.name.data}.", ".roles")
    return page("role_edit.html", form, error, groups=groups, role=role)


@bp.route("/roles/<int:role_id>/delete", methods=["GET", "POST"])
def delete_role(role_id: int):
    role = db.get_or_404(Role, role_id)
    form = ActionForm()
    error = None
    if form.validate_on_submit():
        if (error := save(lambda: accounts.delete_role(role))) is None:
            return done(f"Deleted role {role.name}.", ".roles")
    holders = [user.name for user in accounts.list_users() if role in user.roles]
    return confirm_delete(form, error, f"the role {role.name}",
                          url_for(".edit_role", role_id=role.id),
                          f"Its users lose the permissions it grants: "
                          f"{', '.join(holders) or 'nobody has it'}.")
