"""Names of every Redis key, channel, queue and Socket.IO room the engine uses, in one place.

All of them carry the installation's id (a random id stored in its database,
:func:`webapp.engine.installation.installation_id`): two installations
sharing one Redis database, or a database recreated with run ids starting
again at 1, never read each other's queues, streams, locks or stop requests.
"""

from __future__ import annotations


class Keys:
    """The names of one installation."""

    def __init__(self, installation: str) -> None:
        self.installation = installation
        self.prefix = f"minke:{installation}:"

    def __repr__(self) -> str:
        return f"<Keys {self.prefix}>"

    @property
    def stop_channel(self) -> str:
        """Pub/sub channel announcing stop requests."""
        return f"{self.prefix}stop"

    @property
    def logins_channel(self) -> str:
        """Pub/sub channel asking every web process to check its open sockets' logins and
        rooms now (webapp/auth/logins.py publishes, webapp/runs/revocation.py listens)."""
        return f"{self.prefix}logins"

    def run_stop(self, run_id: int) -> str:
        """Hash: field ``run`` → stop level of the whole run, ``s<id>`` → of one session."""
        return f"{self.prefix}run:{run_id}:stop"

    def run_events(self, run_id: int) -> str:
        """Stream of the run's published events (read by the CLI and catching-up pages)."""
        return f"{self.prefix}run:{run_id}:events"

    def run_room(self, run_id: int) -> str:
        """Socket.IO room of the run's live events."""
        return f"{self.installation}:run:{run_id}"

    def host_lock(self, host_id: int) -> str:
        return f"{self.prefix}lock:host:{host_id}"

    def host_lock_pattern(self) -> str:
        return f"{self.prefix}lock:host:*"

    def worker_alive(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}:alive"

    def job_id(self, run_id: int, index: int) -> str:
        return f"minke-{self.installation[:12]}-run-{run_id}-{index}"

    def queue(self, name: str) -> str:
        """The RQ queue called ``name`` in the configuration."""
        return f"{name}-{self.installation[:12]}"
