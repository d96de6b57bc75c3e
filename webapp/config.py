"""Configuration: class defaults, overridden by the environment, then by the factory's mapping."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from typing import Any

DEV_SECRET_KEY = "dev-only-not-secret"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


class Config:
    """Defaults for development; every value can be set by ``MINKE_<NAME>`` in the environment."""

    SECRET_KEY = _env("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", "")  # empty: sqlite in the instance folder
    # workers use a connection per thread: allow bursts beyond the pool
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True, "max_overflow": 80}
    REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
    WTF_CSRF_TIME_LIMIT = None

    # session discovery: comma-separated import paths of the user's session modules
    MINKE_SESSION_MODULES = _env("MINKE_SESSION_MODULES", "")
    # engine
    MINKE_QUEUE = "minke"
    MINKE_CONCURRENCY = 50  # hosts worked on at once in one run
    MINKE_WORKER_THREADS = 50  # threads one worker uses for one job
    # jobs one worker process runs at once; an idle slot costs nothing (no thread), a busy
    # one its job's threads (see docs/deploy.md for the measurement behind the default)
    MINKE_WORKER_SLOTS = 16
    MINKE_JOB_TIMEOUT = 24 * 3600
    MINKE_LOCK_TTL = 30  # seconds; a host lock is refreshed while its run works on the host
    MINKE_WORKER_HEARTBEAT = 5  # seconds between heartbeats (the key lives 3 beats)
    # seconds a worker's heartbeat must stay missing before its sessions are failed: longer
    # than a Redis restart takes, after which live workers beat again
    MINKE_WORKER_GRACE = 30
    # schedules (webapp/schedules): seconds between a scheduler's looks at the due ones, and
    # how late a firing may be before it counts as missed (the schedule's policy then)
    MINKE_SCHEDULER_TICK = 1.0
    MINKE_SCHEDULE_GRACE = 60
    # connections: layered under host groups, hosts and the session's invoke_config
    MINKE_FABRIC_CONFIG: dict[str, Any] = {}
    MINKE_CONNECT_TIMEOUT = 10  # seconds for TCP, the SSH banner and authentication each
    MINKE_COMMAND_TIMEOUT = None  # seconds any command may run (off); its processes are killed
    MINKE_POOL_IDLE_TTL = 900  # seconds an idle connection is kept; 0 disables the pool
    MINKE_POOL_MEMORY = 512  # MiB of idle connections a worker keeps at most (~92 KiB each)
    MINKE_POOL_KEEPALIVE = 30  # seconds between SSH keep-alives on idle connections; 0: none
    # output
    MINKE_OUTPUT_MEMORY_LIMIT = 1024 * 1024  # bytes of stdout/stderr a result keeps in memory
    MINKE_OUTPUT_CHUNK_SIZE = 64 * 1024  # bytes per stored output chunk
    MINKE_OUTPUT_FLUSH_INTERVAL = 0.1  # seconds between live output events per session
    # seconds between Socket.IO messages of one run from one process (webapp/engine/emits.py)
    MINKE_LIVE_EVENT_INTERVAL = 0.05
    # live pages (webapp/sockets/gate.py): open Socket.IO connections per web process, per
    # user and per client address (0: no limit), and seconds a connection may take to send
    # Socket.IO's connect packet before it is closed
    MINKE_SOCKET_USER_LIMIT = 50
    MINKE_SOCKET_ADDRESS_LIMIT = 100
    MINKE_SOCKET_CONNECT_TIMEOUT = 10
    # demo / development
    MINKE_EVENT_STREAM_MAXLEN = 20000
    # notifications (docs/notifications.md): the address users open Minke at (links in
    # messages), the SMTP server of email channels, retries and "took much longer"
    MINKE_BASE_URL = "http://127.0.0.1:5000"
    MINKE_SMTP_HOST = ""  # empty: email channels fail with "SMTP is not configured"
    MINKE_SMTP_PORT = 25
    MINKE_SMTP_USER = ""
    MINKE_SMTP_PASSWORD = ""
    MINKE_SMTP_FROM = "minke@localhost"
    MINKE_SMTP_STARTTLS = False
    MINKE_NOTIFY_TIMEOUT = 10  # seconds one delivery attempt may take
    MINKE_NOTIFY_RETRY_DELAYS: list[float] = [10, 60, 300]  # seconds before each retry
    MINKE_NOTIFY_SLOW_RUNS = 10  # previous runs a run's duration is compared with
    MINKE_NOTIFY_SLOW_FACTOR = 2.0  # "slow": longer than their mean + this many deviations


def env_overrides(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """``MINKE_X=value`` entries of the environment, JSON-decoded where they parse as JSON."""
    overrides: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith("MINKE_"):
            continue
        try:
            overrides[key] = json.loads(raw)
        except ValueError:
            overrides[key] = raw
    return overrides


def instance_secret_key(instance_path: str) -> str:
    """The key in ``<instance>/secret_key``, generated (readable by its owner only) the first
    time, with a notice: processes on other machines (web, workers) need the same key in
    ``SECRET_KEY``."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path) as file:
            return file.read().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    print(f"minke: SECRET_KEY is not set; generated one in {path} (web processes and workers "
          "on other machines need the same value in SECRET_KEY)", file=sys.stderr)
    return key
