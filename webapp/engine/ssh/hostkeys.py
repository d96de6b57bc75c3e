"""Host keys: each host's SSH host key, remembered on first use and checked on every connection.

The key a host presents is compared with the one stored in its ``Host`` row
(``host_key``, ``"<type> <base64>"`` as in known_hosts). ``MINKE_HOST_KEY_POLICY``
says what happens when none is stored:

- ``accept-new`` (default): the key is stored, in a short transaction of its
  own, and trusted from then on;
- ``strict``: the connection is refused until an admin accepts the key
  (``minke host accept-key NAME``);
- ``off``: nothing is checked or stored (the behaviour before host keys).

A key that differs from the stored one is refused under ``accept-new`` and
``strict``: the session fails with both fingerprints and the command that
accepts the new key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import socket
from collections.abc import Callable
from enum import StrEnum
from typing import Any, cast

import paramiko
import sqlalchemy as sa
from flask import current_app

from ...audit import log_action
from ...extensions import db
from ...models import Host

logger = logging.getLogger(__name__)

ACCEPT_COMMAND = "minke host accept-key {name}"


class HostKeyPolicy(StrEnum):
    """What to do with a host whose key is not stored yet (``MINKE_HOST_KEY_POLICY``)."""

    STRICT = "strict"
    ACCEPT_NEW = "accept-new"
    OFF = "off"


class HostKeyError(paramiko.SSHException):
    """A host key that is refused; the message says why and what to do."""


class HostKeyChanged(HostKeyError):
    """The host presented another key than the one stored for it."""

    def __init__(self, name: str, expected: str, got: paramiko.PKey) -> None:
        super().__init__(
            f"host key of {name} changed: expected {fingerprint(expected)}, got "
            f"{fingerprint(got)}; if the change is expected: {ACCEPT_COMMAND.format(name=name)}")


class HostKeyUnknown(HostKeyError):
    """No key is stored for the host and the policy is ``strict``."""

    def __init__(self, name: str, got: paramiko.PKey) -> None:
        super().__init__(
            f"host key of {name} is not known and MINKE_HOST_KEY_POLICY is strict: it presented "
            f"{fingerprint(got)}; to trust it: {ACCEPT_COMMAND.format(name=name)}")


def key_text(key: paramiko.PKey) -> str:
    """``"<type> <base64>"``: how a key is stored (the known_hosts form without a host name)."""
    return f"{key.get_name()} {key.get_base64()}"


def fingerprint(key: paramiko.PKey | str) -> str:
    """The OpenSSH fingerprint of a key or a stored key text: ``SHA256:<base64>``."""
    blob = key.asbytes() if isinstance(key, paramiko.PKey) else base64.b64decode(key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def current_policy(settings: Any = None) -> HostKeyPolicy:
    """The policy ``MINKE_HOST_KEY_POLICY`` names (default ``accept-new``).

    :raises HostKeyError: for another value (every connection fails with it).
    """
    settings = current_app.config if settings is None else settings
    value = settings.get("MINKE_HOST_KEY_POLICY") or HostKeyPolicy.ACCEPT_NEW.value
    try:
        return HostKeyPolicy(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(policy.value for policy in HostKeyPolicy)
        raise HostKeyError(f"MINKE_HOST_KEY_POLICY is {value!r}: use one of {choices}") from None


def stored_key(host_id: int) -> str | None:
    """The key stored for the host, read on a connection of its own (never the caller's
    transaction: the newest key, even one stored a moment ago by another process)."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(minke_read_only=True)
        return connection.scalar(sa.select(Host.host_key).where(Host.id == host_id))


def remember_key(host_id: int, text: str) -> str | None:
    """Store ``text`` as the host's key unless one is stored already. Returns the key stored
    now: ``text``, or the one another connection stored first (``None``: no such host).

    It commits, in a short transaction of its own. Only when this thread's session already
    holds a writing transaction (a script or test that changed rows) does the update join
    it, for the caller to commit: on SQLite a second transaction would wait for the first.
    """
    session = db.session()
    if session.in_transaction() and not session.connection().get_execution_options().get(
            "minke_read_only"):
        return _store_key(session.connection(), host_id, text)
    with db.engine.begin() as connection:
        return _store_key(connection, host_id, text)


def _store_key(connection: sa.Connection, host_id: int, text: str) -> str | None:
    table = cast(sa.Table, Host.__table__)
    connection.execute(sa.update(table).where(table.c.id == host_id, table.c.host_key.is_(None))
                       .values(host_key=text))
    return connection.scalar(sa.select(table.c.host_key).where(table.c.id == host_id))


def set_key(host: Host, text: str | None) -> None:
    """Store ``text`` (or forget the key with ``None``) for ``host`` in the caller's session;
    the caller commits."""
    host.host_key = text
    log_action("host.key", f"host {host.name}",
               {"fingerprint": fingerprint(text) if text else None})


class CheckedKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Checks the key a host presents against its stored key (the SSH client keeps no known
    keys of its own, so paramiko asks this policy on every connection)."""

    def __init__(self, host_id: int, name: str, known: str | None, policy: HostKeyPolicy,
                 remember: Callable[[int, str], str | None] = remember_key,
                 error: HostKeyError | None = None) -> None:
        self.host_id = host_id
        self.name = name
        self.known = known
        self.policy = policy
        self.remember = remember
        self.error = error  # a configuration error to report on connecting

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        if self.error is not None:
            raise self.error
        if self.policy is HostKeyPolicy.OFF:
            return
        presented = key_text(key)
        if self.known is None:
            if self.policy is HostKeyPolicy.STRICT:
                raise HostKeyUnknown(self.name, key)
            stored = self.remember(self.host_id, presented)
            if stored is not None and stored != presented:  # another connection was first
                raise HostKeyChanged(self.name, stored, key)
            logger.info("remembered the host key of %s: %s", self.name, fingerprint(key))
            self.known = presented
            return
        if presented != self.known:
            raise HostKeyChanged(self.name, self.known, key)

    def transport_factory(self, base: type[paramiko.Transport]) -> Callable[..., Any]:
        """A ``transport_factory`` for paramiko that asks for the stored key's type first,
        so that a host offering several keys presents the one we know."""
        if self.known is None or self.policy is HostKeyPolicy.OFF:
            return base
        known = self.known

        def factory(*args: Any, **kwargs: Any) -> paramiko.Transport:
            return _prefer(base(*args, **kwargs), known)

        return factory


def _prefer(transport: paramiko.Transport, known: str) -> paramiko.Transport:
    """Ask for the host key algorithms of ``known``'s type before the others."""
    key_type = known.split()[0]
    wanted = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type]
    options = transport.get_security_options()
    offered = list(options.key_types)
    options.key_types = ([name for name in wanted if name in offered] +
                         [name for name in offered if name not in wanted])
    return transport


def policy_for(host_id: int, name: str, settings: Any = None) -> CheckedKeyPolicy:
    """The checking policy of one new connection to the host: the configured policy and
    the host's stored key, read now."""
    try:
        policy = current_policy(settings)
    except HostKeyError as exc:  # raised when connecting: it fails the session, not the job
        return CheckedKeyPolicy(host_id, name, None, HostKeyPolicy.STRICT, error=exc)
    known = None if policy is HostKeyPolicy.OFF else stored_key(host_id)
    return CheckedKeyPolicy(host_id, name, known, policy)


def fetch_key(hostname: str, port: int, *, timeout: float = 10.0,
              prefer: str | None = None) -> paramiko.PKey:
    """The host key a server presents (only the key exchange, no login).

    :param prefer: a stored key text whose type to ask for first.
    :raises OSError: when the server cannot be reached.
    :raises paramiko.SSHException: when it does not speak SSH.
    """
    sock = socket.create_connection((hostname, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        if prefer:
            _prefer(transport, prefer)
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()


def parse_key(text: str) -> str:
    """A public key given as text (``"ssh-ed25519 AAAA…"``, a known_hosts or
    ``ssh-keyscan`` line, or a ``.pub`` file's line) in the stored form.

    :raises HostKeyError: when it is not a public key paramiko reads.
    """
    words = text.split()
    for index in range(len(words) - 1):  # a known_hosts line starts with host names
        try:
            key = paramiko.PKey.from_type_string(words[index],
                                                 base64.b64decode(words[index + 1],
                                                                  validate=True))
        except (ValueError, paramiko.SSHException, binascii.Error):
            continue
        return key_text(key)
    raise HostKeyError(f"not an SSH public key: {text[:60]!r}")


def accept_key(host: Host, hostname: str, port: int, *, timeout: float = 10.0,
               expect: str | None = None, given: str | None = None) -> tuple[str | None, str]:
    """Make the key ``host`` presents now (or the key ``given``) its stored key; the
    caller commits. Returns the old key (``None``: none) and the new one.

    :param expect: a fingerprint (``SHA256:…``) the key must have, e.g. the one a
        failed session reported: a different key is refused.
    :raises HostKeyError: when the key does not have the fingerprint expected.
    :raises OSError: when the host cannot be reached (give the key instead).
    """
    new = parse_key(given) if given else key_text(
        fetch_key(hostname, port, timeout=timeout, prefer=host.host_key))
    if expect and fingerprint(new) != expect.strip():
        raise HostKeyError(f"{host.name} presents {fingerprint(new)}, not {expect.strip()}: "
                           "nothing changed")
    old = host.host_key
    set_key(host, new)
    return old, new
