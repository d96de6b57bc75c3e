"""Executing one job: its units in a bounded thread pool, one session after another per unit."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask

from sessions import REGISTRY, Session, SessionError, SessionStopped, UnknownSession
from sessions.messages import PreMessage, TextMessage
from sessions.status import ProcStatus

from ..extensions import db
from ..models import MINKE_MODELS, MinkeSession, Run
from . import failures, locks, stops
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
    db.session.execute(sa.update(MinkeSession).where(MinkeSession.id.in_(ids))
                       .values(worker_id=runtime.worker_id))
    holder = {"run": run.id, "user": run.user.name if run.user else None,
              "session": run.session_name, "worker": runtime.worker_id}
    data = dict(run.data or {})
    db.session.commit()
    writer = ResultWriter(app, state.publisher, run_id,
                          flush_interval=config["MINKE_OUTPUT_FLUSH_INTERVAL"]).start()
    job = _Job(app, runtime, run_id, session_cls, data, holder, writer)
    refresher = _LockRefresher(job, ttl=config["MINKE_LOCK_TTL"]).start()
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"minke-run-{run_id}") as pool:
            for future in [pool.submit(_run_unit, job, unit) for unit in units]:
                future.result()
    finally:
        refresher.stop()
        writer.close()
    finish_run_if_done(run_id, state.publisher)
    if writer.failure is not None:
        raise RuntimeError(f"storing results failed: {writer.failure}") from writer.failure


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


def _run_unit(job: _Job, session_ids: list[int]) -> None:
    with job.app.app_context():
        try:
            _run_unit_in_context(job, session_ids)
        finally:
            db.session.rollback()
            db.session.remove()


def _run_unit_in_context(job: _Job, session_ids: list[int]) -> None:
    runtime, config, cls = job.runtime, job.app.config, job.session_cls
    # a plain (deferred) BEGIN on SQLite: this transaction only reads
    db.session.connection(execution_options={"minke_read_only": True})
    rows = db.session.scalars(
        sa.select(MinkeSession).where(MinkeSession.id.in_(session_ids)).order_by(MinkeSession.id)
    ).all()
    host = rows[0].host
    if host is None:
        _cancel(job, rows, "its host was deleted", ProcStatus.FAILED)
        return
    lock = not cls.parrallel_per_host
    if lock:
        holder = locks.acquire(runtime.redis, host.id, job.holder, config["MINKE_LOCK_TTL"])
        if holder is not None:
            _cancel(job, rows, f"host {host.name} is busy: locked by {locks.describe(holder)}")
            return
        with job.lock_guard:
            job.held_locks.add(host.id)
    fabric_config = effective_config(config, host, cls, job.data)
    key = config_key(host.id, address_of(host, fabric_config), fabric_config)
    connection = None
    try:
        for row in rows:
            record = EngineRecord(
                row.id, _load_object(row), row.session_data, job.writer,
                memory_limit=config["MINKE_OUTPUT_MEMORY_LIMIT"],
                chunk_size=config["MINKE_OUTPUT_CHUNK_SIZE"],
                flush_interval=config["MINKE_OUTPUT_FLUSH_INTERVAL"])
            if stops.stop_level(runtime.redis, job.run_id, row.id):
                _cancel(job, [row], "stopped before it started")
                continue
            if connection is None:
                connection = runtime.pool.acquire(
                    host.id, key, lambda: build_connection(host, fabric_config))
            connection.minke_sink = record
            runtime.active.add(job.run_id, row.id, record)
            record.started(runtime.worker_id)
            level = stops.stop_level(runtime.redis, job.run_id, row.id)
            if level:  # requested between the check above and registering
                record.apply_stop(level)
            broken = _run_session(cls, connection, record)
            runtime.active.remove(row.id)
            connection.minke_sink = None
            if broken or record.killed:
                runtime.pool.release(host.id, key, connection, reuse=False)
                connection = None
    finally:
        if connection is not None:
            connection.minke_sink = None
            runtime.pool.release(host.id, key, connection, reuse=True)
        if lock:
            with job.lock_guard:
                job.held_locks.discard(host.id)
            locks.release(runtime.redis, host.id, job.run_id)


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


def _cancel(job: _Job, rows: list[MinkeSession], reason: str,
            status: ProcStatus = ProcStatus.CANCELED) -> None:
    """End sessions that never started, with ``reason``."""
    for row in rows:
        record = EngineRecord(row.id, None, row.session_data, job.writer,
                              memory_limit=0, chunk_size=1, flush_interval=1)
        record.add_message(TextMessage(reason, "warning" if status is ProcStatus.CANCELED
                                       else "error"))
        if status is not ProcStatus.CANCELED:
            record.session_status = "error"
        record.finish(status)


def _load_object(row: MinkeSession):
    model = MINKE_MODELS.get(row.object_type)
    return db.session.get(model, row.object_id) if model is not None else None

