"""Round trip: one host, one command, warm worker and warm connection (target 4: < 150 ms).

In-process: measured from before the host is loaded for ``start_run`` until this process
reads the ``session.status`` event with ``proc_status`` completed from the run's Redis
stream. The breakdown uses clocks of one machine: this process's, the worker's stored
``start_time``/``end_time`` and ``StoredResult.created_at``, and the Redis stream ids (the
server's millisecond clock at XADD).

Through the CLI, as a user runs it (issue 11 section 6): ``minke run
FanoutSession --host b000`` as a subprocess with the bench's environment, timed from before
the subprocess starts until its exit, beside the CLI's own start-up (``minke
sessions``, which loads the same app and session modules and does nothing else), in the
same rounds. Target: run < start-up + 0.5 s (medians). The CLI's breakdown uses the stored
``Run.created_at`` (the CLI's clock at the insert), the session's times and
``Run.finished_at`` (the worker's).

    .venv/bin/python bench/roundtrip.py [--smoke] [--rounds 20] [--cli-rounds 10]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

import sqlalchemy as sa

from .common import (
    Bench,
    BenchError,
    as_utc_timestamp,
    banner,
    host_name,
    median,
    parser,
    table,
    verdict,
)

TARGET_MS = 150
TARGET_CLI_OVER_STARTUP = 0.5  # seconds a one-host `minke run` may take beyond the start-up


def completed(event: dict) -> bool:
    return event["event"] == "session.status" and event.get("proc_status") == "completed"


def one_round(bench: Bench) -> dict:
    from webapp.extensions import db
    from webapp.models import MinkeSession, StoredResult

    d = bench.dispatch("FanoutSession", bench.host_ids[:1], concurrency=1, threads=1)
    done = bench.wait_finished(d.run_id, timeout=30, until=completed)
    total = done.t_finished - d.t_start
    finished_run = bench.wait_finished(d.run_id, timeout=30)  # re-reads from 0: run.finished
    session = db.session.get(MinkeSession, d.session_ids[0])
    command = db.session.scalars(sa.select(StoredResult)
                                 .where(StoredResult.session_id == session.id)).one()
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
        "start_run": d.t_enqueued - d.t_start,
        "pickup": start - d.wall_enqueued,
        "session": end - start,
        "command_row": command_row - start,
        "store_publish": t_final_xadd - end,
        "read": wall_received - t_final_xadd,
        "running_xadd": xadd.get("session.status:running", float("nan")) - d.wall_enqueued,
        "run_finished": finished_run.t_finished - d.t_start,
    }


def cli_round(bench: Bench) -> dict:
    """``minke run`` on one host through the CLI, and the CLI's start-up alone, in turn."""
    from webapp.extensions import db
    from webapp.models import MinkeSession, Run

    startup = bench.cli_startup()
    result, run_id = bench.cli_run("FanoutSession", "--host", host_name(0))
    exited = result.wall_start + result.seconds
    db.session.rollback()
    run = db.session.get(Run, run_id)
    session = db.session.scalars(sa.select(MinkeSession).where(MinkeSession.run_id == run_id)).one()
    if session.proc_status != "completed" or session.session_status != "success":
        raise BenchError(f"CLI run {run_id}: {session.proc_status}/{session.session_status}")
    created, finished = as_utc_timestamp(run.created_at), as_utc_timestamp(run.finished_at)
    start, end = as_utc_timestamp(session.start_time), as_utc_timestamp(session.end_time)
    db.session.rollback()
    return {
        "startup": startup.seconds,
        "total": result.seconds,
        "beyond_startup": result.seconds - startup.seconds,
        "to_created": created - result.wall_start,
        "to_start": start - created,
        "session": end - start,
        "to_finished": finished - end,
        "to_exit": exited - finished,
        "created_to_exit": exited - created,
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--cli-rounds", type=int, default=None,
                   help="rounds through the CLI (each: `minke sessions`, then `minke run`)")
    args = p.parse_args(argv)
    rounds = args.rounds or (5 if args.smoke else 20)
    cli_rounds = args.cli_rounds if args.cli_rounds is not None else (1 if args.smoke else 10)
    banner("roundtrip", args)
    results, cli_results = [], []
    with Bench("roundtrip", args, 1) as bench:
        worker = bench.start_worker(pool_idle_ttl=60, worker_threads=50, concurrency=50)
        for _ in range(3):  # warm-up: the worker's first job, the pooled connection
            one_round(bench)
        if cli_rounds and not args.smoke:
            cli_round(bench)  # warm-up: the page cache for the CLI's imports
        for r in range(max(rounds, cli_rounds)):
            line = f"   round {r + 1}:"
            if r < rounds:
                res = one_round(bench)
                results.append(res)
                line += f" in-process {res['total'] * 1000:.1f} ms"
            if r < cli_rounds:
                res = cli_round(bench)
                cli_results.append(res)
                line += (f"  CLI run {res['total']:.3f} s, start-up {res['startup']:.3f} s")
            print(line, flush=True)
        if bench.workers and ssh_held(bench, worker) != 1:
            print("   note: the worker did not hold exactly one SSH connection at the end")
        if args.profile:
            profile(bench, worker)
        reference = fabric_reference(bench, rounds)
    report(results, reference, args)
    if cli_results:
        report_cli(cli_results, args)
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


