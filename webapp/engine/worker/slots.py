"""What a worker's slots need beyond rq: a job timeout that works in any thread, and the
slot count a worker announces in its rq registration.

rq's default timeout (``UnixSignalDeathPenalty``) arms ``SIGALRM``, which only the
main thread may do; rq's ``TimerDeathPenalty`` raises an exception asynchronously
into the job's thread, wherever that thread is (inside a database commit, a lock,
the writer's close). :class:`SlotDeadline` only records the job's deadline; the
job (:func:`webapp.engine.worker.execute.execute_job`) waits for its sessions at most until
then and ends them with a clear reason.
"""

from __future__ import annotations

import contextvars
import time

from redis import Redis
from rq.timeouts import BaseDeathPenalty

SLOTS_FIELD = "minke_slots"
"""Field of an rq worker's hash: how many jobs it runs at once."""

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "minke_job_deadline", default=None)


class SlotDeadline(BaseDeathPenalty):
    """rq's death penalty for a job in a slot thread: records the deadline (monotonic)
    in the thread's context for the job to honour; arms no signal, raises nothing."""

    def setup_death_penalty(self) -> None:
        deadline = time.monotonic() + self._timeout if self._timeout and self._timeout > 0 else None
        self._token = _deadline.set(deadline)

    def cancel_death_penalty(self) -> None:
        _deadline.reset(self._token)


def job_deadline() -> float | None:
    """The running job's deadline (``time.monotonic()`` scale), ``None`` for none."""
    return _deadline.get()


def worker_slots(redis: Redis, worker_key: str) -> int:
    """The slots an rq worker announced (1 for a worker that announced none: plain rq)."""
    value = redis.hget(worker_key, SLOTS_FIELD)
    return int(value) if value else 1
