"""The secrets a session or a host group can ask for before a run.

A session names them in :attr:`sessions.Session.ask_secrets`, a host group
in its ``ask_secrets`` setting. The person starting the run types each one
(the dashboard's prepare page, ``flask minke run --secret``, the API's
``secrets`` object); the value travels to the workers that need it and is
applied to the fabric connection of the hosts that need it. It is never
stored::

    class Upgrade(Session):
        work_on = ("Host",)
        ask_secrets = ("sudo_password",)

        def process(self):
            self.c.sudo("apt-get -y upgrade")   # fabric answers sudo's prompt
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wtforms import Form, PasswordField

if TYPE_CHECKING:
    from .base import Session


@dataclass(frozen=True)
class SecretKind:
    """One kind of secret: its name, how the prompt calls it and where fabric takes it."""

    name: str
    """The name sessions, host groups, the CLI and the API use (``"sudo_password"``)."""

    label: str
    """How the prompt calls it (``"sudo password"``)."""

    config_path: tuple[str, str]
    """Where the value goes in the connection's fabric configuration."""

    help: str
    """One line for the prompt: what the value is used for."""


SECRET_KINDS: dict[str, SecretKind] = {kind.name: kind for kind in (
    SecretKind("ssh_key_passphrase", "SSH key passphrase", ("connect_kwargs", "passphrase"),
               "Unlocks the encrypted private key the connection logs in with."),
    SecretKind("ssh_password", "SSH password", ("connect_kwargs", "password"),
               "The password of the SSH user, for hosts that log in with one."),
    SecretKind("sudo_password", "sudo password", ("sudo", "password"),
               "Answers sudo's prompt in self.c.sudo()."),
)}
"""Every secret that can be asked for, by name."""


def unknown_secrets(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that name no :data:`SECRET_KINDS` entry, sorted."""
    return sorted({str(name) for name in names} - set(SECRET_KINDS))


def describe_kinds() -> str:
    """The known names, for error messages: ``"ssh_key_passphrase, ssh_password, …"``."""
    return ", ".join(SECRET_KINDS)


def declared_problem(ask_secrets: Any, secret_fields: Any, form: Any) -> str | None:
    """What is wrong with a session's ``ask_secrets`` and ``secret_fields`` (``None``: fine):
    a plain string instead of a tuple, a name that is no :data:`SECRET_KINDS` entry, a
    field ``form`` lacks (a form built in ``get_form()`` is not checked here)."""
    if isinstance(ask_secrets, str) or isinstance(secret_fields, str):
        return "ask_secrets and secret_fields are tuples of names, not a string"
    unknown = unknown_secrets(ask_secrets)
    if unknown:
        return f"ask_secrets names unknown secrets {', '.join(unknown)} (known: {describe_kinds()})"
    if secret_fields and form is not None:
        missing = sorted(set(secret_fields) - set(form()._fields))
        if missing:
            return f"secret_fields names {', '.join(missing)}, not fields of {form.__name__}"
    return None


# -- secret form values: never stored (webapp/engine/secrets.py seals them for the worker)

def secret_fields(form_cls: type[Form] | None, marked: Iterable[str] = ()) -> frozenset[str]:
    """The names of the password fields of ``form_cls`` and of the ``marked`` ones that
    are its fields: the values never stored."""
    if form_cls is None:
        return frozenset()
    fields = form_cls()._fields
    return frozenset(name for name, item in fields.items()
                     if isinstance(item, PasswordField) or name in set(marked))


def session_secret_fields(session_cls: type[Session]) -> frozenset[str]:
    """The secret form fields of ``session_cls``: password fields and ``secret_fields``."""
    return secret_fields(session_cls.get_form(), session_cls.secret_fields)


def split(form_cls: type[Form] | None, data: Mapping[str, Any],
          marked: Iterable[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` as (what may be stored, the secret values)."""
    names = secret_fields(form_cls, marked)
    stored = {k: v for k, v in data.items() if k not in names}
    return stored, {k: v for k, v in data.items() if k in names}
