"""Checking the connection configuration of a host or host group before it is stored.

A host's ``config`` is layered into a fabric/invoke configuration when a
session connects (webapp/engine/ssh/connections.py). A value of the wrong shape
there (``{"run": 5}``) would fail every session on the host at run time, so
:func:`check_config` refuses it on input with the key that is wrong.

Keys are written nested (``{"run": {"pty": true}}``), dotted (``"run.pty"``)
or snake-cased after a section (``"run_pty"``), as the engine reads them. The
sections fabric and invoke know (``run``, ``sudo``, ``timeouts``,
``connect_kwargs``, ``authentication``) must be mappings of their known keys
with values of the right type; other top-level keys (a session's own
settings) are free. ``runners`` and objects that JSON cannot express
(paramiko keys, sockets, streams) cannot be set from a stored config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

SECTIONS = ("connect_kwargs", "authentication", "timeouts", "runners", "sudo", "run")
"""The fabric configuration sections a flat key (``run_pty``) may name."""


class ConfigError(ValueError):
    """A connection configuration that fabric cannot use; the message names the key."""


Check = Callable[[Any], str | None]  # None: fine; else what the value should be


def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _is_text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _is_number(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return None
    return "a number of seconds greater than 0"


def _is_port(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return None
    return "a port number from 1 to 65535"


def _optional(check: Check) -> Check:
    def optional(value: Any) -> str | None:
        problem = check(value) if value is not None else None
        return f"{problem} or null" if problem else None

    return optional


def _text_list(value: Any) -> str | None:
    if isinstance(value, str) or (isinstance(value, list) and
                                  all(isinstance(item, str) for item in value)):
        return None
    return "a path or a list of paths"


def _text_mapping(value: Any) -> str | None:
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        return None
    return 'a mapping of names to strings, e.g. {"LANG": "C"}'


def _algorithms(value: Any) -> str | None:
    if isinstance(value, Mapping) and all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in value.values()):
        return None
    return 'a mapping of algorithm kinds to lists of names, e.g. {"pubkeys": ["ssh-rsa"]}'


def _hide(value: Any) -> str | None:
    if value is None or isinstance(value, bool) or value in (
            "out", "stdout", "err", "stderr", "both"):
        return None
    return 'true, false, null, "out", "err" or "both"'


def _no_stream(value: Any) -> str | None:
    return None if value is None or value is False else "false or null (no stream from a config)"


def _empty_list(value: Any) -> str | None:
    return None if value == [] else "an empty list (watchers cannot come from a config)"


def _null_only(value: Any) -> str | None:
    return None if value is None else "null (a class cannot come from a config)"


TOP_LEVEL: dict[str, Check] = {
    "user": _is_text,
    "port": _is_port,
    "connect_timeout": _optional(_is_number),
    "forward_agent": _is_bool,
    "gateway": _optional(_is_text),
    "inline_ssh_env": _is_bool,
    "load_ssh_configs": _is_bool,
    "ssh_config_path": _optional(_is_text),
}
"""Known top-level keys and their types; other top-level keys are the user's own."""

KNOWN_SECTIONS: dict[str, dict[str, Check]] = {
    "run": {
        "asynchronous": _is_bool, "disown": _is_bool, "dry": _is_bool, "echo": _is_bool,
        "echo_format": _is_text, "echo_stdin": _optional(_is_bool),
        "encoding": _optional(_is_text), "env": _text_mapping, "fallback": _is_bool,
        "hide": _hide, "in_stream": _no_stream, "out_stream": _no_stream,
        "err_stream": _no_stream, "pty": _is_bool, "replace_env": _is_bool,
        "shell": _is_text, "warn": _is_bool, "watchers": _empty_list,
    },
    "sudo": {"password": _optional(_is_text), "prompt": _is_text, "user": _optional(_is_text)},
    "timeouts": {"command": _optional(_is_number), "connect": _optional(_is_number)},
    "connect_kwargs": {
        "password": _is_text, "passphrase": _is_text, "key_filename": _text_list,
        "allow_agent": _is_bool, "look_for_keys": _is_bool,
        "compress": _is_bool, "banner_timeout": _optional(_is_number),
        "auth_timeout": _optional(_is_number), "channel_timeout": _optional(_is_number),
        "disabled_algorithms": _algorithms,
    },
    "authentication": {"identities": _text_list, "strategy_class": _null_only},
}
"""The sections fabric/invoke read, each with its keys that a stored config may set."""

