"""Per-host locks in Redis, so that two runs never work on one host at once.

A lock is a key holding JSON about its holder (run, user, session, worker)
with a TTL; the holder refreshes it while it works and deletes it when done.
"""

from __future__ import annotations

import json
from typing import Any

from redis import Redis

from . import keys

_RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['run'] == tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0
"""
_REFRESH = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['run'] == tonumber(ARGV[1]) then
  return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def acquire(redis: Redis, host_id: int, holder: dict[str, Any], ttl: int) -> dict | None:
    """Take the lock of ``host_id`` for ``holder`` (which has a ``run`` id).

    :returns: ``None`` when taken (or already held by the same run), else the
        current holder's information.
    """
    key = keys.host_lock(host_id)
    if redis.set(key, json.dumps(holder), nx=True, ex=ttl):
        return None
    current = holder_of(redis, host_id)
    if current is not None and current.get("run") == holder["run"]:
        return None
    if current is None:  # expired between SET and GET: try once more
        return None if redis.set(key, json.dumps(holder), nx=True, ex=ttl) else {"run": "?"}
    return current


def holder_of(redis: Redis, host_id: int) -> dict | None:
    raw = redis.get(keys.host_lock(host_id))
    return json.loads(raw) if raw else None


def refresh(redis: Redis, host_ids: list[int], run_id: int, ttl: int) -> None:
    script = redis.register_script(_REFRESH)
    for host_id in host_ids:
        script(keys=[keys.host_lock(host_id)], args=[run_id, ttl])


def release(redis: Redis, host_id: int, run_id: int) -> bool:
    """Delete the lock of ``host_id`` if ``run_id`` holds it."""
    return bool(redis.register_script(_RELEASE)(keys=[keys.host_lock(host_id)], args=[run_id]))


def all_locks(redis: Redis) -> dict[int, dict]:
    """Every host lock: host id → holder."""
    result = {}
    for key in redis.scan_iter(keys.host_lock_pattern()):
        raw = redis.get(key)
        if raw:
            result[int(key.decode().rsplit(":", 1)[1])] = json.loads(raw)
    return result


def describe(holder: dict) -> str:
    return (f"run #{holder.get('run')} of {holder.get('user') or 'the command line'} "
            f"({holder.get('session')})")
