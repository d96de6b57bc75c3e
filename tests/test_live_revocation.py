"""An open Socket.IO connection stops receiving a run when its user may no longer see it.

Against the app under gunicorn with python-socketio clients watching a run:
after a logout, a disable, the role losing ``minke.view_all_runs``, or a login
ended without any notice, the socket gets no more of the run's events within
10 s, and is told why.
"""

from __future__ import annotations

import threading
import time

import pytest
import socketio
import sqlalchemy as sa

from sessions import REGISTRY
from tests.test_logins import Browser
from webapp import accounts
from webapp.engine.dispatch import start_run
from webapp.extensions import db
from webapp.models import LoginSession, Role, User

pytestmark = pytest.mark.integration

DEADLINE = 10.0  # seconds: what the issue allows


@pytest.fixture
def run_id(app, make_user, make_hosts) -> int:
    """A run of ada's that waits in the queue (no worker): its room exists, nothing moves."""
    ada = make_user("ada", "minke.run_echosession", "minke.view_hosts")
    make_user("carol", "minke.view_all_runs")
    make_user("root", "minke.admin")  # disabling the others leaves an admin
    run = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), make_hosts(1),
                    user=ada, data={"message": "hi"})
    run_id = run.id
    db.session.commit()  # nothing left open: the server's writes must not wait for us
    return run_id


class Watcher:
    """A program watching run ``run_id`` through Socket.IO with ``browser``'s cookies."""

    def __init__(self, url: str, browser: Browser, run_id: int) -> None:
        self.run_id = run_id
        self.events: list[dict] = []
        self.notices: list[dict] = []
        self.noticed = threading.Event()
        self.client = socketio.Client(reconnection=False)
        self.client.on("events", self.events.extend)
        self.client.on("access", self._notice)
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies().items())
        self.client.connect(url, headers={"Cookie": cookie}, transports=["websocket"],
                            wait_timeout=5)
        assert self.client.call("join", {"run": run_id}, timeout=5) == {"ok": True}

    def _notice(self, notice: dict) -> None:
        self.notices.append(notice)
        self.noticed.set()

    def receives(self, app, marker: int, wait: float = 3.0) -> bool:
        """Publish an event of the run; whether it arrives within ``wait`` seconds."""
        app.extensions["minke"].publisher.publish(self.run_id, "run.progress",
                                                  {"marker": marker})
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if any(event.get("marker") == marker for event in self.events):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def watch(live_server):
    watchers: list[Watcher] = []

    def make(name: str, run_id: int) -> tuple[Browser, Watcher]:
        browser = Browser(live_server.url)
        browser.login(name)
        watchers.append(Watcher(live_server.url, browser, run_id))
        return browser, watchers[-1]

    yield make
    for watcher in watchers:
        watcher.close()


def ended_within_deadline(app, watcher: Watcher, since: float) -> float:
    """Seconds until the socket was told; asserts it then receives nothing more of the run."""
    assert watcher.noticed.wait(DEADLINE), "the socket was never told it lost the run"
    elapsed = time.monotonic() - since
    assert elapsed < DEADLINE
    assert not watcher.receives(app, marker=2, wait=1.5)
    return elapsed


def _user(name: str) -> User:
    return db.session.scalar(sa.select(User).where(User.name == name))


def test_a_socket_stops_receiving_after_its_login_logs_out(app, run_id, watch):
    browser, watcher = watch("ada", run_id)
    _other, other_login = watch("ada", run_id)  # ada in another browser
    assert watcher.receives(app, marker=1)
    since = time.monotonic()
    assert browser.post("/logout")[:2] == (302, "/login")
    ended_within_deadline(app, watcher, since)
    assert watcher.notices == [{"reason": "logout", "message": watcher.notices[0]["message"]}]
    assert "logged out" in watcher.notices[0]["message"]
    watcher.client.sleep(0.5)
    assert not watcher.client.connected
    assert other_login.receives(app, marker=3)  # the other browser's login goes on


def test_a_socket_stops_receiving_when_its_user_is_disabled(app, run_id, watch):
    _browser, watcher = watch("ada", run_id)
    assert watcher.receives(app, marker=1)
    since = time.monotonic()
    accounts.set_active(_user("ada"), False)
    db.session.commit()
    ended_within_deadline(app, watcher, since)
    assert watcher.notices[0]["reason"] == "disabled"
    assert "disabled" in watcher.notices[0]["message"]


def test_a_socket_leaves_a_run_when_the_role_loses_view_all_runs(app, run_id, watch):
    _browser, watcher = watch("carol", run_id)  # carol sees ada's run through her role
    _own, owner = watch("ada", run_id)
    assert watcher.receives(app, marker=1)
    since = time.monotonic()
    role = db.session.scalar(sa.select(Role).where(Role.name == "carol-role"))
    accounts.update_role(role, permissions=[])
    db.session.commit()
    ended_within_deadline(app, watcher, since)
    assert watcher.notices == [{"reason": "forbidden", "run": run_id,
                                "message": "You may no longer see this run: live updates "
                                           "stopped."}]
    assert watcher.client.connected  # only the run is gone: carol is still logged in
    assert watcher.client.call("join", {"run": run_id}, timeout=5)["ok"] is False
    assert owner.receives(app, marker=3)  # ada still sees her own run


def test_a_login_ended_without_any_notice_is_caught_by_the_periodic_check(app, run_id, watch):
    """What a lost Redis notice would leave: the row gone, nobody told."""
    _browser, watcher = watch("ada", run_id)
    assert watcher.receives(app, marker=1)
    since = time.monotonic()
    db.session.execute(sa.delete(LoginSession))
    db.session.commit()
    elapsed = ended_within_deadline(app, watcher, since)
    assert watcher.notices[0]["reason"] == "ended"
    print(f"ended by the periodic check after {elapsed:.1f} s")


@pytest.mark.browser
def test_the_run_page_says_the_user_was_logged_out(app, run_id, browser_page, web_login,
                                                   page_errors):
    page = browser_page
    web_login(page, "ada")
    page.goto(f"/runs/{run_id}")
    state = page.locator("#live-state")
    state.and_(page.locator("[data-state=live]")).wait_for()
    accounts.set_active(_user("ada"), False)
    db.session.commit()
    state.and_(page.locator("[data-state=ended]")).wait_for(timeout=DEADLINE * 1000)
    assert state.text_content() == ("You were logged out (your account was disabled): "
                                     "live updates stopped.")
    page.wait_for_timeout(1000)  # no reconnect attempt turns it back into "reconnecting"
    assert state.get_attribute("data-state") == "ended"
    assert page_errors == []
