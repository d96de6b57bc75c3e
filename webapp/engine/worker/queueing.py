"""Where a queued run stands: its place in the queue, the runs ahead of it, the slots.

A run is queued while one of its jobs waits in the rq queue, that is while every
slot of every worker is busy, or for the moment a worker with a free slot takes
to take it. Run ids here are plain: deciding which of them a viewer may be
shown is the caller's (webapp/runs/queued.py).

A worker tells queued runs their places from a thread of its own
(:class:`PlaceTeller`): with many runs queued, telling each of them after every
job taken is a Redis round trip per queued run, and a worker's main thread that
did so took jobs seconds late while its slots were free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.exceptions
from rq import Worker

from .. import events
from .slots import worker_slots

if TYPE_CHECKING:
    from ..clients import EngineClients

logger = logging.getLogger(__name__)


@dataclass
class QueuePlace:
    """A queued run's place."""

    position: int
    """1 for the next run to start."""
    ahead: list[int] = field(default_factory=list)
    """Runs with a job ahead of this run's first job, in queue order."""
    running: list[int] = field(default_factory=list)
    """Runs whose jobs hold slots now."""
    slots: int = 0
    """Slots of the workers registered now."""
    busy: int = 0
    """Slots busy now (jobs started)."""


def run_of_job(state: EngineClients, job_id: str) -> int | None:
    """The run of one of this installation's job ids (``Keys.job_id``), else None."""
    prefix, _sep, rest = job_id.rpartition("-run-")
    if prefix != f"minke-{state.keys.installation[:12]}":
        return None
    run, _sep, _index = rest.partition("-")
    return int(run) if run.isdigit() else None


def queued_runs(state: EngineClients) -> list[int]:
    """The runs with a job in the queue, in the order they will start (one read)."""
    runs: dict[int, None] = {}
    for job_id in state.queue.get_job_ids():
        run_id = run_of_job(state, job_id)
        if run_id is not None:
            runs.setdefault(run_id)
    return list(runs)


def queue_place(state: EngineClients, run_id: int) -> QueuePlace | None:
    """Run ``run_id``'s place in the queue; ``None`` when none of its jobs is queued."""
    order = queued_runs(state)
    if run_id not in order:
        return None
    index = order.index(run_id)
    started = [run_of_job(state, job_id)
               for job_id in state.queue.started_job_registry.get_job_ids()]
    running = dict.fromkeys(run for run in started if run is not None and run != run_id)
    slots = sum(worker_slots(state.redis, worker.key)
                for worker in Worker.all(queue=state.queue))
    return QueuePlace(index + 1, order[:index], list(running), slots, len(started))


def publish_queue_places(state: EngineClients, taken: Iterable[str] = ()) -> None:
    """Workers took the jobs ``taken``: tell their runs they left the queue, and every run
    still queued its position (they moved up)."""
    queued = queued_runs(state)
    left = dict.fromkeys(run for run in (run_of_job(state, job_id) for job_id in taken)
                         if run is not None)
    for run_id in left:
        if run_id not in queued:  # a run with a job still queued keeps a place
            state.publisher.publish(run_id, events.RUN_QUEUE, {"position": None})
    for position, run_id in enumerate(queued, start=1):
        state.publisher.publish(run_id, events.RUN_QUEUE, {"position": position})


class PlaceTeller:
    """Publishes queue places from a thread of its own, at most every ``interval`` seconds:
    a worker's main thread only says which job it took (:meth:`taken`), so that taking the
    next job never waits for the telling; a burst of jobs taken is told once."""

    def __init__(self, state: EngineClients, interval: float = 0.2) -> None:
        self._state = state
        self._interval = interval
        self._taken: list[str] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def taken(self, job_id: str) -> None:
        with self._wake:
            self._taken.append(job_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._tell_forever,
                                                name="minke-queue-places", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Tell what is left, then end the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _tell_forever(self) -> None:
        while True:
            with self._wake:
                while not self._taken and not self._closed:
                    self._wake.wait()
                if not self._taken:
                    return
                taken, self._taken = self._taken, []
            try:
                publish_queue_places(self._state, taken)
            except redis.exceptions.RedisError:  # pages catch up when they next load the run
                logger.warning("publishing queue places failed", exc_info=True)
            if not self._closed:
                time.sleep(self._interval)
