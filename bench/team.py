"""A team at once (issue 18), through real clients against the app under gunicorn, one web
process, a real worker, real sshd hosts. Each scenario is a function of (bench, server,
scale) returning its figures; each server model (``--models``) gets a fresh web process
and every scenario; one table puts the models side by side.

Socket half:

1. viewers: VIEWERS Socket.IO clients (the session cookies of USERS users, in two client
   processes; every 10th a python-socketio client, the others lean aiohttp WebSockets that
   speak Engine.IO by hand and leave the CPU to the server: ``_viewers``) plus BROWSERS
   headless Chromium pages watch one run of HOSTS hosts
   that prints ~LINES_PER_S lines/s in all for SECONDS s. Every viewer must get every
   event of the run's Redis stream (per session: as many, same sequence numbers, none
   twice); meanwhile another user GETs the host list page and the API (p95 < 100 ms). Web
   RSS per viewer, web CPU.
2. strangers: STRANGERS anonymous Engine.IO WebSocket attempts at once (those upgraded
   stay open): all refused, and GET /login's p95 during them against before.

The server models: ``gthread`` (50 threads, Flask-SocketIO threading mode: the model before
issue 18) and ``gevent`` (what scripts/start runs, scripts/webserver.py). Where the old
model collapses, its figures say so (connections not made, requests timed out), bounded by
timeouts.

Runs half (its own table, on the last server model only):

3. runs: LONG_RUNS + QUICK_RUNS users (``r00``…, each with a role that may run
   ``BenchCommandSession`` and list hosts, an API token and a session cookie) start their
   runs at one barrier through ``POST /api/v1/runs``: LONG_RUNS runs of LONG_HOSTS hosts
   each (hosts of their own, every host printing a line a second for LONG_SECONDS s) and
   QUICK_RUNS 1-host ``uname -a`` runs on other hosts. Each user watches their run with a
   python-socketio client joined to it (as the run page does); first result = the first of
   the run's sessions in a final state. ONE worker process, fresh for each model: the old
   one (``MINKE_WORKER_SLOTS=1``, one job at a time as before issue 18) and the default
   slots, side by side; every run finished between them. Quick runs' dispatch → first
   result p50/p95/max (and where it went: POST, session start, session, event), the long
   runs' total time, how many quick runs the run document said were queued. Target (new):
   p95 < 1 s.

    .venv/bin/python bench/team.py [--smoke] [--database-url URL] [--models gthread,gevent]
        [--scenarios viewers,strangers,runs]
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import re
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

import http.client  # noqa: E402

from . import common  # noqa: E402
from .common import (  # noqa: E402
    Bench,
    BenchError,
    as_utc_timestamp,
    banner,
    parser,
    proc_memory,
    table,
    verdict,
)

common.SUBNETS.setdefault("team", 8)  # this bench's loopback /24: 127.0.8.x

from scripts.loopback import stop_process  # noqa: E402
from tests.web_services import CHROMIUM, CHROMIUM_ARGS, LiveServer, start_server  # noqa: E402

PASSWORD = "bench-password"
FINAL = ("completed", "stopped", "canceled", "failed")
PROBE_TIMEOUT = 5.0  # seconds a probe GET may take before it counts as timed out
CONNECT_TIMEOUT = 10.0  # seconds a viewer's connect + join may take
CLIENT_PROCESSES = 2
FULL_CLIENT_EVERY = 10  # every 10th viewer a python-socketio client, the others lean ones
DELIVERY_WAIT = 60.0  # seconds viewers wait, after the run ended, for what is on its way


@dataclass
class Scale:
    hosts: int
    viewers: int
    users: int
    browsers: int
    seconds: int
    lines_per_host_s: int
    strangers: int
    long_runs: int  # runs: users who start a long run, each on hosts of its own
    long_hosts: int
    long_seconds: int  # what each host of a long run works
    quick_runs: int  # runs: users who start a 1-host quick run

    @classmethod
    def of(cls, smoke: bool) -> Scale:
        if smoke:
            return cls(hosts=4, viewers=20, users=2, browsers=1, seconds=3, lines_per_host_s=5,
                       strangers=40, long_runs=2, long_hosts=3, long_seconds=3, quick_runs=4)
        # runs: 3 × 60 + 17 = 197 of the 200 hosts (a 127.0.8.x /24 holds no 5 × 60 + 15)
        return cls(hosts=200, viewers=1000, users=25, browsers=3, seconds=30,
                   lines_per_host_s=5, strangers=1000, long_runs=3, long_hosts=60,
                   long_seconds=20, quick_runs=17)


class TeamBench(Bench):
    hosts_idle = True  # the figures are the dashboard's latency; the hosts stand in for others

    def app_config(self) -> dict:
        # every bench client comes from 127.0.0.1: the per-address limit would refuse them
        # (a real team's browsers have their own addresses, or X-Forwarded-For behind nginx)
        return {**super().app_config(), "MINKE_SOCKET_ADDRESS_LIMIT": 0}


# -- users -----------------------------------------------------------------------------------

def create_users(n_viewers: int) -> tuple[list[str], str]:
    """``admin``, viewers ``v00``… (who may see every run), ``other`` (the host list and the
    API); returns the viewers' names and other's API token."""
    from webapp.api.tokens import create_token
    from webapp.extensions import db
    from webapp.models import Role, User

    admin = Role(name="admin", permissions=["minke.admin"])
    viewer = Role(name="viewer", permissions=["minke.view_all_runs"])
    lister = Role(name="lister", permissions=["minke.view_hosts"])
    users = [User(name="admin", roles=[admin]), User(name="other", roles=[lister])]
    names = [f"v{i:02d}" for i in range(n_viewers)]
    users += [User(name=name, roles=[viewer]) for name in names]
    for user in users:
        user.set_password(PASSWORD)
    db.session.add_all(users)
    db.session.flush()
    _token, plain = create_token(users[1], "bench")
    db.session.commit()
    return names, plain


def http_login(base_url: str, name: str) -> str:
    """The Cookie header of a fresh login through the form."""
    import http.cookiejar
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base_url + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"name": name, "password": PASSWORD, "csrf_token": token})
    opener.open(base_url + "/login", data=form.encode(), timeout=30).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


# -- probes: another user's GETs while the scenario runs ---------------------------------------

class Prober(threading.Thread):
    """GETs ``paths`` in turn every ``interval`` s until stopped; latencies (None: timed out
    or failed) per path. A thread of the bench process: the viewers live in other processes,
    so their work does not delay these requests."""

    def __init__(self, url: str, paths: list[tuple[str, dict[str, str]]],
                 interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        parts = urllib.parse.urlsplit(url)
        self._host, self._port = parts.hostname, parts.port
        self._paths = paths
        self._interval = interval
        self._stop_event = threading.Event()
        self.times: dict[str, list[float | None]] = {path: [] for path, _ in paths}

    def get(self, path: str, headers: dict[str, str]) -> float | None:
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(self._host, self._port, timeout=PROBE_TIMEOUT)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
        finally:
            conn.close()
        return time.perf_counter() - t0 if ok else None

    def run(self) -> None:
        while not self._stop_event.is_set():
            for path, headers in self._paths:
                self.times[path].append(self.get(path, headers))
            self._stop_event.wait(self._interval)

    def stop(self) -> dict[str, dict[str, Any]]:
        self._stop_event.set()
        self.join()
        return {path: summary(times) for path, times in self.times.items()}


def summary(times: list[float | None]) -> dict[str, Any]:
    done = sorted(t for t in times if t is not None)
    p95 = done[min(len(done) - 1, int(0.95 * len(done)))] * 1000 if done else None
    failed = len(times) - len(done)
    return {"n": len(times), "failed": failed,
            "p95_ms": None if failed > 0.05 * len(times) else p95,  # p95 lies among failures
            "median_ms": statistics.median(done) * 1000 if done else None}


def p95_text(s: dict[str, Any]) -> str:
    if s["p95_ms"] is None:
        return f"{s['failed']}/{s['n']} timed out"
    text = f"{s['p95_ms']:.0f}"
    return text + (f" ({s['failed']} failed)" if s["failed"] else "")


# -- web process figures ------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def web_pid(server: LiveServer) -> int:
    """gunicorn's worker: the master's only child."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
    return int(children.split()[0])


