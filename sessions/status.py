"""Statuses of a session and the one rule that orders them."""

from __future__ import annotations

import enum


class SessionStatus(enum.StrEnum):
    """Outcome of a session (or of one command): what the user's code reported."""

    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def coerce(cls, value: str | bool | SessionStatus) -> SessionStatus:
        """Turn ``True``/``False`` or a (case-insensitive) status name into a status.

        :raises ValueError: for anything else.
        """
        if isinstance(value, bool):
            return cls.SUCCESS if value else cls.ERROR
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.lower())
            except ValueError:
                pass
        choices = ", ".join(s.value for s in cls)
        raise ValueError(f"session status must be one of {choices} or a bool, not {value!r}")


_RANK = {SessionStatus.SUCCESS: 0, SessionStatus.WARNING: 1, SessionStatus.ERROR: 2}


def raised_status(current: str | None, new: SessionStatus) -> SessionStatus:
    """Return the higher of ``current`` and ``new`` (success < warning < error)."""
    if current is None:
        return new
    old = SessionStatus(current)
    return new if new.rank > old.rank else old


class ProcStatus(enum.StrEnum):
    """Where a session is in its life cycle (set by the engine, never by user code)."""

    INITIALIZED = "initialized"
    RUNNING = "running"
    STOPPING = "stopping"
    COMPLETED = "completed"
    STOPPED = "stopped"
    CANCELED = "canceled"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_PROC_STATES


FINAL_PROC_STATES = frozenset(
    {ProcStatus.COMPLETED, ProcStatus.STOPPED, ProcStatus.CANCELED, ProcStatus.FAILED}
)


class MessageLevel(enum.StrEnum):
    """Severity of a message."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @classmethod
    def coerce(cls, value: str | bool | None, default: MessageLevel) -> MessageLevel:
        """``None`` gives ``default``, ``True`` info, ``False`` error, else a level name.

        :raises ValueError: for an unknown level name.
        """
        if value is None:
            return default
        if isinstance(value, bool):
            return cls.INFO if value else cls.ERROR
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(
                f"message level must be 'info', 'warning', 'error' or a bool, not {value!r}"
            ) from None


def level_for(status: SessionStatus) -> MessageLevel:
    """The message level that matches a command's status."""
    return {
        SessionStatus.SUCCESS: MessageLevel.INFO,
        SessionStatus.WARNING: MessageLevel.WARNING,
        SessionStatus.ERROR: MessageLevel.ERROR,
    }[status]
