"""Sessions on a host another run holds: they wait for it (the default), or the run
skips them (``Run.skip_busy``).

Either way the session's message never names the holder in its text: the holder's
run id is stored apart (``Message.about_run``) and the run page names it only to
viewers who may see that run. A wait holds no other host (:func:`.execute.execute_job`
starts the units of busy hosts last) and sleeps between tries of the lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from sessions.messages import TextMessage

from .plan import Planned, Target
from .record import EngineRecord

if TYPE_CHECKING:
    from ..locks import HostLocks
    from .writer import ResultWriter


class WaitingJob(Protocol):
    """What a wait needs of the job (``execute.WaitingJob``)."""

    lock: threading.Lock
    wake: threading.Condition
    waiting: dict[int, Planned]
    on_host: set[int]
    data: dict[str, Any]
    writer: ResultWriter
    host_locks: HostLocks

    def still_waiting(self, sessions: list[Planned]) -> bool: ...

HOST_POLL = 0.25  # seconds between tries of a busy host's lock (one SET NX each)


class HostNote(TextMessage):
    """A line about a busy host: its text never names the run holding the host (stored
    apart, ``Message.about_run``); the payload names the host and what became of the
    session (``busy``: waiting or skipped) for the run page to say more to whom may know."""

    def __init__(self, text: str, level: str, *, host: str, busy: str) -> None:
        super().__init__(text, level)
        self.extra = {"host": host, "busy": busy}

    @property
    def payload(self) -> dict[str, Any]:
        return {**super().payload, **self.extra}


def run_of(holder: dict[str, Any]) -> int | None:
    run = holder.get("run")
    return run if isinstance(run, int) else None


def wait_for_host(job: WaitingJob, sessions: list[Planned], target: Target,
                  holder: dict[str, Any]) -> bool:
    """Wait until this job holds ``target``'s lock; False when none of ``sessions`` is
    left to run (a stop canceled them meanwhile).

    Each session says what it waits for (a message naming the holder's run, shown
    only to viewers who may see it) and again when another run takes the host first.
    The wait holds no other host and tries the lock every ``HOST_POLL`` seconds,
    sleeping in between; a stop wakes it at once.
    """
    with job.lock:
        job.on_host.update(p.session_id for p in sessions if p.session_id in job.waiting)
    told: object = ...  # the holder the sessions last said they wait for
    while True:
        if run_of(holder) != told:
            told = run_of(holder)
            note_waiting(job, sessions, target, run_of(holder))
        with job.wake:
            job.wake.wait(HOST_POLL)
        if not job.still_waiting(sessions):
            return False
        current = job.host_locks.take_one(target.host_id)
        if current is None:
            with job.lock:
                job.on_host.difference_update(p.session_id for p in sessions)
            return True
        holder = current


def note_waiting(job: WaitingJob, sessions: list[Planned], target: Target,
                 holder_run: int | None) -> None:
    with job.lock:
        waiting = [p for p in sessions if p.session_id in job.waiting]
    for planned in waiting:
        record = EngineRecord(planned.session_id, None, job.data, job.writer,
                              memory_limit=0, chunk_size=1, flush_interval=1)
        record.add_message(HostNote("waiting for the host", "info", host=target.name,
                                    busy="waiting"), about_run=holder_run)
