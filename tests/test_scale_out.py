"""Scale-out (issue 14): PostgreSQL, two web processes under gunicorn, two workers.

A run started through web A, as the page starts it (HTTP, CSRF), is watched live through
web B with a python-socketio client: every message, command, output chunk and final
status stored arrives at B (in the join's answer or live), none twice. One worker is
killed (SIGKILL) mid-run: the other one reaps its sessions (failed, "died") and completes
its own.
"""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from typing import Any

import pytest
import socketio
import sqlalchemy as sa
from rq import Worker

from scripts.loopback import stop_process
from scripts.workers import subprocess_env
from tests.web_services import start_server
from webapp.extensions import db
from webapp.models import Message, MinkeSession, OutputChunk, Run, StoredResult

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SECONDS = 6  # each session's sleep: long enough to kill a worker in the middle of it
HOSTS = 4
WORKER_ENV = {"MINKE_WORKER_HEARTBEAT": "1", "MINKE_WORKER_GRACE": "2"}


@pytest.fixture
def postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("scale-out runs on PostgreSQL (TEST_DATABASE_URL)")


class WebUser:
    """A user of one web process, over HTTP with its cookies, as a browser would be."""

    def __init__(self, base_url: str, name: str, password: str = "pw") -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        token = self.csrf_token(self.get("/login"))
        self.post("/login", {"name": name, "password": password, "csrf_token": token})

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=20) as response:
            return response.read().decode()

    def post(self, path: str, fields: list[tuple[str, Any]] | dict[str, Any]) -> str:
        """POST a form; the URL the redirects ended at."""
        body = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base_url + path, data=body, timeout=20) as response:
            response.read()
            return response.geturl()

    def post_for_page(self, path: str, fields: list[tuple[str, Any]]) -> str:
        """POST a form; the page answered."""
        body = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base_url + path, data=body, timeout=20) as response:
            return response.read().decode()

    @staticmethod
    def csrf_token(page: str) -> str:
        return re.search(r'name="csrf[-_]token" (?:content|value)="([^"]+)"', page).group(1)

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class _FormFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form" and attr.get("method") == "post":
            self.in_form = True
        elif tag == "input" and self.in_form and attr.get("name"):
            kind = attr.get("type", "text")
            if kind != "checkbox" or "checked" in attr:
                self.fields.append((attr["name"], attr.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def form_fields(page: str) -> list[tuple[str, str]]:
    """What a browser would submit of the page's POST form, as it stands."""
    parser = _FormFields()
    parser.feed(page)
    return parser.fields


def stored(run_id: int) -> dict[int, dict[str, Any]]:
    """Per session: the sequence numbers of its messages, commands and output chunks, and
    its final state."""
    db.session.rollback()
    sessions = {s.id: {"messages": set(), "commands": set(), "output": set(),
                       "proc": s.proc_status, "worker": s.worker_id}
                for s in db.session.scalars(sa.select(MinkeSession)
                                            .where(MinkeSession.run_id == run_id))}
    for kind, query in (
            ("messages", sa.select(Message.session_id, Message.seq)),
            ("commands", sa.select(StoredResult.session_id, StoredResult.seq)),
            ("output", sa.select(StoredResult.session_id, OutputChunk.seq)
             .join(StoredResult, StoredResult.id == OutputChunk.command_id))):
        column = query.selected_columns[0]
        for session_id, seq in db.session.execute(query.where(column.in_(list(sessions)))):
            sessions[session_id][kind].add(seq)
    db.session.rollback()
    return sessions


def seen(answer: dict[str, Any], events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """What B received of each session: the join's answer, then the live events."""
    got: dict[int, dict[str, Any]] = {}

    def of(session_id: int) -> dict[str, Any]:
        return got.setdefault(session_id, {"messages": set(), "commands": set(),
                                           "output": set(), "proc": None})

    for change in answer["sessions"]:
        mine = of(change["id"])
        mine["messages"] |= {m["seq"] for m in change["messages"]}
        mine["commands"] |= {c["seq"] for c in change["commands"]}
        mine["output"] |= {s for p in change["output"] for s in range(p["first_seq"], p["seq"] + 1)}
        mine["proc"] = change["proc_status"]
    for event in events:
        if "session" not in event:  # the run's own: run.queue, run.finished
            continue
        mine = of(event["session"])
        if event["event"] == "session.message":
            mine["messages"].add(event["seq"])
        elif event["event"] == "session.command" and "command" in event:
            mine["commands"].add(event["seq"])
        elif event["event"] == "session.output":
            mine["output"] |= {s for p in event["pieces"]
                               for s in range(p["first_seq"], p["seq"] + 1)}
        elif event["event"] == "session.status":
            mine["proc"] = event["proc_status"]
    return got


def wait_for(condition, timeout: float = 30.0, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(step)


def test_a_run_started_on_one_web_process_is_watched_live_on_another_while_a_worker_dies(
        postgresql, app, app_config, make_hosts, make_user, start_worker, tmp_path):
    hosts = make_hosts(HOSTS)
    make_user("ada", "minke.view_hosts", "minke.run_sleepsession")
    # two jobs of two hosts each: one for each worker
    env = subprocess_env({**app_config, "MINKE_CONCURRENCY": HOSTS, "MINKE_WORKER_THREADS": 2})
    with ThreadPoolExecutor(4) as pool:  # start-ups overlap
        servers = [pool.submit(start_server, env, tmp_path / f"web-{name}.log")
                   for name in "ab"]
        workers = list(pool.map(lambda _i: start_worker(**WORKER_ENV), range(2)))
    web_a, web_b = (server.result() for server in servers)
    try:
        ada_a, ada_b = WebUser(web_a.url, "ada"), WebUser(web_b.url, "ada")
        received: list[dict[str, Any]] = []
        client = socketio.Client(reconnection=False)
        client.on("events", lambda batch: received.extend(batch))
        client.connect(web_b.url, headers={"Cookie": ada_b.cookie}, transports=["websocket"],
                       wait_timeout=10)

        # web A, as a browser: tick the hosts in the list, choose the session, fill its form
        token = WebUser.csrf_token(ada_a.get("/objects/host/"))
        prepare = ada_a.post_for_page("/objects/host/run", [
            ("csrf_token", token), ("session", "SleepSession"),
            *[("ids", host.id) for host in hosts]])
        fields = [(name, SECONDS if name.endswith("seconds") else value)
                  for name, value in form_fields(prepare)]
        landed = ada_a.post("/objects/host/run", fields)
        run_id = int(re.search(r"/runs/(\d+)$", landed).group(1))

        # web B: join at once, asking what happened before (as the run page does)
        session_ids = list(stored(run_id))
        answer = client.call("join", {"run": run_id, "after": dict.fromkeys(
            map(str, session_ids), 0)}, timeout=10)
        assert answer["ok"] is True

        # both workers are working; kill one of them
        def both_running() -> bool:
            rows = stored(run_id).values()
            return (all(r["proc"] == "running" for r in rows)
                    and len({r["worker"] for r in rows}) == 2)

        wait_for(both_running, timeout=20)
        pids = {w.name: w.pid for w in Worker.all(connection=app.extensions["minke"].redis)}
        victim_name = next(iter(stored(run_id).values()))["worker"]
        victim = next(w for w in workers if w.pid == pids[victim_name])
        victim.kill()

        def finished() -> bool:
            db.session.rollback()
            done = db.session.scalar(sa.select(Run.finished_at).where(Run.id == run_id))
            db.session.rollback()
            return done is not None

        wait_for(finished, timeout=SECONDS + 25)
        # the last batch on its way to B (under load it may take more than a moment)
        wait_for(lambda: any(e["event"] == "run.finished" for e in received), timeout=15)
        client.disconnect()

        want = stored(run_id)
        for session_id, row in want.items():
            if row["worker"] == victim_name:
                assert row["proc"] == "failed", row
                text = db.session.scalar(sa.select(Message.payload).where(
                    Message.session_id == session_id).order_by(Message.seq.desc()).limit(1))
                assert "died" in text["text"]
            else:
                assert row["proc"] == "completed", row
        db.session.rollback()

        got = seen(answer, received)
        for session_id, row in want.items():  # nothing lost
            for kind in ("messages", "commands", "output"):
                assert row[kind] <= got[session_id][kind], (session_id, kind)
            assert got[session_id]["proc"] == row["proc"]
        live = [(e["session"], e["seq"]) for e in received if "session" in e]  # not the run's own
        assert len(live) == len(set(live))  # nothing twice
        # the final states came live, through B, from both workers
        finals = {e["session"] for e in received if e["event"] == "session.status"
                  and e["proc_status"] in ("completed", "failed")}
        assert finals == set(want)
    finally:
        for server in (web_a, web_b):
            stop_process(server.proc, 10)
