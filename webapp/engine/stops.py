"""Stop requests, through Redis, so they work from any process on any machine.

A request raises a level (1 soft, 2 kill) in the run's stop hash and is
announced on a pub/sub channel. A worker reads the hash of a run when it
starts a job of it (and again every heartbeat, in case the listener missed
an announcement while Redis was away) and learns of later requests from the
channel, so that checking a session before it starts costs no round trip.
"""

from __future__ import annotations

import json
import logging
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


def stop_levels(redis: Redis, run_id: int) -> dict[int | None, int]:
    """Every stop request of a run: session id (``None`` for the whole run) → level."""
    levels: dict[int | None, int] = {}
    for field, value in redis.hgetall(keys.run_stop(run_id)).items():
        name = field.decode()
        levels[None if name == RUN_FIELD else int(name[1:])] = min(2, int(value))
    return levels


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
