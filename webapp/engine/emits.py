"""At most one Socket.IO message per run and interval from this process.

A run's writers publish a batch of events every few tens of milliseconds
(webapp/engine/worker/writer.py); a web process sends every message to every
viewer of the run's room, so its work is messages × viewers. Measured with
1,000 viewers of a 200-host run (bench/team.py), one message per batch was
more than the web process and its viewers could take on 2 cores. Here a
run's batches are merged: a batch after a quiet interval goes out at once
(no delay for a lone event); later ones wait for the end of the interval and
leave together, in order, as one message (the page handles a list of events
of any length: static/js/run-page.js). The run's Redis stream, which the CLI
and the pages' catch-up read, is written at once, batch by batch.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Emit = Callable[[int, list[dict[str, Any]]], None]


class RoomEmitter:
    """Merges the event batches of each run into at most one emit per ``interval`` seconds.

    ``emit(run_id, events)`` sends one message; it is called under this object's lock, so
    that a run's messages leave in the order their batches came. ``interval`` 0 emits every
    batch at once.
    """

    def __init__(self, emit: Emit, interval: float) -> None:
        self._emit = emit
        self._interval = interval
        self._lock = threading.Condition()
        self._pending: dict[int, list[dict[str, Any]]] = {}
        self._last: dict[int, float] = {}  # when each run's last message left
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)  # a process that ends at once still sends what it holds

    def add(self, run_id: int, events: list[dict[str, Any]], *, now: bool = False) -> None:
        """Send ``events`` of run ``run_id`` now, or with the run's next message.

        :param now: send them (and whatever of the run waits) at once: the run's last events.
        """
        with self._lock:
            pending = self._pending.get(run_id)
            if pending is not None:
                pending.extend(events)
                if now:
                    self._send(run_id)
                return
            quiet = time.monotonic() - self._last.get(run_id, float("-inf")) >= self._interval
            if now or quiet or self._interval <= 0:
                self._pending[run_id] = list(events)
                self._send(run_id)
                return
            self._pending[run_id] = list(events)
            self._start()
            self._lock.notify()

    def flush(self) -> None:
        """Send everything that waits."""
        with self._lock:
            for run_id in list(self._pending):
                self._send(run_id)

    def _send(self, run_id: int) -> None:
        events = self._pending.pop(run_id)
        self._last[run_id] = time.monotonic()
        try:
            self._emit(run_id, events)
        except Exception:  # stored all the same: pages catch up from storage on reconnect
            logger.exception("sending live events of run %s failed", run_id)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="minke-room-emitter",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        with self._lock:
            while True:
                if not self._pending:
                    self._forget_quiet_runs()
                    self._lock.wait()
                    continue
                now = time.monotonic()
                due = {run_id: self._last.get(run_id, 0.0) + self._interval
                       for run_id in self._pending}
                for run_id, when in due.items():
                    if when <= now:
                        self._send(run_id)
                if self._pending:
                    self._lock.wait(max(0.0, min(due.values()) - now))

    def _forget_quiet_runs(self) -> None:
        # a run quiet for an interval emits at once anyway: its time need not be kept
        horizon = time.monotonic() - self._interval
        for run_id in [r for r, t in self._last.items() if t < horizon]:
            del self._last[run_id]
