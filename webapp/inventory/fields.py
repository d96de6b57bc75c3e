"""Checking a host's or group's fields: names, addresses, ports, texts, configurations,
the secrets a group asks for. Every function raises :class:`InventoryError` naming the field."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

from ..engine.ssh.config import ConfigError, check_config

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
"""Names of hosts and groups: a letter or digit, then up to 79 of ``A-Za-z0-9._-``."""


HOST_FIELDS = (
    "name",
    "hostname",
    "port",
    "username",
    "groups",
    "comment",
    "verbose_name",
    "config",
)
"""The fields of a host in an import file (CSV columns); ``name`` and ``hostname`` are required."""


_MAX_LENGTH = {"hostname": 255, "username": 80, "verbose_name": 200, "disabled_reason": 300}


class InventoryError(ValueError):
    """Host or group data that cannot be stored; the message says what is wrong and where."""


def validate_name(name: Any, what: str = "host") -> str:
    """Return ``name`` stripped; :raises InventoryError: unless it matches :data:`NAME_PATTERN`."""
    text = "" if name is None else str(name).strip()
    if not NAME_PATTERN.match(text):
        raise InventoryError(
            f"invalid {what} name {text!r}: use 1-80 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return text


def validate_hostname(hostname: Any) -> str:
    """Return the stripped host name or IP address.

    :raises InventoryError: when empty or holding whitespace or control characters
        (a newline would end up in SSH and log lines).
    """
    text = text_field("hostname", hostname)
    if not text:
        raise InventoryError("hostname must not be empty")
    _refuse_blanks("hostname", text)
    return text


def _refuse_blanks(name: str, text: str) -> str:
    """``text``; :raises InventoryError: when it holds whitespace or control characters."""
    bad = next((ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] in "CZ"), None)
    if bad is not None:
        raise InventoryError(f"{name} {text!r} must not contain whitespace or control "
                             f"characters (found {bad!r})")
    return text


def validate_port(port: Any) -> int | None:
    """``None`` or ``""`` → ``None`` (the SSH default), else an integer from 1 to 65535."""
    if port is None or str(port).strip() == "":
        return None
    try:
        number = int(str(port).strip()) if not isinstance(port, bool | float) else None
    except ValueError:
        number = None
    if number is None or not 1 <= number <= 65535:
        raise InventoryError(f"invalid port {port!r}: use a number from 1 to 65535")
    return number


def parse_config(config: Any) -> dict[str, Any]:
    """Return ``config`` as a checked connection config: a mapping, or a JSON or YAML
    object in a string. Text starting with ``{`` or ``[`` is JSON, never YAML (which
    would read ``{"user": "x",}`` too).

    ``None`` and ``""`` give ``{}``. Example: ``parse_config('{"user": "deploy"}')``.

    :raises InventoryError: for unparsable text, anything but an object, values
        JSON cannot store, or a config fabric cannot use (the message names the key,
        see :func:`webapp.engine.ssh.config.check_config`).
    """
    if config is None or (isinstance(config, str) and not config.strip()):
        return {}
    value = config
    if isinstance(config, str) and config.lstrip()[:1] in ("{", "["):
        try:
            value = json.loads(config)
        except ValueError as exc:
            raise InventoryError(f"config is not valid JSON: {exc}") from None
    elif isinstance(config, str):
        try:
            value = yaml.safe_load(config)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a number of 4300+ digits
            reason = str(exc).splitlines()[0]
            raise InventoryError(f"config is neither JSON nor YAML: {reason}") from None
    if not isinstance(value, Mapping):
        raise InventoryError(
            f'config must be a JSON object such as {{"user": "deploy"}}, not {value!r}'
        )
    try:  # a round trip turns what the JSON column would choke on (YAML dates) into an error
        plain = json.loads(json.dumps(dict(value)))
    except (TypeError, ValueError) as exc:
        raise InventoryError(f"config cannot be stored as JSON: {exc}") from None
    try:
        return check_config(plain)
    except ConfigError as exc:
        raise InventoryError(str(exc)) from None


def parse_group_names(groups: Any) -> list[str]:
    """Group names from a list, or from a string separated by ``;`` or whitespace."""
    if groups is None:
        return []
    items = re.split(r"[;\s]+", groups) if isinstance(groups, str) else groups
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        raise InventoryError(f"groups must be a list of group names, not {groups!r}")
    return list(dict.fromkeys(validate_name(item, "group") for item in items if str(item).strip()))


def text_field(name: str, value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > _MAX_LENGTH.get(name, len(text)):
        raise InventoryError(f"{name} is longer than {_MAX_LENGTH[name]} characters")
    return text


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "name": validate_name,
    "hostname": validate_hostname,
    "port": validate_port,
    "username": lambda value: _refuse_blanks("username", text_field("username", value)) or None,
    "groups": parse_group_names,
    "comment": lambda value: text_field("comment", value),
    "verbose_name": lambda value: text_field("verbose_name", value),
    "config": parse_config,
    # not in files: set by the admin pages or `host disable` (see set_disabled)
    "disabled": bool,
    "disabled_reason": lambda value: text_field("disabled_reason", value),
}


def host_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the fields given (absent ones stay absent)."""
    unknown = sorted(str(key) for key in fields if key not in _CONVERTERS)
    if unknown:
        known = ", ".join(HOST_FIELDS)
        raise InventoryError(f"unknown field {', '.join(unknown)} (known: {known})")
    return {key: _CONVERTERS[key](value) for key, value in fields.items()}


def parse_secret_names(names: Any) -> list[str]:
    """The secret names of a host group's ``ask_secrets`` (a list, or text separated by
    commas or blanks), in :data:`sessions.secrets.SECRET_KINDS` order.

    :raises InventoryError: for a name that is no secret kind.
    """
    from sessions.secrets import SECRET_KINDS, describe_kinds, unknown_secrets

    if names is None:
        return []
    items = re.split(r"[,;\s]+", names) if isinstance(names, str) else list(names)
    items = [str(item).strip() for item in items if str(item).strip()]
    unknown = unknown_secrets(items)
    if unknown:
        raise InventoryError(f"unknown secret {', '.join(unknown)} (known: {describe_kinds()})")
    return [name for name in SECRET_KINDS if name in items]
