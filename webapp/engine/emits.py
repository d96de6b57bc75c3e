"""At most one Socket.IO message per room and interval from this process.

A run's writers publish a batch of events every few tens of milliseconds
(webapp/engine/writer.py); a web process sends every message to every
viewer of the run's room, so its work is messages × viewers. Measured with
1,000 viewers of a 200-host run (bench/team.py), one message per batch was
more than the web process and its viewers could take on 2 cores. Here a
run's batches are merged: a batch after a quiet interval goes out at once
(no delay for a lone event); later ones wait for the end of the interval and
leave together, in order, as one message (the page handles a list of events
of any length: static/js/run-page.js). The run's Redis stream, which the CLI
and the pages' catch-up read, is written at once, batch by batch.

A web process merges once more what its viewers of a big audience get, with
an interval that grows with the audience (webapp/sockets/rooms.py).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

logger = logging.getLogger(__name__)

# seconds: the longest interval, whatever a room's interval function says
MAX_INTERVAL = 1.0

Emit = Callable[[Any, list[dict[str, Any]]], None]


class RoomEmitter:
    """Merges the event batches of each room (a run) into at most one emit per interval.

    ``emit(room, events)`` sends one message; it is called under this object's lock, so
    that a room's messages leave in the order their batches came. ``interval`` is seconds,
    or a function of the room giving them (asked at each batch); 0 emits every batch at once.
    """

    def __init__(self, emit: Emit, interval: float | Callable[[Any], float]) -> None:
        self._emit = emit
        self._interval_of = interval if callable(interval) else (lambda _room: interval)
        self._intervals: dict[Hashable, float] = {}  # each waiting room's, when it was added
        self._lock = threading.Condition()
        self._pending: dict[Hashable, list[dict[str, Any]]] = {}
        self._last: dict[Hashable, float] = {}  # when each room's last message left
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)  # a process that ends at once still sends what it holds

    def add(self, room: Hashable, events: list[dict[str, Any]], *, now: bool = False) -> None:
        """Send ``events`` to ``room`` now, or with the room's next message.

        :param now: send them (and whatever of the room waits) at once: a run's last events.
        """
        with self._lock:
            pending = self._pending.get(room)
            if pending is not None:
                pending.extend(events)
                if now:
                    self._send(room)
                return
            interval = min(self._interval_of(room), MAX_INTERVAL)
            quiet = time.monotonic() - self._last.get(room, float("-inf")) >= interval
            if now or quiet or interval <= 0:
                self._pending[room] = list(events)
                self._send(room)
                return
            self._pending[room] = list(events)
            self._intervals[room] = interval
            self._start()
            self._lock.notify()

    def flush(self) -> None:
        """Send everything that waits."""
        with self._lock:
            for room in list(self._pending):
                self._send(room)

    def _send(self, room: Hashable) -> None:
        events = self._pending.pop(room)
        self._intervals.pop(room, None)
        self._last[room] = time.monotonic()
        try:
            self._emit(room, events)
        except Exception:  # stored all the same: pages catch up from storage on reconnect
            logger.exception("sending live events to %s failed", room)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="minke-room-emitter",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        with self._lock:
            while True:
                if not self._pending:
                    self._forget_quiet_rooms()
                    self._lock.wait()
                    continue
                now = time.monotonic()
                due = {room: self._last.get(room, 0.0) + self._intervals.get(room, 0.0)
                       for room in self._pending}
                for room, when in due.items():
                    if when <= now:
                        self._send(room)
                if self._pending:
                    self._lock.wait(max(0.0, min(due.values()) - now))

    def _forget_quiet_rooms(self) -> None:
        # a room quiet for its interval emits at once anyway: its time need not be kept
        horizon = time.monotonic() - MAX_INTERVAL
        for room in [r for r, t in self._last.items() if t < horizon]:
            del self._last[room]
