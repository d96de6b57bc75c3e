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
    """Raise it in :meth:`Session.process` to end the session as ``error``.

    Every argument becomes an error message of the session: a string a
    :class:`~sessions.PreMessage`, a command result an
    :class:`~sessions.ExecutionMessage`, a list of rows a table (as
    :meth:`Session.add_msg` takes them). Example::

        result = self.run("pg_dump app > /backup/app.sql")
        if not result:
            raise SessionError("the backup failed", result)
    """


class CommandFormatError(SessionError):
    """A command's ``{placeholder}`` cannot be filled: it names nothing although it was
    obviously meant, or stands where no quoting can make its value safe."""


class SessionStopped(BaseException):
    """Raised inside a session when it was stopped; ends it as ``stopped``.

    Like the ``KeyboardInterrupt`` django-minke raised, it is no
    :class:`Exception`: a session's own ``except Exception`` (or ``except
    SessionError``) never swallows a stop.
    """
