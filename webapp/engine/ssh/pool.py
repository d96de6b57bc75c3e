"""A per-worker pool of open SSH connections, reused across runs and shared by the
worker's slots.

Rules: a connection is keyed by host and effective configuration; it is
used by one session at a time (checked out, then given back); an idle one
is closed after ``idle_ttl`` seconds (0 disables the pool); a full pool
(``capacity``) keeps the connections it has and closes the one given back
instead of one it holds: a fleet re-run in the same order would otherwise
evict, host by host, exactly the connections it is about to need (a cyclic
scan larger than the pool makes a least-recently-used pool miss every time),
while a connection the pool served was taken out of it and always has its
place when it comes back; expired connections make room. It is checked
for liveness before reuse; idle connections of a host whose configuration
changed are closed when the new configuration is first asked for; a
connection whose session was killed or failed in the SSH layer is
discarded, never given back. Kept connections send an SSH keep-alive every
``keepalive`` seconds, so that firewalls and servers do not drop them while
they wait for the next run.

Each connection has a thread (paramiko's transport) that wakes on a quiet socket to see
whether it should stop (every second: ``MinkeTransport``); thousands of idle ones waking
with the worker's busy threads kept two cores busy (bench/fleet.py at 5,000 hosts). A
connection put in the pool wakes every ``IDLE_WAKE_SECONDS`` instead (often enough for its
keep-alives; a closed one ends its thread within that time), and as before again when a
session takes it.

Every operation is O(1) in the number of idle connections (an insertion-ordered
dict is the expiry order): a fleet's re-run gives back thousands.
"""

from __future__ import annotations

import logging
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

import fabric

logger = logging.getLogger(__name__)

# what one idle pooled connection costs the worker, measured with bench/fleet.py (which
# prints it): 93 KiB of memory per warm host at 1,000 and at 5,000 hosts (102 and 93 KiB,
# run page and events included), one thread (paramiko's transport) and one descriptor
IDLE_CONNECTION_KIB = 92
# descriptors left for everything else: connections in use, the database, Redis, logs
FD_RESERVE = 512
# how often an idle connection's transport thread wakes up (in use: MinkeTransport's 1 s)
IDLE_WAKE_SECONDS = 10.0


