"""A per-worker pool of open SSH connections, reused across runs.

Rules: a connection is keyed by host and effective configuration; it is
used by one session at a time (checked out, then given back); an idle one
is closed after ``idle_ttl`` seconds (0 disables the pool) and the oldest
idle ones beyond ``max_idle``; it is checked for liveness before reuse;
idle connections of a host whose configuration changed are closed when
the new configuration is first asked for; a connection whose session was
killed or failed in the SSH layer is discarded, never given back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import fabric

logger = logging.getLogger(__name__)


@dataclass
class _Idle:
    key: str
    host_id: int
    connection: fabric.Connection
    since: float


@dataclass
class PoolStats:
    created: int = 0
    reused: int = 0
    expired: int = 0
    discarded: int = 0
    invalidated: int = 0
    dead: int = 0
    in_use: int = 0
    idle: int = 0
    keys: set[str] = field(default_factory=set)


class ConnectionPool:
    """Idle connections by key; thread-safe."""

    def __init__(
        self, *, idle_ttl: float, max_idle: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_ttl = idle_ttl
        self.max_idle = max_idle
        self._clock = clock
        self._idle: list[_Idle] = []
        self._lock = threading.Lock()
        self.stats = PoolStats()

    def acquire(
        self, host_id: int, key: str, factory: Callable[[], fabric.Connection]
    ) -> fabric.Connection:
        """An idle live connection for ``key``, or a new one from ``factory``."""
        to_close: list[fabric.Connection] = []
        found = None
        with self._lock:
            now = self._clock()
            keep: list[_Idle] = []
            for idle in self._idle:
                if idle.host_id == host_id and idle.key != key:
                    self.stats.invalidated += 1
                    to_close.append(idle.connection)
                elif now - idle.since > self.idle_ttl:
                    self.stats.expired += 1
                    to_close.append(idle.connection)
                elif found is None and idle.key == key:
                    found = idle
                else:
                    keep.append(idle)
            self._idle = keep
            self.stats.in_use += 1
        _close_all(to_close)
        while found is not None:
            if _is_alive(found.connection):
                self.stats.reused += 1
                return found.connection
            self.stats.dead += 1
            _close_all([found.connection])
            found = self._take(key)
        self.stats.created += 1
        return factory()

    def _take(self, key: str) -> _Idle | None:
        with self._lock:
            for i, idle in enumerate(self._idle):
                if idle.key == key:
                    return self._idle.pop(i)
        return None

    def release(
        self, host_id: int, key: str, connection: fabric.Connection, *, reuse: bool
    ) -> None:
        """Give ``connection`` back; it is kept only when ``reuse`` and the pool is on."""
        with self._lock:
            self.stats.in_use -= 1
        if not reuse or self.idle_ttl <= 0 or not connection.is_connected:
            if not reuse:
                self.stats.discarded += 1
            _close_all([connection])
            return
        to_close: list[fabric.Connection] = []
        with self._lock:
            self._idle.append(_Idle(key, host_id, connection, self._clock()))
            while len(self._idle) > self.max_idle:
                to_close.append(self._idle.pop(0).connection)
        _close_all(to_close)

    def sweep(self) -> int:
        """Close idle connections older than the TTL; return how many."""
        with self._lock:
            now = self._clock()
            old = [i for i in self._idle if now - i.since > self.idle_ttl]
            self._idle = [i for i in self._idle if now - i.since <= self.idle_ttl]
            self.stats.expired += len(old)
        _close_all([i.connection for i in old])
        return len(old)

    def idle_count(self, key: str | None = None) -> int:
        with self._lock:
            return sum(1 for i in self._idle if key is None or i.key == key)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        _close_all([i.connection for i in idle])


def _is_alive(connection: fabric.Connection) -> bool:
    transport = connection.transport if connection.is_connected else None
    if transport is None or not transport.is_active():
        return False
    try:
        transport.send_ignore()
    except Exception:  # a dead socket raises anything from EOFError to OSError: not alive
        return False
    return True


def _close_all(connections: list[fabric.Connection]) -> None:
    for connection in connections:
        try:
            connection.close()
        except Exception:  # closing a broken connection may fail; it is gone either way
            logger.debug("closing %s failed", connection, exc_info=True)