# -- viewers: python-socketio clients in child processes ------------------------------------

def viewer_process(url: str, cookies: list[str], run_id: int, conn: Any) -> None:
    asyncio.run(_viewers(url, cookies, run_id, conn))


def fold(tally: dict[int, list[int]], batch: list[dict[str, Any]]) -> int:
    """Count a batch of a run's events into ``tally`` (per session: events, the highest seq
    so far, events out of order or again, the sum of their seqs); returns the run.finished
    events in it."""
    finished = 0
    for event in batch:
        if event["event"] == "run.finished":
            finished += 1
            continue
        if "session" not in event:  # the run's own (its place in the queue)
            continue
        mine = tally.get(event["session"])
        if mine is None:
            mine = tally[event["session"]] = [0, 0, 0, 0]
        seq = event["seq"]
        mine[0] += 1
        if seq <= mine[1]:
            mine[2] += 1
        else:
            mine[1] = seq
        mine[3] += seq
    return finished


class Texts:
    """The ``events`` messages a client process's lean viewers got, each distinct text kept
    once: the server sends every viewer of a room the same text, so a viewer keeps only the
    order of the texts it got, and the process parses each text once."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []
        self._tallies: dict[tuple[int, ...], tuple[dict[int, list[int]], int]] = {}

    def id_of(self, text: str) -> int:
        number = self.ids.get(text)
        if number is None:
            number = self.ids[text] = len(self.texts)
            self.texts.append(text)
        return number

    def tally(self, got: list[int]) -> tuple[dict[int, list[int]], int]:
        """A viewer's tally and run.finished count from the texts it got, in order (viewers
        that got the same texts share the work)."""
        key = tuple(got)
        if key not in self._tallies:
            tally: dict[int, list[int]] = {}
            finished = 0
            for number in got:
                packet = json.loads(self.texts[number][2:])  # 42["events", [...]]
                finished += fold(tally, packet[1])
            self._tallies[key] = (tally, finished)
        return self._tallies[key]


async def _viewers(url: str, cookies: list[str], run_id: int, conn: Any) -> None:
    """This process's share of the viewers: every FULL_CLIENT_EVERY-th a python-socketio
    client that decodes and counts every event as it comes, the others lean Engine.IO
    clients (aiohttp WebSockets speaking the protocol by hand, :class:`Texts`). The server
    cannot tell them apart; the lean ones leave the 2 cores to the server: 1,000
    python-socketio clients used three times the web process's CPU."""
    import aiohttp
    import socketio

    loop = asyncio.get_running_loop()
    warnings: dict[str, int] = {}  # why Engine.IO clients gave up, as their logger says

    class Counted(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = re.sub(r"\d+", "N", record.getMessage())[:80]
            warnings[text] = warnings.get(text, 0) + 1

    eio_log = logging.getLogger("bench.viewers.engineio")
    eio_log.propagate = False
    eio_log.setLevel(logging.WARNING)
    eio_log.addHandler(Counted())
    gate = asyncio.Semaphore(50)  # connects at once: a crowd, not a stampede on accept()
    texts = Texts()
    ws_url = url.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"

    class Viewer:
        """A python-socketio client, as an app of a user's would watch a run."""

        def __init__(self, cookie: str) -> None:
            self.cookie = cookie
            self.client = socketio.AsyncClient(reconnection=False, engineio_logger=eio_log)
            self.sessions: dict[int, list[int]] = {}  # fold()'s tally
            self.finished = 0
            self.finished_at: float | None = None  # time.time() of its run.finished
            self.joined = False
            self.joined_at = 0.0
            self.dropped = False
            self.closing = False  # the bench closes it: no drop
            self.error = ""
            self.client.on("events", self.on_events)
            self.client.on("disconnect", self.on_disconnect)

        async def on_events(self, batch: list[dict[str, Any]]) -> None:
            ended = fold(self.sessions, batch)
            if ended:
                self.finished += ended
                self.finished_at = self.finished_at or time.time()

        async def on_disconnect(self, *reason: Any) -> None:
            if self.joined and not self.closing:
                self.dropped = True
                self.error = (f"dropped: {reason[0] if reason else '?'} after "
                              f"{(time.monotonic() - self.joined_at) // 5 * 5:.0f} s")

        async def start(self) -> None:
            async with gate:
                try:
                    await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT)
                except Exception as exc:  # noqa: BLE001 - the figure is how many failed
                    self.error = type(exc).__name__
                    await self.close()

        async def _connect(self) -> None:
            await self.client.connect(url, headers={"Cookie": self.cookie},
                                      transports=["websocket"], wait_timeout=CONNECT_TIMEOUT)
            answer = await self.client.call("join", {"run": run_id}, timeout=CONNECT_TIMEOUT)
            self.joined = bool(answer and answer.get("ok"))
            self.joined_at = time.monotonic()

        async def close(self) -> None:
            await self.client.disconnect()

        def report(self) -> dict[str, Any]:
            return {"sessions": self.sessions, "finished": self.finished}

    class LeanViewer(Viewer):
        """Engine.IO 4 / Socket.IO 5 over one WebSocket, by hand: answers the server's
        pings, joins the run with an ack'ed ``join``, keeps the events texts' order."""

        def __init__(self, cookie: str, http: aiohttp.ClientSession) -> None:
            self.cookie = cookie
            self.http = http
            self.ws: aiohttp.ClientWebSocketResponse | None = None
            self.got: list[int] = []
            self.finished = 0
            self.finished_at = None
            self.joined = False
            self.joined_at = 0.0
            self.dropped = False
            self.error = ""
            self.closing = False
            self.reader: asyncio.Task | None = None
            self._ack: asyncio.Future = loop.create_future()

        async def _connect(self) -> None:
            self.ws = await self.http.ws_connect(ws_url, headers={"Cookie": self.cookie},
                                                 autoping=False, max_msg_size=0)
            opened = await self.ws.receive_str()
            if not opened.startswith("0"):
                raise ConnectionError(f"no Engine.IO open packet: {opened[:40]}")
            await self.ws.send_str("40")
            connected = await self.ws.receive_str()
            if not connected.startswith("40"):
                raise ConnectionError(f"connect refused: {connected[:60]}")
            self.reader = asyncio.create_task(self._read())
            await self.ws.send_str(f'420["join",{{"run":{run_id}}}]')
            answer = await self._ack
            self.joined = bool(answer and answer.get("ok"))
            self.joined_at = time.monotonic()

        async def _read(self) -> None:
            assert self.ws is not None
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = message.data
                if data.startswith("42"):
                    self.got.append(texts.id_of(data))
                    if '"run.finished"' in data and self.finished_at is None:
                        self.finished_at = time.time()
                elif data == "2":
                    await self.ws.send_str("3")
                elif data.startswith("430") and not self._ack.done():
                    self._ack.set_result(json.loads(data[3:])[0])
            if not self._ack.done():
                self._ack.set_exception(ConnectionError("closed before the join's answer"))
            if self.joined and not self.closing:
                self.dropped = True
                self.error = (f"dropped: closed ({self.ws.close_code}) after "
                              f"{(time.monotonic() - self.joined_at) // 5 * 5:.0f} s")

        async def close(self) -> None:
            self.closing = True
            if self.ws is not None:
                await self.ws.close()
            if self.reader is not None:
                await asyncio.gather(self.reader, return_exceptions=True)

        def report(self) -> dict[str, Any]:
            sessions, finished = texts.tally(self.got)
            return {"sessions": sessions, "finished": finished}

    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=None))
    viewers = [Viewer(cookie) if i % FULL_CLIENT_EVERY == 0 else LeanViewer(cookie, http)
               for i, cookie in enumerate(cookies)]
    await asyncio.gather(*(v.start() for v in viewers))
    errors: dict[str, int] = {}
    for v in viewers:
        if v.error:
            errors[v.error] = errors.get(v.error, 0) + 1
    conn.send({"joined": sum(v.joined for v in viewers), "errors": errors})
    await loop.run_in_executor(None, conn.recv)  # "stop": the run finished
    # what is still on its way (a server behind its viewers) is late, not lost: wait for it
    deadline = time.monotonic() + DELIVERY_WAIT
    while time.monotonic() < deadline and any(
            v.joined and not v.dropped and v.finished_at is None for v in viewers):
        await asyncio.sleep(0.1)
    report = {"viewers": [{**v.report(), "joined": v.joined, "dropped": v.dropped,
                           "error": v.error, "finished_at": v.finished_at,
                           "lean": isinstance(v, LeanViewer)} for v in viewers],
              "warnings": dict(warnings)}
    for v in viewers:
        v.closing = True
    await asyncio.gather(*(v.close() for v in viewers), return_exceptions=True)
    await http.close()
    conn.send(report)


