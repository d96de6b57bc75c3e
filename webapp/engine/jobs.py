"""The RQ job: module-level, enqueued by reference, run by ``flask minke worker``."""

from __future__ import annotations

from flask import current_app


def run_job(run_id: int, units: list[list[int]], threads: int, secrets: str | None = None) -> None:
    """Work through ``units`` (lists of session ids) of run ``run_id`` with ``threads`` threads.

    ``secrets`` are the run's sealed password-field values (:mod:`.secrets`).
    Needs the app context the Minke worker pushes around every job.
    """
    from ..commands.sync import sync_sessions
    from .execute import execute_job

    sync_sessions()  # the commands defined in the browser, as the database has them now
    execute_job(current_app._get_current_object(), run_id, units, threads, secrets)
