"""Stopping runs and sessions, from any process (web, CLI) on any machine."""

from __future__ import annotations

import sqlalchemy as sa
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from sessions.status import ProcStatus

from ..extensions import db
from ..models import MinkeSession, Run
from . import keys, stops
from .progress import fail_sessions, finish_run_if_done
from .state import MinkeState


def stop_run(state: MinkeState, run: Run, *, session_id: int | None = None,
             kill: bool = False) -> int:
    """Ask the workers to stop ``run`` (or one session); cancel jobs not yet started. Commits.

    The first request is soft (running commands finish, nothing new starts),
    the second — or one with ``kill`` — interrupts running commands.

    :returns: the stop level now in force (1 soft, 2 kill).
    """
    level = stops.request_stop(state.redis, run.id, session_id, kill=kill)
    waiting: list[int] = []
    for index in range(run.job_count):
        try:
            job = Job.fetch(keys.job_id(run.id, index), connection=state.redis)
        except NoSuchJobError:
            continue
        if session_id is None and job.get_status() == JobStatus.QUEUED:
            job.cancel()
            waiting += [sid for unit in job.args[1] for sid in unit]
    if session_id is not None:
        waiting.append(session_id)
    rows = db.session.scalars(sa.select(MinkeSession).where(
        MinkeSession.run_id == run.id, MinkeSession.id.in_(waiting),
        MinkeSession.proc_status == ProcStatus.INITIALIZED.value,
        MinkeSession.worker_id.is_(None))).all()
    if rows:
        fail_sessions(rows, "stopped before it started", state.publisher, state.redis,
                      status=ProcStatus.CANCELED)
    else:
        finish_run_if_done(run.id, state.publisher)
    return level
