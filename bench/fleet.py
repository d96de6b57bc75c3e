"""A fleet's scaling curve (issue 22, points 1–3): cold and warm fan-outs at 50, 200, 1,000 and
5,000 hosts, side by side with plain fabric, and what each costs the worker, the web
process, the database and Redis.

One set of loopback hosts (one sshd per 16 addresses, 127.0.64.1 on), one web process
(gunicorn, as scripts/start serves it) with a python-socketio client watching every run as
a run page would. For each size N, smallest first:

- Minke cold: a fresh worker (pool on, ``MINKE_POOL_IDLE_TTL=600``, its default memory
  budget), a warm-up run on a host outside the set, then ``FanoutSession`` on N hosts, from
  dispatch (as the CLI dispatches) to the run's ``run.finished`` event.
- Minke warm: the same again at once, on the pool's connections.
- After each: the worker's RSS, threads and descriptors, the web process's RSS, the
  database's size (SQLite's file after a WAL checkpoint, or ``pg_database_size``) and Redis's
  ``used_memory``; the figures per host are the growth during the run over N.
- Plain fabric, after the worker stopped (so that sshd holds one set of connections at a
  time): one new connection per host, closed after its command (cold, as bench/fanout.py);
  then connections opened and kept by a first pass, and a second pass on them (warm).
  paramiko's transport threads wake every 0.1 s: thousands of open connections cost plain
  fabric CPU that Minke's pool saves (bench/RESULTS.md, section 14).

Beside it, the machine's handshake limit: plain fabric connections opened and
authenticated, nothing run, at concurrency 10, 50 and 200 on the same hosts.

    .venv/bin/python bench/fleet.py [--smoke] [--sizes 50,200,1000,5000] [--concurrency 50]
        [--fabric-warm-max 1000] [--database-url URL]
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

import socketio

from . import common
from .common import (
    Bench,
    BenchError,
    banner,
    database_bytes,
    fabric_connection,
    parser,
    proc_memory,
    ssh_connections,
    table,
    verdict,
)
from .fanout import run_fabric, run_minke
from .team import cpu_seconds, create_users, http_login, web_pid
from .warm import fabric_cold_warm

common.SUBNETS.setdefault("fleet", 64)  # this bench's loopback addresses: 127.0.64.1 on

from tests.web_services import start_server  # noqa: E402

SIZES = (50, 200, 1000, 5000)
SMOKE_SIZES = (5, 10)
HANDSHAKE_CONCURRENCY = (10, 50, 200)
TARGET_COLD_VS_FABRIC = 1.05
TARGET_WARM_VS_COLD = 0.35
MIB = 1024 * 1024
IDLE_SECONDS = 5.0
# plain fabric holding 5,000 open connections: 5,000 threads waking every 0.1 s saturated
# both cores (the opening pass had not ended after 10 minutes); its warm pass stops here
FABRIC_WARM_MAX = 1000


class Watcher:
    """A logged-in python-socketio client on the web process that joins each run's room
    as the run page does, and counts what it receives."""

    def __init__(self, base_url: str, user: str) -> None:
        self.events = 0
        self.reconnects = 0  # a page reconnects when the server missed its pings
        self.base_url, self.cookie = base_url, http_login(base_url, user)
        self.client = socketio.Client(reconnection=False)
        self.client.on("events", self._batch)
        self._connect()

    def _connect(self) -> None:
        self.client.connect(self.base_url, headers={"Cookie": self.cookie},
                            transports=["websocket"], wait_timeout=20)

    def _batch(self, batch: list[dict[str, Any]]) -> None:
        self.events += len(batch)

    def join(self, run_id: int) -> None:
        if not self.client.connected:
            self.reconnects += 1
            self._connect()
        answer = self.client.call("join", {"run": run_id}, timeout=20)
        if not answer or not answer.get("ok"):
            raise BenchError(f"the watcher could not join run {run_id}: {answer}")

    def leave(self, run_id: int) -> None:
        if self.client.connected:
            self.client.call("leave", {"run": run_id}, timeout=20)

    def close(self) -> None:
        self.client.disconnect()


def redis_bytes(bench: Bench) -> int:
    return int(bench.redis.info("memory")["used_memory"])


def snapshot(bench: Bench, worker_pid: int, web: int) -> dict[str, int]:
    worker = proc_memory(worker_pid)
    return {"worker": worker["VmRSS"], "threads": worker["Threads"], "fds": worker["fds"],
            "web": proc_memory(web)["VmRSS"], "db": database_bytes(bench),
            "redis": redis_bytes(bench)}


def minke_run(bench: Bench, watcher: Watcher, hosts: list[int], concurrency: int,
              worker_pid: int, web: int) -> dict[str, Any]:
    """One fan-out on ``hosts``, watched; its time and the snapshots around it."""
    before = snapshot(bench, worker_pid, web)
    seen = watcher.events
    result = run_minke_watched(bench, watcher, hosts, concurrency)
    after = snapshot(bench, worker_pid, web)
    return {**result, "before": before, "after": after,
            "held": ssh_connections(worker_pid, bench.sshd.port),
            "watched": watcher.events - seen}


def run_minke_watched(bench: Bench, watcher: Watcher, hosts: list[int],
                      concurrency: int) -> dict[str, Any]:
    """The fan-out with the watcher in its room from the moment it is queued."""
    joined: list[int] = []

    def join(run_id: int) -> None:
        watcher.join(run_id)
        joined.append(run_id)

    try:
        return run_minke(bench, len(hosts), concurrency, hosts, on_dispatched=join)
    finally:
        for run_id in joined:
            watcher.leave(run_id)


def handshakes(bench: Bench, addresses: list[str], concurrency: int) -> float:
    """Plain fabric: connections opened and authenticated per second, nothing run."""
    connections = [fabric_connection(bench.sshd, a) for a in addresses]
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda c: c.open(), connections))
        return len(addresses) / (time.perf_counter() - t0)
    finally:
        for connection in connections:
            connection.close()


def measure_size(bench: Bench, watcher: Watcher, web: int, n: int, concurrency: int,
                 fabric_warm_max: int) -> dict[str, Any]:
    hosts, spare = bench.host_ids[:n], bench.host_ids[-1:]
    worker = bench.start_worker(pool_idle_ttl=600, worker_threads=concurrency,
                                concurrency=concurrency)
    try:
        run_minke(bench, 1, concurrency, spare)  # first-job costs, not the pool's
        cold = minke_run(bench, watcher, hosts, concurrency, worker.pid, web)
        warm = minke_run(bench, watcher, hosts, concurrency, worker.pid, web)
        idle_cpu = idle_load(worker.pid)
    finally:
        bench.stop_worker(worker)
    f_cold = run_fabric(bench, n, concurrency)["seconds"]  # as fanout.py: closed after each
    print(f"   N={n}: minke cold {cold['seconds']:.2f} s, warm {warm['seconds']:.2f} s "
          f"(held {cold['held']} connections between, worker idle CPU {idle_cpu:.0%}); "
          f"fabric cold {f_cold:.2f} s", flush=True)
    f_warm = None
    if n <= fabric_warm_max:
        _f_opening, f_warm = fabric_cold_warm(bench, n, concurrency)
        print(f"   N={n}: fabric warm {f_warm:.2f} s", flush=True)
    return {"n": n, "cold": cold, "warm": warm, "f_cold": f_cold, "f_warm": f_warm,
            "idle_cpu": idle_cpu}


def idle_load(pid: int, seconds: float = IDLE_SECONDS) -> float:
    """The worker's CPU (share of one core) while it only holds its pooled connections."""
    time.sleep(1.0)  # the last run's threads settle
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--fabric-warm-max", type=int, default=FABRIC_WARM_MAX,
                   help="largest fleet plain fabric's warm pass is measured on "
                        f"(default {FABRIC_WARM_MAX})")
    args = p.parse_args(argv)
    sizes = SMOKE_SIZES if args.smoke else tuple(int(s) for s in args.sizes.split(","))
    banner("fleet", args)
    results = []
    with Bench("fleet", args, max(sizes) + 1) as bench:
        names, _token = create_users(1)
        server = start_server(bench.env(), bench.workdir / "gunicorn.log")
        try:
            web = web_pid(server)
            watcher = Watcher(server.url, names[0])
            try:
                for n in sizes:
                    results.append(measure_size(bench, watcher, web, n, args.concurrency,
                                                args.fabric_warm_max))
            finally:
                watcher.close()
            if watcher.reconnects:
                print(f"   the watcher had to reconnect {watcher.reconnects} time(s)")
            limit_hosts = bench.addresses[:min(max(sizes), 1000)]
            limits = [(c, handshakes(bench, limit_hosts, c)) for c in HANDSHAKE_CONCURRENCY]
        finally:
            common.stop_process(server.proc, 10)
    report(results, limits, len(limit_hosts), args)
    return 0