def stream_truth(bench: Bench, run_id: int) -> dict[int, tuple[int, int]]:
    """Per session of the run: its events in the run's Redis stream (what the CLI reads) and
    the sum of their sequence numbers."""
    from webapp.engine import events as ev

    truth: dict[int, list[int]] = {}
    last = "0"
    while True:
        last, batch = ev.read_events(bench.redis, bench.state.keys, run_id, last, block_ms=None)
        if not batch:
            return {sid: (n, total) for sid, (n, total) in truth.items()}
        for event in batch:
            if "session" in event:
                mine = truth.setdefault(event["session"], [0, 0])
                mine[0] += 1
                mine[1] += event["seq"]


def compare(truth: dict[int, tuple[int, int]], viewer: dict[str, Any]) -> tuple[int, int]:
    """(lost, duplicated) events of one viewer against the stream."""
    lost = duplicated = 0
    got = viewer["sessions"]
    for sid, (n, total) in truth.items():
        count, _last, again, seq_sum = got.get(sid, (0, 0, 0, 0))
        duplicated += again
        lost += max(0, n - (count - again))
        if count - again == n and seq_sum != total:  # as many, but not the same ones
            lost += 1
    duplicated += sum(v[0] for sid, v in got.items() if sid not in truth)
    if viewer["finished"] != 1:
        lost += viewer["finished"] == 0
        duplicated += max(0, viewer["finished"] - 1)
    return lost, duplicated


# -- the scenarios -------------------------------------------------------------------------

def printing_command(scale: Scale) -> str:
    """Each host prints ``lines_per_host_s`` lines, then sleeps a second, ``seconds`` times:
    one ``sleep`` process per host and second, so that sshd's hosts stay cheap."""
    lines = "\\n".join(f"line %s.{j} of a host that works" for j in range(scale.lines_per_host_s))
    args = " ".join("$i" for _ in range(scale.lines_per_host_s))
    return (f"i=0; while [ $i -lt {scale.seconds} ]; do printf '{lines}\\n' {args}; "
            f"i=$((i+1)); sleep 1; done")


