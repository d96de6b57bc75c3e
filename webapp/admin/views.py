"""The admin pages: users, roles, hosts and host groups (permission ``minke.admin``).

Each view validates its form, calls one domain function of webapp/accounts.py,
webapp/inventory.py or webapp/engine/probe.py, commits once and redirects; a
refused change re-renders the page with the reason and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import paramiko
import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from .. import accounts, inventory
from ..engine import hostkeys
from ..engine.failures import describe
from ..engine.probe import accept_host_key, probe_host
from ..extensions import db
from ..models import ADMIN_PERMISSION, Host, HostGroup, Role, User
from .forms import (
    ActionForm,
    DisableHostForm,
    GroupForm,
    HostForm,
    HostKeyForm,
    ImportForm,
    NewUserForm,
    PasswordForm,
    RoleForm,
    UserRolesForm,
    config_text,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")

DomainError = (accounts.AccountError, inventory.InventoryError)


@bp.before_request
@login_required
def _admins_only() -> None:
    if not current_user.has_permissions([ADMIN_PERMISSION]):
        abort(403)


def _page(template: str, form=None, error: str | None = None, **context: Any):
    """Render an admin page: 400 for a POST (a change that is stored redirects instead)."""
    status = 400 if request.method == "POST" else 200
    return render_template(f"admin/{template}", nav_current="admin", form=form, error=error,
                           **context), status


def _save(change: Callable[[], object]) -> str | None:
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


def _done(message: str, endpoint: str, **args: Any):
    flash(message, "success")
    return redirect(url_for(endpoint, **args))


def _action_form() -> ActionForm:
    """The CSRF-only form of a button; :raises 400: when its token is missing or wrong."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    return form


@bp.get("/")
def index():
    return _page("index.html")


# users ---------------------------------------------------------------------------------------


def _with_roles(form):
    form.roles.choices = [(role.name, role.name) for role in accounts.list_roles()]
    return form