def _growth(run: dict[str, Any], key: str) -> int:
    return run["after"][key] - run["before"][key]


def report(results: list[dict[str, Any]], limits: list[tuple[int, float]], limit_n: int,
           args) -> None:
    judged = not args.smoke
    rows = []
    for r in results:
        n, cold, warm = r["n"], r["cold"], r["warm"]
        f_warm = r["f_warm"]
        rows.append((n, cold["seconds"], r["f_cold"], f"{cold['seconds'] / r['f_cold']:.2f}x",
                     warm["seconds"], f_warm if f_warm is not None else "not run",
                     f"{warm['seconds'] / cold['seconds']:.2f}x",
                     f"{f_warm / r['f_cold']:.2f}x" if f_warm is not None else "",
                     f"{n / cold['seconds']:.0f}", f"{n / warm['seconds']:.0f}",
                     f"{cold['held']}"))
    notes = [f"concurrency {args.concurrency}; one round per size (the sizes are the rounds: "
             "a ratio is judged within its row, minke and fabric minutes apart); fabric warm "
             f"above {args.fabric_warm_max} hosts not run: plain paramiko's threads holding "
             "that many open connections wake every 0.1 s and saturate the machine"]
    for r in results:
        if r["n"] < 200:
            continue
        cold_ratio = r["cold"]["seconds"] / r["f_cold"]
        warm_ratio = r["warm"]["seconds"] / r["cold"]["seconds"]
        cold_ok = verdict(cold_ratio <= TARGET_COLD_VS_FABRIC, not judged)
        warm_ok = verdict(warm_ratio <= TARGET_WARM_VS_COLD, not judged)
        notes.append(f"target N={r['n']}: cold ≤ {TARGET_COLD_VS_FABRIC}x fabric: "
                     f"{cold_ratio:.2f}x → {cold_ok}; warm ≤ {TARGET_WARM_VS_COLD}x cold: "
                     f"{warm_ratio:.2f}x → {warm_ok}")
    table("fan-out of `hostname; uptime`: time (seconds) by fleet size",
          ["N", "minke cold", "fabric cold", "cold vs fabric", "minke warm", "fabric warm",
           "minke warm/cold", "fabric warm/cold", "cold hosts/s", "warm hosts/s",
           "held between"], rows, notes)

    cost_rows = []
    for r in results:
        n, cold, warm = r["n"], r["cold"], r["warm"]
        cost_rows.append((
            n, f"{warm['after']['worker'] / MIB:.0f}",
            f"{(warm['after']['worker'] - cold['before']['worker']) / 1024 / n:.0f}",
            f"{warm['after']['threads']}", f"{warm['after']['fds']}",
            f"{r['idle_cpu'] * 100:.1f}",
            f"{warm['after']['web'] / MIB:.0f}",
            f"{(warm['after']['web'] - cold['before']['web']) / 1024 / n:.1f}",
            f"{warm['after']['db'] / MIB:.1f}",
            f"{_growth(cold, 'db') / 1024 / n:.2f}", f"{_growth(warm, 'db') / 1024 / n:.2f}",
            f"{warm['after']['redis'] / MIB:.1f}",
            f"{(warm['after']['redis'] - cold['before']['redis']) / 1024 / n:.2f}",
            f"{cold['watched'] + warm['watched']}"))
    table("what the two runs cost, by fleet size (after the warm run; per host: growth over the "
          "two runs, or over one run for the database, / N)",
          ["N", "worker RSS MiB", "worker KiB/host", "worker threads", "worker fds",
           "worker CPU idle %",
           "web RSS MiB", "web KiB/host", "DB MiB", "DB KiB/host cold", "DB KiB/host warm",
           "Redis MiB", "Redis KiB/host", "events watched"], cost_rows,
          ["worker: held connections are kept for the warm run (a thread and a descriptor "
           f"each); its CPU idle: share of one core over {IDLE_SECONDS:.0f} s after the warm "
           "run, while it only holds them; web: one python-socketio client in each run's "
           "room; database: all runs so far (the sizes accumulate); Redis: the runs' event "
           "streams kept for catch-up"])
    table(f"the machine's handshake limit: plain fabric connect + authenticate, {limit_n} hosts",
          ["concurrency", "handshakes/s"], [(c, f"{rate:.0f}") for c, rate in limits],
          [f"cores: {os.cpu_count()}; sshd and the clients share them"])


if __name__ == "__main__":
    sys.exit(main())
