"""Per-host locks in Redis, so that two runs never work on one host at once.

A lock is a key holding JSON about its holder (run, user, session, worker)
with a TTL; the holder refreshes it while it works and deletes it when done.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from redis import Redis

from .keys import Keys

logger = logging.getLogger(__name__)
RELEASE_DELAY = 0.05  # seconds a finished host's lock may outlive its work, to release in bulk

_RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['run'] == tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REFRESH = """
local v = redis.call('GET', KEYS[1])
if not v then return redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[2]) end
if cjson.decode(v)['run'] == tonumber(ARGV[1]) then
  return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def acquire(redis: Redis, keys: Keys, host_id: int, holder: dict[str, Any],
            ttl: int) -> dict[str, Any] | None:
    """Take the lock of ``host_id`` for ``holder`` (which has a ``run`` id).

    :returns: ``None`` when taken (or already held by the same run), else the
        current holder's information.
    """
    key = keys.host_lock(host_id)
    if redis.set(key, json.dumps(holder), nx=True, ex=ttl):
        return None
    current = holder_of(redis, keys, host_id)
    if current is not None and current.get("run") == holder["run"]:
        return None
    if current is None:  # expired between SET and GET: try once more
        return None if redis.set(key, json.dumps(holder), nx=True, ex=ttl) else {"run": "?"}
    return current


def acquire_many(
    redis: Redis, keys: Keys, host_ids: list[int], holder: dict[str, Any], ttl: int
) -> dict[int, dict[str, Any]]:
    """Take the locks of ``host_ids`` for ``holder`` in one round trip.

    :returns: host id → current holder, for the hosts another run holds.
    """
    value = json.dumps(holder)
    pipe = redis.pipeline(transaction=False)
    for host_id in host_ids:
        pipe.set(keys.host_lock(host_id), value, nx=True, ex=ttl)
    busy = {}
    for host_id, taken in zip(host_ids, pipe.execute(), strict=True):
        if not taken:  # rare: ask again one by one (held by this run already, or expired)
            current = acquire(redis, keys, host_id, holder, ttl)
            if current is not None:
                busy[host_id] = current
    return busy


def holder_of(redis: Redis, keys: Keys, host_id: int) -> dict[str, Any] | None:
    raw = redis.get(keys.host_lock(host_id))
    return json.loads(raw) if raw else None


def refresh(redis: Redis, keys: Keys, host_ids: list[int], holder: dict[str, Any],
            ttl: int) -> None:
    """Extend the TTL of the locks of ``host_ids`` that ``holder``'s run holds, and take
    again those that vanished (a Redis restarted empty) (one round trip)."""
    _run_script(redis, keys, _REFRESH, host_ids, [holder["run"], ttl, json.dumps(holder)])


def release_many(redis: Redis, keys: Keys, host_ids: list[int], run_id: int) -> None:
    """Delete the locks of ``host_ids`` that ``run_id`` holds (one round trip)."""
    _run_script(redis, keys, _RELEASE, host_ids, [run_id])


def _run_script(redis: Redis, keys: Keys, source: str, host_ids: list[int],
                args: list[Any]) -> None:
    if not host_ids:
        return
    script = redis.register_script(source)
    pipe = redis.pipeline(transaction=False)
    for host_id in host_ids:
        script(keys=[keys.host_lock(host_id)], args=args, client=pipe)
    pipe.execute()


def release(redis: Redis, keys: Keys, host_id: int, run_id: int) -> bool:
    """Delete the lock of ``host_id`` if ``run_id`` holds it."""
    return bool(redis.register_script(_RELEASE)(keys=[keys.host_lock(host_id)], args=[run_id]))


def all_locks(redis: Redis, keys: Keys) -> dict[int, dict[str, Any]]:
    """Every host lock: host id → holder."""
    result = {}
    for key in redis.scan_iter(keys.host_lock_pattern()):
        raw = redis.get(key)
        if raw:
            result[int(key.decode().rsplit(":", 1)[1])] = json.loads(raw)
    return result


def describe(holder: dict[str, Any]) -> str:
    return (f"run #{holder.get('run')} of {holder.get('user') or 'the command line'} "
            f"({holder.get('session')})")


class HostLocks:
    """The host locks of one job: taken at once, kept alive, released in batches.

    A thread refreshes the held locks every third of ``ttl`` and releases
    the locks of hosts the job is done with as soon as it is told, several
    at a time under load (one round trip each time, not one per host).
    """

    def __init__(self, redis: Redis, keys: Keys, run_id: int, *, ttl: int) -> None:
        self._redis, self._keys, self._run_id, self._ttl = redis, keys, run_id, ttl
        self._holder: dict[str, Any] = {"run": run_id}
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._done: list[int] = []
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="minke-locks", daemon=True)

    def take(self, host_ids: list[int], holder: dict[str, Any]) -> dict[int, dict[str, Any]]:
        """Take the hosts' locks; return host id → holder for those another run holds."""
        busy = acquire_many(self._redis, self._keys, host_ids, holder, self._ttl)
        with self._lock:
            self._holder = holder
            self._held.update(set(host_ids) - set(busy))
        return busy

    def take_one(self, host_id: int) -> dict[str, Any] | None:
        """Try to take one host's lock (for a session waiting for it); ``None`` when taken
        (it is then kept alive and released like the others), else its current holder."""
        with self._lock:
            holder = self._holder
        busy = acquire(self._redis, self._keys, host_id, holder, self._ttl)
        if busy is None:
            with self._lock:
                self._held.add(host_id)
        return busy

    def start(self) -> HostLocks:
        self._thread.start()
        return self

    def done_with(self, host_id: int) -> None:
        """Release the lock of ``host_id`` (if held) soon, in the lock thread."""
        with self._lock:
            if host_id not in self._held:
                return
            self._held.discard(host_id)
            self._done.append(host_id)
        self._wake.set()

    def close(self) -> None:
        """Release every lock still held and stop the thread."""
        with self._lock:
            self._done += self._held
            self._held.clear()
            self._closing = True
        self._closed.set()
        self._wake.set()
        self._thread.join()

    def _loop(self) -> None:
        interval = max(1.0, self._ttl / 3)
        next_refresh = time.monotonic() + interval
        while True:
            if self._wake.wait(max(0.0, next_refresh - time.monotonic())):
                # gather the releases of hosts finishing together (close() cuts this short)
                self._closed.wait(RELEASE_DELAY)
            self._wake.clear()
            with self._lock:
                done, self._done = self._done, []
                held, closing = list(self._held), self._closing
            try:
                if done:
                    release_many(self._redis, self._keys, done, self._run_id)
                if time.monotonic() >= next_refresh:
                    refresh(self._redis, self._keys, held, self._holder, self._ttl)
                    next_refresh = time.monotonic() + interval
            except Exception:  # Redis hiccup: a lock left behind expires after its TTL
                logger.exception("refreshing or releasing host locks of run %s failed",
                                 self._run_id)
            if closing:
                return
