"""Ending what can never finish: sessions of dead workers (and their remote processes),
sessions whose queued job was lost.

A worker is dead when its heartbeat key has been missing for
``MINKE_WORKER_GRACE`` seconds in a row, as seen by this process: a Redis
that restarted empty loses every heartbeat at once, and a live worker sets
its own again within a heartbeat, long before the grace ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, cast

import sqlalchemy as sa
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from sessions import REGISTRY, UnknownSession
from sessions.status import ProcStatus

from ...database import read_only
from ...extensions import db
from ...models import Host, MinkeSession, Run, StoredResult, utcnow
from ..progress import UNFINISHED, fail_sessions
from ..secrets import forget_job_secrets
from ..ssh.connections import MinkeConnection, build_connection, effective_config
from ..ssh.runner import kill_by_token

if TYPE_CHECKING:
    from ..clients import EngineClients

logger = logging.getLogger(__name__)

LOST_JOB_GRACE = 60  # seconds a run's sessions may wait for jobs that are being queued
KILL_THREADS = 20


def reap_dead_workers(state: EngineClients, *, grace: float | None = None) -> int:
    """Fail the unfinished sessions of dead workers, killing what they left running on the
    hosts; return how many sessions. ``grace``: seconds a heartbeat must have been missing
    (default ``MINKE_WORKER_GRACE``; 0 for at once).

    Looks in a read-only transaction: a writing one starts only when a worker is dead.
    """
    grace = state.config["MINKE_WORKER_GRACE"] if grace is None else grace
    with read_only():
        workers = cast("set[str]", set(db.session.scalars(  # worker_id IS NOT NULL
            sa.select(MinkeSession.worker_id).distinct()
            .where(MinkeSession.proc_status.in_(UNFINISHED),
                   MinkeSession.worker_id.is_not(None)))))
    now = time.monotonic()
    missing = state.missing_workers
    dead = []
    for worker_id in sorted(workers):
        if state.redis.exists(state.keys.worker_alive(worker_id)):
            missing.pop(worker_id, None)
        elif now - missing.setdefault(worker_id, now) >= grace:
            dead.append(worker_id)
    failed = 0
    for worker_id in dead:
        missing.pop(worker_id, None)
        logger.warning("worker %s is gone; failing its sessions", worker_id)
        failed += fail_worker_sessions(
            state, worker_id, f"the worker {worker_id} died while working on this session "
                              "(killed, crashed or out of memory)")
    return failed


def fail_worker_sessions(state: EngineClients, worker_id: str, reason: str, *,
                         alive: bool = False) -> int:
    """Fail the unfinished sessions of worker ``worker_id`` with ``reason``, killing the
    remote commands they left running and failing their rq jobs; return how many.

    ``alive``: the worker is this process, whose threads still run the sessions (a
    cold shutdown): the failure is stored before the kill, so that what a thread
    reports of its killed command does not end the session first.
    """
    rows = db.session.scalars(sa.select(MinkeSession).where(
        MinkeSession.proc_status.in_(UNFINISHED), MinkeSession.worker_id == worker_id)).all()
    if alive:
        _fail_started_jobs(state, {row.run_id for row in rows}, reason)
        ids = [row.id for row in rows]
        fail_sessions(rows, reason, state)
        kill_left_behind(state, ids)
        return len(rows)
    killed = kill_left_behind(state, [row.id for row in rows])
    # rq's jobs first: once a session reads failed, nothing still counts as started
    _fail_started_jobs(state, {row.run_id for row in rows}, reason)
    for row in rows:  # one reason per session: what happened to its remote command
        fail_sessions([row], reason + killed.get(row.id, ""), state)
    return len(rows)


def kill_left_behind(state: EngineClients, session_ids: list[int]) -> dict[int, str]:
    """Kill the remote processes of the commands these sessions left running; return
    session id → what became of them, as the end of a sentence."""
    if not session_ids:
        return {}
    running = db.session.execute(
        sa.select(StoredResult.session_id, StoredResult.token, MinkeSession.host_id,
                  MinkeSession.session_name, Run.data)
        .join(MinkeSession, StoredResult.session_id == MinkeSession.id)
        .join(Run, MinkeSession.run_id == Run.id)
        .where(StoredResult.session_id.in_(session_ids), StoredResult.status == "running",
               StoredResult.token.is_not(None), MinkeSession.host_id.is_not(None))).all()
    hosts = {host.id: host for host in db.session.scalars(
        sa.select(Host).where(Host.id.in_({row.host_id for row in running})))}
    targets: list[tuple[int, str, MinkeConnection]] = []  # the kill threads touch no database
    for row in running:
        try:
            session_cls = REGISTRY.get(row.session_name)
        except UnknownSession:
            session_cls = None
        host = hosts[row.host_id]
        config = effective_config(state.config, host, session_cls, row.data)
        targets.append((row.session_id, row.token, build_connection(host, config)))
    db.session.rollback()

    def kill(target: tuple[int, str, MinkeConnection]) -> tuple[int, str]:
        session_id, token, connection = target
        try:
            connection.open()
            kill_by_token(connection.transport, token)
        except Exception as exc:  # reported in the session's message; the rest go on
            return session_id, f"; its remote command could not be killed: {exc}"
        finally:
            connection.close()
        return session_id, "; its remote command was killed"

    if not targets:
        return {}
    with ThreadPoolExecutor(min(KILL_THREADS, len(targets))) as pool:
        return dict(pool.map(kill, targets))


def _fail_started_jobs(state: EngineClients, run_ids: set[int], reason: str) -> None:
    """Move the jobs of these runs that rq still counts as started to its failed jobs."""
    started = StartedJobRegistry(queue=state.queue)
    failed = FailedJobRegistry(queue=state.queue)
    with read_only():
        counts = {run_id: count for run_id, count in db.session.execute(
            sa.select(Run.id, Run.job_count).where(Run.id.in_(run_ids))).all()}
    for run_id, count in counts.items():
        for index in range(count):
            [job] = Job.fetch_many([state.keys.job_id(run_id, index)],
                                   connection=state.redis)
            if job is not None and job.get_status() == JobStatus.STARTED:
                started.remove_executions(job)
                job.set_status(JobStatus.FAILED)
                failed.add(job, exc_string=reason)
                forget_job_secrets(state.redis, [job.id])


def fail_lost_jobs(state: EngineClients) -> int:
    """Fail sessions still waiting for a job that no longer exists in Redis."""
    rows = db.session.scalars(sa.select(MinkeSession).where(
        MinkeSession.proc_status == ProcStatus.INITIALIZED.value,
        MinkeSession.worker_id.is_(None),
        MinkeSession.created_at < utcnow() - dt.timedelta(seconds=LOST_JOB_GRACE))).all()
    lost = []
    for run_id in {row.run_id for row in rows}:
        run = db.session.get(Run, run_id)
        assert run is not None  # its sessions are still there
        if not any(Job.exists(state.keys.job_id(run_id, i), connection=state.redis)
                   for i in range(run.job_count)):
            lost += [row for row in rows if row.run_id == run_id]
    if lost:
        fail_sessions(lost, "its job is not in Redis: the process starting the run stopped "
                            "before queueing it, or Redis was emptied or restarted", state)
    else:
        db.session.rollback()
    return len(lost)
