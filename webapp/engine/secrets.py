"""Secret form values (password fields): sealed for the trip to the worker, never stored.

The values travel inside the RQ job's arguments, encrypted with a key derived
from ``SECRET_KEY`` (web, CLI and workers share it), so that what Redis keeps
of a job is unreadable without the key. They are never written to the
database, the event stream or a log.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from wtforms import Form, PasswordField


class SecretError(ValueError):
    """Sealed values that this process cannot open (another ``SECRET_KEY``?)."""


def secret_fields(form_cls: type[Form] | None) -> frozenset[str]:
    """The names of the password fields of ``form_cls``: the values never stored."""
    if form_cls is None:
        return frozenset()
    return frozenset(name for name, field in form_cls()._fields.items()
                     if isinstance(field, PasswordField))


def split(form_cls: type[Form] | None,
          data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` as (what may be stored, the secret values)."""
    names = secret_fields(form_cls)
    stored = {k: v for k, v in data.items() if k not in names}
    return stored, {k: v for k, v in data.items() if k in names}


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"minke-secrets\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret_key: str, values: Mapping[str, Any]) -> str | None:
    """Encrypt ``values`` for the worker; ``None`` when there are none."""
    if not values:
        return None
    return _fernet(secret_key).encrypt(json.dumps(dict(values)).encode()).decode()


def unseal(secret_key: str, token: str | None) -> dict[str, Any]:
    """The values :func:`seal` encrypted.

    :raises SecretError: when the token was sealed with another key.
    """
    if not token:
        return {}
    try:
        return json.loads(_fernet(secret_key).decrypt(token.encode()))
    except InvalidToken:
        raise SecretError("cannot read the run's secret form values: the worker's "
                          "SECRET_KEY differs from the one of the process that started the run"
                          ) from None