def viewers(bench: Bench, server: LiveServer, scale: Scale, ctx: dict[str, Any]) -> dict:
    from playwright.sync_api import sync_playwright

    pid = web_pid(server)
    names = ctx["viewer_names"]
    cookies = [http_login(server.url, name) for name in names]
    other = http_login(server.url, "other")
    run = bench.dispatch("BenchCommandSession", bench.host_ids[:scale.hosts],
                         data={"cmd": printing_command(scale)}, concurrency=scale.hosts,
                         threads=scale.hosts)
    rss_before = proc_memory(pid)["VmRSS"]

    mp = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for k in range(CLIENT_PROCESSES):
        share = [cookies[i % len(cookies)] for i in range(k, scale.viewers, CLIENT_PROCESSES)]
        parent, child = mp.Pipe()
        proc = mp.Process(target=viewer_process, args=(server.url, share, run.run_id, child))
        proc.start()
        child.close()  # a child that dies is then an EOFError, not a recv() forever
        pipes.append(parent)
        procs.append(proc)
    t0 = time.perf_counter()
    reports = [pipe.recv() for pipe in pipes]
    connect_s = time.perf_counter() - t0
    joined = sum(r["joined"] for r in reports)
    errors: dict[str, int] = {}
    for r in reports:
        for name, n in r["errors"].items():
            errors[name] = errors.get(name, 0) + n
    rss_joined = proc_memory(pid)["VmRSS"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages, page_errors = [], []
        try:
            for _ in range(scale.browsers):
                context = browser.new_context(base_url=server.url)
                context.set_default_timeout(30_000)
                page = context.new_page()
                page.on("pageerror", lambda e: page_errors.append(str(e)))
                page.goto("/login")
                page.get_by_label("User name").fill("admin")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(lambda url: "/login" not in url)
                page.goto(f"/runs/{run.run_id}")
                pages.append(page)
        except Exception as exc:  # noqa: BLE001 - the old model may not serve them
            page_errors.append(f"{type(exc).__name__}: {str(exc)[:100]}")

        prober = Prober(server.url, [("/objects/host/", {"Cookie": other}),
                                     ("/api/v1/objects/Host",
                                      {"Authorization": f"Bearer {ctx['token']}"})])
        cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
        prober.start()
        bench.start_worker()
        try:
            bench.wait_finished(run.run_id, timeout=scale.seconds * 4 + 60)
            finished = True
        except BenchError:
            finished = False
        run_end = time.time()
        time.sleep(2)  # the last batch on its way through Redis to every socket
        probes = prober.stop()
        cpu = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
        rss_peak = proc_memory(pid)["VmHWM"]
        pages_final = 0
        for page in pages:
            try:
                page.wait_for_function(
                    "f => [...document.querySelectorAll('#results tbody tr')].every("
                    "r => f.includes(r.dataset.proc))", arg=list(FINAL), timeout=20_000)
                pages_final += 1
            except Exception as exc:  # noqa: BLE001 - counted: a page that never got there
                page_errors.append(f"{type(exc).__name__}")
        browser.close()

    for pipe in pipes:
        pipe.send("stop")
    answers = [pipe.recv() for pipe in pipes]
    seen = [v for answer in answers for v in answer["viewers"]]
    for answer in answers:
        for text, n in answer["warnings"].items():
            errors[text] = errors.get(text, 0) + n
    for proc in procs:
        proc.join(30)
    for worker in list(bench.workers):
        bench.stop_worker(worker)
    truth = stream_truth(bench, run.run_id)
    events_total = sum(n for n, _ in truth.values())
    lost = duplicated = complete = 0
    for viewer in seen:
        if not viewer["joined"]:
            continue
        v_lost, v_dup = compare(truth, viewer)
        lost += v_lost
        duplicated += v_dup
        complete += v_lost == 0 and v_dup == 0
    for viewer in seen:
        if viewer["dropped"]:
            errors[viewer["error"]] = errors.get(viewer["error"], 0) + 1
    lags = [viewer["finished_at"] - run_end if viewer["finished_at"] else None
            for viewer in seen if viewer["joined"]]
    return {
        "lag": summary(lags),
        "joined": joined, "join_errors": errors, "connect_s": connect_s,
        "complete": complete, "lost": lost, "duplicated": duplicated,
        "dropped": sum(v["dropped"] for v in seen), "finished": finished,
        "events": events_total, "pages_final": pages_final, "page_errors": page_errors,
        "probes": probes, "cpu": cpu,
        "rss_before": rss_before, "rss_joined": rss_joined, "rss_peak": rss_peak,
        "rss_per_viewer": (rss_joined - rss_before) / joined if joined else None,
    }


def strangers(bench: Bench, server: LiveServer, scale: Scale, ctx: dict[str, Any]) -> dict:
    prober = Prober(server.url, [("/login", {})], interval=0.05)
    before = [prober.get("/login", {}) for _ in range(40)]
    mp = multiprocessing.get_context("fork")
    parent, child = mp.Pipe()
    proc = mp.Process(target=stranger_process, args=(server.url, scale.strangers, child))
    prober.start()
    proc.start()
    child.close()  # a child that dies is then an EOFError, not a recv() forever
    outcome = parent.recv()
    during = prober.stop()["/login"]
    proc.join(30)
    return {"login_before": summary(before), "login_during": during, **outcome}


def stranger_process(url: str, n: int, conn: Any) -> None:
    conn.send(asyncio.run(_strangers(url, n)))


async def _strangers(url: str, n: int) -> dict[str, int]:
    import aiohttp

    counts = {"refused": 0, "upgraded": 0, "failed": 0}
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    async def attempt(session: aiohttp.ClientSession) -> None:
        try:
            ws = await session.ws_connect(ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=5),
                                          autoping=False)
        except aiohttp.WSServerHandshakeError as error:
            counts["refused" if error.status in (401, 403, 429) else "failed"] += 1
            return
        except (TimeoutError, aiohttp.ClientError):
            counts["failed"] += 1
            return
        counts["upgraded"] += 1
        await asyncio.sleep(5)  # a stranger holds what it got, saying nothing
        await ws.close()

    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT * 2)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(attempt(session) for _ in range(n)))
    return counts


# -- runs: a team starts runs at once on one worker process -----------------------------------

