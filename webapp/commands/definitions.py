"""Creating, changing and deleting commands and command groups.

The admin pages call these functions. Each validates first (nothing is
changed after a :class:`CommandError`), changes ``db.session``, gives the
revision row a new token (so every process builds its sessions again), keeps
the run permission's row and records the change in the audit log. None
commits: the caller commits once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from sessions import SessionRegistrationError
from sessions.forms import normalise_newlines

from ..audit import log_action
from ..extensions import db
from ..models import MINKE_MODELS, Command, CommandGroup, CommandOrder, Permission, Role
from .classes import CommandDefinition, GroupDefinition, command_session, group_session
from .sync import bump_revision


class CommandError(ValueError):
    """A command or group that cannot be stored; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CommandInput:
    """What the form of a command holds."""

    label: str
    description: str
    cmd: str
    models: tuple[str, ...]
    active: bool = True


@dataclass(frozen=True)
class GroupInput:
    """What the form of a group holds; ``command_ids`` in order."""

    label: str
    description: str
    models: tuple[str, ...]
    command_ids: tuple[int, ...]
    as_options: bool = False
    active: bool = True


def model_names() -> list[str]:
    """The minke models a command may work on."""
    return sorted(MINKE_MODELS)


def list_commands() -> list[Command]:
    return list(db.session.scalars(sa.select(Command).order_by(Command.label, Command.id)))


def list_groups() -> list[CommandGroup]:
    return list(db.session.scalars(sa.select(CommandGroup)
                                   .order_by(CommandGroup.label, CommandGroup.id)))


def groups_of(command: Command) -> list[CommandGroup]:
    """The groups ``command`` is part of."""
    member_of = sa.select(CommandOrder.group_id).where(CommandOrder.command_id == command.id)
    return list(db.session.scalars(
        sa.select(CommandGroup).where(CommandGroup.id.in_(member_of))
        .order_by(CommandGroup.label, CommandGroup.id)))


def save_command(command: Command | None, data: CommandInput) -> Command:
    """Create a command (``command`` None) or change one.

    :raises CommandError: for an empty label or command, no or unknown models,
        or a placeholder that registration refuses (also in a group it is part of).
    """
    data = _clean(data)
    number = command.id if command is not None else 0
    definition = CommandDefinition(number, data.label, data.description, data.cmd, data.models)
    _check(lambda: command_session(definition, MINKE_MODELS), "cmd")
    if command is not None:
        for group in groups_of(command):
            _check(lambda g=group: group_session(_group_definition(
                g, [definition if c.id == command.id else _definition(c) for c in g.commands],
                models=tuple(g.models)), MINKE_MODELS), "cmd", f"in group {group.label!r}: ")
    before = _values(command) if command is not None else None
    if command is None:
        command = Command(label=data.label, cmd=data.cmd)
        db.session.add(command)
    command.label, command.description, command.cmd = data.label, data.description, data.cmd
    command.models, command.active = list(data.models), data.active
    db.session.flush()
    _keep_permission(f"Command_{command.id}", data.label)
    bump_revision()
    log_action("command.create" if before is None else "command.update",
           f"command #{command.id} {command.label}",
           _values(command) if before is None else {"before": before, "after": _values(command)})
    return command


