"""Ready-made kinds of session: one command, a command from a form, a chain."""

from __future__ import annotations

from typing import ClassVar, cast

from .base import Session
from .formatting import format_command
from .forms import CommandForm, normalise_newlines


class SingleCommandSession(Session):
    """Run the one command in :attr:`command` with :meth:`~Session.xrun`.

    Example::

        class ClearCache(SingleCommandSession):
            work_on = ("Site",)
            command = "drush --root={root} cache-clear all"
    """

    abstract = True
    _requires = "command"

    command: ClassVar[str | None] = None
    """The shell command; ``{placeholders}`` are filled by :meth:`~Session.format_cmd`."""

    def process(self) -> None:
        self.xrun(cast(str, self.command))  # registration refuses a class without command


class CommandFormSession(SingleCommandSession):
    """Like :class:`SingleCommandSession`, with the command typed into a form.

    The typed command is put into :attr:`command` as it is, then formatted
    like any command: typing ``du -sh {root}`` on a Site runs ``du -sh``
    with the site's root, quoted. Line ends typed in a browser (CRLF) become LF.

    Example::

        class AnyCommand(CommandFormSession):
            work_on = ("Host",)
    """

    abstract = True
    form = CommandForm
    command = "{cmd}"
    raw_placeholders: ClassVar[tuple[str, ...]] = ("cmd",)

    def process(self) -> None:
        typed = normalise_newlines(str(self.data.get("cmd") or ""))
        template = format_command(self.command, {"cmd": typed}, lambda: None,
                                  raw=self.raw_placeholders).command
        self.xrun(template)


class CommandChainSession(Session):
    """Run :attr:`commands` one after another until one ends in a :attr:`break_states` status.

    Example::

        class ReloadSite(CommandChainSession):
            work_on = ("Host",)
            commands = ("a2ensite mysite", "apachectl configtest", "service apache2 reload")
    """

    abstract = True
    _requires = "commands"

    commands: tuple[str, ...] = ()  # a class attribute; a subclass may set it per run
    """The shell commands, in order."""

    break_states: ClassVar[tuple[str, ...]] = ("error",)
    """Command statuses that end the chain."""

    def process(self) -> None:
        for cmd in self.commands:
            result = self.xrun(cmd)
            if result.status in self.break_states:
                break


class SessionChain(Session):
    """Run the :attr:`sessions` one after another on the same object and connection.

    A session later in the chain is skipped once the status is in
    :attr:`break_states`. Abstract sessions may be chained. Only this
    session's own :attr:`~Session.invoke_config` and form apply.

    Example::

        class Upgrade(SessionChain):
            work_on = ("Host",)
            sessions = (UpdatePackages, RestartServices)
    """

    abstract = True
    _requires = "sessions"

    sessions: ClassVar[tuple[type[Session], ...]] = ()
    """The session classes, in order."""

    break_states: ClassVar[tuple[str, ...]] = ("error",)
    """Session statuses on which the remaining sessions are skipped."""

    def process(self) -> None:
        for session_cls in self.sessions:
            session = session_cls(self.c, self._db, self.minkeobj)
            self.add_msg(f"Run {session_cls.verbose_name or session_cls.__name__}", "info")
            session.process()
            if session.status in self.break_states:
                self.add_msg(
                    f"{session_cls.verbose_name or session_cls.__name__} finished with status "
                    f"{session.status}: skipping the rest of the chain",
                    "error",
                )
                break
