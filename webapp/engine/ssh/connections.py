"""Building fabric connections: the configuration layers, in one place.

defaults → ``MINKE_FABRIC_CONFIG`` → host groups (by name) → host →
the session's ``invoke_config`` → form fields named ``config_<snake key>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import fabric
import paramiko

from . import hostkeys
from .config import key_path
from .runner import MinkeRemote

FORM_PREFIX = "config_"


def nested(config: Mapping[str, Any]) -> dict[str, Any]:
    """Expand dotted (``run.pty``) and snake (``run_pty``) keys into nested dicts."""
    result: dict[str, Any] = {}
    for key, value in config.items():
        path = key_path(key)
        if isinstance(value, Mapping):
            value = nested(value)
        target = result
        for part in path[:-1]:
            target = target.setdefault(part, {})
        if isinstance(value, dict) and isinstance(target.get(path[-1]), dict):
            target[path[-1]] = merge(target[path[-1]], value)
        else:
            target[path[-1]] = value
    return result


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def form_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Form fields named ``config_<snake key>`` (e.g. ``config_run_pty``) as config."""
    return {
        key[len(FORM_PREFIX) :]: value
        for key, value in data.items()
        if key.startswith(FORM_PREFIX) and value not in (None, "")
    }


def defaults(settings: Mapping[str, Any]) -> dict[str, Any]:
    timeout = settings["MINKE_CONNECT_TIMEOUT"]
    config: dict[str, Any] = {
        "connect_timeout": timeout,
        # a server that accepts TCP but never speaks SSH must not hold a session for long
        "connect_kwargs": {"banner_timeout": timeout, "auth_timeout": timeout},
        "run": {"warn": True, "hide": True, "in_stream": False},
    }
    if settings.get("MINKE_COMMAND_TIMEOUT"):
        config["timeouts"] = {"command": settings["MINKE_COMMAND_TIMEOUT"]}
    return config


def effective_config(
    settings: Mapping[str, Any],
    host: Any,
    session_cls: Any,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The connection configuration of ``session_cls`` on ``host`` (plain, JSON-able)."""
    layers: Iterable[Mapping[str, Any]] = (
        defaults(settings),
        settings.get("MINKE_FABRIC_CONFIG") or {},
        *(group.config or {} for group in sorted(host.groups, key=lambda g: g.name)),
        host.config or {},
        session_cls.invoke_config or {},
        form_config(data or {}),
    )
    config: dict[str, Any] = {}
    for layer in layers:
        config = merge(config, nested(layer))
    return config


def config_key(host_id: int, address: tuple[str, int | None, str | None],
               config: Mapping[str, Any]) -> str:
    """Identifies connections that are interchangeable: same host, address and config."""
    text = json.dumps([host_id, list(address), config], sort_keys=True, default=str)
    return f"{host_id}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def address_of(host: Any, config: Mapping[str, Any]) -> tuple[str, int | None, str | None]:
    """(hostname, port, user): the host's fields, else the config's ``port``/``user``."""
    return host.hostname, host.port or config.get("port"), host.username or config.get("user")


class MinkeTransport(paramiko.Transport):
    """A paramiko transport whose thread wakes once a second while idle, not ten times.

    The wake-up only serves to notice a transport closed from this side; with
    hundreds of pooled connections the default 0.1 s costs a tenth of a core.
    """

    _active_check_timeout = 1.0


class MinkeConnection(fabric.Connection):
    """A fabric connection that carries the record of the session using it.

    Its attributes are declared on the class so that they are real attributes:
    invoke's ``DataProxy`` turns any other attribute assignment into a
    (deep-copied) configuration value.
    """

    minke_sink: Any = None
    minke_pristine: Any = None  # the configuration as built, for :meth:`forget_session`

    def forget_session(self) -> None:
        """Drop what a session changed on this connection before the next one uses it:
        its configuration (``sudo.password``, ``run.env``…) and ``cd``/``prefix`` contexts.

        A pooled connection serves sessions of other runs and other users.
        """
        if self.minke_pristine is None:
            self.minke_pristine = self.config.clone()
        self.config: Any = self.minke_pristine.clone()  # invoke's property (fabric: no hints)
        self._set(command_cwds=[], command_prefixes=[])


def build_connection(host: Any, config: Mapping[str, Any]) -> MinkeConnection:
    """A fabric connection (not yet open) to ``host`` with ``config``."""
    hostname, port, user = address_of(host, config)
    overrides = {k: v for k, v in config.items() if k not in ("port", "user", "connect_kwargs")}
    overrides = merge(overrides, {"runners": {"remote": MinkeRemote}})
    # an explicit, empty SSH config: no ~/.ssh/config of the worker's user leaks in
    fabric_config = fabric.Config(overrides=overrides, lazy=True, ssh_config=paramiko.SSHConfig())
    # the host's stored key is checked (and a new one remembered) by hostkeys
    keys = hostkeys.policy_for(getattr(host, "host_id", None) or host.id, host.name)
    connection = MinkeConnection(
        hostname,
        user=user,
        port=port,
        config=fabric_config,
        connect_timeout=config.get("connect_timeout"),
        connect_kwargs={"transport_factory": keys.transport_factory(MinkeTransport),
                        **(config.get("connect_kwargs") or {})},
    )
    connection.client.set_missing_host_key_policy(keys)
    return connection
