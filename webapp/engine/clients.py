"""What the engine's functions take of a process's engine state: its configuration and
clients (:class:`~webapp.engine.state.MinkeState` is one). A protocol, so that those
functions need not import the state, which builds a worker runtime that imports them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

    from .events import Publisher
    from .keys import Keys


class EngineClients(Protocol):
    @property
    def config(self) -> Mapping[str, Any]: ...

    @property
    def redis(self) -> Redis: ...

    @property
    def keys(self) -> Keys: ...

    @property
    def queue(self) -> Queue: ...

    @property
    def publisher(self) -> Publisher: ...

    @property
    def missing_workers(self) -> dict[str, float]:
        """Worker id → when it was first seen without a heartbeat (the reaper's notes)."""
        ...