REFUSED = {
    "runners": "runners cannot be set from a stored config (the engine chooses them)",
    "connect_kwargs.hostname": "set the host's hostname field instead",
    "connect_kwargs.username": 'set the host\'s username field (or "user") instead',
    "connect_kwargs.port": "set the host's port field (or \"port\") instead",
    "connect_kwargs.timeout": 'use "connect_timeout" instead (fabric refuses both)',
    "connect_kwargs.pkey": "give the key file in connect_kwargs.key_filename instead",
    "connect_kwargs.sock": "a socket cannot come from a config",
    "connect_kwargs.transport_factory": "the engine chooses the transport",
    "connect_kwargs.auth_strategy": "an auth strategy object cannot come from a config",
}
"""Keys refused outright, with what to do instead."""


def key_path(key: str) -> list[str]:
    """The nested path of a config key, as the engine reads it: ``run.pty`` and ``run_pty``
    are both ``["run", "pty"]``; other keys stand for themselves."""
    if "." in key:
        return key.split(".")
    for section in SECTIONS:
        if key.startswith(section + "_"):
            return [section, key[len(section) + 1:]]
    return [key]


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``config`` unchanged when fabric can use it.

    :raises ConfigError: naming the first key that is wrong: a value of the wrong
        type, a section that is not a mapping, an unknown key of a known section,
        a refused key, or one setting given twice (``{"run": {"pty": true},
        "run.pty": false}``, ``{"run": 5, "run.pty": true}``).
    """
    _walk(config, [], {}, {})
    return dict(config)


def _walk(config: Mapping[str, Any], prefix: list[str], leaves: dict[str, str],
          nodes: dict[str, str]) -> None:
    """Check every key under ``prefix``. ``leaves`` and ``nodes`` map the dotted paths set
    so far, values and mappings, to the key as written that set them."""
    for key, value in config.items():
        if not isinstance(key, str) or not key or not all(key.split(".")):
            raise ConfigError(f"config key {key!r} is not a name")
        path = prefix + key_path(key)
        name, written = ".".join(path), ".".join([*prefix, key])
        refused = REFUSED.get(name) or REFUSED.get(path[0])
        if refused:
            raise ConfigError(f"config key {written!r}: {refused}")
        if len(path) == 1 and path[0] in KNOWN_SECTIONS and not isinstance(value, Mapping):
            raise ConfigError(f"config key {written!r} must be a mapping such as "
                              f'{{"{path[0]}": {{...}}}}, not {_shown(value)}')
        for depth in range(1, len(path)):
            above = ".".join(path[:depth])
            if above in leaves:
                _conflict(written, leaves[above], above)
            nodes.setdefault(above, written)
        if name in leaves:
            _conflict(written, leaves[name], name)
        if isinstance(value, Mapping) and not _is_free_mapping(path):
            nodes.setdefault(name, written)
            _walk(value, path, leaves, nodes)
            continue
        if name in nodes:
            _conflict(written, nodes[name], name)
        leaves[name] = written
        _check_leaf(path, written, value)


def _conflict(written: str, earlier: str, name: str) -> None:
    raise ConfigError(f"config key {written!r} conflicts with {earlier!r}: both set {name}")


def _is_free_mapping(path: list[str]) -> bool:
    """Whether a mapping at ``path`` is a value in itself (``run.env``), not a section."""
    return tuple(path) in (("run", "env"), ("connect_kwargs", "disabled_algorithms"))


def _check_leaf(path: list[str], written: str, value: Any) -> None:
    if len(path) == 1:
        check = TOP_LEVEL.get(path[0])
    elif path[0] in KNOWN_SECTIONS:
        keys = KNOWN_SECTIONS[path[0]]
        if len(path) > 2 or path[1] not in keys:
            raise ConfigError(f"config key {written!r}: {path[0]} has no key "
                              f"{'.'.join(path[1:])!r} (known: {', '.join(sorted(keys))})")
        check = keys[path[1]]
    else:
        check = None  # the user's own settings
    problem = check(value) if check else None
    if problem:
        raise ConfigError(f"config key {written!r} must be {problem}, not {_shown(value)}")


def _shown(value: Any) -> str:
    """``value`` as the user wrote it (JSON), else its Python form."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
