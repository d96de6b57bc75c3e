"""What a worker process keeps between jobs: connections, stop board, background threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from redis import Redis

from ..keys import Keys
from ..ssh.pool import ConnectionPool, capacity_for
from ..stops import StopBoard, StopListener

logger = logging.getLogger(__name__)


class WorkerRuntime:
    """Pool, stop board and the stop listener + heartbeat threads of one process."""

    def __init__(self, config: Mapping[str, Any], redis: Redis, keys: Keys,
                 worker_id: str) -> None:
        self.config = config
        self.redis = redis
        self.keys = keys
        self.worker_id = worker_id
        self.pool = ConnectionPool(
            idle_ttl=config["MINKE_POOL_IDLE_TTL"],
            capacity=capacity_for(config["MINKE_POOL_MEMORY"]),
            keepalive=config["MINKE_POOL_KEEPALIVE"])
        self.stops = StopBoard(redis, keys)
        self._stop_listener: StopListener | None = None
        self._heartbeat: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self, on_beat: Callable[[], None] | None = None) -> WorkerRuntime:
        """Listen for stop requests; beat every ``MINKE_WORKER_HEARTBEAT`` s, sweeping the pool."""
        self._stop_listener = StopListener(self.redis, self.keys, self.stops.note)
        self.beat()
        self._heartbeat = threading.Thread(
            target=self._beat_loop, args=(on_beat,), name="minke-heartbeat", daemon=True)
        self._heartbeat.start()
        return self

    def beat(self) -> None:
        interval = self.config["MINKE_WORKER_HEARTBEAT"]
        self.redis.set(self.keys.worker_alive(self.worker_id), 1, ex=max(1, int(interval * 3)))

    def _beat_loop(self, on_beat: Callable[[], None] | None) -> None:
        interval = self.config["MINKE_WORKER_HEARTBEAT"]
        while not self._closing.wait(interval):
            try:
                self.beat()
                self.stops.reload()
                self.pool.sweep()
                if on_beat is not None:
                    on_beat()
            except Exception:  # keep beating: a passing Redis/DB error must not kill the worker
                logger.exception("heartbeat failed")

    def close(self) -> None:
        self._closing.set()
        if self._stop_listener is not None:
            self._stop_listener.close()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        self.redis.delete(self.keys.worker_alive(self.worker_id))
        self.pool.close()
