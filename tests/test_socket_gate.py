"""The door of the Socket.IO endpoint, against the app under gunicorn as scripts/start serves it.

Strangers are refused before Engine.IO opens anything (no upgrade, no session);
logged-in users hold a bounded number of connections; a connection that never
sends Socket.IO's ``connect`` is closed; many open connections leave the pages fast.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest
import socketio
import websocket

from scripts.loopback import stop_process
from scripts.workers import subprocess_env
from tests.test_live import http_login
from tests.web_services import LiveServer, start_server

pytestmark = pytest.mark.integration

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes, base64: the server answers 101 or not


@pytest.fixture
def users(make_user):
    return {name: make_user(name) for name in ("ada", "bob", "carol")}


@pytest.fixture
def tight_server(app_config, users, tmp_path) -> Iterator[LiveServer]:
    """A web process with small limits: 3 connections per user, 5 per address, 1 s to
    send ``connect``."""
    server = start_server(subprocess_env({
        **app_config, "MINKE_SOCKET_USER_LIMIT": 3, "MINKE_SOCKET_ADDRESS_LIMIT": 5,
        "MINKE_SOCKET_CONNECT_TIMEOUT": 1}), tmp_path / "gunicorn.log")
    yield server
    stop_process(server.proc, 10)


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One GET as any program could send it; status and body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def upgrade_headers(cookie: str | None = None) -> dict[str, str]:
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": WS_KEY}
    if cookie:
        headers["Cookie"] = cookie
    return headers


def engineio_socket(url: str, cookie: str) -> websocket.WebSocket:
    """A WebSocket straight to Engine.IO (no polling first); its open packet is read."""
    ws = websocket.create_connection(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        header=[f"Cookie: {cookie}"], timeout=10)
    assert ws.recv().startswith("0{")  # Engine.IO's open packet
    return ws


def socketio_connected(url: str, cookie: str) -> websocket.WebSocket:
    """An Engine.IO WebSocket that also sent Socket.IO's connect and was admitted."""
    ws = engineio_socket(url, cookie)
    ws.send("40")
    assert ws.recv().startswith("40{")
    return ws


def client_for(url: str, cookie: str) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=5)
    return client


@pytest.mark.parametrize("path", [
    "/socket.io/?EIO=4&transport=polling",
    "/socket.io/?EIO=4&transport=polling&sid=made-up",
    "/socket.io/?EIO=3&transport=polling",
    "/socket.io/anything/else?x=1",
    "/socket.io/",
])
def test_anonymous_polling_requests_are_refused(live_server, path):
    status, body = raw_get(live_server.url, path)
    assert status == 401
    assert json.loads(body) == {"error": "login required"}


@pytest.mark.parametrize("cookie", [None, "session=forged.value.sig", "remember_token=1|abc"])
def test_anonymous_websockets_are_refused_before_the_upgrade(live_server, cookie):
    status, body = raw_get(live_server.url, "/socket.io/?EIO=4&transport=websocket",
                           upgrade_headers(cookie))
    assert status == 401  # not 101 Switching Protocols: nothing was upgraded
    assert json.loads(body) == {"error": "login required"}


def test_a_logged_in_websocket_is_upgraded(live_server, users):
    status, _body = raw_get(live_server.url, "/socket.io/?EIO=4&transport=websocket",
                            upgrade_headers(http_login(live_server.url, "ada")))
    assert status == 101


def test_connections_are_limited_per_user_and_per_address(tight_server):
    url = tight_server.url
    ada, bob, carol = (http_login(url, name) for name in ("ada", "bob", "carol"))
    held = [client_for(url, ada) for _ in range(3)]
    with pytest.raises(socketio.exceptions.ConnectionError):
        client_for(url, ada)
    status, body = raw_get(url, "/socket.io/?EIO=4&transport=polling", {"Cookie": ada})
    assert status == 429
    assert "too many open connections of this user (3)" in json.loads(body)["error"]

    held += [client_for(url, bob) for _ in range(2)]  # 5 from this address now
    status, body = raw_get(url, "/socket.io/?EIO=4&transport=websocket",
                           upgrade_headers(carol))
    assert status == 429
    assert "too many open connections from this address (5)" in json.loads(body)["error"]

    held.pop(0).disconnect()  # one of ada's closes: its place is free again, for anyone
    deadline = time.monotonic() + 5
    while True:
        try:
            held.append(client_for(url, carol))
            break
        except socketio.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "a closed connection still counts"
            time.sleep(0.2)
    for client in held:
        client.disconnect()


def test_a_connection_that_never_sends_connect_is_closed(tight_server):
    url = tight_server.url
    cookie = http_login(url, "ada")
    idle = engineio_socket(url, cookie)  # the Engine.IO handshake only, then silence
    status, body = raw_get(url, "/socket.io/?EIO=4&transport=polling", {"Cookie": cookie})
    assert status == 200
    sid = json.loads(body[1:])["sid"]  # a polling handshake that stays silent too

    time.sleep(3)  # the timeout is 1 s; the sweep looks every second
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        while True:  # what the server sent before closing (a close frame), then nothing
            if not idle.recv():
                raise ConnectionError("closed")
    status, body = raw_get(url, f"/socket.io/?EIO=4&transport=polling&sid={sid}",
                           {"Cookie": cookie})
    idle.shutdown()  # the server closed it: only our end of the socket is left
    assert status == 400 and (b"Invalid session" in body or b"disconnected" in body)

    # neither counts any more: ada may open her three again, and they stay open
    held = [socketio_connected(url, cookie) for _ in range(3)]
    time.sleep(2)
    for ws in held:
        ws.send("42" + json.dumps(["leave", {"run": 1}]))  # any event: the socket is alive
        ws.close()


def test_many_open_sockets_leave_the_login_page_and_pages_fast(app_config, users, tmp_path):
    """150 logged-in connections (more than the old model had threads) hold still while
    the login page and a page of a logged-in user answer; each connection still works."""
    server = start_server(subprocess_env({**app_config, "MINKE_SOCKET_ADDRESS_LIMIT": 0}),
                          tmp_path / "gunicorn.log")
    try:
        cookies = [http_login(server.url, name) for name in ("ada", "bob", "carol")]
        held = [socketio_connected(server.url, cookies[i % 3]) for i in range(150)]
        parts = urllib.parse.urlsplit(server.url)
        for path, headers in (("/login", {}), ("/", {"Cookie": cookies[0]})):
            started = time.monotonic()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            assert response.status == 200, path
            assert time.monotonic() - started < 2.0, f"{path} took too long"
        for ws in held:
            ws.send('421["leave",{"run":1}]')  # an event with an ack id: answered
        assert all(ws.recv().startswith("431[") for ws in held)
        for ws in held:
            ws.close()
    finally:
        stop_process(server.proc, 10)
