"""The Minke worker: an rq worker process that runs several jobs at once, one per slot.

Non-forking on purpose: a forked work horse would lose the connection pool
with every job and pay the app's import time again. Stopping a session
therefore never relies on rq's stop command but on :mod:`webapp.engine.stops`.

rq keeps dequeuing and its registries (started, finished, failed jobs, the
worker's own registration); what changes is that the main thread takes a job
only once a slot is free, and hands it to a thread of its own that runs rq's
``perform_job`` in an app context. So one long run holds one slot, not the
process; every job shares the process's :class:`~.runtime.WorkerRuntime` (SSH
pool, stop board, heartbeat), while each keeps its own writer, host locks and
session records. ``get_current_job()`` is a context variable: each slot thread
sees its own job.

Shutdown: the first SIGTERM/SIGINT takes no new job and waits for the running
ones to end (warm); a second one ends them (cold): their sessions are failed
with the reason and their remote commands killed, as the reaper does for a
worker killed with ``-9``, then the process exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

import redis.exceptions
from flask import Flask
from rq import SimpleWorker
from rq.exceptions import DequeueTimeout
from rq.utils import now
from rq.worker import WorkerStatus

from ...extensions import db
from ..notify import notify_queue, release_due_retries
from ..secrets import scrub_job
from .queueing import PlaceTeller
from .reaper import fail_lost_jobs, fail_worker_sessions, reap_dead_workers
from .runtime import WorkerRuntime
from .slots import SLOTS_FIELD, SlotDeadline

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue

logger = logging.getLogger(__name__)

POLL = 1  # seconds the main thread blocks at most (on Redis or for a slot): it notices a stop
HEARTBEAT_EVERY = 10.0  # seconds between rq heartbeats of the worker's registration


class MinkeWorker(SimpleWorker):
    """Runs up to ``slots`` jobs at once, each in a thread of its own inside an app context."""

    death_penalty_class = SlotDeadline  # SIGALRM works in the main thread only

    def __init__(self, *args: Any, app: Flask, slots: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app
        self.slots = max(1, slots)
        self.on_ended: Callable[[], None] | None = None  # told when a cold shutdown ends jobs
        self._free = threading.Semaphore(self.slots)
        self._jobs: dict[threading.Thread, str] = {}  # the slot threads running, job ids
        self._jobs_lock = threading.Lock()
        self._last_beat = 0.0
        self._places = PlaceTeller(app.extensions["minke"])  # tells queued runs they moved up

    # -- registration -----------------------------------------------------------------------

    def register_birth(self) -> None:
        super().register_birth()  # type: ignore[no-untyped-call]  # rq: unannotated
        self.connection.hset(self.key, SLOTS_FIELD, self.slots)

    @property
    def busy_slots(self) -> int:
        with self._jobs_lock:
            return len(self._jobs)

    def _beat(self, *, force: bool = False) -> None:
        if force or time.monotonic() - self._last_beat >= HEARTBEAT_EVERY:
            self._last_beat = time.monotonic()
            self.heartbeat()

    # -- taking jobs --------------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Wait for a free slot, then for a job (``timeout`` None: burst, do not wait).

        A job is taken from the queue only when a slot can start it at once, so
        that while this worker is full any other worker with a free slot takes it.
        Blocks on Redis for at most ``POLL`` seconds at a time to notice a stop.
        """
        while not self._free.acquire(timeout=POLL):
            if self._stop_requested:
                return None
            self._beat()
        try:
            result = self._dequeue(burst=timeout is None, max_idle_time=max_idle_time)
        except BaseException:
            self._free.release()
            raise
        if result is None:
            self._free.release()
        return result

    def _dequeue(self, *, burst: bool, max_idle_time: int | None) -> tuple[Job, Queue] | None:
        self.set_state(WorkerStatus.BUSY if self.busy_slots else WorkerStatus.IDLE)
        self.procline(  # type: ignore[no-untyped-call]  # rq: unannotated
            f"Listening on {','.join(self.queue_names())} "
            f"({self.busy_slots} of {self.slots} slots busy)")
        wait, idle_since = 1.0, time.monotonic()
        while not self._stop_requested:
            try:
                self._beat()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()  # type: ignore[no-untyped-call]  # rq: unannotated
                result = self.queue_class.dequeue_any(
                    self._ordered_queues, None if burst else POLL, connection=self.connection,
                    job_class=self.job_class, serializer=self.serializer,
                    death_penalty_class=self.death_penalty_class)
                if result is not None:
                    job, _queue = result
                    logger.info("worker %s: took %s (%s)", self.name, job.id, job.description)
                return result
            except DequeueTimeout:
                if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                    return None
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                logger.error("worker %s: Redis does not answer (%s); retrying in %.0f s",
                             self.name, exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, self.max_connection_wait_time)
        return None

    # -- running jobs -------------------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Start ``job`` in a slot thread (the slot was taken before it was dequeued)."""
        try:
            execution = self.prepare_execution(job)
            thread = threading.Thread(target=self._run_slot, args=(job, queue, execution),
                                      name=f"minke-slot-{job.id}", daemon=True)
            with self._jobs_lock:
                self._jobs[thread] = job.id
            thread.start()
        except BaseException:
            with self._jobs_lock:
                self._jobs = {t: j for t, j in self._jobs.items() if t.is_alive()}
            self._free.release()
            raise
        self._places.taken(job.id)

    def _run_slot(self, job: Job, queue: Queue, execution: Execution) -> None:
        try:
            with self.app.app_context():
                try:
                    self.perform_job(job, queue, execution)
                finally:
                    db.session.remove()
                    # rq keeps the ended job (finished or failed) with its arguments: the
                    # run's sealed secrets must not outlive it
                    scrub_job(self.connection, job)
        except Exception:  # perform_job records a job's failure; this is rq's own bookkeeping
            logger.exception("worker %s: slot of %s failed", self.name, job.id)
        finally:
            with self._jobs_lock:
                self._jobs.pop(threading.current_thread(), None)
                idle = not self._jobs
            if idle:
                try:
                    self.set_state(WorkerStatus.IDLE)
                except redis.exceptions.RedisError:  # shown state only; the next dequeue sets it
                    logger.debug("setting the worker's state failed", exc_info=True)
            self._free.release()

    # -- shutdown -----------------------------------------------------------------------------

    def request_stop(self, _signum: int, frame: FrameType | None) -> None:
        """First signal: take no new job; the running ones finish (warm shutdown)."""
        self._shutdown_requested_date = now()
        self._stop_requested = True
        signal.signal(signal.SIGINT, self.request_force_stop)
        signal.signal(signal.SIGTERM, self.request_force_stop)
        busy = self.busy_slots
        logger.warning("worker %s: warm shutdown: waiting for %d running job(s); "
                       "signal again to end them", self.name, busy)
        try:
            self.set_shutdown_requested_date()  # type: ignore[no-untyped-call]  # rq: unannotated
        except redis.exceptions.RedisError:  # informative only
            logger.debug("recording the shutdown request failed", exc_info=True)

    def request_force_stop(self, _signum: int, frame: FrameType | None) -> None:
        """Second signal: end the running jobs' sessions (failed, remote commands killed)
        and exit at once."""
        # a process group's Ctrl+C may deliver one signal twice
        assert self._shutdown_requested_date is not None  # set by request_stop, which installs us
        if now() - self._shutdown_requested_date < timedelta(seconds=1):
            return
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        logger.warning("worker %s: cold shutdown: ending %d running job(s)", self.name, len(jobs))
        state = self.app.extensions["minke"]
        try:
            with self.app.app_context():
                try:
                    fail_worker_sessions(state, self.name,
                                         f"the worker {self.name} was shut down (cold) while "
                                         "working on this session: its remote commands are "
                                         "killed", alive=True)
                finally:
                    db.session.remove()
            self.register_death()  # type: ignore[no-untyped-call]  # rq: unannotated
        finally:
            if self.on_ended is not None:
                self.on_ended()
            logging.shutdown()
            # the slot threads' own thread pools would keep a normal exit waiting
            os._exit(1)

    def teardown(self) -> None:
        """Wait for the running jobs (warm shutdown, burst, or the loop ended), then leave."""
        while True:
            with self._jobs_lock:
                threads = list(self._jobs)
            if not threads:
                break
            threads[0].join(timeout=POLL)
            self._beat()
        self._places.close()
        super().teardown()  # type: ignore[no-untyped-call]  # rq: unannotated


