"""Stop requests, through Redis, so they work from any process on any machine.

A request raises a level (1 soft, 2 kill) in the run's stop hash and is
announced on a pub/sub channel; every worker listens and applies it to the
sessions it runs, and checks the hash before it starts a session.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from redis import Redis

from . import keys

logger = logging.getLogger(__name__)
RUN_FIELD = "run"
STOP_TTL = 7 * 24 * 3600


def _field(session_id: int | None) -> str:
    return RUN_FIELD if session_id is None else f"s{session_id}"


def request_stop(redis: Redis, run_id: int, session_id: int | None = None, *,
                 kill: bool = False) -> int:
    """Stop a run (or one of its sessions): first soft, second (or ``kill``) kill.

    :returns: the stop level now in force (1 or 2).
    """
    key, field = keys.run_stop(run_id), _field(session_id)
    if kill:
        redis.hset(key, field, 2)
        level = 2
    else:
        level = min(2, int(redis.hincrby(key, field, 1)))
    redis.expire(key, STOP_TTL)
    redis.publish(keys.STOP_CHANNEL, json.dumps(
        {"run": run_id, "session": session_id, "level": level}))
    return level


def stop_level(redis: Redis, run_id: int, session_id: int | None = None) -> int:
    """The stop level of a session: the higher of its own and its run's."""
    values = redis.hmget(keys.run_stop(run_id), [RUN_FIELD, _field(session_id)])
    return min(2, max(int(v or 0) for v in values))


class StopListener:
    """A thread that hands every stop request to ``apply(run_id, session_id, level)``."""

    def __init__(self, redis: Redis, apply: Callable[[int, int | None, int], None]) -> None:
        self._apply = apply
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(**{keys.STOP_CHANNEL: self._on_message})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.5, daemon=True,
                                                  exception_handler=self._on_error)

    def _on_message(self, message: dict) -> None:
        request = json.loads(message["data"])
        self._apply(request["run"], request["session"], request["level"])

    def _on_error(self, exc: BaseException, pubsub, thread) -> None:
        # a broken Redis connection is retried by the next get_message; log it
        logger.warning("stop listener: %s", exc)

    def close(self) -> None:
        self._thread.stop()
        self._thread.join(timeout=2)
        self._pubsub.close()
