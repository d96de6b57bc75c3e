"""A viewer that reads slowly still gets every event whole (webapp/sockets/wire.py).

Against the app under gunicorn as scripts/start serves it: a WebSocket client joins a
run's room, stops reading while megabytes of events are sent to it (the server's writes
block on its full buffers), then reads on: every frame parses, every event is there, in
order. Before, a frame written while the buffers were full lost its tail and the client
lost the rest of the run.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse

import pytest
import websocket

from tests.test_live import ada_run, http_login, users  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

EVENTS = 300
PIECE = 20_000  # bytes of output per event: ~6 MB in all, far beyond the socket buffers


def socketio_client(url: str, cookie: str) -> websocket.WebSocket:
    """Engine.IO over a WebSocket, spoken by hand: connected to the default namespace."""
    parts = urllib.parse.urlsplit(url)
    ws = websocket.WebSocket()
    ws.connect(f"ws://{parts.netloc}/socket.io/?EIO=4&transport=websocket", header=[
        f"Cookie: {cookie}"], sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)], timeout=10)
    assert ws.recv().startswith("0{")  # Engine.IO open
    ws.send("40")
    assert ws.recv().startswith("40{")  # Socket.IO connected
    return ws


def packets(ws: websocket.WebSocket) -> object:
    """Socket.IO packets as they come, answering Engine.IO pings on the way."""
    while True:
        text = ws.recv()
        if text == "2":
            ws.send("3")
            continue
        yield text


def test_a_slow_reader_gets_every_event_whole(live_server, users, ada_run, app):  # noqa: F811
    ws = socketio_client(live_server.url, http_login(live_server.url, "ada"))
    try:
        ws.send("420" + json.dumps(["join", {"run": ada_run}]))
        acks = packets(ws)
        assert json.loads(next(acks)[3:]) == [{"ok": True}]
        publisher = app.extensions["minke"].publisher
        for n in range(1, EVENTS + 1):
            piece = {"command_seq": 1, "stream": "stdout", "first_seq": n, "seq": n,
                     "data": f"{n:06d}" + "x" * PIECE, "omitted": 0}
            publisher.publish_many(ada_run, [{"event": "session.output", "session": 1,
                                              "first_seq": n, "seq": n, "pieces": [piece]}])
        publisher.publish(ada_run, "run.finished", {"summary": {}})
        time.sleep(3)  # the server writes into the client's full buffers meanwhile
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = next(acks)
            assert text.startswith("42"), text[:80]
            name, batch = json.loads(text[2:])
            assert name == "events"
            for event in batch:
                if event["event"] == "run.finished":
                    break
                (piece,) = event["pieces"]
                assert piece["data"] == f"{event['seq']:06d}" + "x" * PIECE
                seen.append(event["seq"])
            else:
                continue
            break
        assert seen == list(range(1, EVENTS + 1))
    finally:
        ws.close()
