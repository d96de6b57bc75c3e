"""A job's plan, as its thread loads it once: each session's object and host, each host's
connection target (the effective configuration, the pool's key, or why it cannot connect)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    """Where a unit's sessions run: a host, as loaded once by the job thread."""

    host_id: int
    name: str
    hostname: str
    port: int | None
    username: str | None
    config: dict[str, Any] = field(repr=False)  # the effective connection config (secrets too)
    key: str  # the connection pool's key
    error: str | None = None  # why no connection can be built from the configuration
    secret: bool = False  # the config holds asked secrets: its connection is never pooled


@dataclass(frozen=True)
class Planned:
    """A session of the job, as loaded once by the job thread."""

    session_id: int
    object_type: str
    object_id: int
    host_id: int | None