QUICK_COMMAND = "uname -a"
RUNS_SESSION = "BenchCommandSession"
CORES = os.cpu_count() or 1
# (name, worker processes, their config): new is MINKE_WORKER_SLOTS' default in one process;
# cores is as many slots in all, in one process per core (docs/deploy.md)
WORKER_MODELS = (("old", 1, {"worker_slots": 1}), ("new", 1, {}),
                 ("cores", CORES, {"worker_slots": max(1, 16 // CORES)}))


def create_runners(n: int) -> list[tuple[str, str]]:
    """Users ``r00``… who may run the bench's command session on hosts (and list them), each
    with an API token; returns (name, token) pairs."""
    from sessions import REGISTRY
    from webapp.api.tokens import create_token
    from webapp.extensions import db
    from webapp.models import Role, User
    from webapp.models.auth import VIEW_HOSTS

    role = Role(name="runner",
                permissions=[*REGISTRY.get(RUNS_SESSION).permissions, VIEW_HOSTS])
    users = [User(name=f"r{i:02d}", roles=[role]) for i in range(n)]
    for user in users:
        user.set_password(PASSWORD)
    db.session.add_all(users)
    db.session.flush()
    runners = [(user.name, create_token(user, "bench")[1]) for user in users]
    # nothing read after the commit: a lazy load would begin a transaction, and on SQLite
    # every transaction of the app begins with BEGIN IMMEDIATE and would block the server
    db.session.commit()
    return runners


def long_command(scale: Scale) -> str:
    """A line a second for ``long_seconds`` s, one ``sleep`` process per host and second."""
    return (f"i=0; while [ $i -lt {scale.long_seconds} ]; do echo \"tick $i of a long run\"; "
            f"i=$((i+1)); sleep 1; done")


def runs_hosts(scale: Scale) -> int:
    """Hosts the runs scenario needs: each long run its own, each quick run one more."""
    return scale.long_runs * scale.long_hosts + scale.quick_runs


@dataclass
class UserRun:
    """One user's run, as their clients saw it (perf_counter times)."""

    name: str
    kind: str  # "quick" or "long"
    body: dict[str, Any]
    headers: dict[str, str]
    cookie: str
    run_id: int | None = None
    t0: float = 0.0  # just before the POST
    wall0: float = 0.0  # time.time() then, against the times the worker stored
    t_posted: float | None = None
    t_first: float | None = None  # the first of its sessions in a final state
    t_finished: float | None = None  # run.finished
    joined: bool = False
    queue_doc: dict[str, Any] | None = None  # the run document's queue, read after the join
    queue_live: int | None = None  # the highest place a run.queue event gave
    error: str = ""
    started: float | None = None  # its first session's stored start and end (time.time())
    ended: float | None = None


class CpuSampler(threading.Thread):
    """Every 0.25 s: the machine's busy CPU seconds (all processes, ours and others'), and
    those of the worker and the web process, to say what the cores did in a time window."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop_event = threading.Event()

    def sample(self) -> None:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        values = {"machine": (sum(fields[:8]) - fields[3] - fields[4]) / 100}  # not idle/iowait
        for name, pid in self.pids.items():
            try:
                values[name] = cpu_seconds(pid)
            except OSError:
                values[name] = float("nan")
        self.samples.append((time.perf_counter(), values))

    def run(self) -> None:
        while not self._stop_event.wait(0.25):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def cores(self, t_from: float, t_to: float) -> dict[str, float] | None:
        """Cores each used on average between the samples nearest the two times."""
        if not self.samples:
            return None
        a = min(self.samples, key=lambda x: abs(x[0] - t_from))
        b = min(self.samples, key=lambda x: abs(x[0] - t_to))
        if b[0] - a[0] < 0.2:
            return None
        cores = {key: (b[1][key] - a[1][key]) / (b[0] - a[0]) for key in a[1]}
        cores["worker"] = sum(v for key, v in cores.items() if key.startswith("worker"))
        return cores


def runs_scenario_once(server: LiveServer, runs: list[UserRun], deadline_s: float) -> float:
    """Every user (a python-socketio client with their cookie, an HTTP client with their
    token) starts their run at the same moment; returns the barrier's perf_counter."""
    return asyncio.run(_runs_at_once(server.url, runs, deadline_s))


async def _runs_at_once(url: str, runs: list[UserRun], deadline_s: float) -> float:
    import aiohttp
    import socketio

    from webapp.status import COUNTED
    from webapp.status import FINAL as FINAL_BADGES

    final_keys = {COUNTED.index(key) for key in FINAL_BADGES}
    go = asyncio.Event()
    done = {id(r): asyncio.Event() for r in runs}
    clients = {}

    def handler(r: UserRun) -> Callable[[list[dict[str, Any]]], Any]:
        async def on_events(batch: list[dict[str, Any]]) -> None:
            now = time.perf_counter()
            for event in batch:
                if event.get("run") != r.run_id:
                    continue
                name = event["event"]
                if (name == "session.status" and r.t_first is None
                        and event.get("proc_status") in FINAL):
                    r.t_first = now
                elif name == "run.queue" and event.get("position"):
                    r.queue_live = max(r.queue_live or 0, event["position"])
                elif name == "run.finished":
                    r.t_finished = now
                    done[id(r)].set()
        return on_events

    async def connect(r: UserRun) -> None:
        client = socketio.AsyncClient(reconnection=False)
        client.on("events", handler(r))
        await client.connect(url, headers={"Cookie": r.cookie}, transports=["websocket"],
                             wait_timeout=CONNECT_TIMEOUT)
        clients[id(r)] = client

    async def user(r: UserRun, http: aiohttp.ClientSession) -> None:
        await go.wait()
        r.t0, r.wall0 = time.perf_counter(), time.time()
        async with http.post(url + "/api/v1/runs", json=r.body, headers=r.headers) as answer:
            doc = await answer.json()
            if answer.status != 201:
                r.error = f"POST {answer.status}: {doc}"
                return
        r.t_posted = time.perf_counter()
        r.run_id = doc["id"]
        # as a run page does: join the run's room, with every session's badge so far
        joined = await clients[id(r)].call("join", {"run": r.run_id, "statuses": True},
                                           timeout=CONNECT_TIMEOUT)
        now = time.perf_counter()
        r.joined = bool(joined and joined.get("ok"))
        if not r.joined:
            r.error = f"join: {joined}"
            return
        if r.t_first is None and final_keys & set(joined["statuses"]["keys"]):
            r.t_first = now
        if joined.get("finished") and r.t_finished is None:
            r.t_finished = now
            done[id(r)].set()
        async with http.get(f"{url}/api/v1/runs/{r.run_id}", headers=r.headers) as answer:
            r.queue_doc = (await answer.json()).get("queue")
        try:
            await asyncio.wait_for(done[id(r)].wait(), max(1.0, deadline_s))
        except TimeoutError:
            r.error = r.error or "no run.finished in time"

    await asyncio.gather(*(connect(r) for r in runs))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [asyncio.create_task(user(r, http)) for r in runs]
        await asyncio.sleep(0.2)  # every task waits at the barrier
        barrier = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks, return_exceptions=False)
    await asyncio.gather(*(c.disconnect() for c in clients.values()), return_exceptions=True)
    return barrier


def runs(bench: Bench, server: LiveServer, scale: Scale, ctx: dict[str, Any]) -> dict:
    """The same team of users starts the same runs at once, once per worker model (one
    worker process each, fresh), after a warm-up run that stores the hosts' keys."""
    for worker in list(bench.workers):
        bench.stop_worker(worker)
    n_long = scale.long_runs * scale.long_hosts
    hosts = bench.host_ids[:n_long + scale.quick_runs]
    # warm-up: the hosts' keys stored (accept-new) before either model is measured
    bench.start_worker()
    warm = bench.dispatch(RUNS_SESSION, hosts, data={"cmd": "true"})
    bench.wait_finished(warm.run_id, timeout=120)
    for worker in list(bench.workers):
        bench.stop_worker(worker)

    runners = ctx["runners"]
    cookies = {name: http_login(server.url, name) for name, _token in runners}
    waves = -(-scale.long_hosts // 50)  # MINKE_CONCURRENCY's default: 50 hosts at once
    deadline_s = scale.long_runs * waves * scale.long_seconds * 2 + scale.quick_runs + 60
    results: dict[str, dict] = {}
    for model, processes, minke in WORKER_MODELS:
        if model not in ctx["workers"]:
            continue
        print(f"     runs: worker {model}: {processes} × {minke or '(default slots)'}…",
              flush=True)
        workers = [bench.start_worker(**minke) for _ in range(processes)]
        slots = sum(announced_slots(bench, worker) or 0 for worker in workers)
        team: list[UserRun] = []
        for i, (name, token) in enumerate(runners):
            if i < scale.long_runs:
                ids = hosts[i * scale.long_hosts:(i + 1) * scale.long_hosts]
                cmd, kind = long_command(scale), "long"
            else:
                ids = [hosts[n_long + i - scale.long_runs]]
                cmd, kind = QUICK_COMMAND, "quick"
            team.append(UserRun(name, kind, {
                "session": RUNS_SESSION, "objects": {"model": "Host", "ids": ids},
                "data": {"cmd": cmd}}, {"Authorization": f"Bearer {token}"}, cookies[name]))
        sampler = CpuSampler({"web": web_pid(server),
                              **{f"worker{i}": w.pid for i, w in enumerate(workers)}})
        sampler.sample()
        sampler.start()
        barrier = runs_scenario_once(server, team, deadline_s)
        sampler.stop()
        unfinished = [r.run_id for r in team if r.run_id is not None and r.t_finished is None]
        for run_id in unfinished:  # the next model starts from nothing running
            try:
                bench.wait_finished(run_id, timeout=deadline_s)
            except BenchError as error:
                print(f"   warning: {error}", flush=True)
        statuses: dict[str, int] = {}
        for r in team:
            if r.run_id is not None:
                rows = bench.run_rows(r.run_id)
                for key, n in rows["statuses"].items():
                    statuses[key] = statuses.get(key, 0) + n
                first = min(rows["sessions"], key=lambda x: x.id)
                r.started = as_utc_timestamp(first.start_time)
                r.ended = as_utc_timestamp(first.end_time)
        for worker in workers:
            bench.stop_worker(worker)
        waits = [r.t_first for r in team if r.kind == "quick" and r.t_first is not None]
        results[model] = {"slots": slots, "processes": processes, "team": team, "barrier": barrier,
                          "statuses": statuses,
                          "cores": sampler.cores(barrier, max(waits)) if waits else None}
    return results


def announced_slots(bench: Bench, worker: Any) -> int | None:
    """The slots the worker process announced in its rq registration (what it runs)."""
    from rq import Worker

    from webapp.engine.worker.slots import SLOTS_FIELD

    deadline = time.monotonic() + 10  # the field follows rq's registration a moment later
    while time.monotonic() < deadline:
        for registered in Worker.all(connection=bench.redis):
            if registered.pid == worker.pid:
                value = bench.redis.hget(registered.key, SLOTS_FIELD)
                if value is not None:
                    return int(value)
        time.sleep(0.05)
    return None


def nearest_rank(values: list[float], q: float) -> float | None:
    """The ``q`` quantile of ``values`` by nearest rank (summary()'s way: p95 of 17 is the
    17th)."""
    done = sorted(values)
    return done[min(len(done) - 1, int(q * len(done)))] if done else None


def runs_figures(result: dict[str, Any]) -> dict[str, Any]:
    team: list[UserRun] = result["team"]
    quick = [r for r in team if r.kind == "quick"]
    long = [r for r in team if r.kind == "long"]
    waits = [r.t_first - r.t0 for r in quick if r.t_first is not None]
    totals = [r.t_finished - r.t0 for r in long if r.t_finished is not None]
    places = [r.queue_doc["position"] for r in quick if r.queue_doc]
    ends = [r.t_finished for r in team if r.t_finished is not None]
    posts = [r.t_posted - r.t0 for r in team if r.t_posted is not None]
    sessions = sum(result["statuses"].values())

    def phase(fn: Callable[[UserRun], float | None]) -> tuple[float | None, float | None]:
        values = [v for v in (fn(r) for r in quick) if v is not None]
        return (statistics.median(values) if values else None, nearest_rank(values, 0.95))

    return {
        "posted": phase(lambda r: r.t_posted - r.t0 if r.t_posted else None),
        "started": phase(lambda r: r.started - r.wall0 if r.started else None),
        "ran": phase(lambda r: r.ended - r.started if r.started and r.ended else None),
        "seen": phase(lambda r: (r.t_first - r.t0) - (r.ended - r.wall0)
                      if r.t_first and r.ended else None),
        "cores": result["cores"],
        "quick": len(quick), "results": len(waits),
        "p50": statistics.median(waits) if waits else None,
        "p95": nearest_rank(waits, 0.95), "max": max(waits) if waits else None,
        "queued": len(places), "places": (min(places), max(places)) if places else None,
        "queued_live": sum(1 for r in quick if r.queue_live),
        "long": totals, "all_done": max(ends) - result["barrier"] if ends else None,
        "post_p95": nearest_rank(posts, 0.95), "sessions": sessions,
        "success": result["statuses"].get("completed/success", 0),
        "errors": [f"{r.name}: {r.error}" for r in team if r.error],
    }


def runs_rows(results: dict[str, dict], scale: Scale) -> list[list[Any]]:
    f = {model: runs_figures(result) for model, result in results.items()}
    models = list(results)

    def each(fn: Callable[[dict], Any]) -> list[Any]:
        return [fn(f[m]) for m in models]

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    def pair(values: tuple[float | None, float | None]) -> str:
        return f"{secs(values[0])} / {secs(values[1])}"

    return [
        ["worker processes × slots (announced)",
         *(f"{results[m]['processes']} × {results[m]['slots'] // results[m]['processes']}"
           for m in models)],
        [f"quick runs with a first result (of {scale.quick_runs})",
         *each(lambda x: x["results"])],
        ["quick: dispatch → first result p50, s", *each(lambda x: secs(x["p50"]))],
        ["quick: dispatch → first result p95, s", *each(lambda x: secs(x["p95"]))],
        ["quick: dispatch → first result max, s", *each(lambda x: secs(x["max"]))],
        ["  of which: POST answered, p50 / p95 s", *each(lambda x: pair(x["posted"]))],
        ["  its session started (stored), p50 / p95 s", *each(lambda x: pair(x["started"]))],
        ["  the session ran (start → end), p50 / p95 s", *each(lambda x: pair(x["ran"]))],
        ["  end → its user saw it, p50 / p95 s", *each(lambda x: pair(x["seen"]))],
        ["CPU until the last quick result: machine / worker / web, cores",
         *each(lambda x: " / ".join(f"{x['cores'][k]:.2f}" for k in ("machine", "worker", "web"))
               if x["cores"] else "-")],
        ["quick runs queued (run doc), places",
         *each(lambda x: f"{x['queued']}" + (f" ({x['places'][0]}-{x['places'][1]})"
                                             if x["places"] else ""))],
        ["quick runs told a place live (run.queue)", *each(lambda x: x["queued_live"])],
        [f"long runs ({scale.long_runs} × {scale.long_hosts} hosts) total, s",
         *each(lambda x: " / ".join(f"{t:.1f}" for t in sorted(x["long"])) or "-")],
        [f"all {scale.long_runs + scale.quick_runs} runs finished after, s",
         *each(lambda x: secs(x["all_done"]))],
        ["POST /api/v1/runs p95, ms",
         *each(lambda x: "-" if x["post_p95"] is None else f"{x['post_p95'] * 1000:.0f}")],
        ["sessions completed/success (of all)",
         *each(lambda x: f"{x['success']} / {x['sessions']}")],
    ]


def runs_judged(result: dict[str, Any], scale: Scale) -> bool:
    f = runs_figures(result)
    return (f["results"] == scale.quick_runs and f["p95"] is not None and f["p95"] < 1.0
            and f["success"] == f["sessions"] and not f["errors"])


def print_runs(results: dict[str, dict], scale: Scale, server_model: str, smoke: bool) -> None:
    labels = {"old": "old: 1 slot (before issue 18)", "new": "new: default slots",
              "cores": "a process per core"}
    table(f"team runs: {scale.long_runs + scale.quick_runs} users start runs at once on one "
          f"worker process: {scale.long_runs} long ({scale.long_hosts} hosts, "
          f"{scale.long_seconds} s each), {scale.quick_runs} quick (1 host, {QUICK_COMMAND})",
          ["", *(labels.get(m, m) for m in results)], runs_rows(results, scale),
          notes=[f"through real clients on one web process ({server_model}): each user POSTs "
                 f"/api/v1/runs with their own token at one barrier, and watches the run with "
                 f"a python-socketio client of their own (cookie; joined right after the POST, "
                 f"with the sessions' badges so far)",
                 "first result: the first of the run's sessions in a final state (a "
                 "session.status event, or a final badge in the join's answer); queued: the "
                 "run document's queue field, GET right after the join",
                 "one fresh worker process per column, the same hosts (keys stored by a "
                 "warm-up run), all runs finished between; long runs at the default "
                 "concurrency (50 hosts at once); the long runs' users are the first tasks "
                 "at the barrier, so their POSTs tend to reach the server first",
                 *(f"target ({model}): quick runs' p95 < 1 s, every session successful: "
                   f"{verdict(runs_judged(results[model], scale), smoke)}"
                   for model in results if model != "old")])
    for model, result in results.items():
        team = result["team"]
        quick = sorted((r for r in team if r.kind == "quick" and r.t_first is not None),
                       key=lambda r: r.t0 - r.t_first)
        # the 3 slowest, and what the run document said of any other that was queued
        shown = quick[:3] + [r for r in quick[3:] if r.queue_doc][:3]
        for r in shown:
            note = r.queue_doc["text"] if r.queue_doc else "not queued when read"
            phases = (f" (session started +{r.started - r.wall0:.2f} s, ran "
                      f"{r.ended - r.started:.2f} s)" if r.started and r.ended else "")
            print(f"   {model}: run #{r.run_id} ({r.name}) first result after "
                  f"{r.t_first - r.t0:.2f} s{phases}; {note}")
        errors = runs_figures(result)["errors"]
        if errors:
            print(f"   {model} errors: {str(errors)[:500]}")


SCENARIOS: list[tuple[str, Callable[..., dict]]] = [("viewers", viewers),
                                                    ("strangers", strangers), ("runs", runs)]
PER_SERVER_MODEL = ("viewers", "strangers")  # runs: on the last server model only


# -- the table -------------------------------------------------------------------------------

def rows(results: dict[str, dict[str, dict]], scale: Scale) -> list[list[Any]]:
    models = list(results)
    v = {m: results[m].get("viewers") for m in models}
    s = {m: results[m].get("strangers") for m in models}
    mib = 1024 * 1024

    def each(fn: Callable[[dict], Any], d: dict) -> list[Any]:
        return [fn(d[m]) if d[m] else "-" for m in models]

    return [
        [f"viewers joined (of {scale.viewers})", *each(lambda r: r["joined"], v)],
        ["connect + join all, s", *each(lambda r: f"{r['connect_s']:.1f}", v)],
        ["viewers with every event", *each(lambda r: r["complete"], v)],
        ["events in the run's stream", *each(lambda r: r["events"], v)],
        ["events lost (all viewers)", *each(lambda r: r["lost"], v)],
        ["events duplicated", *each(lambda r: r["duplicated"], v)],
        ["viewers disconnected", *each(lambda r: r["dropped"], v)],
        ["run end → viewer got its end, p50 / p95 ms", *each(lambda r: lag_text(r["lag"]), v)],
        [f"browser pages final (of {scale.browsers})", *each(lambda r: r["pages_final"], v)],
        ["list page p95 ms, during", *each(lambda r: p95_text(r["probes"]["/objects/host/"]), v)],
        ["API p95 ms, during",
         *each(lambda r: p95_text(r["probes"]["/api/v1/objects/Host"]), v)],
        ["web CPU during the run, cores", *each(lambda r: f"{r['cpu']:.2f}", v)],
        ["web RSS before / joined, MiB",
         *each(lambda r: f"{r['rss_before'] / mib:.0f} / {r['rss_joined'] / mib:.0f}", v)],
        ["web RSS per viewer, KiB",
         *each(lambda r: f"{r['rss_per_viewer'] / 1024:.0f}" if r["rss_per_viewer"] else "-",
               v)],
        [f"strangers refused (of {scale.strangers})", *each(lambda r: r["refused"], s)],
        ["strangers upgraded / failed",
         *each(lambda r: f"{r['upgraded']} / {r['failed']}", s)],
        ["GET /login p95 ms, before", *each(lambda r: p95_text(r["login_before"]), s)],
        ["GET /login p95 ms, during", *each(lambda r: p95_text(r["login_during"]), s)],
    ]


def lag_text(s: dict[str, Any]) -> str:
    """How late the run's last event reached the viewers (those that never got it: failed)."""
    if s["median_ms"] is None:
        return "none got it"
    return f"{s['median_ms']:.0f} / {p95_text(s)}"


def judged(result: dict[str, dict]) -> bool:
    v, s = result.get("viewers"), result.get("strangers")
    ok = True
    if v is not None:
        fast = all(p["p95_ms"] is not None and p["p95_ms"] < 100 for p in v["probes"].values())
        ok = v["complete"] == v["joined"] and v["lost"] == 0 and v["duplicated"] == 0 and fast
    if s is not None:
        ok = ok and s["upgraded"] == 0 and s["failed"] == 0
    return ok


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--models", default="gthread,gevent",
                   help="server models to compare, in order (scripts/webserver.py); the runs "
                        "scenario uses the last one")
    p.add_argument("--scenarios", default="viewers,strangers,runs",
                   help="which scenarios, of: " + ",".join(name for name, _ in SCENARIOS))
    p.add_argument("--viewers", type=int, default=None, help="override the number of viewers")
    p.add_argument("--seconds", type=int, default=None, help="override the run's duration")
    p.add_argument("--workers", default="old,new",
                   help="the runs scenario's worker models, of: old,new,cores (cores: one "
                        "process per core, as many slots in all)")
    args = p.parse_args()
    scale = Scale.of(args.smoke)
    scale.viewers = args.viewers or scale.viewers
    scale.seconds = args.seconds or scale.seconds
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(chosen) - {name for name, _ in SCENARIOS})
    if unknown or not chosen or not models:
        p.error(f"unknown scenario {', '.join(unknown)}" if unknown else "nothing to run")
    per_model = [name for name in PER_SERVER_MODEL if name in chosen]
    banner("team", args)
    results: dict[str, dict[str, dict]] = {}
    runs_result: dict[str, dict] | None = None
    n_hosts = max(scale.hosts, runs_hosts(scale) if "runs" in chosen else 0)
    with TeamBench("team", args, n_hosts) as bench:
        names, token = create_users(scale.users)
        ctx: dict[str, Any] = {"viewer_names": names, "token": token,
                               "workers": [w.strip() for w in args.workers.split(",")]}
        if "runs" in chosen:
            ctx["runners"] = create_runners(scale.long_runs + scale.quick_runs)
        for model in models if per_model else models[-1:]:
            results[model] = {}
            server = start_server(bench.env(), bench.workdir / f"gunicorn-{model}.log",
                                  model=model)
            try:
                for name, scenario in SCENARIOS:
                    if name not in chosen or (name == "runs" and model != models[-1]):
                        continue
                    print(f"   {model}: {name}…", flush=True)
                    found = scenario(bench, server, scale, ctx)
                    if name == "runs":
                        runs_result = found
                    else:
                        results[model][name] = found
            finally:
                stop_process(server.proc, 10)
    if per_model:
        socket_table(results, models, scale, args.smoke)
    if runs_result is not None:
        print_runs(runs_result, scale, models[-1], args.smoke)
    return 0


def socket_table(results: dict[str, dict[str, dict]], models: list[str], scale: Scale,
                 smoke: bool) -> None:
    labels = {"gthread": "old: gthread, 50 threads", "gevent": "new: gevent (scripts/start)"}
    table(f"team: {scale.viewers} viewers of a {scale.hosts}-host run, "
          f"{scale.hosts * scale.lines_per_host_s} lines/s for {scale.seconds} s; "
          f"{scale.strangers} anonymous WebSockets",
          ["", *(labels.get(m, m) for m in models)], rows(results, scale),
          notes=[f"{len(models)} web processes in turn, one at a time, each fresh; "
                 f"viewers: {scale.users} users' cookies, {CLIENT_PROCESSES} client processes, "
                 f"1 in {FULL_CLIENT_EVERY} a python-socketio client, the others lean; "
                 f"probe timeout {PROBE_TIMEOUT:.0f} s, connect timeout {CONNECT_TIMEOUT:.0f} s",
                 f"targets (new model): every viewer every event, list/API p95 < 100 ms, "
                 f"strangers all refused: "
                 f"{verdict(judged(results[models[-1]]), smoke)}"])
    for model in models:
        for key in ("join_errors", "page_errors"):
            found = results[model].get("viewers", {}).get(key)
            if found:
                print(f"   {model} {key}: {str(found)[:300]}")


if __name__ == "__main__":
    sys.exit(main())
