"""Per-process engine state: the Redis client, the RQ queue and the publisher."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from redis import Redis
from rq import Queue

from .events import Publisher


class MinkeState:
    """What ``app.extensions["minke"]`` holds; clients are created on first use."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    @cached_property
    def redis(self) -> Redis:
        return Redis.from_url(self.config["REDIS_URL"])

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.config["MINKE_QUEUE"], connection=self.redis)

    @cached_property
    def publisher(self) -> Publisher:
        return Publisher(
            self.redis, self.config["REDIS_URL"], maxlen=self.config["MINKE_EVENT_STREAM_MAXLEN"]
        )
