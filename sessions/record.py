"""The narrow interface through which a session reaches storage and stop requests.

The engine supplies a record for every session it runs (backed by the
database, the live event stream and Redis); :class:`MemoryRecord` keeps
everything in memory, for unit tests of your own sessions.
"""

from __future__ import annotations

from typing import Any, Protocol

from .messages import BaseMessage
from .results import CommandResult


class SessionRecord(Protocol):
    """What a :class:`~sessions.Session` needs from the place it is stored."""

    session_status: str | None
    session_data: dict[str, Any]

    @property
    def minkeobj(self) -> Any:
        """The object the session works on (read only: a record may load it when first read)."""

    @property
    def stop_level(self) -> int:
        """0 while no stop was requested, 1 after a soft stop, 2 after a kill."""

    def add_message(self, message: BaseMessage) -> None:
        """Store a message and publish it."""

    def add_result(self, result: Any) -> CommandResult:
        """Store a fabric ``Result`` and return it as a :class:`CommandResult`."""

    def request_stop(self) -> int:
        """Raise the stop level by one (at most 2); at 2 interrupt the running command."""


class MemoryRecord:
    """A :class:`SessionRecord` that keeps messages and results in lists.

    Example::

        record = MemoryRecord(minkeobj=host)
        MySession(fabric.Connection("web1"), record).process()
        assert record.session_status == "success"
    """

    def __init__(self, minkeobj: Any = None, session_data: dict[str, Any] | None = None) -> None:
        self.minkeobj = minkeobj
        self.session_data = dict(session_data or {})
        self.session_status: str | None = None
        self.messages: list[BaseMessage] = []
        self.results: list[CommandResult] = []
        self._stop_level = 0

    @property
    def stop_level(self) -> int:
        return self._stop_level

    def add_message(self, message: BaseMessage) -> None:
        self.messages.append(message)

    def add_result(self, result: Any) -> CommandResult:
        stored = CommandResult.from_fabric(result)
        stored.seq = len(self.results) + 1
        self.results.append(stored)
        return stored

    def request_stop(self) -> int:
        self._stop_level = min(2, self._stop_level + 1)
        return self._stop_level
