"""Secrets of a run: asked before it starts, sealed for the trip to the worker, never stored.

Two sorts:

- *secret form values*: the session form's password fields and the fields
  named in ``Session.secret_fields``. They join the session's ``data`` in the
  worker (for ``format_cmd`` and ``env=``) but never the run's stored data.
- *asked secrets* (:data:`sessions.secrets.SECRET_KINDS`): an SSH key
  passphrase, an SSH password or a sudo password, asked for because the
  session's ``ask_secrets`` or a targeted host's group's ``ask_secrets``
  names it. One value per name and run. The worker puts it into the fabric
  configuration of the hosts that need it (:func:`connection_secrets`).

They travel inside the RQ job's arguments, encrypted with a key derived from
``SECRET_KEY`` (web, CLI and workers share it), and only in the jobs whose
hosts need them (:func:`job_payload`). The sealed argument is scrubbed from what
Redis keeps of the job as soon as a worker takes it (``run_job``), and again when it
ends (the worker), is canceled before a worker took it (``stop_run``) or is failed
by the reaper (:func:`scrub_job`, :func:`forget_job_secrets`); rq keeps ended jobs
for hours or days. A job retried by rq would run without them. They are never
written to the database, the event stream or a log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken
from redis import Redis
from rq.job import Job

from sessions import Session
from sessions.secrets import SECRET_KINDS

logger = logging.getLogger(__name__)

SECRETS_ARG = 3
"""Index of the sealed secrets in ``run_job``'s arguments."""


class SecretError(ValueError):
    """Sealed values that this process cannot open (another ``SECRET_KEY``?)."""


@dataclass(frozen=True)
class SecretsNeeded:
    """The secrets a run asks for, and who asks for each."""

    asked_by: dict[str, list[str]] = field(default_factory=dict)
    """Secret name → ``"the session"`` and/or ``"host group NAME"``, in prompt order."""

    hosts: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Host id → the secrets its connection needs (the session's and its groups')."""

    @property
    def names(self) -> list[str]:
        return list(self.asked_by)

    def __bool__(self) -> bool:
        return bool(self.asked_by)

    def describe(self, name: str) -> str:
        """``"sudo_password (asked by host group db)"``."""
        return f"{name} (asked by {' and '.join(self.asked_by.get(name, ['nobody']))})"


def secrets_needed(session_cls: type[Session], objects: Iterable[Any]) -> SecretsNeeded:
    """What ``session_cls`` on ``objects`` asks for: its own ``ask_secrets`` for every
    host, and each host group's ``ask_secrets`` for that group's hosts."""
    own = tuple(session_cls.ask_secrets)
    asked_by: dict[str, list[str]] = {}
    hosts: dict[int, tuple[str, ...]] = {}
    for host in {id(h): h for h in (obj.get_host() for obj in objects) if h is not None}.values():
        names = list(own)
        for group in host.groups:
            for name in group.ask_secrets or ():
                if name in SECRET_KINDS:
                    names.append(name)
                    by = asked_by.setdefault(name, [])
                    if f"host group {group.name}" not in by:
                        by.append(f"host group {group.name}")
        if names:
            hosts[host.id] = tuple(n for n in SECRET_KINDS if n in names)
    ordered = {name: (["the session"] if name in own else []) + asked_by.get(name, [])
               for name in SECRET_KINDS if name in own or name in asked_by}
    return SecretsNeeded(ordered, hosts)


def missing_secrets(needed: SecretsNeeded, given: Mapping[str, Any] | None) -> list[str]:
    """The needed secrets ``given`` lacks or leaves empty."""
    given = given or {}
    return [name for name in needed.names if not given.get(name)]


def job_payload(fields: Mapping[str, Any], secrets: Mapping[str, str],
                needed: SecretsNeeded, host_ids: Iterable[int | None]) -> dict[str, Any]:
    """What one job carries: every secret form value, and the asked secrets (with the
    hosts each applies to) of its own hosts only."""
    hosts = {str(h): list(needed.hosts[h]) for h in host_ids if h in needed.hosts}
    names = {name for kinds in hosts.values() for name in kinds}
    payload: dict[str, Any] = {}
    if fields:
        payload["fields"] = dict(fields)
    if names:
        payload["secrets"] = {name: secrets[name] for name in sorted(names)}
        payload["hosts"] = hosts
    return payload


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
        return cast("dict[str, Any]", json.loads(_fernet(secret_key).decrypt(token.encode())))
    except InvalidToken:
        raise SecretError("cannot read the run's secret values: the worker's SECRET_KEY "
                          "differs from the one of the process that started the run") from None


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"minke-secrets\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@dataclass(frozen=True)
class JobSecrets:
    """A job's secrets, unsealed in the worker's memory (never stored)."""

    fields: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    hosts: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def open(cls, secret_key: str, token: str | None) -> JobSecrets:
        """:raises SecretError: as :func:`unseal`."""
        payload = unseal(secret_key, token)
        return cls(dict(payload.get("fields") or {}), dict(payload.get("secrets") or {}),
                   {int(h): tuple(k) for h, k in (payload.get("hosts") or {}).items()})

    def for_host(self, host_id: int) -> dict[str, Any]:
        """The fabric configuration layer of ``host_id``'s secrets (empty: none)."""
        return connection_secrets({name: self.secrets[name] for name in
                                   self.hosts.get(host_id, ()) if name in self.secrets})


def connection_secrets(values: Mapping[str, str]) -> dict[str, Any]:
    """Secrets by name as a fabric configuration layer: ``{"sudo": {"password": …}}``."""
    config: dict[str, Any] = {}
    for name, value in values.items():
        section, key = SECRET_KINDS[name].config_path
        config.setdefault(section, {})[key] = value
    return config


def forget_job_secrets(redis: Redis, job_ids: Sequence[str]) -> int:
    """Scrub the sealed secrets from these rq jobs' stored arguments; return how many.

    rq keeps an ended job's hash (its arguments included) for ``result_ttl`` /
    ``failure_ttl``, and a canceled one until it is deleted. The job stays, with
    its secrets argument ``None``; a job already gone (or carrying none) is left
    alone.
    """
    return sum(scrub_job(redis, job) for job in Job.fetch_many(list(job_ids), connection=redis)
               if job is not None)


def scrub_job(redis: Redis, job: Job) -> bool:
    """Set ``job``'s secrets argument to ``None``, in this object (so that rq's own later
    saves of it write no secret back) and in Redis; return whether there was one."""
    try:
        args = list(job.args)
    except Exception:  # data we cannot read holds nothing we could scrub either
        logger.warning("job %s: cannot read its arguments to scrub them", job.id)
        return False
    if len(args) <= SECRETS_ARG or args[SECRETS_ARG] is None:
        return False
    args[SECRETS_ARG] = None
    job.args = tuple(args)
    # only the data field, and only if the job still exists (HSET would create a stub)
    redis.eval(_SET_IF_EXISTS, 1, job.key, "data", zlib.compress(job.data))
    return True


_SET_IF_EXISTS = ("if redis.call('exists', KEYS[1]) == 1 then "
                  "redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0")
