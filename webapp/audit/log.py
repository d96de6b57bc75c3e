"""Recording what people do: one function, :func:`log_action`, called by the domain functions
(accounts, inventory, dispatch, stops, re-runs), the login view and the exports.

An entry names who (the logged-in or token user; on the command line the
system user), when, from where (``web``, ``api``, ``cli`` and the client's
address), the action, its target and its inputs as JSON without secrets.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from wtforms import Form

from sessions.secrets import split

from ..extensions import db
from ..models import AuditEntry, User

CURRENT: Any = object()
"""``log_action(user=CURRENT)``: the user of the request, if any (the default)."""

SECRET_WORDS = ("password", "passphrase", "secret", "token", "private_key", "pkey")
"""A details key containing one of these (at any depth) is left out: connection configs
may hold an SSH password or a key's passphrase."""

HIDDEN = "(hidden)"


def log_action(action: str, target: str = "", details: Mapping[str, Any] | None = None, *,
           user: User | None = CURRENT, form: type[Form] | None = None,
           commit: bool = False) -> AuditEntry:
    """Add an audit entry to the session; the caller's commit stores it with the change.

    :param action: what happened, ``noun.verb`` (``run.start``, ``host.update``).
    :param target: what it happened to (``run #3``, ``host web1``).
    :param details: the inputs; the fields of ``form`` that are password
        fields and every key naming a secret (:data:`SECRET_WORDS`) are left out.
    :param user: who did it; by default the request's logged-in (or token) user,
        none outside a request (the command line: the system user's name is kept).
    :param commit: store the entry now, in a transaction of its own: the
        caller's transaction is ended first (committed: it must hold nothing
        but reads, as a GET request's does, or what the entry belongs with).
    """
    if user is CURRENT:
        user = _request_user()
    in_request = has_request_context()
    origin = ("api" if request.blueprint == "api" else "web") if in_request else "cli"
    entry = AuditEntry(
        action=action, target=target[:200], details=scrub(split(form, dict(details or {}))[0]),
        user_id=user.id if user is not None else None,
        user_name=(user.name if user is not None else "" if in_request else _system_user())[:80],
        origin=origin, address=(request.remote_addr or "")[:64] if in_request else None)
    if commit:
        db.session.commit()
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def _request_user() -> User | None:
    if not has_request_context() or not current_user.is_authenticated:
        return None
    return current_user._get_current_object()


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the entry says cli
        return ""


def scrub(value: Any) -> Any:
    """``value`` with every mapping key that names a secret hidden, at any depth."""
    if isinstance(value, Mapping):
        return {str(key): HIDDEN if _secret(str(key)) else scrub(item)
                for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)
