"""Executing one job: its units in a bounded thread pool, one session after another per unit."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import selectinload

from sessions import REGISTRY, Session, SessionError, SessionStopped, UnknownSession
from sessions.messages import PreMessage, TextMessage
from sessions.status import ProcStatus

from ..extensions import db
from ..models import MINKE_MODELS, Host, MinkeSession, Run
from . import failures, locks
from .connections import address_of, build_connection, config_key, effective_config
from .progress import fail_sessions, finish_run_if_done
from .record import EngineRecord
from .runtime import WorkerRuntime
from .writer import ResultWriter

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    app: Flask
    runtime: WorkerRuntime
    run_id: int
    session_cls: type[Session]
    data: dict
    holder: dict
    writer: ResultWriter
    held_locks: set[int] = field(default_factory=set)
    lock_guard: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class _Target:
    """Where a unit's sessions run: a host, as loaded once by the job thread."""

    host_id: int
    name: str
    hostname: str
    port: int | None
    username: str | None
    config: dict  # the effective connection configuration
    key: str  # the connection pool's key


@dataclass(frozen=True)
class _Planned:
    session_id: int
    object_type: str
    object_id: int
    host_id: int | None


def execute_job(app: Flask, run_id: int, units: list[list[int]], threads: int) -> None:
    state = app.extensions["minke"]
    runtime: WorkerRuntime = state.runtime
    config = app.config
    ids = [sid for unit in units for sid in unit]
    run = db.session.get(Run, run_id)
    try:
        session_cls = REGISTRY.get(run.session_name)
    except UnknownSession as exc:
        rows = db.session.scalars(sa.select(MinkeSession).where(MinkeSession.id.in_(ids))).all()
        fail_sessions(rows, f"{exc} in this worker: check MINKE_SESSION_MODULES",
                      state.publisher, state.redis)
        return
    data = dict(run.data or {})
    # everything the units need, loaded here at once: the units themselves only touch the
    # database when a session uses its object
    planned, targets = _load_plan(config, session_cls, data, ids)
    db.session.execute(sa.update(MinkeSession).where(MinkeSession.id.in_(ids))
                       .values(worker_id=runtime.worker_id))
    holder = {"run": run.id, "user": run.user.name if run.user else None,
              "session": run.session_name, "worker": runtime.worker_id}
    db.session.commit()
    writer = ResultWriter(app, state.publisher, run_id,
                          flush_interval=config["MINKE_OUTPUT_FLUSH_INTERVAL"]).start()
    job = _Job(app, runtime, run_id, session_cls, data, holder, writer)
    runtime.stops.watch(run_id)
    refresher = _LockRefresher(job, ttl=config["MINKE_LOCK_TTL"]).start()
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix=f"minke-run-{run_id}") as pool:
            futures = [pool.submit(_run_unit, job, [planned[sid] for sid in unit],
                                   targets.get(planned[unit[0]].host_id))
                       for unit in units]
            for future in futures:
                future.result()
    finally:
        runtime.stops.unwatch(run_id)
        refresher.stop()
        writer.close()
    finish_run_if_done(run_id, state.publisher)
    if writer.failure is not None:
        raise RuntimeError(f"storing results failed: {writer.failure}") from writer.failure


def _load_plan(config, session_cls: type[Session], data: dict,
               ids: list[int]) -> tuple[dict[int, _Planned], dict[int, _Target]]:
    rows = db.session.execute(
        sa.select(MinkeSession.id, MinkeSession.object_type, MinkeSession.object_id,
                  MinkeSession.host_id).where(MinkeSession.id.in_(ids))
    ).all()
    planned = {r.id: _Planned(r.id, r.object_type, r.object_id, r.host_id) for r in rows}
    hosts = db.session.scalars(
        sa.select(Host).where(Host.id.in_({r.host_id for r in rows if r.host_id is not None}))
        .options(selectinload(Host.groups))
    ).all()
    targets = {}
    for host in hosts:
        fabric_config = effective_config(config, host, session_cls, data)
        hostname, port, username = address = address_of(host, fabric_config)
        targets[host.id] = _Target(host.id, host.name, hostname, port, username, fabric_config,
                                   config_key(host.id, address, fabric_config))
    return planned, targets