def spread(values: list[float], scale: float = 1.0) -> tuple[float, float, float]:
    """min, median and p90 of ``values`` times ``scale``."""
    values = sorted(v * scale for v in values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return values[0], median(values), p90


def report(results: list[dict], reference: list[float], args) -> None:
    def ms(key: str) -> tuple[float, float, float]:
        return spread([r[key] for r in results], 1000)

    parts = [
        ("start_run: load host, store run and session, commit, RQ enqueue", "start_run"),
        ("enqueue → session start_time (queue pick-up, job set-up, lock, pool, stop check)",
         "pickup"),
        ("session start_time → end_time (command on the pooled connection)", "session"),
        ("  of which start_time → StoredResult row inserted (writer)", "command_row"),
        ("end_time → completed event in Redis (writer commit + XADD)", "store_publish"),
        ("XADD → read by this process", "read"),
        ("total: dispatch → completed event read", "total"),
        ("(enqueue → running event in Redis)", "running_xadd"),
        ("(dispatch → run.finished event read)", "run_finished"),
    ]
    rows = [(label, *ms(key)) for label, key in parts]
    rows.append(("(reference: plain fabric Connection.run on an open connection)",
                 *spread(reference, 1000)))
    total_med = median([r["total"] * 1000 for r in results])
    notes = [f"{len(results)} rounds after 3 warm-up rounds; one worker (MINKE_POOL_IDLE_TTL=60), "
             "one pooled SSH connection",
             "stream ids carry Redis's millisecond clock: parts that use them are ±1 ms",
             f"target: median < {TARGET_MS} ms: {total_med:.1f} ms → "
             f"{verdict(total_med < TARGET_MS, args.smoke)}"]
    table("round trip, one host, one command (ms)", ["part", "min", "median", "p90"], rows, notes)


def report_cli(results: list[dict], args) -> None:
    parts = [
        ("CLI start-up alone: `minke sessions`", "startup"),
        ("`minke run FanoutSession --host b000`: start → exit", "total"),
        ("  run − start-up of the same round", "beyond_startup"),
        ("  subprocess start → Run row inserted (interpreter, imports, app, host lookup)",
         "to_created"),
        ("  Run inserted → session start_time (commit, enqueue, pick-up, job set-up)",
         "to_start"),
        ("  session start_time → end_time (command on the pooled connection)", "session"),
        ("  session end_time → Run.finished_at (writer, run bookkeeping)", "to_finished"),
        ("  Run.finished_at → CLI exit (event read, summary, interpreter exit)", "to_exit"),
        ("  (Run inserted → CLI exit: the run without this call's own start-up)",
         "created_to_exit"),
    ]
    rows = [(label, *spread([r[key] for r in results])) for label, key in parts]
    startup = median([r["startup"] for r in results])
    total = median([r["total"] for r in results])
    beyond = total - startup
    notes = [
        f"{len(results)} rounds (after one warm-up round unless --smoke), each `minke sessions` "
        "then `minke run`,"
        " subprocesses with the bench's environment; the same warm worker (and pooled "
        "connection) as the in-process rounds",
        "`to_*` parts use the CLI's clock (Run.created_at) and the worker's (start/end, "
        "finished_at): same machine",
        f"CLI run returns in {total:.3f} s = start-up {startup:.3f} s + {beyond:.3f} s (medians)",
        f"target: run < start-up + {TARGET_CLI_OVER_STARTUP} s: {beyond:.3f} s beyond → "
        f"{verdict(beyond < TARGET_CLI_OVER_STARTUP, args.smoke)}",
    ]
    table("round trip through the CLI, one host, warm worker (seconds)",
          ["part", "min", "median", "p90"], rows, notes)


if __name__ == "__main__":
    sys.exit(main())
