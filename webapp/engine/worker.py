"""The Minke worker: an rq SimpleWorker that keeps the app, its SSH pool and its threads alive.

Non-forking on purpose: a forked work horse would lose the connection pool
with every job and pay the app's import time again. Stopping a session
therefore never relies on rq's stop command (a SimpleWorker ignores it)
but on :mod:`webapp.engine.stops`.
"""

from __future__ import annotations

import logging

from flask import Flask
from rq import SimpleWorker

from ..extensions import db
from .reaper import fail_lost_jobs, reap_dead_workers
from .runtime import WorkerRuntime
from .secrets import scrub_job

logger = logging.getLogger(__name__)


class MinkeWorker(SimpleWorker):
    """Runs every job inside an app context of ``app``."""

    def __init__(self, *args, app: Flask, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    def execute_job(self, job, queue):
        with self.app.app_context():
            try:
                return super().execute_job(job, queue)
            finally:
                db.session.remove()
                # rq keeps the ended job (finished or failed) with its arguments: the run's
                # sealed secrets must not outlive it
                scrub_job(self.connection, job)


def start_worker(app: Flask, *, burst: bool = False, name: str | None = None) -> bool:
    """Run a worker on the app's queue until stopped (or, with ``burst``, the queue is empty)."""
    state = app.extensions["minke"]
    worker = MinkeWorker([state.queue], connection=state.redis, app=app, name=name)
    runtime = WorkerRuntime(app.config, state.redis, state.keys, worker.name)
    state.runtime = runtime

    def beat() -> None:
        # a Redis that restarted empty forgot this worker: register it again so that rq
        # (and `minke run`) list it; then end what dead workers and lost jobs left behind
        if not state.redis.exists(worker.key):
            logger.warning("worker %s: registering again (Redis lost its registration)",
                           worker.name)
            worker.register_birth()
        with app.app_context():
            try:
                reap_dead_workers(state)
                fail_lost_jobs(state)
            finally:
                db.session.remove()

    runtime.start(on_beat=beat)
    try:
        with app.app_context():
            reap_dead_workers(state)
            db.session.remove()
        return worker.work(burst=burst, with_scheduler=False)
    finally:
        runtime.close()
