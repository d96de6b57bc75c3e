"""The admin pages of hosts and host groups: thin views over webapp/inventory/ and
webapp/engine/ssh/probe.py (registered on the admin blueprint of webapp/admin/views.py).

Each is open to ``minke.edit_hosts`` as well as to admins: a role may manage the
inventory without managing users, roles or commands."""

from __future__ import annotations

from typing import Any

import paramiko
from flask import abort, current_app, flash, redirect, url_for

from .. import inventory
from ..engine.ssh import hostkeys
from ..engine.ssh.failures import describe
from ..engine.ssh.probe import accept_host_key, probe_host
from ..extensions import db
from ..guards import also_for
from ..models import Host, HostGroup
from ..permissions import EDIT_HOSTS
from .forms import (
    ActionForm,
    DisableHostForm,
    GroupForm,
    HostForm,
    HostKeyForm,
    ImportForm,
    config_text,
)
from .pages import DomainError, action_form, confirm_delete, done, page, save
from .views import bp

# hosts ---------------------------------------------------------------------------------------


@bp.get("/hosts/")
@also_for(EDIT_HOSTS)
def hosts():
    return page("hosts.html", hosts=inventory.list_hosts(), action_form=ActionForm(),
                fingerprint=hostkeys.fingerprint)


def _host_data(host: Host) -> dict[str, Any]:
    return {"name": host.name, "verbose_name": host.verbose_name, "hostname": host.hostname,
            "port": str(host.port or ""), "username": host.username or "",
            "groups": " ".join(group.name for group in host.groups), "comment": host.comment,
            "config": config_text(host.config)}


@bp.route("/hosts/new", methods=["GET", "POST"])
@also_for(EDIT_HOSTS)
def new_host():
    form = HostForm()
    error = None
    if form.validate_on_submit():
        if (error := save(lambda: inventory.add_host(**form.values()))) is None:
            return done(f"Added host {form.name.data}.", ".hosts")
    return page("host_edit.html", form, error, host=None)


@bp.route("/hosts/<int:host_id>", methods=["GET", "POST"])
@also_for(EDIT_HOSTS)
def edit_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    form = HostForm(data=_host_data(host))
    error = None
    if form.validate_on_submit():
        if (error := save(lambda: inventory.update_host(host, **form.values()))) is None:
            return done(f"Saved host {form.name.data}.", ".hosts")
    return _host_page(host, form, error)


def _host_page(host: Host, form: HostForm, error: str | None = None, **forms: Any):
    forms = {"action_form": ActionForm(), "disable_form": DisableHostForm(formdata=None),
             "key_form": HostKeyForm(formdata=None), **forms}
    return page("host_edit.html", form, error, host=host, fingerprint=hostkeys.fingerprint,
                **forms)


@bp.post("/hosts/<int:host_id>/disable")
@also_for(EDIT_HOSTS)
def disable_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    form = DisableHostForm()
    if form.validate_on_submit():
        error = save(lambda: inventory.set_disabled(host, True, form.reason.data or ""))
        if error is None:
            return done(f"Disabled host {host.name}: sessions are no longer run on it.",
                        ".hosts")
    else:
        error = " ".join(message for messages in form.errors.values() for message in messages)
    return _host_page(host, HostForm(formdata=None, data=_host_data(host)), error,
                      disable_form=form)


@bp.post("/hosts/<int:host_id>/enable")
@also_for(EDIT_HOSTS)
def enable_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    action_form()
    if (error := save(lambda: inventory.set_disabled(host, False))) is None:
        return done(f"Enabled host {host.name}.", ".hosts")
    flash(error, "error")
    return redirect(url_for(".hosts"))


@bp.route("/hosts/<int:host_id>/delete", methods=["GET", "POST"])
@also_for(EDIT_HOSTS)
def delete_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    form = ActionForm()
    error = None
    if form.validate_on_submit():
        if (error := save(lambda: inventory.remove_host(host.name))) is None:
            return done(f"Deleted host {host.name}.", ".hosts")
    return confirm_delete(form, error, f"the host {host.name}",
                          url_for(".edit_host", host_id=host.id),
                          "Its past runs and sessions stay in the history.")


@bp.post("/hosts/<int:host_id>/test")
@also_for(EDIT_HOSTS)
def test_host(host_id: int):
    host = db.get_or_404(Host, host_id)
    action_form()
    result = probe_host(host, current_app.config)
    flash(f"Test connection of {result}", "success" if result.ok else "error")
    return redirect(url_for(".hosts"))


@bp.post("/hosts/<int:host_id>/accept-key")
@also_for(EDIT_HOSTS)
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
@also_for(EDIT_HOSTS)
def forget_key(host_id: int):
    host = db.get_or_404(Host, host_id)
    action_form()
    if (error := save(lambda: hostkeys.set_key(host, None))) is None:
        return done(f"Forgot the host key of {host.name}: the next connection "
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
@also_for(EDIT_HOSTS)
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
            return done(f"Imported {name}: {len(result.added)} added, "
                        f"{len(result.updated)} updated.", ".hosts")
    return page("host_import.html", form, error)


# host groups ---------------------------------------------------------------------------------


@bp.get("/groups/")
@also_for(EDIT_HOSTS)
def groups():
    return page("groups.html", groups=inventory.list_groups())


@bp.route("/groups/new", methods=["GET", "POST"])
@also_for(EDIT_HOSTS)
def new_group():
    form = GroupForm()
    error = None
    if form.validate_on_submit():
        error = save(lambda: inventory.set_group_secrets(inventory.add_group(
            form.name.data, comment=form.comment.data, config=form.config.data),
            form.ask_secrets.data))
        if error is None:
            return done(f"Added host group {form.name.data}.", ".groups")
    return page("group_edit.html", form, error, group=None)


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@also_for(EDIT_HOSTS)
def edit_group(group_id: int):
    group = db.get_or_404(HostGroup, group_id)
    form = GroupForm(data={"name": group.name, "comment": group.comment,
                           "config": config_text(group.config),
                           "ask_secrets": list(group.ask_secrets or ())})
    error = None
    if form.validate_on_submit():
        error = save(lambda: inventory.set_group_secrets(inventory.update_group(
            group, name=form.name.data, comment=form.comment.data, config=form.config.data),
            form.ask_secrets.data))
        if error is None:
            return done(f"Saved host group {form.name.data}.", ".groups")
    return page("group_edit.html", form, error, group=group)


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
@also_for(EDIT_HOSTS)
def delete_group(group_id: int):
    group = db.get_or_404(HostGroup, group_id)
    form = ActionForm()
    error = None
    if form.validate_on_submit():
        if (error := save(lambda: inventory.remove_group(group.name))) is None:
            return done(f"Deleted host group {group.name}.", ".groups")
    return confirm_delete(form, error, f"the host group {group.name}",
                          url_for(".edit_group", group_id=group.id),
                          f"Its {len(group.hosts)} host(s) stay, outside the group, and no "
                          "longer inherit its configuration.")