def start_worker(app: Flask, *, burst: bool = False, name: str | None = None,
                 slots: int | None = None,
                 announce: Callable[[MinkeWorker], None] | None = None) -> bool:
    """Run a worker on the app's queue until stopped (or, with ``burst``, the queue is empty).

    ``slots``: jobs run at once (default ``MINKE_WORKER_SLOTS``). ``announce`` is
    called with the worker once it is set up, before it takes a job.
    """
    state = app.extensions["minke"]
    # the notification queue's jobs are short (one message each): the same slots take them
    worker = MinkeWorker([state.queue, notify_queue(state)], connection=state.redis, app=app,
                         name=name, slots=slots or app.config["MINKE_WORKER_SLOTS"])
    runtime = WorkerRuntime(app.config, state.redis, state.keys, worker.name)
    state.runtime = runtime
    worker.on_ended = lambda: state.redis.delete(state.keys.worker_alive(worker.name))

    def beat() -> None:
        # a Redis that restarted empty forgot this worker: register it again so that rq
        # (and `minke run`) list it; then end what dead workers and lost jobs left behind
        if not state.redis.exists(worker.key):
            logger.warning("worker %s: registering again (Redis lost its registration)",
                           worker.name)
            worker.register_birth()
        with app.app_context():
            try:
                reap_dead_workers(state)
                fail_lost_jobs(state)
                release_due_retries(state)
            finally:
                db.session.remove()

    runtime.start(on_beat=beat)
    try:
        with app.app_context():
            reap_dead_workers(state)
            db.session.remove()
        if announce is not None:
            announce(worker)
        return worker.work(burst=burst, with_scheduler=False)
    finally:
        runtime.close()
