"""Where a queued run stands: its place in the queue, the runs ahead of it, the slots.

A run is queued while one of its jobs waits in the rq queue, that is while every
slot of every worker is busy (a worker with a free slot takes a job within
milliseconds). Run ids here are plain: deciding which of them a viewer may be
shown is the caller's (webapp/runs/queued.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rq import Worker

from . import events
from .slots import worker_slots

if TYPE_CHECKING:
    from .state import MinkeState


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


def run_of_job(state: MinkeState, job_id: str) -> int | None:
    """The run of one of this installation's job ids (``Keys.job_id``), else None."""
    prefix, _sep, rest = job_id.rpartition("-run-")
    if prefix != f"minke-{state.keys.installation[:12]}":
        return None
    run, _sep, _index = rest.partition("-")
    return int(run) if run.isdigit() else None


def queued_runs(state: MinkeState) -> list[int]:
    """The runs with a job in the queue, in the order they will start (one read)."""
    runs: dict[int, None] = {}
    for job_id in state.queue.get_job_ids():
        run_id = run_of_job(state, job_id)
        if run_id is not None:
            runs.setdefault(run_id)
    return list(runs)


def queue_place(state: MinkeState, run_id: int) -> QueuePlace | None:
    """Run ``run_id``'s place in the queue; ``None`` when none of its jobs is queued."""
    order = queued_runs(state)
    if run_id not in order:
        return None
    index = order.index(run_id)
    started = (run_of_job(state, job_id)
               for job_id in state.queue.started_job_registry.get_job_ids())
    running = dict.fromkeys(run for run in started if run is not None and run != run_id)
    slots = sum(worker_slots(state.redis, worker.key)
                for worker in Worker.all(queue=state.queue))
    return QueuePlace(index + 1, order[:index], list(running), slots)


def publish_queue_places(state: MinkeState, taken: str | None = None) -> None:
    """A worker took job ``taken``: tell its run it left the queue, and every run still
    queued its position (they moved up)."""
    run_id = run_of_job(state, taken) if taken else None
    if run_id is not None:
        state.publisher.publish(run_id, events.RUN_QUEUE, {"position": None})
    for position, run_id in enumerate(queued_runs(state), start=1):
        state.publisher.publish(run_id, events.RUN_QUEUE, {"position": position})