def capacity_for(memory_mib: float) -> int:
    """How many idle connections fit in ``memory_mib`` and the process's file descriptors.

    Raises the soft descriptor limit to the hard one first (many systems start processes
    at 1,024, far below what a fleet's pool needs)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # not allowed here: live with the soft limit
            logger.info("file descriptor limit stays at %s", soft)
    by_memory = int(memory_mib * 1024 // IDLE_CONNECTION_KIB)
    if soft == resource.RLIM_INFINITY:
        return max(0, by_memory)
    return max(0, min(by_memory, soft - FD_RESERVE))


@dataclass(eq=False)
class _Idle:
    key: str
    host_id: int
    connection: fabric.Connection
    since: float
    serial: int = field(default=0)


@dataclass
class PoolStats:
    created: int = 0
    reused: int = 0
    expired: int = 0
    turned_away: int = 0  # given back to a full pool and closed
    discarded: int = 0
    invalidated: int = 0
    dead: int = 0
    in_use: int = 0


class ConnectionPool:
    """Idle connections by key; thread-safe.

    ``_by_key`` holds each key's idle connections (newest last), ``_order`` all of them
    from the one idle the longest (the next to expire); ``_host_keys``
    remembers the keys a host's idle connections were made with, so that asking for a
    host with another key (its configuration changed) finds and closes them without
    looking at any other host's.
    """

    def __init__(
        self, *, idle_ttl: float, capacity: int, keepalive: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_ttl = idle_ttl
        self.capacity = capacity
        self.keepalive = keepalive
        self._clock = clock
        self._by_key: dict[str, list[_Idle]] = {}
        self._order: dict[int, _Idle] = {}
        self._host_keys: dict[int, set[str]] = {}
        self._serials = count(1)
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
                _wake_every(found.connection, None)
                return found.connection
            else:
                self.stats.dead += 1
            _close_all([found.connection])
        self.stats.created += 1
        return factory()

    def _take(self, key: str) -> _Idle | None:
        """The newest idle connection of ``key``, removed from the pool."""
        with self._lock:
            idle = self._by_key.get(key)
            if not idle:
                return None
            found = idle.pop()
            del self._order[found.serial]
            if not idle:
                self._forget_key(key, found.host_id)
            return found

    def _pop_key(self, key: str) -> list[_Idle]:
        idle = self._by_key.pop(key, [])
        for entry in idle:
            del self._order[entry.serial]
        if idle:
            self._host_keys.get(idle[0].host_id, set()).discard(key)
        return idle

    def _forget_key(self, key: str, host_id: int) -> None:
        self._by_key.pop(key, None)
        keys = self._host_keys.get(host_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._host_keys[host_id]

    def _remove(self, entry: _Idle) -> None:
        del self._order[entry.serial]
        bucket = self._by_key[entry.key]
        bucket.remove(entry)  # a key has one idle connection or a few: short
        if not bucket:
            self._forget_key(entry.key, entry.host_id)

    def release(
        self, host_id: int, key: str, connection: fabric.Connection, *, reuse: bool
    ) -> None:
        """Give ``connection`` back; it is kept only when ``reuse`` and the pool is on."""
        with self._lock:
            self.stats.in_use -= 1
        if not reuse or self.idle_ttl <= 0 or self.capacity <= 0 or not connection.is_connected:
            if not reuse:
                self.stats.discarded += 1
            _close_all([connection])
            return
        if self.keepalive > 0 and connection.transport is not None:
            connection.transport.set_keepalive(self.keepalive)
        _wake_every(connection, min(IDLE_WAKE_SECONDS, self.keepalive or IDLE_WAKE_SECONDS))
        with self._lock:
            full = len(self._order) >= self.capacity
            if not full:
                entry = _Idle(key, host_id, connection, self._clock(), next(self._serials))
                self._by_key.setdefault(key, []).append(entry)
                self._order[entry.serial] = entry
                self._host_keys.setdefault(host_id, set()).add(key)
            else:
                self.stats.turned_away += 1
        if full:
            _close_all([connection])

    def sweep(self) -> int:
        """Close idle connections older than the TTL; return how many."""
        old: list[fabric.Connection] = []
        with self._lock:
            deadline = self._clock() - self.idle_ttl
            while self._order:
                oldest = next(iter(self._order.values()))
                if oldest.since >= deadline:
                    break
                self._remove(oldest)
                old.append(oldest.connection)
            self.stats.expired += len(old)
        _close_all(old)
        return len(old)

    def idle_count(self, key: str | None = None) -> int:
        with self._lock:
            return len(self._order) if key is None else len(self._by_key.get(key, ()))

    def close(self) -> None:
        with self._lock:
            idle = list(self._order.values())
            self._by_key, self._order, self._host_keys = {}, {}, {}
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


def _wake_every(connection: fabric.Connection, seconds: float | None) -> None:
    """How long the transport thread waits on a quiet socket before it looks at its state
    (stop? keep-alive due?): the socket's timeout, which paramiko sets once, from its
    class's ``_active_check_timeout`` (``None``: back to that)."""
    transport = connection.transport
    settimeout = getattr(getattr(transport, "sock", None), "settimeout", None)
    if settimeout is not None:  # a socket, a ProxyCommand or a gateway's channel
        settimeout(transport._active_check_timeout if seconds is None else seconds)


def _close_all(connections: list[fabric.Connection]) -> None:
    for connection in connections:
        try:
            connection.close()
        except Exception:  # closing a broken connection may fail; it is gone either way
            logger.debug("closing %s failed", connection, exc_info=True)
