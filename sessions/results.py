"""The result of one remote command, as sessions see and store it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .status import SessionStatus


@dataclass
class CommandResult:
    """One command that ran on the remote host: what :meth:`Session.run` returns.

    It carries the same fields as the stored ``CommandResult`` row (command,
    stdout, stderr, exit code, pty, status), so code written against
    django-minke's ``models.CommandResult`` keeps working. A command whose
    output is larger than the engine keeps in memory has ``truncated`` set:
    ``stdout``/``stderr`` then hold the start of the output, and the full
    output is stored and can be read back with ``flask minke output``.
    """

    command: str
    stdout: str = ""
    stderr: str = ""
    exited: int | None = 0
    pty: bool = False
    truncated: bool = False
    seq: int | None = None
    match: re.Match[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_fabric(cls, result, *, truncated: bool = False) -> CommandResult:
        """Build one from a fabric/invoke ``Result``."""
        return cls(
            command=result.command,
            stdout=result.stdout,
            stderr=result.stderr,
            exited=result.exited,
            pty=bool(result.pty),
            truncated=truncated,
        )

    @property
    def exit_code(self) -> int | None:
        """The exit code (``None`` when the command was interrupted before it ended)."""
        return self.exited

    @property
    def return_code(self) -> int | None:
        """Alias of :attr:`exit_code`, as invoke names it."""
        return self.exited

    @property
    def ok(self) -> bool:
        """``True`` when the command exited with 0."""
        return self.exited == 0

    @property
    def failed(self) -> bool:
        """``True`` when the command exited non-zero or was interrupted."""
        return not self.ok

    @property
    def status(self) -> SessionStatus:
        """``error`` when it failed, ``warning`` when it wrote to stderr, else ``success``."""
        if self.failed:
            return SessionStatus.ERROR
        if self.stderr:
            return SessionStatus.WARNING
        return SessionStatus.SUCCESS

    def validate(self, regex: str) -> bool:
        """Search ``stdout`` for ``regex``; keep the match in :attr:`match`.

        :returns: ``True`` when the command succeeded and the pattern matched.
        """
        self.match = re.search(regex, self.stdout) if self.ok else None
        return self.match is not None

    def as_dict(self) -> dict:
        return {
            "command": self.command,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "exit_code": self.exited,
            "pty": self.pty,
            "status": self.status.value,
            "truncated": self.truncated,
        }