class _LockRefresher:
    """Keeps the job's host locks alive while it works."""

    def __init__(self, job: _Job, *, ttl: int) -> None:
        self._job, self._ttl = job, ttl
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="minke-locks")

    def start(self) -> _LockRefresher:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._done.wait(max(1, self._ttl / 3)):
            with self._job.lock_guard:
                held = list(self._job.held_locks)
            try:
                locks.refresh(self._job.runtime.redis, held, self._job.run_id, self._ttl)
            except Exception:  # Redis hiccup: the next round retries before the TTL runs out
                logger.exception("refreshing host locks failed")

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _run_unit(job: _Job, sessions: list[_Planned], target: _Target | None) -> None:
    with job.app.app_context():
        try:
            _run_sessions(job, sessions, target)
        finally:
            db.session.rollback()
            db.session.remove()


def _run_sessions(job: _Job, sessions: list[_Planned], target: _Target | None) -> None:
    runtime, config, cls = job.runtime, job.app.config, job.session_cls
    if target is None:
        _cancel(job, sessions, "its host was deleted", ProcStatus.FAILED)
        return
    lock = not cls.parrallel_per_host
    if lock:
        holder = locks.acquire(runtime.redis, target.host_id, job.holder, config["MINKE_LOCK_TTL"])
        if holder is not None:
            _cancel(job, sessions,
                    f"host {target.name} is busy: locked by {locks.describe(holder)}")
            return
        with job.lock_guard:
            job.held_locks.add(target.host_id)
    connection = None
    try:
        for planned in sessions:
            if runtime.stops.level(job.run_id, planned.session_id):
                _cancel(job, [planned], "stopped before it started")
                continue
            record = EngineRecord(
                planned.session_id, partial(_load_object, planned), job.data, job.writer,
                memory_limit=config["MINKE_OUTPUT_MEMORY_LIMIT"],
                chunk_size=config["MINKE_OUTPUT_CHUNK_SIZE"],
                flush_interval=config["MINKE_OUTPUT_FLUSH_INTERVAL"])
            if connection is None:
                connection = runtime.pool.acquire(
                    target.host_id, target.key, lambda: build_connection(target, target.config))
            connection.minke_sink = record
            record.started(runtime.worker_id)
            runtime.stops.add(job.run_id, planned.session_id, record)
            broken = _run_session(cls, connection, record)
            runtime.stops.remove(planned.session_id)
            connection.minke_sink = None
            if broken or record.killed:
                runtime.pool.release(target.host_id, target.key, connection, reuse=False)
                connection = None
    finally:
        if connection is not None:
            connection.minke_sink = None
            runtime.pool.release(target.host_id, target.key, connection, reuse=True)
        if lock:
            with job.lock_guard:
                job.held_locks.discard(target.host_id)
            locks.release(runtime.redis, target.host_id, job.run_id)


def _run_session(cls: type[Session], connection, record: EngineRecord) -> bool:
    """Run one session to its end; return True when the connection broke."""
    broken = False
    try:
        cls(connection, record).process()
        proc = ProcStatus.STOPPED if record.killed else ProcStatus.COMPLETED
    except SessionStopped as exc:
        record.add_message(TextMessage(f"session stopped: {exc}", "warning"))
        proc = ProcStatus.STOPPED
    except SessionError as exc:
        record.add_message(TextMessage(str(exc), "error"))
        record.session_status = "error"
        proc = ProcStatus.COMPLETED
    except Exception as exc:  # any failure ends this object's session, never the job
        reason, show_traceback = failures.describe(exc)
        if record.killed:
            reason = f"killed: {reason}"
        record.add_message(TextMessage(reason, "error"))
        if show_traceback:
            record.add_message(PreMessage(failures.traceback_text(exc), "error"))
        record.session_status = "error"
        broken = failures.is_connection_error(exc)
        proc = ProcStatus.STOPPED if record.killed else ProcStatus.FAILED
    if proc is ProcStatus.COMPLETED and record.session_status is None:
        record.session_status = "success"
    record.finish(proc)
    return broken


def _cancel(job: _Job, sessions: list[_Planned], reason: str,
            status: ProcStatus = ProcStatus.CANCELED) -> None:
    """End sessions that never started, with ``reason``."""
    for planned in sessions:
        record = EngineRecord(planned.session_id, None, job.data, job.writer,
                              memory_limit=0, chunk_size=1, flush_interval=1)
        record.add_message(TextMessage(reason, "warning" if status is ProcStatus.CANCELED
                                       else "error"))
        if status is not ProcStatus.CANCELED:
            record.session_status = "error"
        record.finish(status)


def _load_object(planned: _Planned) -> Any:
    """The object a session works on, in the unit thread's database session."""
    model = MINKE_MODELS.get(planned.object_type)
    if model is None:
        return None
    if not db.session().in_transaction():
        # a plain (deferred) BEGIN on SQLite: the unit only reads; the writer thread stores
        db.session.connection(execution_options={"minke_read_only": True})
    return db.session.get(model, planned.object_id)
