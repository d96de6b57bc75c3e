"""The session classes of commands and command groups defined in the browser.

As django-minke's ``as_session()``, each definition becomes a class built
with ``type()``: ``Command_<id>`` (a :class:`~sessions.SingleCommandSession`),
``CommandGroup_<id>`` (a :class:`~sessions.CommandChainSession`, or with
``as_options`` a :class:`~sessions.CommandFormSession` whose form offers the
group's commands). They are checked and get their run permission like any
Python session; :mod:`.sync` puts them into the registry.

A run keeps the commands as they were when it started
(:func:`confirmed_data`): a command edited while its run waits in the queue
runs as the operator saw it. Nothing here imports Flask or the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeGuard

from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from sessions import (
    CommandChainSession,
    CommandFormSession,
    Session,
    SessionError,
    SessionGroup,
    SingleCommandSession,
)

COMMANDS = SessionGroup("Commands")
"""The ``<optgroup>`` every command session is listed under."""

CONFIRMED_KEY = "minke.commands"
"""Key of the run's data holding the commands as they were when the run started (a dot:
no ``{placeholder}`` can name it)."""


@dataclass(frozen=True)
class CommandDefinition:
    """A command as its session is built from it (a copy of the row's values)."""

    id: int
    label: str
    description: str
    cmd: str
    models: tuple[str, ...]

    def entry(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "cmd": self.cmd}


@dataclass(frozen=True)
class GroupDefinition:
    """A command group as its session is built from it; ``commands`` in order."""

    id: int
    label: str
    description: str
    models: tuple[str, ...]
    as_options: bool
    commands: tuple[CommandDefinition, ...]


class DefinedCommands:
    """What the sessions of commands defined in the browser share (a mixin)."""

    entries: ClassVar[tuple[dict[str, Any], ...]] = ()
    """The commands (``id``, ``label``, ``cmd``) as this class was built from them."""

    if TYPE_CHECKING:  # the Session's, every class using the mixin being one
        @property
        def data(self) -> Mapping[str, Any]: ...

    @classmethod
    def snapshot(cls) -> list[dict[str, Any]]:
        """The commands to keep in a run's data when it starts."""
        return [dict(entry) for entry in cls.entries]

    def confirmed(self) -> list[dict[str, Any]]:
        """The commands as they were when the run started (the class's own for a run
        started before runs kept them)."""
        stored = self.data.get(CONFIRMED_KEY)
        return list(stored) if stored else self.snapshot()


class CommandSession(DefinedCommands, SingleCommandSession):
    """The session of one :class:`~webapp.models.Command`."""

    abstract = True

    def process(self) -> None:
        [entry] = self.confirmed()
        self.xrun(entry["cmd"])


class CommandGroupChainSession(DefinedCommands, CommandChainSession):
    """The session of a command group: its commands in order, until one ends in error."""

    abstract = True

    def process(self) -> None:
        self.commands = tuple(entry["cmd"] for entry in self.confirmed())
        super().process()


class CommandGroupChoiceSession(DefinedCommands, CommandFormSession):
    """The session of a command group ``as_options``: the command chosen in the form."""

    abstract = True
    raw_placeholders = ()  # ``cmd`` holds the chosen command's id, not shell code

    def process(self) -> None:
        chosen = str(self.data.get("cmd") or "")
        for entry in self.confirmed():
            if str(entry["id"]) == chosen:
                self.xrun(entry["cmd"])
                return
        raise SessionError(f"command {chosen!r} is not one of this group's commands")


def command_session(definition: CommandDefinition,
                    models: Mapping[str, type]) -> type[Session]:
    """The session class of a command, checked, with its run permission.

    :param models: minke models by name (``MINKE_MODELS``): a name in the
        definition that is not there stays a string in ``work_on``.
    :raises SessionRegistrationError: as registration would (a placeholder where
        no quoting makes it safe, no models).
    """
    return _build(f"Command_{definition.id}", CommandSession, definition.label,
                  definition.description, definition.models, models,
                  command=definition.cmd, entries=(definition.entry(),))


def group_session(definition: GroupDefinition, models: Mapping[str, type]) -> type[Session]:
    """The session class of a command group (a chain, or a choice ``as_options``).

    :raises SessionRegistrationError: as :func:`command_session`, and for a group
        without commands.
    """
    entries = tuple(command.entry() for command in definition.commands)
    name = f"CommandGroup_{definition.id}"
    if definition.as_options:
        form = type(f"{name}Form", (Form,), {
            "cmd": SelectField("Command", validators=[InputRequired()],
                               choices=[SelectChoice(str(entry["id"]), entry["label"])
                                        for entry in entries],
                               description="The command of the group to run."),
        })
        return _build(name, CommandGroupChoiceSession, definition.label, definition.description,
                      definition.models, models, form=form, entries=entries,
                      commands=tuple(entry["cmd"] for entry in entries))
    return _build(name, CommandGroupChainSession, definition.label, definition.description,
                  definition.models, models, entries=entries,
                  commands=tuple(entry["cmd"] for entry in entries))


def _build(name: str, base: type[Session], label: str, description: str,
           model_names: tuple[str, ...], models: Mapping[str, type],
           **attrs: Any) -> type[Session]:
    cls: type[Session] = type(name, (base,), {
        "abstract": True,  # registered by .sync, all at once, not by the metaclass
        "__module__": __name__,
        "__doc__": description or None,
        "verbose_name": label,
        "group": COMMANDS,
        "work_on": tuple(models.get(model, model) for model in model_names),
        **attrs,
    })
    cls.check()  # the choice's commands are in ``commands`` too: checked as a chain's
    cls.add_permission()
    return cls


def is_defined(session_cls: type) -> TypeGuard[type[DefinedCommands]]:
    """Whether ``session_cls`` is the session of a command or group defined in the browser."""
    return isinstance(session_cls, type) and issubclass(session_cls, DefinedCommands)


def confirmed_data(session_cls: type[Session], data: Mapping[str, Any]) -> dict[str, Any]:
    """A run's data: ``data`` and, for a command session, its commands as they are now.

    Whatever ``data`` held under :data:`CONFIRMED_KEY` (a re-run's stored inputs)
    is replaced: only this moment's definition counts.
    """
    data = {key: value for key, value in data.items() if key != CONFIRMED_KEY}
    if is_defined(session_cls):
        data[CONFIRMED_KEY] = session_cls.snapshot()
    return data
