"""Per-process engine state: the Redis client, the RQ queue and the publisher."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from redis import Redis

from .installation import installation_id
from .keys import Keys

if TYPE_CHECKING:
    from rq import Queue

    from .events import Publisher
    from .worker.runtime import WorkerRuntime


class MinkeState:
    """What ``app.extensions["minke"]`` holds; clients are created on first use, and their
    modules imported then (a ``minke`` command that needs none of them does not wait for them)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._runtime: WorkerRuntime | None = None
        self.missing_workers: dict[str, float] = {}  # worker id → when first seen without beat

    @property
    def runtime(self) -> WorkerRuntime:
        """This process's worker runtime; started on first use outside ``minke worker``."""
        if self._runtime is None:
            from .worker.runtime import WorkerRuntime

            worker_id = f"local-{socket.gethostname()}-{os.getpid()}"
            self._runtime = WorkerRuntime(self.config, self.redis, self.keys, worker_id).start()
        return self._runtime

    @runtime.setter
    def runtime(self, runtime: WorkerRuntime) -> None:
        self._runtime = runtime

    @cached_property
    def keys(self) -> Keys:
        """The Redis names of this installation (read from its database on first use)."""
        return Keys(installation_id())

    @cached_property
    def redis(self) -> Redis:
        return Redis.from_url(self.config["REDIS_URL"])

    @cached_property
    def queue(self) -> Queue:
        from rq import Queue

        return Queue(self.keys.queue(self.config["MINKE_QUEUE"]), connection=self.redis)

    @cached_property
    def publisher(self) -> Publisher:
        from .events import Publisher

        return Publisher(self.redis, self.keys, self.config["REDIS_URL"],
                         maxlen=self.config["MINKE_EVENT_STREAM_MAXLEN"],
                         emit_interval=self.config["MINKE_LIVE_EVENT_INTERVAL"])

    def close(self) -> None:
        """Stop this process's runtime (threads, pooled connections), if one was started."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
