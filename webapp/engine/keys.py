"""Names of every Redis key and channel the engine uses, in one place."""

from __future__ import annotations

PREFIX = "minke:"
STOP_CHANNEL = f"{PREFIX}stop"


def run_stop(run_id: int) -> str:
    """Hash: field ``run`` → stop level of the whole run, ``s<id>`` → of one session."""
    return f"{PREFIX}run:{run_id}:stop"


def run_events(run_id: int) -> str:
    """Stream of the run's published events (read by the CLI)."""
    return f"{PREFIX}run:{run_id}:events"


def host_lock(host_id: int) -> str:
    return f"{PREFIX}lock:host:{host_id}"


def host_lock_pattern() -> str:
    return f"{PREFIX}lock:host:*"


def worker_alive(worker_id: str) -> str:
    return f"{PREFIX}worker:{worker_id}:alive"


def job_id(run_id: int, index: int) -> str:
    return f"minke-run-{run_id}-{index}"
