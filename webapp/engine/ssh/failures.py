"""The one place that turns exceptions from a session into a reason a user can read."""

from __future__ import annotations

import socket
import traceback

import invoke
import paramiko

from sessions.errors import SessionError

from .hostkeys import HostKeyError
from .runner import ConnectionLost


def describe(exc: BaseException, *, banner_timeout: float | None = None) -> tuple[str, bool]:
    """A message for ``exc`` and whether to show the traceback (bugs in code, not SSH trouble).

    :param banner_timeout: the seconds the connection waited for the SSH banner.
    """
    if isinstance(exc, SessionError):
        return str(exc), False
    if isinstance(exc, paramiko.SSHException) and any(
            text in str(exc) for text in ("protocol banner", "No existing session")):
        # paramiko says the one or the other when the server never answered the handshake
        within = f" within {banner_timeout:g} s" if banner_timeout else ""
        return (f"no SSH banner{within}: the server accepted the connection but never "
                "completed the SSH handshake"), False
    if isinstance(exc, ConnectionLost | HostKeyError):  # their messages say it all
        return str(exc), False
    if isinstance(exc, paramiko.PasswordRequiredException):
        return ("the SSH key is encrypted and no passphrase was given (ask for it: "
                "ask_secrets = (\"ssh_key_passphrase\",), or the host group's setting)"), False
    if isinstance(exc, paramiko.SSHException) and str(exc) == "Invalid key":
        return ("the SSH key could not be unlocked: wrong passphrase "
                "(or a damaged key file; paramiko says: Invalid key)"), False
    if isinstance(exc, invoke.exceptions.AuthFailure):
        return ("sudo rejected the password (a wrong sudo password, or none was given): "
                f"{exc.result.command}"), False
    if isinstance(exc, paramiko.AuthenticationException):
        return f"SSH authentication failed: {exc}", False
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return f"cannot connect: {_first_line(exc)}", False
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"connection timed out: {exc or 'no answer'}", False
    if isinstance(exc, socket.gaierror):
        return f"unknown host name: {exc}", False
    if isinstance(exc, ConnectionError | EOFError):
        return f"connection lost: {exc.__class__.__name__} {exc}", False
    if isinstance(exc, paramiko.SSHException):
        return f"SSH error: {exc}", False
    if isinstance(exc, invoke.exceptions.CommandTimedOut):
        return (f"command timed out after {exc.timeout} s, its remote processes killed: "
                f"{exc.result.command}"), False
    if isinstance(exc, invoke.exceptions.UnexpectedExit):
        return f"command failed with exit code {exc.result.exited}: {exc.result.command}", False
    return f"{exc.__class__.__name__}: {exc}", True


def is_connection_error(exc: BaseException) -> bool:
    """True when the connection itself is broken (so it must not be reused)."""
    return isinstance(exc, paramiko.SSHException | OSError | EOFError)


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
