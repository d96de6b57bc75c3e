"""Round trip: one host, one command, warm worker and warm connection (target 4: < 150 ms).

Measured from before the hosts are loaded for ``create_run`` until this process reads the
``session.status`` event with ``proc_status`` completed from the run's Redis stream. The
breakdown uses clocks of one machine: this process's, the worker's stored
``start_time``/``end_time`` and ``CommandResult.created_at``, and the Redis stream ids (the
server's millisecond clock at XADD).

    .venv/bin/python bench/roundtrip.py [--smoke] [--rounds 20]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

import sqlalchemy as sa

from .common import Bench, BenchError, as_utc_timestamp, banner, median, parser, table, verdict

TARGET_MS = 150


def completed(event: dict) -> bool:
    return event["event"] == "session.status" and event.get("proc_status") == "completed"


def one_round(bench: Bench) -> dict:
    from webapp.extensions import db
    from webapp.models import CommandResult, MinkeSession

    d = bench.dispatch("FanoutSession", bench.host_ids[:1], concurrency=1, threads=1)
    done = bench.wait_finished(d.run_id, timeout=30, until=completed)
    total = done.t_finished - d.t_start
    finished_run = bench.wait_finished(d.run_id, timeout=30)  # re-reads from 0: run.finished
    session = db.session.get(MinkeSession, d.session_ids[0])
    command = db.session.scalars(sa.select(CommandResult)
                                 .where(CommandResult.session_id == session.id)).one()
    if session.proc_status != "completed" or command.exit_code != 0:
        raise BenchError(f"run {d.run_id}: {session.proc_status}, exit {command.exit_code}")
    start, end = as_utc_timestamp(session.start_time), as_utc_timestamp(session.end_time)
    command_row = as_utc_timestamp(command.created_at)
    db.session.rollback()
    ids = {e["event"] + ":" + str(e.get("proc_status") or e.get("status") or ""): sid
           for e, sid in zip(done.events, done.stream_ids, strict=True)}
    xadd = {key: int(sid.split("-")[0]) / 1000 for key, sid in ids.items()}
    t_final_xadd = xadd["session.status:completed"]
    wall_received = d.wall_start + total
    return {
        "total": total,
        "dispatch": d.t_committed - d.t_start,
        "enqueue": d.t_enqueued - d.t_committed,
        "pickup": start - d.wall_enqueued,
        "session": end - start,
        "command_row": command_row - start,
        "store_publish": t_final_xadd - end,
        "read": wall_received - t_final_xadd,
        "running_xadd": xadd.get("session.status:running", float("nan")) - d.wall_enqueued,
        "run_finished": finished_run.t_finished - d.t_start,
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    rounds = args.rounds or (5 if args.smoke else 20)
    banner("roundtrip", args)
    results = []
    with Bench("roundtrip", args, 1) as bench:
        worker = bench.start_worker(pool_idle_ttl=60, worker_threads=50, concurrency=50)
        for _ in range(3):  # warm-up: the worker's first job, the pooled connection
            one_round(bench)
        for r in range(rounds):
            res = one_round(bench)
            results.append(res)
            print(f"   round {r + 1}: {res['total'] * 1000:.1f} ms", flush=True)
        if bench.workers and ssh_held(bench, worker) != 1:
            print("   note: the worker did not hold exactly one SSH connection at the end")
        if args.profile:
            profile(bench, worker)
        reference = fabric_reference(bench, rounds)
    report(results, reference, args)
    return 0


def fabric_reference(bench: Bench, rounds: int) -> list[float]:
    """Plain fabric: the same command on one already open connection (seconds each)."""
    import time

    from .bench_sessions import FANOUT_COMMAND
    from .common import fabric_connection

    connection = fabric_connection(bench.sshd, bench.addresses[0])
    try:
        connection.run(FANOUT_COMMAND, hide=True, in_stream=False)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            connection.run(FANOUT_COMMAND, hide=True, in_stream=False)
            times.append(time.perf_counter() - t0)
        return times
    finally:
        connection.close()


def ssh_held(bench: Bench, worker) -> int:
    from .common import ssh_connections

    return ssh_connections(worker.pid, bench.sshd.port)


def profile(bench: Bench, worker) -> None:
    from .profiling import Profiler, summarise

    path = bench.workdir.parent / "minke-bench-roundtrip.pyspy.txt"
    with Profiler(worker.pid, path, rate=500):
        totals = [one_round(bench)["total"] for _ in range(20)]
    print(f"   profiled 20 round trips: median {median(totals) * 1000:.1f} ms; stacks in {path}")
    summarise(path, "worker profile, 20 round trips")


def report(results: list[dict], reference: list[float], args) -> None:
    def ms(key: str) -> tuple[float, float, float]:
        values = sorted(r[key] * 1000 for r in results)
        p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
        return values[0], median(values), p90

    parts = [
        ("dispatch: load host, create_run, commit", "dispatch"),
        ("enqueue_run (RQ enqueue)", "enqueue"),
        ("enqueue → session start_time (queue pick-up, job set-up, lock, pool, stop check)",
         "pickup"),
        ("session start_time → end_time (command on the pooled connection)", "session"),
        ("  of which start_time → CommandResult row inserted (writer)", "command_row"),
        ("end_time → completed event in Redis (writer commit + XADD)", "store_publish"),
        ("XADD → read by this process", "read"),
        ("total: dispatch → completed event read", "total"),
        ("(enqueue → running event in Redis)", "running_xadd"),
        ("(dispatch → run.finished event read)", "run_finished"),
    ]
    rows = [(label, *ms(key)) for label, key in parts]
    ref = sorted(t * 1000 for t in reference)
    rows.append(("(reference: plain fabric Connection.run on an open connection)", ref[0],
                 median(ref), ref[min(len(ref) - 1, int(round(0.9 * (len(ref) - 1))))]))
    total_med = median([r["total"] * 1000 for r in results])
    notes = [f"{len(results)} rounds after 3 warm-up rounds; one worker (MINKE_POOL_IDLE_TTL=60), "
             "one pooled SSH connection",
             "stream ids carry Redis's millisecond clock: parts that use them are ±1 ms",
             f"target: median < {TARGET_MS} ms: {total_med:.1f} ms → "
             f"{verdict(total_med < TARGET_MS, args.smoke)}"]
    table("round trip, one host, one command (ms)", ["part", "min", "median", "p90"], rows, notes)


if __name__ == "__main__":
    sys.exit(main())
