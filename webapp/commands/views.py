"""The command pages (``minke.admin``): list, create, change and delete commands and groups."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from ..extensions import db
from ..guards import admins_only
from ..models import Command, CommandGroup
from . import definitions
from .definitions import CommandError, CommandInput, GroupInput
from .forms import ActionForm, CommandForm, GroupForm

bp = admins_only(Blueprint("commands", __name__, url_prefix="/admin/commands"))


@bp.context_processor
def _page() -> dict:
    return {"nav_current": "admin"}


@bp.get("/")
def index():
    return render_template("commands/index.html", commands=definitions.list_commands(),
                           groups=definitions.list_groups(), action_form=ActionForm())


def _refused(form, exc: CommandError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, str(exc)]
    else:
        flash(str(exc), "error")


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:command_id>/", methods=["GET", "POST"])
def command(command_id: int | None = None):
    row = db.get_or_404(Command, command_id) if command_id is not None else None
    form = CommandForm(obj=row)
    form.models.choices = definitions.model_names()
    if request.method == "GET" and row is None:
        form.models.data = ["Host"]
    if form.validate_on_submit():
        try:
            row = definitions.save_command(row, CommandInput(
                form.label.data, form.description.data or "", form.cmd.data,
                tuple(form.models.data or ()), form.active.data))
        except CommandError as exc:
            db.session.rollback()
            _refused(form, exc)
        else:
            db.session.commit()
            flash(f"Saved command {row.label}: its session is Command_{row.id}.", "success")
            return redirect(url_for(".index"))
    return render_template("commands/command.html", form=form, row=row,
                           groups=definitions.groups_of(row) if row is not None else []), \
        400 if form.errors else 200


@bp.route("/<int:command_id>/delete", methods=["GET", "POST"])
def delete_command(command_id: int):
    row = db.get_or_404(Command, command_id)
    form = ActionForm()
    if form.validate_on_submit():
        label = row.label
        definitions.delete_command(row)
        db.session.commit()
        flash(f"Deleted command {label}.", "success")
        return redirect(url_for(".index"))
    return render_template("commands/delete.html", form=form, what="command", label=row.label,
                           session_name=f"Command_{row.id}",
                           groups=definitions.groups_of(row),
                           back=url_for(".command", command_id=row.id))


@bp.route("/groups/new", methods=["GET", "POST"])
@bp.route("/groups/<int:group_id>/", methods=["GET", "POST"])
def group(group_id: int | None = None):
    row = db.get_or_404(CommandGroup, group_id) if group_id is not None else None
    form = GroupForm(obj=row)
    form.models.choices = definitions.model_names()
    members = row.commands if row is not None else []
    others = [c for c in definitions.list_commands() if c not in members]
    form.commands.choices = [SelectChoice(c.id, c.label) for c in [*members, *others]]
    if request.method == "GET":
        form.commands.data = [c.id for c in members]
        if row is None:
            form.models.data = ["Host"]
    if form.validate_on_submit():
        try:
            row = definitions.save_group(row, GroupInput(
                form.label.data, form.description.data or "", tuple(form.models.data or ()),
                form.ordered_commands(request.form), form.as_options.data, form.active.data))
        except CommandError as exc:
            db.session.rollback()
            _refused(form, exc)
        else:
            db.session.commit()
            flash(f"Saved command group {row.label}: its session is CommandGroup_{row.id}.",
                  "success")
            return redirect(url_for(".index"))
    positions = {c.id: index for index, c in enumerate(members, 1)}
    return render_template("commands/group.html", form=form, row=row,
                           candidates=[*members, *others], positions=positions), \
        400 if form.errors else 200


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
def delete_group(group_id: int):
    row = db.get_or_404(CommandGroup, group_id)
    form = ActionForm()
    if form.validate_on_submit():
        label = row.label
        definitions.delete_group(row)
        db.session.commit()
        flash(f"Deleted command group {label}.", "success")
        return redirect(url_for(".index"))
    return render_template("commands/delete.html", form=form, what="command group",
                           label=row.label, session_name=f"CommandGroup_{row.id}", groups=[],
                           back=url_for(".group", group_id=row.id))
