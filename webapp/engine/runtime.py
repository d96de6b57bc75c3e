"""What a worker process keeps between jobs: connections, running sessions, background threads."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from redis import Redis

from . import keys, stops
from .pool import ConnectionPool
from .stops import StopListener

logger = logging.getLogger(__name__)


class StopBoard:
    """The stop levels of the runs this process works on, and its running sessions' records.

    A job watches its run while it works: :meth:`watch` loads the run's stop
    requests from Redis, the stop listener passes every later one to :meth:`note`.
    A record registered with :meth:`add` gets every stop of its session, one
    noted before it was added included.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._lock = threading.Lock()
        self._records: dict[int, tuple[int, Any]] = {}
        self._levels: dict[tuple[int, int | None], int] = {}
        self._watchers: Counter[int] = Counter()

    def watch(self, run_id: int) -> None:
        with self._lock:
            self._watchers[run_id] += 1
        self._load(run_id)

    def unwatch(self, run_id: int) -> None:
        with self._lock:
            self._watchers[run_id] -= 1
            if self._watchers[run_id] <= 0:
                del self._watchers[run_id]
                self._levels = {k: v for k, v in self._levels.items() if k[0] != run_id}

    def reload(self) -> None:
        """Read the stop requests of every watched run again (the heartbeat calls it)."""
        with self._lock:
            runs = list(self._watchers)
        for run_id in runs:
            self._load(run_id)

    def _load(self, run_id: int) -> None:
        for session_id, level in stops.stop_levels(self._redis, run_id).items():
            self.note(run_id, session_id, level)

    def note(self, run_id: int, session_id: int | None, level: int) -> None:
        """Record a stop request of a watched run and apply it to the records it concerns."""
        with self._lock:
            if run_id not in self._watchers:
                return
            key = (run_id, session_id)
            self._levels[key] = max(level, self._levels.get(key, 0))
            targets = [record for sid, (rid, record) in self._records.items()
                       if rid == run_id and session_id in (None, sid)]
        for record in targets:
            record.apply_stop(level)

    def level(self, run_id: int, session_id: int) -> int:
        """The stop level of a session: the higher of its own and its run's."""
        with self._lock:
            return max(self._levels.get((run_id, None), 0),
                       self._levels.get((run_id, session_id), 0))

    def add(self, run_id: int, session_id: int, record: Any) -> None:
        """Register a running session's record, applying any stop already noted."""
        with self._lock:
            self._records[session_id] = (run_id, record)
        level = self.level(run_id, session_id)
        if level:
            record.apply_stop(level)

    def remove(self, session_id: int) -> None:
        with self._lock:
            self._records.pop(session_id, None)


class WorkerRuntime:
    """Pool, stop board and the stop listener + heartbeat threads of one process."""

    def __init__(self, config: Mapping[str, Any], redis: Redis, worker_id: str) -> None:
        self.config = config
        self.redis = redis
        self.worker_id = worker_id
        self.pool = ConnectionPool(
            idle_ttl=config["MINKE_POOL_IDLE_TTL"], max_idle=config["MINKE_POOL_SIZE"])
        self.stops = StopBoard(redis)
        self._stop_listener: StopListener | None = None
        self._heartbeat: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self, on_beat: Callable[[], None] | None = None) -> WorkerRuntime:
        """Listen for stop requests; beat every ``MINKE_WORKER_HEARTBEAT`` s, sweeping the pool."""
        self._stop_listener = StopListener(self.redis, self.stops.note)
        self.beat()
        self._heartbeat = threading.Thread(
            target=self._beat_loop, args=(on_beat,), name="minke-heartbeat", daemon=True)
        self._heartbeat.start()
        return self

    def beat(self) -> None:
        interval = self.config["MINKE_WORKER_HEARTBEAT"]
        self.redis.set(keys.worker_alive(self.worker_id), 1, ex=max(1, int(interval * 3)))

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
        self.redis.delete(keys.worker_alive(self.worker_id))
        self.pool.close()
