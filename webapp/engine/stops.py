"""Stopping runs and sessions: the one home of stops, from any process on any machine.

:func:`stop_run` is what the CLI and the pages call. A request raises a
level (1 soft, 2 kill) in the run's stop hash and is announced on a pub/sub
channel. A worker reads the hash of a run when it starts a job of it (and
again every heartbeat, in case the listener missed an announcement while
Redis was away) and learns of later requests from the channel, so that
checking a session before it starts costs no round trip: the worker's
:class:`StopBoard` keeps the levels and hands each to the records of the
sessions it concerns (``EngineRecord.apply_stop``: "stopping", and for a
kill the running command and the session's code interrupted).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from sessions.status import ProcStatus

from .. import audit
from ..extensions import db
from ..models import MinkeSession, Run
from .keys import Keys
from .progress import fail_sessions, finish_run_if_done
from .secrets import forget_job_secrets

if TYPE_CHECKING:
    from redis.client import PubSub, PubSubWorkerThread

    from .clients import EngineClients

logger = logging.getLogger(__name__)
RUN_FIELD = "run"
STOP_TTL = 7 * 24 * 3600


class RunFinished(LookupError):
    """The run is over: nothing is left to stop (the pages and the API answer 409)."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run #{run_id} already finished")


def _field(session_id: int | None) -> str:
    return RUN_FIELD if session_id is None else f"s{session_id}"


def stop_run(state: EngineClients, run: Run, *, session_id: int | None = None,
             kill: bool = False) -> int:
    """Ask the workers to stop ``run`` (or one session); cancel what no worker took. Commits.

    The first request is soft (running commands finish, nothing new starts),
    the second — or one with ``kill`` — interrupts running commands. Sessions
    no worker has taken (their job queued, lost or failed before it started
    them) are canceled here; a worker cancels the ones it holds at once.

    :returns: the stop level now in force (1 soft, 2 kill).
    :raises RunFinished: when the run has finished; nothing is requested or audited.
    """
    if run.finished_at is not None:
        raise RunFinished(run.id)
    level = request_stop(state.redis, state.keys, run.id, session_id, kill=kill)
    audit.log_action("run.stop", f"run #{run.id}", {"session": session_id, "level": level},
                     commit=True)
    if session_id is None:
        for index in range(run.job_count):
            try:
                job = Job.fetch(state.keys.job_id(run.id, index), connection=state.redis)
            except NoSuchJobError:
                continue
            if job.get_status() == JobStatus.QUEUED:
                job.cancel()
                forget_job_secrets(state.redis, [job.id])  # rq keeps a canceled job's args
    query = sa.select(MinkeSession).where(
        MinkeSession.run_id == run.id, MinkeSession.proc_status == ProcStatus.INITIALIZED.value,
        MinkeSession.worker_id.is_(None))
    if session_id is not None:
        query = query.where(MinkeSession.id == session_id)
    rows = db.session.scalars(query).all()
    if rows:
        fail_sessions(rows, "stopped before it started", state,
                      status=ProcStatus.CANCELED)
    else:
        finish_run_if_done(run.id, state.publisher)
    return level


def request_stop(redis: Redis, keys: Keys, run_id: int, session_id: int | None = None, *,
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
    redis.publish(keys.stop_channel, json.dumps(
        {"run": run_id, "session": session_id, "level": level}))
    return level


def stop_levels(redis: Redis, keys: Keys, run_id: int) -> dict[int | None, int]:
    """Every stop request of a run: session id (``None`` for the whole run) → level."""
    levels: dict[int | None, int] = {}
    # the client does not decode responses: bytes (redis-py's hint allows str too)
    stored = cast("dict[bytes, bytes]", redis.hgetall(keys.run_stop(run_id)))
    for field, value in stored.items():
        name = field.decode()
        levels[None if name == RUN_FIELD else int(name[1:])] = min(2, int(value))
    return levels


class StopListener:
    """A thread that hands every stop request to ``apply(run_id, session_id, level)``."""

    def __init__(self, redis: Redis, keys: Keys,
                 apply: Callable[[int, int | None, int], None]) -> None:
        self._apply = apply
        self._pubsub = redis.pubsub(  # type: ignore[no-untyped-call]  # redis-py: unannotated
            ignore_subscribe_messages=True)
        self._pubsub.subscribe(**{keys.stop_channel: self._on_message})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.5, daemon=True,
                                                  exception_handler=self._on_error)

    def _on_message(self, message: dict[str, Any]) -> None:
        request = json.loads(message["data"])
        self._apply(request["run"], request["session"], request["level"])

    def _on_error(self, exc: BaseException, pubsub: PubSub,
                  thread: PubSubWorkerThread) -> None:
        # a broken Redis connection is retried by the next get_message; log it
        logger.warning("stop listener: %s", exc)

    def close(self) -> None:
        self._thread.stop()
        self._thread.join(timeout=2)
        self._pubsub.close()


OnStop = Callable[[int | None, int], None]
"""Told (session id or None for the whole run, level) of every stop of a watched run."""


class StopBoard:
    """The stop levels of the runs this process works on, and its running sessions' records.

    A job watches its run while it works: :meth:`watch` loads the run's stop
    requests from Redis, the stop listener passes every later one to :meth:`note`.
    A record registered with :meth:`add` gets every stop of its session, one
    noted before it was added included; a watching job's ``on_stop`` gets
    each too (it cancels the sessions it has not started).
    """

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._lock = threading.Lock()
        self._records: dict[int, tuple[int, Any]] = {}
        self._levels: dict[tuple[int, int | None], int] = {}
        self._watchers: dict[int, list[OnStop | None]] = {}

    def watch(self, run_id: int, on_stop: OnStop | None = None) -> None:
        with self._lock:
            self._watchers.setdefault(run_id, []).append(on_stop)
        self._load(run_id)

    def unwatch(self, run_id: int, on_stop: OnStop | None = None) -> None:
        with self._lock:
            watchers = self._watchers.get(run_id, [])
            if on_stop in watchers:
                watchers.remove(on_stop)
            if not watchers:
                self._watchers.pop(run_id, None)
                self._levels = {k: v for k, v in self._levels.items() if k[0] != run_id}

    def reload(self) -> None:
        """Read the stop requests of every watched run again (the heartbeat calls it)."""
        with self._lock:
            runs = list(self._watchers)
        for run_id in runs:
            self._load(run_id)

    def _load(self, run_id: int) -> None:
        for session_id, level in stop_levels(self._redis, self._keys, run_id).items():
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
            callbacks = [on_stop for on_stop in self._watchers[run_id] if on_stop is not None]
        for record in targets:
            record.apply_stop(level)
        for on_stop in callbacks:
            on_stop(session_id, level)

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
