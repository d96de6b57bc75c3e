"""Fixtures for the real services: Redis, sshd hosts on loopback addresses, rq workers.

- ``redis_url`` / ``redis_flush``: a Redis server for the run, emptied around each test.
- ``sshd``: 20 loopback SSH hosts (127.0.0.2 …), see :class:`scripts.loopback.LoopbackSSHD`.
- ``make_hosts(n, prefix="h", group=None, **fields)``: ``Host`` rows reaching those hosts.
- ``worker_env``: the environment a subprocess needs to use the tests' app configuration.
- ``start_worker(*args, **env)`` / ``worker``: ``flask minke worker`` subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import rq

from scripts.loopback import LoopbackSSHD, ensure_redis, free_port, stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
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
    env = dict(os.environ)
    env.update(
        DATABASE_URL=app_config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app_config["REDIS_URL"],
        SECRET_KEY=app_config["SECRET_KEY"],
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    for key, value in app_config.items():
        if key.startswith("MINKE_"):
            env[key] = json.dumps(value)  # webapp.config.env_overrides JSON-decodes them
    return env


class WorkerHandle:
    """A ``flask minke worker`` subprocess; its output goes to ``log_path``."""

    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        """Everything the worker printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (rq's warm shutdown), wait up to ``timeout`` s, then SIGKILL; the exit code."""
        stop_process(self.proc, timeout)
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def __repr__(self) -> str:
        return f"<WorkerHandle pid={self.pid} returncode={self.proc.returncode}>"


@pytest.fixture
def start_worker(
    app: Any, worker_env: dict[str, str], redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerHandle]]:
    """``start_worker(*extra_args, **extra_env)``: a running, registered worker.

    Runs ``flask --app wsgi minke worker *extra_args`` with :func:`worker_env`
    plus ``extra_env`` and waits until rq lists a worker with its pid. Every
    worker still running is stopped at teardown (before ``app`` empties tables).
    """
    handles: list[WorkerHandle] = []
    connection = redis.Redis.from_url(redis_url)

    def start(*extra_args: str, **extra_env: str) -> WorkerHandle:
        log_path = tmp_path / f"worker-{len(handles)}.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "minke", "worker", *extra_args],
                cwd=REPO_ROOT, env={**worker_env, **extra_env}, stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT,
            )
        handle = WorkerHandle(proc, log_path)
        handles.append(handle)
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not any(w.pid == proc.pid for w in rq.Worker.all(connection=connection)):
            if proc.poll() is not None:
                pytest.fail(f"worker exited with status {proc.returncode}:\n{handle.log_text()}",
                            pytrace=False)
            if time.monotonic() > deadline:
                handle.kill()
                pytest.fail(f"worker not registered within {WORKER_START_TIMEOUT:.0f} s:\n"
                            f"{handle.log_text()}", pytrace=False)
            time.sleep(0.05)
        return handle

    yield start
    for handle in handles:  # signal all first: their warm shutdowns overlap
        if handle.proc.poll() is None:
            handle.proc.terminate()
    for handle in handles:
        handle.stop()
    connection.close()


@pytest.fixture
def worker(start_worker: Callable[..., WorkerHandle]) -> WorkerHandle:
    """One running ``flask minke worker`` on the tests' queue."""
    return start_worker()