def save_group(group: CommandGroup | None, data: GroupInput) -> CommandGroup:
    """Create a group (``group`` None) or change one; its commands in ``data``'s order.

    :raises CommandError: for an empty label, no or unknown models, no or
        unknown commands, or a command whose placeholder the group's models refuse.
    """
    label = data.label.strip()
    models = _models(data.models)
    if not label:
        raise CommandError("Give the group a label.", "label")
    if not data.command_ids:
        raise CommandError("Choose at least one command.", "commands")
    ids = list(dict.fromkeys(data.command_ids))
    found = {c.id: c for c in db.session.scalars(sa.select(Command).where(Command.id.in_(ids)))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise CommandError(f"No command #{', #'.join(missing)}.", "commands")
    commands = [found[i] for i in ids]
    definition = GroupDefinition(group.id if group is not None else 0, label,
                                 data.description.strip(), models, data.as_options,
                                 tuple(_definition(c) for c in commands))
    _check(lambda: group_session(definition, MINKE_MODELS), "commands")
    before = _group_values(group) if group is not None else None
    if group is None:
        group = CommandGroup(label=label)
        db.session.add(group)
    group.label, group.description, group.models = label, definition.description, list(models)
    group.as_options, group.active = data.as_options, data.active
    if group.entries:  # positions are unique per group: the old rows go before the new come
        group.entries.clear()
        db.session.flush()
    group.entries = [CommandOrder(command=c, position=i) for i, c in enumerate(commands, 1)]
    db.session.flush()
    _keep_permission(f"CommandGroup_{group.id}", label)
    bump_revision()
    log_action("command_group.create" if before is None else "command_group.update",
           f"command group #{group.id} {group.label}",
           _group_values(group) if before is None
           else {"before": before, "after": _group_values(group)})
    return group


def delete_command(command: Command) -> None:
    """Delete ``command`` (and its place in groups); its run permission goes from the
    ``permission`` table and from every role. A queued run of it fails, saying so."""
    target = f"command #{command.id} {command.label}"
    details = {**_values(command), "groups": [g.label for g in groups_of(command)]}
    _drop_permission(f"Command_{command.id}")
    db.session.execute(sa.delete(CommandOrder).where(CommandOrder.command_id == command.id))
    db.session.delete(command)
    bump_revision()
    log_action("command.delete", target, details)


def delete_group(group: CommandGroup) -> None:
    """Delete ``group``; its commands stay. Its run permission goes as a command's does."""
    target = f"command group #{group.id} {group.label}"
    details = _group_values(group)
    _drop_permission(f"CommandGroup_{group.id}")
    db.session.delete(group)
    bump_revision()
    log_action("command_group.delete", target, details)


def _clean(data: CommandInput) -> CommandInput:
    label, cmd = data.label.strip(), (normalise_newlines(data.cmd) or "").strip("\n")
    if not label:
        raise CommandError("Give the command a label.", "label")
    if len(label) > 256:
        raise CommandError("The label is longer than 256 characters.", "label")
    if not cmd.strip():
        raise CommandError("Type the command to run.", "cmd")
    return CommandInput(label, data.description.strip(), cmd, _models(data.models), data.active)


def _models(names: Iterable[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(names))
    if not names:
        raise CommandError("Choose at least one model to work on.", "models")
    unknown = [name for name in names if name not in MINKE_MODELS]
    if unknown:
        raise CommandError(f"{', '.join(unknown)} is no minke model.", "models")
    return names


def _check(build, field: str, prefix: str = "") -> None:
    """Build the session class (it is not registered) to see registration's verdict."""
    try:
        cls = build()
    except SessionRegistrationError as exc:
        cls = exc.session_cls
        text = str(exc).removeprefix(f"{cls.__module__}.{cls.__name__}: ")
        raise CommandError(prefix + text, field) from None


def _definition(command: Command) -> CommandDefinition:
    return CommandDefinition(command.id, command.label, command.description, command.cmd,
                             tuple(command.models))


def _group_definition(group: CommandGroup, commands: Sequence[CommandDefinition], *,
                      models: tuple[str, ...]) -> GroupDefinition:
    return GroupDefinition(group.id, group.label, group.description, models, group.as_options,
                           tuple(commands))


def _permission_name(session_name: str) -> str:
    return f"minke.run_{session_name.lower()}"  # the rule of SessionRegistration.permission_name


def _keep_permission(session_name: str, label: str) -> None:
    """The run permission's row, created or given the label's description (as
    ``accounts.create_permissions`` describes a session's)."""
    name, description = _permission_name(session_name), f"Run {label}"[:300]
    row = db.session.scalar(sa.select(Permission).where(Permission.name == name))
    if row is None:
        db.session.add(Permission(name=name, description=description))
    else:
        row.description = description


def _drop_permission(session_name: str) -> None:
    name = _permission_name(session_name)
    db.session.execute(sa.delete(Permission).where(Permission.name == name))
    for role in db.session.scalars(sa.select(Role)):
        if name in role.permissions:
            role.permissions = [p for p in role.permissions if p != name]
            log_action("role.update", f"role {role.name}", {"removed": [name]})


def _values(command: Command) -> dict:
    return {"label": command.label, "description": command.description, "cmd": command.cmd,
            "models": list(command.models), "active": command.active}


def _group_values(group: CommandGroup) -> dict:
    return {"label": group.label, "description": group.description,
            "models": list(group.models), "as_options": group.as_options,
            "active": group.active, "commands": [c.id for c in group.commands]}
