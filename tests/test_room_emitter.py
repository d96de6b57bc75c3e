"""A run's live events leave a process as at most one Socket.IO message per interval, in order."""

from __future__ import annotations

import threading
import time

from webapp.engine.emits import RoomEmitter


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[int, list[dict], float]] = []
        self.arrived = threading.Event()

    def __call__(self, run_id: int, events: list[dict]) -> None:
        self.messages.append((run_id, [e["n"] for e in events], time.monotonic()))
        self.arrived.set()

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"only {len(self.messages)} messages sent"
            time.sleep(0.005)


def batch(*numbers: int) -> list[dict]:
    return [{"event": "session.output", "n": n} for n in numbers]


def test_a_lone_batch_leaves_at_once():
    sent = Sent()
    emitter = RoomEmitter(sent, interval=10.0)
    emitter.add(1, batch(1, 2))
    assert [m[:2] for m in sent.messages] == [(1, [1, 2])]


def test_batches_within_the_interval_leave_together_in_order():
    sent = Sent()
    emitter = RoomEmitter(sent, interval=0.2)
    started = time.monotonic()
    emitter.add(1, batch(1))
    for n in range(2, 12):
        emitter.add(1, batch(n))
    sent.wait_for(2)
    assert [m[1] for m in sent.messages] == [[1], list(range(2, 12))]
    assert sent.messages[1][2] - started >= 0.19  # held until the interval ended


def test_runs_are_merged_each_on_its_own():
    sent = Sent()
    emitter = RoomEmitter(sent, interval=0.1)
    emitter.add(1, batch(1))
    emitter.add(2, batch(100))  # another run's first: at once, whatever run 1 does
    emitter.add(1, batch(2))
    emitter.add(2, batch(101))
    sent.wait_for(4)
    assert sorted(m[:2] for m in sent.messages) == [(1, [1]), (1, [2]), (2, [100]), (2, [101])]


def test_the_last_events_of_a_run_leave_at_once_with_what_waits():
    sent = Sent()
    emitter = RoomEmitter(sent, interval=10.0)
    emitter.add(1, batch(1))
    emitter.add(1, batch(2))  # waits for the interval …
    emitter.add(1, batch(3), now=True)  # … unless the run's last events come
    assert [m[1] for m in sent.messages] == [[1], [2, 3]]


def test_flush_sends_everything_that_waits():
    sent = Sent()
    emitter = RoomEmitter(sent, interval=10.0)
    emitter.add(1, batch(1))
    emitter.add(1, batch(2))
    emitter.flush()
    assert [m[1] for m in sent.messages] == [[1], [2]]
