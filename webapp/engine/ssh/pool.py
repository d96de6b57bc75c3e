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
from dataclasses import dataclass

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


class ConnectionPool:
    """Idle connections by key; thread-safe.

    Idle connections are kept per key, newest last; ``_host_keys`` remembers
    the key a host's idle connections were made with, so that asking for a
    host with another key (its configuration changed) finds and closes them
    without looking at any other host's.
    """

    def __init__(
        self, *, idle_ttl: float, max_idle: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_ttl = idle_ttl
        self.max_idle = max_idle
        self._clock = clock
        self._idle: dict[str, list[_Idle]] = {}
        self._host_keys: dict[int, set[str]] = {}
        self._count = 0
        self._lock = threading.Lock()
        self.stats = PoolStats()

    def acquire(
        self, host_id: int, key: str, factory: Callable[[], fabric.Connection]
    ) -> fabric.Connection:
        """An idle live connection for ``key``, or a new one from ``factory``."""
        to_close: list[fabric.Connection] = []
        with self._lock:
            self.stats.in_use += 1
            for other in self._host_keys.get(host_id, set()) - {key}:
                stale = self._pop_key(other)
                self.stats.invalidated += len(stale)
                to_close += [idle.connection for idle in stale]
        _close_all(to_close)
        while (found := self._take(key)) is not None:
            if self._clock() - found.since > self.idle_ttl:
                self.stats.expired += 1
            elif _is_alive(found.connection):
                self.stats.reused += 1
                return found.connection
            else:
                self.stats.dead += 1
            _close_all([found.connection])
        self.stats.created += 1
        return factory()

    def _take(self, key: str) -> _Idle | None:
        """The newest idle connection of ``key``, removed from the pool."""
        with self._lock:
            idle = self._idle.get(key)
            if not idle:
                return None
            found = idle.pop()
            self._count -= 1
            if not idle:
                self._forget_key(key, found.host_id)
            return found

    def _pop_key(self, key: str) -> list[_Idle]:
        idle = self._idle.pop(key, [])
        self._count -= len(idle)
        if idle:
            self._host_keys.get(idle[0].host_id, set()).discard(key)
        return idle

    def _forget_key(self, key: str, host_id: int) -> None:
        self._idle.pop(key, None)
        keys = self._host_keys.get(host_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._host_keys[host_id]

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
        with self._lock:
            self._idle.setdefault(key, []).append(_Idle(key, host_id, connection, self._clock()))
            self._host_keys.setdefault(host_id, set()).add(key)
            self._count += 1
            to_close = self._evict(lambda idle: False) if self._count > self.max_idle else []
        _close_all(to_close)

    def _evict(self, expired: Callable[[_Idle], bool]) -> list[fabric.Connection]:
        """Remove the idle connections ``expired`` says, and the oldest beyond ``max_idle``."""
        everything = sorted((i for idle in self._idle.values() for i in idle),
                            key=lambda i: i.since)
        excess = max(0, len(everything) - self.max_idle)
        gone = [i for n, i in enumerate(everything) if n < excess or expired(i)]
        for idle in gone:
            bucket = self._idle[idle.key]
            bucket.remove(idle)
            self._count -= 1
            if not bucket:
                self._forget_key(idle.key, idle.host_id)
        return [i.connection for i in gone]

    def sweep(self) -> int:
        """Close idle connections older than the TTL; return how many."""
        with self._lock:
            now = self._clock()
            old = self._evict(lambda idle: now - idle.since > self.idle_ttl)
            self.stats.expired += len(old)
        _close_all(old)
        return len(old)

    def idle_count(self, key: str | None = None) -> int:
        with self._lock:
            return self._count if key is None else len(self._idle.get(key, ()))

    def close(self) -> None:
        with self._lock:
            idle = [i for bucket in self._idle.values() for i in bucket]
            self._idle, self._host_keys, self._count = {}, {}, 0
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
