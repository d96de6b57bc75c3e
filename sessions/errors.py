"""Exceptions of the session framework."""

from __future__ import annotations


class MinkeError(Exception):
    """Base class of every error the session framework raises."""


class SessionRegistrationError(MinkeError):
    """A session class is set up wrongly; raised at import, naming the class."""

    def __init__(self, session_cls: type, message: str) -> None:
        self.session_cls = session_cls
        super().__init__(f"{session_cls.__module__}.{session_cls.__name__}: {message}")


class InvalidMinkeSetup(MinkeError):
    """A session passed a value the framework cannot accept (e.g. an unknown status)."""


class SessionError(MinkeError):
    """Raise it in :meth:`Session.process` to end the session as ``error`` with this message.

    Example::

        if not result.ok:
            raise SessionError("the backup directory is missing")
    """


class CommandFormatError(SessionError):
    """A command's ``{placeholder}`` names neither a form field nor a field of the object."""


class SessionStopped(MinkeError):
    """Raised inside a session when a stop was requested; ends it as ``stopped``.

    It derives from :class:`MinkeError`, not :class:`SessionError`, so that a
    session's own ``except SessionError`` does not swallow a stop.
    """
