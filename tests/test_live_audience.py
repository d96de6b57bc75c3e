"""A web process sends a big audience a run's events in fewer, bigger messages; nothing lost.

Against the app under gunicorn with python-socketio clients. The audience that counts as
big is made small here (``MINKE_LIVE_FRAMES_PER_SECOND``): 2 viewers at 10 frames a second
get at most one message per 0.2 s each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from scripts.loopback import stop_process
from scripts.workers import subprocess_env
from sessions import REGISTRY
from tests.test_live import connected
from tests.web_services import LiveServer, start_server
from webapp.engine.dispatch import start_run

pytestmark = pytest.mark.integration

BATCHES = 10
GAP = 0.06  # seconds between batches: more than the workers' own interval (0.05 s)


@pytest.fixture
def run_id(app, make_user, make_hosts) -> int:
    user = make_user("ada", "minke.run_echosession", "minke.view_hosts")
    run = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), make_hosts(1),
                    user=user, data={"message": "hi"})
    return run.id


@pytest.fixture
def frugal_server(app_config, run_id, tmp_path) -> Iterator[LiveServer]:
    server = start_server(subprocess_env({**app_config, "MINKE_LIVE_FRAMES_PER_SECOND": 10}),
                          tmp_path / "gunicorn.log")
    yield server
    stop_process(server.proc, 10)


def watch(url: str, run: int, viewers: int, publish) -> list[list[list[int]]]:
    """``viewers`` clients join the run, ``publish()`` runs; each viewer's messages, as the
    event numbers each carried, once the run's end reached every viewer."""
    received: list[list[list[int]]] = [[] for _ in range(viewers)]
    ended = [threading.Event() for _ in range(viewers)]
    clients = []
    try:
        for index in range(viewers):
            client = connected(url, "ada")
            client.on("events", lambda batch, i=index: (
                received[i].append([e.get("n", -1) for e in batch]),
                batch[-1]["event"] == "run.finished" and ended[i].set()))
            assert client.call("join", {"run": run}, timeout=5)["ok"] is True
            clients.append(client)
        publish()
        assert all(event.wait(5) for event in ended)
    finally:
        for client in clients:
            client.disconnect()
    return received


def publish_batches(app, run: int):
    def publish() -> None:
        publisher = app.extensions["minke"].publisher
        for n in range(BATCHES):
            publisher.publish(run, "session.message", {"session": 0, "seq": n, "n": n})
            time.sleep(GAP)
        publisher.publish(run, "run.finished", {"summary": {}})
    return publish


def test_a_big_audience_gets_the_runs_events_merged_in_order(frugal_server, app, run_id):
    started = time.monotonic()
    for messages in watch(frugal_server.url, run_id, 2, publish_batches(app, run_id)):
        assert [n for message in messages for n in message] == [*range(BATCHES), -1]
        # 0.6 s of batches at one message per 0.2 s at most, the run's end at once
        assert len(messages) <= 6, messages
    assert time.monotonic() - started < 5


def test_a_small_audience_gets_every_batch_as_it_comes(live_server, app, run_id):
    for messages in watch(live_server.url, run_id, 2, publish_batches(app, run_id)):
        assert messages == [[n] for n in range(BATCHES)] + [[-1]]
