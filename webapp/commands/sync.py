"""Keeping the registry's command sessions equal to the database's commands, in every process.

The database is the source of truth. Every change to a command or group
gives the ``command_revision`` row a new token in the same transaction
(:func:`bump_revision`). Each process reads that token, one indexed row,
before it uses the registry — per request in web processes, at the start of
every job in workers, once per ``minke`` command — and builds its
command sessions again when the token differs from the one it built them
for (:func:`sync_sessions`). So a change reaches every process without a
restart, and a process that has seen no change pays one small query.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession

from sessions import REGISTRY, Session, SessionRegistrationError

from ..extensions import db
from ..models import MINKE_MODELS, Command, CommandGroup, CommandRevision, utcnow
from .classes import (
    CommandDefinition,
    GroupDefinition,
    command_session,
    group_session,
    is_defined,
)

logger = logging.getLogger(__name__)

SESSION_NAME = re.compile(r"(Command|CommandGroup)_(\d+)")


@dataclass
class _Built:
    """What the process-wide registry holds of which database's commands. Process-wide
    because :data:`sessions.REGISTRY` is: it describes this process's registry, no state
    other processes need."""

    key: tuple[str, str | None] | None = None  # (database, revision token)
    lock: threading.Lock = field(default_factory=threading.Lock)


_BUILT = _Built()


def bump_revision() -> None:
    """Give the revision row a new token, in the caller's transaction (which commits)."""
    token = uuid.uuid4().hex
    row = db.session.get(CommandRevision, 1)
    if row is None:
        db.session.add(CommandRevision(id=1, token=token, changed_at=utcnow()))
    else:
        row.token, row.changed_at = token, utcnow()


def sync_sessions(engine: sa.Engine | None = None) -> bool:
    """Register the sessions of the active commands and groups as the database has them
    now, when they changed since this process last looked.

    Reads on a connection of its own, in a read-only transaction: the
    caller's database session and transaction are left alone.

    :returns: whether the registry was changed.
    """
    engine = engine if engine is not None else db.engine
    with engine.connect() as connection:
        connection = connection.execution_options(minke_read_only=True)
        token = connection.scalar(sa.select(CommandRevision.token)
                                  .where(CommandRevision.id == 1))
        key = (str(engine.url), token)
        if key == _BUILT.key:
            return False
        with _BUILT.lock:
            if key == _BUILT.key:  # another thread built them meanwhile
                return False
            classes = build_sessions(*load_definitions(connection))
            python = {cls.__name__ for cls in REGISTRY if not is_defined(cls)}
            for cls in classes:
                if cls.__name__ in python:  # the Python session keeps its name
                    logger.warning("not offered: a Python session is named %s", cls.__name__)
            classes = [cls for cls in classes if cls.__name__ not in python]
            REGISTRY.replace([cls.__name__ for cls in REGISTRY if is_defined(cls)], classes)
            _BUILT.key = key
    logger.info("command sessions: %d registered (revision %s)", len(classes), token)
    return True


def load_definitions(connection: sa.Connection) -> tuple[list[CommandDefinition],
                                                         list[GroupDefinition]]:
    """The active commands and groups (a group with its active commands only)."""
    with OrmSession(bind=connection) as session:
        commands = [_command_definition(row) for row in session.scalars(
            sa.select(Command).where(Command.active.is_(True)).order_by(Command.id))]
        groups = [
            GroupDefinition(row.id, row.label, row.description, tuple(row.models),
                            row.as_options,
                            tuple(_command_definition(c) for c in row.commands if c.active))
            for row in session.scalars(sa.select(CommandGroup).where(
                CommandGroup.active.is_(True)).order_by(CommandGroup.id))]
    return commands, groups


def _command_definition(row: Command) -> CommandDefinition:
    return CommandDefinition(row.id, row.label, row.description, row.cmd, tuple(row.models))


def build_sessions(commands: list[CommandDefinition],
                   groups: list[GroupDefinition]) -> list[type[Session]]:
    """The session classes of the definitions; one that cannot be built (a group whose
    commands were all deactivated) is left out and logged, the others still work."""
    classes = []
    definitions: list[CommandDefinition | GroupDefinition] = [*commands, *groups]
    for definition in definitions:
        try:
            if isinstance(definition, CommandDefinition):
                classes.append(command_session(definition, MINKE_MODELS))
            elif definition.commands:
                classes.append(group_session(definition, MINKE_MODELS))
            else:
                logger.info("command group %d has no active command: not offered",
                            definition.id)
        except SessionRegistrationError as exc:  # saving checks this; a row changed behind it
            logger.warning("not offered: %s", exc)
    return classes


def missing_reason(session_name: str) -> str | None:
    """Why the session of a command or group is not registered, for a run that names it
    (``None`` for other names)."""
    match = SESSION_NAME.fullmatch(session_name)
    if match is None:
        return None
    kind, number = match.group(1), int(match.group(2))
    model = Command if kind == "Command" else CommandGroup
    what = "command" if kind == "Command" else "command group"
    active = db.session.scalar(sa.select(model.active).where(model.id == number))
    if active is None:
        return f"the {what} was deleted after the run started"
    if not active:
        return f"the {what} was deactivated after the run started"
    return f"the {what} could not be built (see the worker's log)"
