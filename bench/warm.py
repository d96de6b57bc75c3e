"""Warm re-run: the same fan-out again within a minute, on a worker whose pool is on (target 2).

Each round starts a fresh worker with ``MINKE_POOL_IDLE_TTL=60`` (empty pool), runs the
fan-out once (cold), then at once again (warm: the pool's connections are reused). The
worker's open SSH connections are counted from /proc between the two runs. Plain fabric
for reference: the same two runs, the second on the connections the first left open.

    .venv/bin/python bench/warm.py [--smoke] [--rounds 3] [--hosts 200]
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

from .bench_sessions import FANOUT_COMMAND
from .common import (
    Bench,
    BenchError,
    banner,
    fabric_connection,
    median,
    parser,
    proc_memory,
    ssh_connections,
    table,
    verdict,
)
from .fanout import run_minke

TARGET_WARM_VS_COLD = 0.35


def fabric_cold_warm(bench: Bench, n: int, concurrency: int) -> tuple[float, float]:
    connections = [fabric_connection(bench.sshd, a) for a in bench.addresses[:n]]

    def one(connection) -> str:
        return connection.run(FANOUT_COMMAND, hide=True, in_stream=False).stdout

    times = []
    try:
        for _ in range(2):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                outputs = list(pool.map(one, connections))
            times.append(time.perf_counter() - t0)
            if sum(1 for o in outputs if "load average" in o) != n:
                raise BenchError("fabric: missing output")
    finally:
        for connection in connections:
            connection.close()
    return times[0], times[1]


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=50)
    args = p.parse_args(argv)
    n = 5 if args.smoke else args.hosts
    rounds = args.rounds or (1 if args.smoke else 3)
    banner("warm", args)
    minke: list[dict] = []
    fabric: list[tuple[float, float]] = []
    with Bench("warm", args, n + 1) as bench:
        hosts, spare = bench.host_ids[:n], bench.host_ids[n:]
        for r in range(rounds):
            worker = bench.start_worker(pool_idle_ttl=60, worker_threads=args.concurrency,
                                        concurrency=args.concurrency)
            # warm-up on a host outside the measured set: first-job costs, not the pool
            run_minke(bench, 1, args.concurrency, spare)
            before = proc_memory(worker.pid)
            cold = run_minke_on(bench, hosts, args.concurrency)
            held = ssh_connections(worker.pid, bench.sshd.port)
            between = proc_memory(worker.pid)
            warm = run_minke_on(bench, hosts, args.concurrency)
            held_after = ssh_connections(worker.pid, bench.sshd.port)
            profiled = None
            if args.profile and r == rounds - 1:
                profiled = profile_warm(bench, worker, hosts, args.concurrency)
            bench.stop_worker(worker)
            f_cold, f_warm = fabric_cold_warm(bench, n, args.concurrency)
            minke.append({"cold": cold, "warm": warm, "held": held, "held_after": held_after,
                          "profiled": profiled, "before": before, "between": between})
            fabric.append((f_cold, f_warm))
            print(f"   round {r + 1}: minke cold {cold['seconds']:.3f} s, warm "
                  f"{warm['seconds']:.3f} s (worker held {held} connections between runs, "
                  f"{held_after} after); fabric cold {f_cold:.3f} s, warm {f_warm:.3f} s",
                  flush=True)
    report(minke, fabric, n, rounds, args)
    return 0


def run_minke_on(bench: Bench, hosts: list[int], concurrency: int) -> dict:
    return run_minke(bench, len(hosts), concurrency, hosts)


def profile_warm(bench: Bench, worker, hosts: list[int], concurrency: int) -> float:
    from .profiling import Profiler, summarise

    path = bench.workdir.parent / f"minke-bench-warm-{len(hosts)}.pyspy.txt"
    with Profiler(worker.pid, path):
        seconds = [run_minke_on(bench, hosts, concurrency)["seconds"] for _ in range(3)]
    print(f"   profiled 3 warm runs: {', '.join(f'{s:.3f}' for s in seconds)} s; stacks in {path}")
    summarise(path, f"worker profile, warm fan-out N={len(hosts)} (3 runs)")
    return median(seconds)


def report(minke: list[dict], fabric: list[tuple[float, float]], n: int, rounds: int,
           args) -> None:
    m_cold = [r["cold"]["seconds"] for r in minke]
    m_warm = [r["warm"]["seconds"] for r in minke]
    f_cold = [c for c, _ in fabric]
    f_warm = [w for _, w in fabric]
    m_ratio = median(m_warm) / median(m_cold)
    rows = [
        ("minke", n, min(m_cold), median(m_cold), min(m_warm), median(m_warm),
         f"{n / median(m_warm):.1f}", f"{m_ratio:.2f}x",
         f"{median([w / c for w, c in zip(m_warm, m_cold, strict=True)]):.2f}x"),
        ("fabric (open connections)", n, min(f_cold), median(f_cold), min(f_warm),
         median(f_warm), f"{n / median(f_warm):.1f}", f"{median(f_warm) / median(f_cold):.2f}x",
         f"{median([w / c for w, c in zip(f_warm, f_cold, strict=True)]):.2f}x"),
    ]
    notes = [
        f"rounds: {rounds}; each round: fresh worker (MINKE_POOL_IDLE_TTL=60), cold run, warm run "
        "at once; then fabric cold + warm on the same connections",
        "SSH connections the worker held between cold and warm run: "
        + ", ".join(str(r["held"]) for r in minke) + f" (of {n}); after the warm run: "
        + ", ".join(str(r["held_after"]) for r in minke),
        f"warm minke vs warm fabric: {median(m_warm) / median(f_warm):.2f}x (median)",
        f"target N={n}: minke warm ≤ {TARGET_WARM_VS_COLD}x minke cold: {m_ratio:.2f}x → "
        f"{verdict(m_ratio <= TARGET_WARM_VS_COLD, args.smoke or n < 200)}",
    ]
    costs = [((r["between"]["VmRSS"] - r["before"]["VmRSS"]) / 1024,
              r["between"]["Threads"] - r["before"]["Threads"],
              r["between"]["fds"] - r["before"]["fds"], r["held"]) for r in minke]
    notes.append("worker after the warm-up run → holding the cold run's connections: "
                 + "; ".join(f"+{kib / 1024:.1f} MiB, +{t} threads, +{f} fds for {h} connections "
                             f"({kib / max(h, 1):.0f} KiB, {t / max(h, 1):.2f} threads, "
                             f"{f / max(h, 1):.2f} fds each)" for kib, t, f, h in costs))
    table("warm re-run of `hostname; uptime` (seconds)",
          ["client", "N", "cold min", "cold med", "warm min", "warm med", "warm hosts/s",
           "warm/cold (of medians)", "warm/cold (median of rounds)"], rows, notes)
    brk = [(kind, median([r[kind]["dispatch"] for r in minke]) * 1000,
            median([r[kind]["pickup"] for r in minke]) * 1000,
            median([r[kind]["span"] for r in minke]) * 1000,
            median([r[kind]["tail"] for r in minke]) * 1000) for kind in ("cold", "warm")]
    table("minke cold vs warm, where the time goes (median ms)",
          ["run", "dispatch+commit+enqueue", "enqueue→first start", "first start→last end",
           "last end→run.finished read"], brk)


if __name__ == "__main__":
    sys.exit(main())
