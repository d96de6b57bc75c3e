"""Socket.IO: only logged-in users connect; a user joins only the rooms of runs they may see.

Checked against the app under gunicorn with a python-socketio client (Flask-SocketIO's
test client cannot run with the Redis message queue the app always uses).
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request

import pytest
import socketio

from sessions import REGISTRY
from webapp.engine.dispatch import start_run

pytestmark = pytest.mark.integration


@pytest.fixture
def users(make_user):
    return {
        "ada": make_user("ada", "minke.run_echosession", "minke.view_hosts"),
        "bob": make_user("bob"),
        "carol": make_user("carol", "minke.view_all_runs"),
    }


@pytest.fixture
def ada_run(app, users, make_hosts):
    """A run of ada's that waits in the queue (no worker): its room exists, nothing moves."""
    run = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), make_hosts(1),
                    user=users["ada"], data={"message": "hi"})
    return run.id


# -- a python-socketio client, as another program would connect ----------------------------


def connected(url: str, name: str | None = None) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    headers = {"Cookie": http_login(url, name)} if name else {}
    client.connect(url, headers=headers, transports=["websocket"], wait_timeout=5)
    return client


def test_anonymous_clients_are_refused(live_server):
    with pytest.raises(socketio.exceptions.ConnectionError):
        connected(live_server.url)


@pytest.mark.parametrize(("name", "admitted"), [("ada", True), ("carol", True), ("bob", False)])
def test_only_users_who_may_see_a_run_join_its_room(live_server, users, ada_run, name,
                                                    admitted):
    client = connected(live_server.url, name)
    try:
        assert client.call("join", {"run": ada_run}, timeout=5)["ok"] is admitted
    finally:
        client.disconnect()


@pytest.mark.parametrize("data", [None, {}, {"run": "x"}, {"run": 999999}, "run"])
def test_joining_nonsense_is_refused(live_server, users, data):
    client = connected(live_server.url, "ada")
    try:
        assert client.call("join", data, timeout=5)["ok"] is False
    finally:
        client.disconnect()


# -- against the served app ---------------------------------------------------------------


def http_login(base_url: str, name: str, password: str = "pw") -> str:
    """Log in through the form as a browser would; returns the Cookie header to send."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base_url + "/login").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": token})
    opener.open(base_url + "/login", data=form.encode()).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def test_events_reach_only_the_users_in_the_room(live_server, users, ada_run, app):
    clients = {name: connected(live_server.url, name) for name in ("ada", "bob")}
    received: dict[str, list] = {"ada": [], "bob": []}
    arrived = threading.Event()
    clients["ada"].on("events", lambda batch: (received["ada"].extend(batch), arrived.set()))
    clients["bob"].on("events", lambda batch: received["bob"].extend(batch))
    try:
        assert clients["ada"].call("join", {"run": ada_run}, timeout=5) == {"ok": True}
        assert clients["bob"].call("join", {"run": ada_run}, timeout=5)["ok"] is False
        app.extensions["minke"].publisher.publish(ada_run, "run.finished", {"summary": {}})
        assert arrived.wait(5)
        assert [e["event"] for e in received["ada"]] == ["run.finished"]
        clients["bob"].sleep(0.5)
        assert received["bob"] == []
    finally:
        for client in clients.values():
            client.disconnect()


def test_a_join_answers_what_the_page_missed_and_every_sessions_badge(live_server, users,
                                                                      ada_run, app):
    from webapp.models import MinkeSession

    (session_id,) = session_ids(MinkeSession, ada_run)
    client = connected(live_server.url, "ada")
    try:
        answer = client.call("join", {"run": ada_run, "after": {str(session_id): 0},
                                      "statuses": True}, timeout=5)
        assert answer["ok"] is True and answer["finished"] is False
        (change,) = answer["sessions"]
        assert change["id"] == session_id and change["status"] == "queued"
        assert answer["statuses"]["ids"] == [session_id]
        assert client.call("join", {"run": ada_run}, timeout=5) == {"ok": True}
        # a page whose rows are all final rejoins (after a reconnect) asking for none: it
        # still hears whether the run finished meanwhile
        assert client.call("join", {"run": ada_run, "after": {}}, timeout=5) == {
            "ok": True, "sessions": [], "finished": False}
        bad = client.call("join", {"run": ada_run, "after": {"x": "y"}}, timeout=5)
        assert bad["ok"] is False
    finally:
        client.disconnect()


def session_ids(model, run_id):
    """Read, then end the transaction (on SQLite it would hold the write lock)."""
    from webapp.extensions import db

    ids = db.session.scalars(db.select(model.id).where(model.run_id == run_id)).all()
    db.session.rollback()
    return ids
