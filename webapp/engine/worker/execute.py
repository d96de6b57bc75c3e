"""Executing one job: its units in a bounded thread pool, one session after another per unit."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask
from rq.timeouts import JobTimeoutException
from sqlalchemy.orm import selectinload

from sessions import REGISTRY, Session, SessionError, SessionStopped, UnknownSession
from sessions.messages import BaseMessage, PreMessage, TextMessage, coerce_message
from sessions.status import ProcStatus, SessionStatus

from ...commands.sync import missing_reason
from ...database import begin_read_only
from ...extensions import db
from ...models import MINKE_MODELS, Host, MinkeSession, Run
from .. import locks
from ..progress import UNFINISHED, fail_sessions, finish_run_if_done
from ..secrets import JobSecrets, SecretError
from ..ssh import failures
from ..ssh.connections import (
    MinkeConnection,
    address_of,
    build_connection,
    config_key,
    effective_config,
    merge,
)
from . import busy
from .plan import Planned, Target
from .record import EngineRecord
from .runtime import WorkerRuntime
from .slots import job_deadline
from .writer import ResultWriter

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    app: Flask
    runtime: WorkerRuntime
    run_id: int
    session_cls: type[Session]
    data: dict[str, Any]
    writer: ResultWriter
    host_locks: locks.HostLocks
    waiting: dict[int, Planned] = field(default_factory=dict)  # sessions not yet started
    lock: threading.Lock = field(default_factory=threading.Lock)
    skip_busy: bool = False  # cancel the sessions of busy hosts instead of waiting
    on_host: set[int] = field(default_factory=set)  # sessions waiting for a busy host
    wake: threading.Condition = field(default_factory=threading.Condition)  # stops: waiters look
    running: dict[int, EngineRecord] = field(default_factory=dict)  # records of running sessions

    def claim(self, session_id: int) -> bool:
        """Take a waiting session to start (or cancel) it; False when a stop canceled it."""
        with self.lock:
            self.on_host.discard(session_id)
            return self.waiting.pop(session_id, None) is not None

    def cancel_waiting(self, session_id: int | None, level: int) -> None:
        """A stop of the run (``session_id`` None) or of one session: cancel at once what
        has not started, instead of when its thread would have come to it."""
        with self.lock:
            gone = [self.waiting.pop(sid) for sid in list(self.waiting)
                    if session_id in (None, sid)]
            on_host = {planned.session_id for planned in gone} & self.on_host
            self.on_host -= on_host
        with self.wake:
            self.wake.notify_all()
        _cancel(self, [p for p in gone if p.session_id not in on_host],
                "stopped before it started")
        _cancel(self, [p for p in gone if p.session_id in on_host],
                "stopped while waiting for the host")

    def time_out(self, reason: str) -> None:
        """The job ran out of time: fail what has not started, kill what runs."""
        with self.lock:
            gone = list(self.waiting.values())
            self.waiting.clear()
            self.on_host.clear()
            running = list(self.running.values())
        with self.wake:
            self.wake.notify_all()
        _cancel(self, gone, reason, ProcStatus.FAILED)
        for record in running:
            record.add_message(TextMessage(reason, "error"))
            record.apply_stop(2)

    def still_waiting(self, sessions: list[Planned]) -> bool:
        with self.lock:
            return any(planned.session_id in self.waiting for planned in sessions)


def execute_job(app: Flask, run_id: int, units: list[list[int]], threads: int,
                secrets: str | None = None) -> None:
    state = app.extensions["minke"]
    runtime: WorkerRuntime = state.runtime
    config = app.config
    ids = [sid for unit in units for sid in unit]
    # the job's reads need no write lock (on SQLite the process's write gate, behind every
    # other job's writer: bench/team.py measured a one-host run's start 1 s late for it)
    begin_read_only()
    run = db.session.get(Run, run_id)
    assert run is not None  # the run this job was queued for
    try:
        session_cls = REGISTRY.get(run.session_name)
        # the secrets live in this job's memory only: never stored
        sealed = JobSecrets.open(config["SECRET_KEY"], secrets)
        data = {**(run.data or {}), **sealed.fields}
    except (UnknownSession, SecretError) as exc:
        db.session.rollback()  # the reads' transaction: writing needs a new one
        rows = db.session.scalars(sa.select(MinkeSession).where(MinkeSession.id.in_(ids))).all()
        hint = (f": {missing_reason(run.session_name) or 'check MINKE_SESSION_MODULES'}"
                if isinstance(exc, UnknownSession) else "")
        fail_sessions(rows, f"{exc} in this worker{hint}", state)
        return
    # everything the units need, loaded here at once: the units themselves only touch the
    # database when a session uses its object
    planned, targets = _load_plan(config, session_cls, data, ids, sealed)
    del sealed  # the values live on in the targets' configurations only, not in this frame
    holder = {"run": run.id, "user": run.user.name if run.user else None,
              "session": run.session_name, "worker": runtime.worker_id}
    skip_busy = run.skip_busy  # read now: after the commit it would open a transaction
    db.session.commit()  # the reads' transaction
    db.session.execute(sa.update(MinkeSession).where(MinkeSession.id.in_(ids))
                       .values(worker_id=runtime.worker_id))
    db.session.commit()
    writer = ResultWriter(app, state.publisher, run_id,
                          flush_interval=config["MINKE_OUTPUT_FLUSH_INTERVAL"]).start()
    host_locks = locks.HostLocks(runtime.redis, runtime.keys, run_id,
                                 ttl=config["MINKE_LOCK_TTL"]).start()
    job = _Job(app, runtime, run_id, session_cls, data, writer, host_locks, dict(planned),
               skip_busy=skip_busy)
    failure: BaseException | None = None
    try:
        runtime.stops.watch(run_id, on_stop=job.cancel_waiting)
        busy: dict[int, dict[str, Any]] = {}
        if not session_cls.parrallel_per_host:
            # the job claims all its hosts at once: one round trip instead of one per host
            busy = host_locks.take(list(targets), holder)
        # the units of busy hosts last: every thread that waits for a host then holds no
        # other host whose unit would wait for a thread (no run waits on a run waiting on it)
        ordered = sorted(units, key=lambda unit: planned[unit[0]].host_id in busy)
        with ThreadPoolExecutor(threads, thread_name_prefix=f"minke-run-{run_id}") as pool:
            futures: list[Future[None]] = []
            for unit in ordered:
                host_id = planned[unit[0]].host_id
                target, busy_with = ((targets.get(host_id), busy.get(host_id))
                                     if host_id is not None else (None, None))
                futures.append(pool.submit(_run_unit, job, [planned[sid] for sid in unit],
                                           target, busy_with))
            _wait_for_units(job, futures)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        runtime.stops.unwatch(run_id, on_stop=job.cancel_waiting)
        host_locks.close()
        writer.close()
        reason = (f"the worker's job failed: {failure!r}" if failure is not None
                  else f"storing the session's results failed: {writer.failure}"
                  if writer.failure is not None else None)
        if reason:  # no session of the job may be left waiting or running
            db.session.rollback()
            rows = db.session.scalars(sa.select(MinkeSession).where(
                MinkeSession.id.in_(ids), MinkeSession.proc_status.in_(UNFINISHED))).all()
            fail_sessions(rows, reason, state)
    finish_run_if_done(run_id, state.publisher)
    if writer.failure is not None:
        raise RuntimeError(f"storing results failed: {writer.failure}") from writer.failure


def _wait_for_units(job: _Job, futures: list[Future[None]]) -> None:
    """Wait for the units until the job's deadline (rq's timeout, :mod:`.slots`); past
    it, end the job: its waiting sessions fail, running commands are killed.

    :raises JobTimeoutException: when the deadline passed.
    """
    deadline = job_deadline()
    for future in futures:
        try:
            future.result(timeout=None if deadline is None
                          else max(0.0, deadline - time.monotonic()))
        except FuturesTimeout:
            timeout = job.app.config["MINKE_JOB_TIMEOUT"]
            reason = f"the run's job exceeded its time limit (MINKE_JOB_TIMEOUT = {timeout} s)"
            job.time_out(reason)
            raise JobTimeoutException(reason) from None


def _load_plan(
    config: Mapping[str, Any], session_cls: type[Session], data: dict[str, Any], ids: list[int],
    sealed: JobSecrets,
) -> tuple[dict[int, Planned], dict[int, Target]]:
    rows = db.session.execute(
        sa.select(MinkeSession.id, MinkeSession.object_type, MinkeSession.object_id,
                  MinkeSession.host_id).where(MinkeSession.id.in_(ids))
    ).all()
    planned = {r.id: Planned(r.id, r.object_type, r.object_id, r.host_id) for r in rows}
    hosts = db.session.scalars(
        sa.select(Host).where(Host.id.in_({r.host_id for r in rows if r.host_id is not None}))
        .options(selectinload(Host.groups))
    ).all()
    targets = {}
    for host in hosts:
        try:
            fabric_config = effective_config(config, host, session_cls, data)
            hostname, port, username = address = address_of(host, fabric_config)
            key = config_key(host.id, address, fabric_config)
            secret = sealed.for_host(host.id)
            if secret:  # the last layer; the key (of connections never pooled) stays as it was
                fabric_config = merge(fabric_config, secret)
        except Exception as exc:  # a bad configuration fails its host's sessions, no other
            targets[host.id] = Target(host.id, host.name, host.hostname, None, None, {}, "",
                                       f"the connection configuration of {host.name} is "
                                       f"invalid: {exc}")
            continue
        targets[host.id] = Target(host.id, host.name, hostname, port, username, fabric_config,
                                   key, secret=bool(secret))
    return planned, targets


def _run_unit(job: _Job, sessions: list[Planned], target: Target | None,
              busy_with: dict[str, Any] | None) -> None:
    """Run a unit's sessions; ``busy_with`` is the holder of its host's lock, if another run."""
    with job.app.app_context():
        try:
            if target is None or target.error or (busy_with is not None and job.skip_busy):
                claimed = [s for s in sessions if job.claim(s.session_id)]
            if target is None:
                _cancel(job, claimed, "its host was deleted", ProcStatus.FAILED)
            elif target.error:
                _cancel(job, claimed, target.error, ProcStatus.FAILED)
            elif busy_with is not None and job.skip_busy:
                _cancel(job, claimed, f"not run: host {target.name} is busy",
                        about_run=busy.run_of(busy_with), host=target.name, busy="skipped")
            elif busy_with is None or busy.wait_for_host(job, sessions, target, busy_with):
                _run_sessions(job, sessions, target)
        finally:
            db.session.rollback()
            db.session.remove()


def _run_sessions(job: _Job, sessions: list[Planned], target: Target) -> None:
    runtime, config, cls = job.runtime, job.app.config, job.session_cls
    connection = None
    try:
        for index, planned in enumerate(sessions):
            if not job.claim(planned.session_id):
                continue  # a stop canceled it while it waited
            if runtime.stops.level(job.run_id, planned.session_id):
                _cancel(job, [planned], "stopped before it started")
                continue
            record = EngineRecord(
                planned.session_id, partial(_load_object, planned), job.data, job.writer,
                memory_limit=config["MINKE_OUTPUT_MEMORY_LIMIT"],
                chunk_size=config["MINKE_OUTPUT_CHUNK_SIZE"],
                flush_interval=config["MINKE_OUTPUT_FLUSH_INTERVAL"])
            if connection is None:
                try:
                    connection = _acquire(runtime, target)
                except Exception as exc:  # this host's sessions fail with the reason
                    rest = [planned] + [s for s in sessions[index + 1:] if job.claim(s.session_id)]
                    _cancel(job, rest, f"cannot connect: {failures.describe(exc)[0]}",
                            ProcStatus.FAILED)
                    return
            connection.forget_session()
            connection.minke_sink = record
            record.started(runtime.worker_id)
            runtime.stops.add(job.run_id, planned.session_id, record)
            with job.lock:
                job.running[planned.session_id] = record
            broken = _run_session(cls, connection, record,
                                  (target.config.get("connect_kwargs") or {}).get("banner_timeout"))
            with job.lock:
                job.running.pop(planned.session_id, None)
            runtime.stops.remove(planned.session_id)
            connection.minke_sink = None
            if broken or record.killed:
                _release(runtime, target, connection, reuse=False)
                connection = None
    finally:
        if connection is not None:
            connection.minke_sink = None
            _release(runtime, target, connection, reuse=True)
        job.host_locks.done_with(target.host_id)


def _acquire(runtime: WorkerRuntime, target: Target) -> MinkeConnection:
    """A connection for ``target``: from the pool, or, when its configuration holds asked
    secrets, a new one of its own. Such a connection never enters the pool, so that no run
    without the secret gets a connection opened (or a sudo configured) with it, and the
    secret is dropped with the connection when the unit ends."""
    if target.secret:
        return build_connection(target, target.config)
    return cast(MinkeConnection,  # the pool holds the connections its factories built
                runtime.pool.acquire(target.host_id, target.key,
                                     lambda: build_connection(target, target.config)))


def _release(runtime: WorkerRuntime, target: Target, connection: MinkeConnection, *,
             reuse: bool) -> None:
    if target.secret:
        try:
            connection.close()
        except Exception:  # closing a broken connection may fail; it is gone either way
            logger.debug("closing %s failed", connection, exc_info=True)
        return
    runtime.pool.release(target.host_id, target.key, connection, reuse=reuse)


def _run_session(cls: type[Session], connection: MinkeConnection, record: EngineRecord,
                 banner_timeout: float | None = None) -> bool:
    """Run one session to its end; return True when the connection broke."""
    broken = False
    try:
        with record.code.running():
            cls(connection, record).process()
        proc = ProcStatus.COMPLETED
    except SessionStopped:
        proc = ProcStatus.STOPPED
    except SessionError as exc:  # each argument a message, as add_msg takes it
        for arg in exc.args or (type(exc).__name__,):
            record.add_message(_error_message(arg))
        record.session_status = SessionStatus.ERROR.value
        proc = ProcStatus.COMPLETED
    except Exception as exc:  # any failure ends this object's session, never the job
        reason, show_traceback = failures.describe(exc, banner_timeout=banner_timeout)
        if record.killed:
            reason = f"killed: {reason}"
        record.add_message(TextMessage(reason, "error"))
        if show_traceback:
            record.add_message(PreMessage(failures.traceback_text(exc), "error"))
        record.session_status = SessionStatus.ERROR.value
        broken = failures.is_connection_error(exc)
        proc = ProcStatus.FAILED
    if record.stop_level:  # a stop is never swallowed: whatever the code did, it was stopped
        proc = ProcStatus.STOPPED
        record.add_message(TextMessage(record.stop_message(), "warning"))
        record.session_status = SessionStatus.ERROR.value
    elif record.session_status is None:
        record.session_status = SessionStatus.SUCCESS.value
    record.finish(proc)
    return broken


def _error_message(arg: Any) -> BaseMessage:
    try:
        return coerce_message(arg, "error")
    except TypeError:
        return TextMessage(str(arg), "error")


def _cancel(job: _Job, sessions: list[Planned], reason: str,
            status: ProcStatus = ProcStatus.CANCELED, *, about_run: int | None = None,
            **payload: Any) -> None:
    """End sessions that never started (each claimed by the caller), with ``reason``
    (``about_run`` and ``payload``: see :func:`_note_waiting`)."""
    for planned in sessions:
        record = EngineRecord(planned.session_id, None, job.data, job.writer,
                              memory_limit=0, chunk_size=1, flush_interval=1)
        level = "warning" if status is ProcStatus.CANCELED else "error"
        record.add_message(busy.HostNote(reason, level, **payload) if payload
                           else TextMessage(reason, level), about_run=about_run)
        if status is not ProcStatus.CANCELED:
            record.session_status = "error"
        record.finish(status)


def _load_object(planned: Planned) -> Any:
    """The object a session works on, in the unit thread's database session."""
    model = MINKE_MODELS.get(planned.object_type)
    if model is None:
        return None
    begin_read_only()  # the unit only reads; the writer thread stores
    return db.session.get(model, planned.object_id)