@bp.get("/users/")
def users():
    return _page("users.html", users=accounts.list_users(), action_form=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = _with_roles(NewUserForm())
    error = None
    if form.validate_on_submit():
        error = _save(lambda: accounts.create_user(form.name.data, form.password.data,
                                                   form.roles.data))
        if error is None:
            return _done(f"Created user {form.name.data}.", ".users")
    return _page("user_new.html", form, error)


def _user_page(user: User, form=None, password_form=None, error: str | None = None):
    """The user's page: their roles, password and whether they may log in."""
    if form is None:
        form = _with_roles(UserRolesForm(formdata=None,
                                         data={"roles": [r.name for r in user.roles]}))
    return _page("user_edit.html", form, error, user=user, action_form=ActionForm(),
                 password_form=password_form or PasswordForm(formdata=None))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = _with_roles(UserRolesForm(data={"roles": [role.name for role in user.roles]}))
    error = None
    if form.validate_on_submit():
        error = _save(lambda: accounts.set_roles(user, form.roles.data))
        if error is None:
            return _done(f"Saved the roles of {user.name}.", ".users")
    return _user_page(user, form, error=error)


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        error = _save(lambda: accounts.set_password(user, form.password.data))
        if error is None:
            return _done(f"Set a new password for {user.name}.", ".edit_user", user_id=user.id)
    return _user_page(user, password_form=form, error=error)


def _set_active(user_id: int, active: bool):
    user = db.get_or_404(User, user_id)
    _action_form()
    error = _save(lambda: accounts.set_active(user, active))
    if error is None:
        return _done(f"{'Enabled' if active else 'Disabled'} user {user.name}.", ".users")
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
    return _page("roles.html", roles=accounts.list_roles(), users=accounts.list_users())


@bp.route("/roles/new", methods=["GET", "POST"])
def new_role():
    form = RoleForm()
    groups = _with_permissions(form)
    error = None
    if form.validate_on_submit():
        error = _save(lambda: accounts.create_role(form.name.data, form.permissions.data,
                                                   form.description.data))
        if error is None:
            return _done(f"Created role {form.name.data}.", ".roles")
    return _page("role_edit.html", form, error, groups=groups, role=None)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
def edit_role(role_id: int):
    role = db.get_or_404(Role, role_id)
    form = RoleForm(obj=role)
    groups = _with_permissions(form, role)
    error = None
    if form.validate_on_submit():
        error = _save(lambda: accounts.update_role(
            role, name=form.name.data, permissions=form.permissions.data,
            description=form.description.data))
        if error is None:
            return _done(f"Saved role {form.name.data}.", ".roles")
    return _page("role_edit.html", form, error, groups=groups, role=role)


def _confirm_delete(form: ActionForm, error: str | None, what: str, back: str,
                    consequence: str):
    return _page("confirm_delete.html", form, error, what=what, back=back,
                 consequence=consequence)


@bp.route("/roles/<int:role_id>/delete", methods=["GET", "POST"])
def delete_role(role_id: int):
    role = db.get_or_404(Role, role_id)
    form = ActionForm()
    error = None
    if form.validate_on_submit():
        if (error := _save(lambda: accounts.delete_role(role))) is None:
            return _done(f"Deleted role {role.name}.", ".roles")
    holders = [user.name for user in accounts.list_users() if role in user.roles]
    return _confirm_delete(form, error, f"the role {role.name}",
                           url_for(".edit_role", role_id=role.id),
                           f"Its users lose the permissions it grants: "
                           f"{', '.join(holders) or 'nobody has it'}.")


# hosts ---------------------------------------------------------------------------------------


@bp.get("/hosts/")
def hosts():
    return _page("hosts.html", hosts=inventory.list_hosts(), action_form=ActionForm(),
                 fingerprint=hostkeys.fingerprint)


def _host_data(host: Host) -> dict[str, Any]:
    return {"name": host.name, "verbose_name": host.verbose_name, "hostname": host.hostname,
            "port": str(host.port or ""), "username": host.username or "",
            "groups": " ".join(group.name for group in host.groups), "comment": host.comment,
            "config": config_text(host.config)}


@bp.route("/hosts/new", methods=["GET", "POST"])
def new_host():
    form = HostForm()
    error = None
    if form.validate_on_submit():
        if (error := _save(lambda: inventory.add_host(**form.values()))) is None:
            return _done(f"Added host {form.name.data}.", ".hosts")
    return _page("host_edit.html", form, error, host=None)


@bp.route("/hosts/<int:host_id>", methods=["GET", "POST"])
def edit_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    form = HostForm(data=_host_data(host))
    error = None
    if form.validate_on_submit():
        if (error := _save(lambda: inventory.update_host(host, **form.values()))) is None:
            return _done(f"Saved host {form.name.data}.", ".hosts")
    return _host_page(host, form, error)


def _host_page(host: Host, form: HostForm, error: str | None = None, **forms: Any):
    forms = {"action_form": ActionForm(), "disable_form": DisableHostForm(formdata=None),
             "key_form": HostKeyForm(formdata=None), **forms}
    return _page("host_edit.html", form, error, host=host, fingerprint=hostkeys.fingerprint,
                 **forms)


@bp.post("/hosts/<int:host_id>/disable")
def disable_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    form = DisableHostForm()
    if form.validate_on_submit():
        error = _save(lambda: inventory.set_disabled(host, True, form.reason.data or ""))
        if error is None:
            return _done(f"Disabled host {host.name}: sessions are no longer run on it.",
                         ".hosts")
    else:
        error = " ".join(message for messages in form.errors.values() for message in messages)
    return _host_page(host, HostForm(formdata=None, data=_host_data(host)), error,
                      disable_form=form)


@bp.post("/hosts/<int:host_id>/enable")
def enable_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    _action_form()
    if (error := _save(lambda: inventory.set_disabled(host, False))) is None:
        return _done(f"Enabled host {host.name}.", ".hosts")
    flash(error, "error")
    return redirect(url_for(".hosts"))


@bp.route("/hosts/<int:host_id>/delete", methods=["GET", "POST"])
def delete_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    form = ActionForm()
    error = None
    if form.validate_on_submit():
        if (error := _save(lambda: inventory.remove_host(host.name))) is None:
            return _done(f"Deleted host {host.name}.", ".hosts")
    return _confirm_delete(form, error, f"the host {host.name}",
                           url_for(".edit_host", host_id=host.id),
                           "Its past runs and sessions stay in the history.")


@bp.post("/hosts/<int:host_id>/test")
def test_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    _action_form()
    result = probe_host(host, current_app.config)
    flash(f"Test connection of {result}", "success" if result.ok else "error")
    return redirect(url_for(".hosts"))


@bp.post("/hosts/<int:host_id>/accept-key")
def accept_key(host_id: int):
    host = db.get_or_404(Host, host_id)
    name, form = host.name, HostKeyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        old, new = accept_host_key(host, current_app.config,
                                   expect=(form.fingerprint.data or "").strip() or None)
        db.session.commit()
    except (hostkeys.HostKeyError, OSError, paramiko.SSHException) as exc:
        db.session.rollback()
        flash(f"Host key of {name} not accepted: {describe(exc)[0]}", "error")
    else:
        was = f"was {hostkeys.fingerprint(old)}" if old and old != new else (
            "unchanged" if old else "none was stored")
        flash(f"Accepted the host key {hostkeys.fingerprint(new)} of {name} ({was}).", "success")
    return redirect(url_for(".edit_host", host_id=host_id))


@bp.post("/hosts/<int:host_id>/forget-key")
def forget_key(host_id: int):
    host = db.get_or_404(Host, host_id)
    _action_form()
    if (error := _save(lambda: hostkeys.set_key(host, None))) is None:
        return _done(f"Forgot the host key of {host.name}: the next connection "
                     f"{_next_connection()}.", ".edit_host", host_id=host_id)
    flash(error, "error")
    return redirect(url_for(".edit_host", host_id=host_id))


def _next_connection() -> str:
    try:
        strict = hostkeys.current_policy() is hostkeys.HostKeyPolicy.STRICT
    except hostkeys.HostKeyError as exc:  # a bad MINKE_HOST_KEY_POLICY is said, not a 500
        return f"fails: {exc}"
    return "is refused until a key is accepted" if strict else "stores the key it presents"


@bp.route("/hosts/import", methods=["GET", "POST"])
def import_hosts():
    form = ImportForm()
    error = None
    if form.validate_on_submit():
        upload = form.file.data
        name = upload.filename or ""
        try:
            result = inventory.import_hosts(inventory.parse_host_file(upload.read(), name))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            error = f"{name}: {exc}" if not str(exc).startswith(name) else str(exc)
        else:
            return _done(f"Imported {name}: {len(result.added)} added, "
                         f"{len(result.updated)} updated.", ".hosts")
    return _page("host_import.html", form, error)


# host groups ---------------------------------------------------------------------------------


@bp.get("/groups/")
def groups():
    return _page("groups.html", groups=inventory.list_groups())


@bp.route("/groups/new", methods=["GET", "POST"])
def new_group():
    form = GroupForm()
    error = None
    if form.validate_on_submit():
        error = _save(lambda: inventory.set_group_secrets(inventory.add_group(
            form.name.data, comment=form.comment.data, config=form.config.data),
            form.ask_secrets.data))
        if error is None:
            return _done(f"Added host group {form.name.data}.", ".groups")
    return _page("group_edit.html", form, error, group=None)


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
def edit_group(group_id: int):
    group = db.get_or_404(HostGroup, group_id)
    form = GroupForm(data={"name": group.name, "comment": group.comment,
                           "config": config_text(group.config),
                           "ask_secrets": list(group.ask_secrets or ())})
    error = None
    if form.validate_on_submit():
        error = _save(lambda: inventory.set_group_secrets(inventory.update_group(
            group, name=form.name.data, comment=form.comment.data, config=form.config.data),
            form.ask_secrets.data))
        if error is None:
            return _done(f"Saved host group {form.name.data}.", ".groups")
    return _page("group_edit.html", form, error, group=group)


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
def delete_group(group_id: int):
    group = db.get_or_404(HostGroup, group_id)
    form = ActionForm()
    error = None
    if form.validate_on_submit():
        if (error := _save(lambda: inventory.remove_group(group.name))) is None:
            return _done(f"Deleted host group {group.name}.", ".groups")
    return _confirm_delete(form, error, f"the host group {group.name}",
                           url_for(".edit_group", group_id=group.id),
                           f"Its {len(group.hosts)} host(s) stay, outside the group, and no "
                           "longer inherit its configuration.")
