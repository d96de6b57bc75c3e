"""Probing a host over SSH the way a session would connect: the admins' *Test connection*
and *Accept host key* (the admin pages and ``minke host accept-key``).

The connection is built from the same layers as a session's (webapp/engine/
connections.py), with the host's stored key checked by the same policy
(webapp/engine/ssh/hostkeys.py), and failures are described by the engine's one
describer (webapp/engine/ssh/failures.py): what the test reports is what a session
on the host would meet.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...extensions import db
from ...models import Host
from . import failures, hostkeys
from .connections import address_of, build_connection, effective_config


@dataclass(frozen=True)
class ProbeResult:
    """What :func:`probe_host` found."""

    host: str
    """The host's name."""
    address: str
    """``user@hostname:port`` as connected to (the user and port the config gives)."""
    ok: bool
    """Whether the SSH handshake and login succeeded."""
    seconds: float
    """How long opening the connection took (until it failed, when it did)."""
    message: str
    """The failure as a session would report it; ``""`` when ``ok``."""

    def __str__(self) -> str:
        if self.ok:
            return f"{self.host} ({self.address}): connected in {self.seconds * 1000:.0f} ms"
        return f"{self.host} ({self.address}): {self.message} (after {self.seconds:.2f} s)"


class _HostOnly:
    """Stands for a session in :func:`effective_config`: no ``invoke_config`` of its own."""

    invoke_config = None


def probe_host(host: Host, settings: Mapping[str, Any]) -> ProbeResult:
    """Open an SSH connection to ``host`` (handshake, host key check, login), then close it.

    It ends the caller's transaction first (a rollback; it changes nothing in the
    database session): the handshake may take the connect timeout, and on SQLite an
    open writing transaction would hold back every worker meanwhile. A host key seen
    for the first time is stored as a session's connection would store it
    (``MINKE_HOST_KEY_POLICY``).

    :param settings: the app's configuration (``MINKE_CONNECT_TIMEOUT``, ``MINKE_FABRIC_CONFIG``…).
    """
    config = effective_config(settings, host, _HostOnly)
    hostname, port, user = address_of(host, config)
    address = f"{user + '@' if user else ''}{hostname}:{port or 22}"
    name = host.name
    try:
        connection = build_connection(host, config)
    except Exception as exc:  # a config fabric refuses fails a session on the host the same way
        return ProbeResult(name, address, False, 0.0,
                           f"the connection configuration of {name} is invalid: {exc}")
    db.session.rollback()
    banner_timeout = (config.get("connect_kwargs") or {}).get("banner_timeout")
    started = time.perf_counter()
    try:
        connection.open()
        return ProbeResult(name, address, True, time.perf_counter() - started, "")
    except Exception as exc:  # reported to the admin: the test's whole point
        return ProbeResult(name, address, False, time.perf_counter() - started,
                           failures.describe(exc, banner_timeout=banner_timeout)[0])
    finally:
        connection.close()


def accept_host_key(host: Host, settings: Mapping[str, Any], *, expect: str | None = None,
                    given: str | None = None) -> tuple[str | None, str]:
    """Make the key ``host`` presents now (or the key ``given``) its stored key, see
    :func:`webapp.engine.ssh.hostkeys.accept_key`; the caller commits. Returns the old key
    (``None``: none) and the new one.

    The key is fetched from the address and port a session would connect to. Before
    that the caller's transaction is ended (a rollback, as in :func:`probe_host`) and
    the host is read again afterwards: ``host`` is not to be used after the call.

    :param expect: a fingerprint (``SHA256:…``) the key must have.
    :raises HostKeyError: for a key without the fingerprint expected, or a host deleted
        meanwhile.
    :raises OSError: when the host cannot be reached.
    :raises paramiko.SSHException: when it does not speak SSH.
    """
    config = effective_config(settings, host, _HostOnly)
    hostname, port, _user = address_of(host, config)
    if given is None:
        host_id, name, known = host.id, host.name, host.host_key
        db.session.rollback()
        key = hostkeys.fetch_key(hostname, port or 22, prefer=known,
                                 timeout=config.get("connect_timeout") or 10)
        found = db.session.get(Host, host_id)
        if found is None:
            raise hostkeys.HostKeyError(f"host {name} was deleted meanwhile")
        host = found
        given = hostkeys.key_text(key)
    return hostkeys.accept_key(host, hostname, port or 22, expect=expect, given=given)
