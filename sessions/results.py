"""The result of one remote command, as sessions see and store it."""

from __future__ import annotations

import re
from typing import Any

from fabric.runners import Result

from .status import SessionStatus


class CommandResult(Result):
    """One command that ran on the remote host: what :meth:`Session.run` and
    ``self.c.run`` return.

    A fabric/invoke ``Result`` (``stdout``, ``stderr``, ``exited``, ``ok``,
    ``failed``, ``command``, ``pty``; true exactly when the command succeeded,
    so ``if self.run("test -d /srv/app"):`` works) with the fields of
    django-minke's ``CommandResult``: :attr:`status`, :meth:`validate` and
    :attr:`match`. A command whose output is larger than the engine keeps in
    memory has ``truncated`` set: ``stdout``/``stderr`` then hold the start of
    the output; the full output is stored (``flask minke output``).
    """

    exited: int | None  # set by invoke's Result.__init__ (an untyped base class)

    def __init__(self, command: str = "", stdout: str = "", stderr: str = "",
                 exited: int | None = 0, *, connection: Any = None, truncated: bool = False,
                 seq: int | None = None, **kwargs: Any) -> None:
        super().__init__(connection=connection, command=command, stdout=stdout, stderr=stderr,
                         exited=exited, **kwargs)
        self.truncated = truncated
        self.seq = seq
        self.match: re.Match[str] | None = None

    @classmethod
    def from_fabric(cls, result: Any, *, truncated: bool = False) -> CommandResult:
        """The same result as a :class:`CommandResult` (itself when it is one already)."""
        if isinstance(result, cls):
            return result
        return cls(command=result.command, stdout=result.stdout, stderr=result.stderr,
                   exited=result.exited, pty=bool(result.pty), truncated=truncated,
                   connection=getattr(result, "connection", None))

    @property
    def exit_code(self) -> int | None:
        """The exit code (``None`` when the command was interrupted before it ended)."""
        return self.exited

    @property
    def ok(self) -> bool:
        """``True`` when the command exited with 0."""
        return self.exited == 0

    @property
    def status(self) -> SessionStatus:
        """``error`` when it failed, ``warning`` when it wrote to stderr, else ``success``."""
        if self.failed:
            return SessionStatus.ERROR
        if self.stderr:
            return SessionStatus.WARNING
        return SessionStatus.SUCCESS

    def validate(self, regex: str) -> bool:
        """Match ``regex`` at the start of ``stdout`` (:func:`re.match`, as django-minke
        does); keep the match in :attr:`match`.

        :returns: ``True`` when the command succeeded and the pattern matched.
        """
        self.match = re.match(regex, self.stdout) if self.ok else None
        return self.match is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "exit_code": self.exited,
            "pty": self.pty,
            "status": self.status.value,
            "truncated": self.truncated,
        }

    def __repr__(self) -> str:
        return f"<CommandResult {self.command[:40]!r} exited={self.exited}>"
