"""``minke cleanup``: fail what can never finish, delete old runs, free stale locks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app

from sessions.status import ProcStatus

from ..engine import locks
from ..engine.latest import refresh_latest
from ..engine.stops import stop_run
from ..engine.worker.reaper import fail_lost_jobs, reap_dead_workers
from ..extensions import db
from ..models import MinkeSession, Run, utcnow

ACTIVE = [ProcStatus.RUNNING.value, ProcStatus.STOPPING.value]


@click.command("cleanup")
@click.option("--older-than", "days", type=click.FloatRange(0),
              help="Delete finished runs older than DAYS days.")
@click.option("--release-locks", is_flag=True,
              help="Release host locks whose run is finished or whose worker is gone.")
@click.option("--kill-stuck", "stuck_minutes", type=click.FloatRange(0, min_open=True),
              help="Kill sessions running longer than MINUTES minutes (their remote command "
                   "and their own code), so that their worker takes its next job.")
def cleanup_command(days: float | None, release_locks: bool,
                    stuck_minutes: float | None) -> None:
    """Fail sessions of dead workers and lost jobs; optionally kill stuck sessions, delete old
    runs and free locks."""
    state = current_app.extensions["minke"]
    reaped = reap_dead_workers(state, grace=0)
    lost = fail_lost_jobs(state)
    click.echo(f"{reaped} session(s) of dead workers failed, {lost} with lost jobs failed")
    if stuck_minutes is not None:
        cutoff = utcnow() - dt.timedelta(minutes=stuck_minutes)
        stuck = db.session.scalars(sa.select(MinkeSession).where(
            MinkeSession.proc_status.in_(ACTIVE), MinkeSession.start_time < cutoff)).all()
        for session in stuck:
            stop_run(state, session.run, session_id=session.id, kill=True)
        click.echo(f"{len(stuck)} session(s) running longer than {stuck_minutes:g} minute(s) "
                   "killed")
    if days is not None:
        cutoff = utcnow() - dt.timedelta(days=days)
        deleted = db.session.execute(  # type: ignore[attr-defined]  # a CursorResult (DML)
            sa.delete(Run).where(Run.finished_at.is_not(None), Run.created_at < cutoff)).rowcount
        refresh_latest()  # an object whose latest session went with its run shows the one before
        db.session.commit()
        click.echo(f"{deleted} run(s) older than {days:g} day(s) deleted")
    if release_locks:
        released = 0
        holder: Any  # the lock's JSON document
        for host_id, holder in locks.all_locks(state.redis, state.keys).items():
            run_id = holder.get("run")
            run = db.session.get(Run, run_id) if isinstance(run_id, int) else None
            worker_alive = state.redis.exists(state.keys.worker_alive(holder.get("worker", "")))
            if run is None or run.finished_at is not None or not worker_alive:
                released += locks.release(state.redis, state.keys, host_id, holder.get("run"))
        click.echo(f"{released} host lock(s) released")
