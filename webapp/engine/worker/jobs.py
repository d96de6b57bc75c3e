"""The RQ job: module-level, enqueued by reference, run by ``minke worker``."""

from __future__ import annotations

from flask import current_app
from rq import get_current_job


def run_job(run_id: int, units: list[list[int]], threads: int, secrets: str | None = None) -> None:
    """Work through ``units`` (lists of session ids) of run ``run_id`` with ``threads`` threads.

    ``secrets`` are the job's sealed secrets (:mod:`.secrets`). They are scrubbed from
    the job's stored arguments before any work starts: from then on they live in
    this job's memory only. Needs the app context the Minke worker pushes around
    every job.
    """
    from ...commands.sync import sync_sessions
    from ..secrets import scrub_job
    from .execute import execute_job

    job = get_current_job()
    if secrets and job is not None:  # None: called directly, not by a worker
        scrub_job(current_app.extensions["minke"].redis, job)
    sync_sessions()  # the commands defined in the browser, as the database has them now
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a proxy, typed as Flask
    execute_job(app, run_id, units, threads, secrets)
