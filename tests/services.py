"""Fixtures for the real services: Redis, sshd hosts on loopback addresses, rq workers.

- ``redis_url`` / ``redis_flush``: a Redis server for the run, emptied around each test.
- ``sshd``: 20 loopback SSH hosts (127.0.0.2 …), see :class:`scripts.loopback.LoopbackSSHD`.
- ``make_hosts(n, prefix="h", group=None, **fields)``: ``Host`` rows reaching those hosts.
- ``worker_env``: the environment a subprocess needs to use the tests' app configuration.
- ``start_worker(*args, **env)`` / ``worker``: ``flask minke worker`` subprocesses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from scripts.loopback import LoopbackSSHD, ensure_redis, free_port, stop_process
from scripts.workers import WorkerProcess, WorkerStartError, subprocess_env, wait_registered

WORKER_START_TIMEOUT = 15.0


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``TEST_REDIS_URL`` (flushed!), else a redis-server of this test run's own.

    Its own server by default: the engine's stop and Socket.IO channels are
    server-wide, and two test runs sharing one Redis (a developer's and CI's)
    would see each other's runs, whose ids repeat.
    """
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        redis.Redis.from_url(url).ping()
        yield url
        return
    url, proc = ensure_redis(f"redis://127.0.0.1:{free_port()}/0",
                             tmp_path_factory.mktemp("redis"))
    yield url
    stop_process(proc)


@pytest.fixture
def redis_flush(redis_url: str) -> Iterator[None]:
    """Empty the test Redis database before and after the test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSSHD]:
    """20 real SSH hosts: ``sshd.addresses`` (127.0.0.2–21) on ``sshd.port`` as ``sshd.user``."""
    with LoopbackSSHD(20, tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def make_hosts(app: Any, sshd: LoopbackSSHD) -> Callable[..., list[Any]]:
    """``make_hosts(n, *, prefix="h", group=None, **fields)``: ``n`` committed hosts.

    Host ``i`` is named ``f"{prefix}{i:02d}"`` and reaches the ``i``-th address
    of the ``sshd`` fixture; ``fields`` override any column. ``group`` names a
    host group (created when missing) the hosts join.
    """
    from webapp.extensions import db
    from webapp.models import Host, HostGroup

    def make(n: int, *, prefix: str = "h", group: str | None = None, **fields: Any) -> list[Any]:
        if n > len(sshd.addresses):
            raise ValueError(f"the sshd fixture serves {len(sshd.addresses)} hosts, not {n}")
        host_group = None
        if group is not None:
            host_group = db.session.scalar(db.select(HostGroup).filter_by(name=group))
            if host_group is None:
                host_group = HostGroup(name=group)
                db.session.add(host_group)
        hosts = []
        for i in range(n):
            values: dict[str, Any] = {
                "name": f"{prefix}{i:02d}",
                "hostname": sshd.addresses[i],
                "port": sshd.port,
                "username": sshd.user,
                "config": sshd.host_config(),
                **fields,
            }
            host = Host(**values)
            if host_group is not None:
                host.groups.append(host_group)
            db.session.add(host)
            hosts.append(host)
        db.session.commit()
        return hosts

    return make


@pytest.fixture
def worker_env(app_config: dict[str, Any]) -> dict[str, str]:
    """Environment for subprocesses (workers, CLI) that must share the tests' configuration."""
    return subprocess_env(app_config)


@pytest.fixture
def start_worker(
    app: Any, worker_env: dict[str, str], redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker(*extra_args, **extra_env)``: a running, registered worker.

    Runs ``flask --app wsgi minke worker *extra_args`` with :func:`worker_env`
    plus ``extra_env`` and waits until rq lists a worker with its pid. Every
    worker still running is stopped at teardown (before ``app`` empties tables).
    """
    handles: list[WorkerProcess] = []

    def start(*extra_args: str, **extra_env: str) -> WorkerProcess:
        handle = WorkerProcess.start(*extra_args, env={**worker_env, **extra_env},
                                     log_path=tmp_path / f"worker-{len(handles)}.log")
        handles.append(handle)
        try:
            wait_registered(handle.proc, redis_url, WORKER_START_TIMEOUT)
        except WorkerStartError as error:
            handle.kill()
            pytest.fail(f"{error}:\n{handle.log_text()}", pytrace=False)
        return handle

    yield start
    for handle in handles:  # signal all first: their warm shutdowns overlap
        if handle.proc.poll() is None:
            handle.proc.terminate()
    for handle in handles:
        handle.stop(10.0)


@pytest.fixture
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    """One running ``flask minke worker`` on the tests' queue."""
    return start_worker()
