"""A team at once (issue 18), through real clients against the app under gunicorn, one web
process, a real worker, real sshd hosts. Each scenario is a function of (bench, server,
scale) returning its figures; each server model (``--models``) gets a fresh web process
and every scenario; one table puts the models side by side.

Socket half:

1. viewers: VIEWERS python-socketio clients (the session cookies of USERS users, in two
   client processes) plus BROWSERS headless Chromium pages watch one run of HOSTS hosts
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

    .venv/bin/python bench/team.py [--smoke] [--database-url URL] [--models gthread,gevent]
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
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
from .common import Bench, BenchError, banner, parser, proc_memory, table, verdict  # noqa: E402

common.SUBNETS.setdefault("team", 8)  # this bench's loopback /24: 127.0.8.x

from scripts.loopback import stop_process  # noqa: E402
from tests.web_services import CHROMIUM, CHROMIUM_ARGS, LiveServer, start_server  # noqa: E402

PASSWORD = "bench-password"
FINAL = ("completed", "stopped", "canceled", "failed")
PROBE_TIMEOUT = 5.0  # seconds a probe GET may take before it counts as timed out
CONNECT_TIMEOUT = 10.0  # seconds a viewer's connect + join may take
CLIENT_PROCESSES = 2


@dataclass
class Scale:
    hosts: int
    viewers: int
    users: int
    browsers: int
    seconds: int
    lines_per_host_s: int
    strangers: int

    @classmethod
    def of(cls, smoke: bool) -> Scale:
        if smoke:
            return cls(hosts=4, viewers=20, users=2, browsers=1, seconds=3, lines_per_host_s=5,
                       strangers=40)
        return cls(hosts=200, viewers=1000, users=25, browsers=3, seconds=30,
                   lines_per_host_s=5, strangers=1000)


class TeamBench(Bench):
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
    """Connect one client per cookie, join the run, report; count every event until told to
    stop, report the counts per session."""
    asyncio.run(_viewers(url, cookies, run_id, conn))


async def _viewers(url: str, cookies: list[str], run_id: int, conn: Any) -> None:
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

    class Viewer:
        def __init__(self, cookie: str) -> None:
            self.cookie = cookie
            self.client = socketio.AsyncClient(reconnection=False, engineio_logger=eio_log)
            # per session: events, the highest seq so far, events out of order or again, sum
            self.sessions: dict[int, list[int]] = {}
            self.finished = 0
            self.joined = False
            self.dropped = False
            self.error = ""
            self.client.on("events", self.on_events)
            self.client.on("disconnect", self.on_disconnect)

        async def on_events(self, batch: list[dict[str, Any]]) -> None:
            for event in batch:
                if event["event"] == "run.finished":
                    self.finished += 1
                    continue
                if "session" not in event:  # the run's own (its place in the queue)
                    continue
                mine = self.sessions.get(event["session"])
                if mine is None:
                    mine = self.sessions[event["session"]] = [0, 0, 0, 0]
                seq = event["seq"]
                mine[0] += 1
                if seq <= mine[1]:
                    mine[2] += 1
                else:
                    mine[1] = seq
                mine[3] += seq

        async def on_disconnect(self, *reason: Any) -> None:
            if self.joined:
                self.dropped = True
                self.error = (f"dropped: {reason[0] if reason else '?'} after "
                              f"{(time.monotonic() - self.joined_at) // 5 * 5:.0f} s")

        async def start(self) -> None:
            async with gate:
                try:
                    await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT)
                except Exception as exc:  # noqa: BLE001 - the figure is how many failed
                    self.error = type(exc).__name__
                    await self.client.disconnect()

        async def _connect(self) -> None:
            await self.client.connect(url, headers={"Cookie": self.cookie},
                                      transports=["websocket"], wait_timeout=CONNECT_TIMEOUT)
            answer = await self.client.call("join", {"run": run_id}, timeout=CONNECT_TIMEOUT)
            self.joined = bool(answer and answer.get("ok"))
            self.joined_at = time.monotonic()

    viewers = [Viewer(cookie) for cookie in cookies]
    await asyncio.gather(*(v.start() for v in viewers))
    errors: dict[str, int] = {}
    for v in viewers:
        if v.error:
            errors[v.error] = errors.get(v.error, 0) + 1
    conn.send({"joined": sum(v.joined for v in viewers), "errors": errors})
    await loop.run_in_executor(None, conn.recv)  # "stop": the run finished
    conn.send({"viewers": [{"sessions": v.sessions, "finished": v.finished, "joined": v.joined,
                            "dropped": v.dropped, "error": v.error} for v in viewers],
               "warnings": warnings})
    await asyncio.gather(*(v.client.disconnect() for v in viewers), return_exceptions=True)


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
    run = bench.dispatch("BenchCommandSession", bench.host_ids,
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
    return {
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


SCENARIOS: list[tuple[str, Callable[..., dict]]] = [("viewers", viewers),
                                                    ("strangers", strangers)]


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


def judged(result: dict[str, dict]) -> bool:
    v, s = result["viewers"], result["strangers"]
    fast = all(p["p95_ms"] is not None and p["p95_ms"] < 100 for p in v["probes"].values())
    return (v["complete"] == v["joined"] and v["lost"] == 0 and v["duplicated"] == 0
            and fast and s["upgraded"] == 0 and s["failed"] == 0)


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--models", default="gthread,gevent",
                   help="server models to compare, in order (scripts/webserver.py)")
    p.add_argument("--viewers", type=int, default=None, help="override the number of viewers")
    p.add_argument("--seconds", type=int, default=None, help="override the run's duration")
    args = p.parse_args()
    scale = Scale.of(args.smoke)
    scale.viewers = args.viewers or scale.viewers
    scale.seconds = args.seconds or scale.seconds
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    banner("team", args)
    results: dict[str, dict[str, dict]] = {}
    with TeamBench("team", args, scale.hosts) as bench:
        names, token = create_users(scale.users)
        ctx = {"viewer_names": names, "token": token}
        for model in models:
            results[model] = {}
            server = start_server(bench.env(), bench.workdir / f"gunicorn-{model}.log",
                                  model=model)
            try:
                for name, scenario in SCENARIOS:
                    print(f"   {model}: {name}…", flush=True)
                    results[model][name] = scenario(bench, server, scale, ctx)
            finally:
                stop_process(server.proc, 10)
    labels = {"gthread": "old: gthread, 50 threads", "gevent": "new: gevent (scripts/start)"}
    table(f"team: {scale.viewers} viewers of a {scale.hosts}-host run, "
          f"{scale.hosts * scale.lines_per_host_s} lines/s for {scale.seconds} s; "
          f"{scale.strangers} anonymous WebSockets",
          ["", *(labels.get(m, m) for m in models)], rows(results, scale),
          notes=[f"{len(models)} web processes in turn, one at a time, each fresh; "
                 f"viewers: {scale.users} users' cookies, {CLIENT_PROCESSES} client processes; "
                 f"probe timeout {PROBE_TIMEOUT:.0f} s, connect timeout {CONNECT_TIMEOUT:.0f} s",
                 f"targets (new model): every viewer every event, list/API p95 < 100 ms, "
                 f"strangers all refused: "
                 f"{verdict(judged(results[models[-1]]), args.smoke)}"])
    for model in models:
        for key in ("join_errors", "page_errors"):
            found = results[model]["viewers"][key]
            if found:
                print(f"   {model} {key}: {str(found)[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
