"""``minke worker`` subprocesses, for the tests, the benchmarks and the demo.

    env = subprocess_env({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url, ...})
    worker = WorkerProcess.start(env=env, log_path=workdir / "worker.log")
    wait_registered(worker.proc, redis_url)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis
import rq

from .loopback import stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
# the `minke` console command beside this interpreter (scripts/install installs it)
MINKE = str(Path(sys.executable).with_name("minke"))
WORKER_COMMAND = (MINKE, "worker")


class WorkerStartError(RuntimeError):
    """A worker exited, or did not register with Redis in time."""


def subprocess_env(config: Mapping[str, Any]) -> dict[str, str]:
    """The environment of a ``flask --app wsgi …`` subprocess that uses the app config
    ``config``: its database, Redis, secret key and every ``MINKE_*`` value (as JSON,
    which ``webapp.config.env_overrides`` decodes)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=config["REDIS_URL"],
        SECRET_KEY=config["SECRET_KEY"],
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    for key, value in config.items():
        if key.startswith("MINKE_"):
            env[key] = json.dumps(value)
    return env


class WorkerProcess:
    """A ``minke worker`` subprocess; its output goes to ``log_path``."""

    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @classmethod
    def start(cls, *args: str, env: Mapping[str, str], log_path: Path) -> WorkerProcess:
        """Start ``minke worker *args`` in the repository with ``env``."""
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([*WORKER_COMMAND, *args], cwd=REPO_ROOT, env=dict(env),
                                    stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT)
        return cls(proc, log_path)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        """Everything the worker printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (rq's warm shutdown), wait up to ``timeout`` s, then SIGKILL; the exit code."""
        stop_process(self.proc, timeout)
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def __repr__(self) -> str:
        return f"<WorkerProcess pid={self.pid} returncode={self.proc.returncode}>"


def wait_registered(proc: subprocess.Popen, redis_url: str, timeout: float = 20.0) -> None:
    """Wait until rq lists the worker ``proc``.

    :raises WorkerStartError: if it exits first or takes longer than ``timeout`` s.
    """
    connection = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + timeout
        while not any(w.pid == proc.pid for w in rq.Worker.all(connection=connection)):
            if proc.poll() is not None:
                raise WorkerStartError(f"the worker exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                raise WorkerStartError(
                    f"the worker did not register with Redis within {timeout:.0f} s")
            time.sleep(0.02)
    finally:
        connection.close()
