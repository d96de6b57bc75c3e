"""Stopping a 50-host run of ``sleep 30``: soft stop, kill without and with a pty (target 5).

One worker (``MINKE_POOL_IDLE_TTL=60``) runs four scenarios one after another on the same
hosts; every stop goes through ``webapp.engine.control.stop_run``, what ``minke stop``
calls (the first request is soft, the second kills):

a. soft stop: 50 hosts at concurrency 25 (half of them wait), ``sleep 3``; one stop while the
   first wave's commands run. The running commands must finish (exit 0) and their sessions
   end ``stopped``/``completed``; the waiting ones end ``canceled`` without a command.
b. kill, no pty (``BenchCommandSession``): ``sleep 30`` on 50 hosts; once all 50 sleeps run
   remotely, stop twice. Measured from the second request until every session is final.
c. the same with ``run.pty`` on (``BenchPtyCommandSession``).
d. then a normal fan-out run on all hosts on the same worker, its pool on: must succeed.

Every bench command carries ``MINKE_BENCH_STOP=<tag>`` in its environment; remote processes
left are counted over SSH by the tag in ``/proc/*/environ`` (the loopback hosts are one
machine and share the login user with the test suite, so a ``pgrep -f 'sleep 30'`` could
count someone else's sleeps; the tag also finds a sleep whose shell was killed).

    .venv/bin/python bench/stop.py [--smoke] [--hosts 50] [--seconds 30]
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

import sqlalchemy as sa

from .common import (
    Bench,
    BenchError,
    banner,
    fabric_connection,
    median,
    parser,
    ssh_connections,
    table,
    verdict,
)
from .fanout import run_minke

TARGET_KILL_SECONDS = 2.0
TAG_VARIABLE = "MINKE_BENCH_STOP"
FINAL = {"completed", "stopped", "canceled", "failed"}
GRACE_SECONDS = 2.0  # a second look for remote processes, after the sessions are final


# -- watching a run through its event stream ----------------------------------------------

@dataclass
class RunWatch:
    """Per-session state of one run from its Redis event stream, read as it grows."""

    bench: Bench
    run_id: int
    last_id: str = "0"
    status: dict[int, str] = field(default_factory=dict)
    commands: set[int] = field(default_factory=set)  # sessions with a started command
    final_at: dict[int, float] = field(default_factory=dict)  # perf_counter when read
    finished_at: float | None = None

    def poll(self, block_ms: int = 50) -> None:
        from webapp.engine import events as ev

        self.last_id, batch = ev.read_events(self.bench.redis, self.bench.state.keys, self.run_id,
                                                  self.last_id,
                                             block_ms=block_ms)
        now = time.perf_counter()
        for event in batch:
            kind, sid = event["event"], event.get("session")
            if kind == ev.SESSION_STATUS:
                self.status[sid] = event["proc_status"]
                if event["proc_status"] in FINAL:
                    self.final_at.setdefault(sid, now)
            elif kind == ev.SESSION_COMMAND and event.get("status") == "running":
                self.commands.add(sid)
            elif kind == ev.RUN_FINISHED:
                self.finished_at = now

    def wait(self, predicate, timeout: float, what: str, also=None) -> float:
        """Poll until ``predicate(self)`` (and ``also()``, checked at most every 0.2 s)."""
        deadline = time.monotonic() + timeout
        next_also = 0.0
        while True:
            self.poll()
            if predicate(self):
                if also is None:
                    return time.perf_counter()
                if time.monotonic() >= next_also:
                    if also():
                        return time.perf_counter()
                    next_also = time.monotonic() + 0.2
            if time.monotonic() > deadline:
                raise BenchError(f"run {self.run_id}: {what} not reached within {timeout:.0f} s "
                                 f"(statuses {dict(Counter(self.status.values()))}, "
                                 f"{len(self.commands)} commands started)")


# -- remote processes -----------------------------------------------------------------------

class RemoteCheck:
    """One SSH connection that counts processes carrying a bench tag in their environment."""

    def __init__(self, bench: Bench) -> None:
        self.connection = fabric_connection(bench.sshd, bench.addresses[0])

    def count(self, tag: str) -> Counter:
        """Remote processes (by command name) whose environment has ``TAG_VARIABLE=tag``."""
        script = (f"for f in $(grep -lzx '{TAG_VARIABLE}={tag}' /proc/[0-9]*/environ "
                  "2>/dev/null); do cat \"${f%/environ}/comm\" 2>/dev/null; done; true")
        out = self.connection.run(script, hide=True, in_stream=False, timeout=20).stdout
        return Counter(out.split())

    def close(self) -> None:
        self.connection.close()


# -- scenarios ------------------------------------------------------------------------------

def new_tag(name: str) -> str:
    return f"{name}-{os.getpid()}-{time.time_ns() % 10**9}"


def stop(bench: Bench, run_id: int) -> float:
    """One ``stop_run`` (soft the first time, kill the second); returns perf_counter before."""
    from webapp.engine.stops import stop_run
    from webapp.extensions import db
    from webapp.models import Run

    t0 = time.perf_counter()
    db.session.rollback()
    stop_run(bench.state, db.session.get(Run, run_id))
    db.session.rollback()
    return t0


def stored(bench: Bench, run_id: int) -> dict:
    """Statuses of the run's sessions, their commands' exit codes, and the run's end."""
    from webapp.extensions import db
    from webapp.models import MinkeSession, Run, StoredResult

    db.session.rollback()
    sessions = db.session.execute(
        sa.select(MinkeSession.id, MinkeSession.proc_status)
        .where(MinkeSession.run_id == run_id)).all()
    commands: dict[int, list] = {}
    for sid, exit_code, status in db.session.execute(
            sa.select(StoredResult.session_id, StoredResult.exit_code, StoredResult.status)
            .join(MinkeSession).where(MinkeSession.run_id == run_id)):
        commands.setdefault(sid, []).append((exit_code, status))
    finished = db.session.scalar(sa.select(Run.finished_at).where(Run.id == run_id))
    db.session.rollback()
    return {"status": {s.id: s.proc_status for s in sessions}, "commands": commands,
            "finished": finished is not None}


def status_text(status: dict[int, str]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(Counter(status.values()).items()))


def soft_stop(bench: Bench, check: RemoteCheck, n: int, concurrency: int, seconds: int) -> dict:
    """(a) A soft stop while the first wave runs: it finishes, the rest never starts."""
    tag = new_tag("soft")
    d = bench.dispatch("BenchCommandSession", bench.host_ids[:n], concurrency=concurrency,
                       threads=concurrency, data={"cmd": f"{TAG_VARIABLE}={tag} sleep {seconds}"})
    watch = RunWatch(bench, d.run_id)
    watch.wait(lambda w: len(w.commands) >= concurrency, 60, f"{concurrency} commands running",
               also=lambda: check.count(tag)["sleep"] >= concurrency)
    running_when_stopped = set(watch.commands)
    t_stop = stop(bench, d.run_id)
    watch.wait(lambda w: w.finished_at is not None, seconds + 30, "run.finished")
    left = check.count(tag)
    rows = stored(bench, d.run_id)
    ran = {sid for sid in rows["status"] if sid in rows["commands"]}
    waited = set(rows["status"]) - running_when_stopped
    ran_ok = all(rows["status"][sid] in ("stopped", "completed")
                 and [c[0] for c in rows["commands"][sid]] == [0] for sid in running_when_stopped)
    waited_ok = all(rows["status"][sid] == "canceled" and sid not in rows["commands"]
                    for sid in waited)
    final_s = max(watch.final_at.values()) - t_stop
    return {
        "scenario": f"a. soft stop, sleep {seconds}, {n} hosts at concurrency {concurrency}",
        "final_s": final_s, "statuses": status_text(rows["status"]), "left": left,
        "ok": (ran_ok and waited_ok and ran == running_when_stopped and not left
               and rows["finished"] and final_s <= seconds + 1),
        "detail": f"{len(running_when_stopped)} running at the stop: "
                  f"{'all finished their command (exit 0)' if ran_ok else 'NOT all exit 0'}; "
                  f"{len(waited)} waiting: {'all canceled, no command' if waited_ok else 'NOT'}"
                  f"{'' if ran == running_when_stopped else '; a command started after the stop'}",
    }


def kill(bench: Bench, check: RemoteCheck, n: int, seconds: int, *, pty: bool) -> dict:
    """(b)/(c) Stop twice once every remote sleep runs; time until every session is final."""
    tag = new_tag("pty" if pty else "nopty")
    session = "BenchPtyCommandSession" if pty else "BenchCommandSession"
    d = bench.dispatch(session, bench.host_ids[:n], concurrency=n, threads=n,
                       data={"cmd": f"{TAG_VARIABLE}={tag} sleep {seconds}"})
    watch = RunWatch(bench, d.run_id)
    watch.wait(lambda w: len(w.commands) >= n, 60, f"{n} commands running",
               also=lambda: check.count(tag)["sleep"] >= n)
    sleeping = check.count(tag)["sleep"]
    t_soft = stop(bench, d.run_id)
    watch.poll(block_ms=0)
    t_kill = stop(bench, d.run_id)
    timeout = seconds + 30
    try:
        t_final = watch.wait(lambda w: len(w.final_at) >= n, timeout, "every session final")
    except BenchError as exc:  # a missed target, not a crash: report what is left
        print(f"   {exc}", flush=True)
        t_final = None
    left_at_final = check.count(tag)
    time.sleep(GRACE_SECONDS)
    left = check.count(tag)
    try:
        watch.wait(lambda w: w.finished_at is not None, 30, "run.finished")
    except BenchError as exc:
        print(f"   {exc}", flush=True)
    rows = stored(bench, d.run_id)
    unfinished = sum(1 for s in rows["status"].values() if s not in FINAL)
    final_s = None if t_final is None else max(watch.final_at.values()) - t_kill
    exits = Counter(c[0] for cs in rows["commands"].values() for c in cs)
    after = sorted(t - t_kill for t in watch.final_at.values())
    spread = (f"final after the kill: first {after[0]:.2f} s, median {median(after):.2f} s, "
              f"last {after[-1]:.2f} s; " if after else "")
    return {
        "scenario": f"{'c' if pty else 'b'}. kill, {'pty' if pty else 'no pty'}, "
                    f"sleep {seconds}, {n} hosts",
        "final_s": final_s, "statuses": status_text(rows["status"]), "left": left,
        "left_at_final": left_at_final, "sleeping": sleeping,
        "soft_to_kill_ms": (t_kill - t_soft) * 1000,
        "ok": (final_s is not None and final_s <= TARGET_KILL_SECONDS and unfinished == 0
               and rows["finished"] and not left),
        "detail": f"{sleeping} remote sleeps before; {spread}command exit codes {dict(exits)}; "
                  f"remote at final {dict(left_at_final) or 0}, {GRACE_SECONDS:.0f} s later "
                  f"{dict(left) or 0}; run finished: {rows['finished']}",
    }


def healthy(bench: Bench, worker, n: int) -> dict:
    """(d) A normal run on the same worker and pool after the kills."""
    held = ssh_connections(worker.pid, bench.sshd.port)
    try:
        res = run_minke(bench, n, n)
        ok, statuses, error = True, f"{n} completed/success", ""
    except BenchError as exc:
        rows = bench.run_rows(max(bench_run_ids(bench)))
        ok, res, statuses, error = False, {"seconds": None}, str(rows["statuses"]), str(exc)
    return {"scenario": f"d. fan-out on the same worker after the kills, {n} hosts",
            "final_s": res["seconds"], "statuses": statuses, "left": Counter(), "ok": ok,
            "detail": f"pooled SSH connections the worker held before: {held}; run time "
                      f"dispatch → run.finished{'; ' + error if error else ''}"}


def bench_run_ids(bench: Bench) -> list[int]:
    from webapp.extensions import db
    from webapp.models import Run

    ids = list(db.session.scalars(sa.select(Run.id)))
    db.session.rollback()
    return ids


# -- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--seconds", type=int, default=30, help="the sleep the kills interrupt")
    p.add_argument("--soft-seconds", type=int, default=3, help="the sleep of the soft stop")
    args = p.parse_args(argv)
    n = 4 if args.smoke else args.hosts
    seconds = 10 if args.smoke else args.seconds
    soft_seconds = 2 if args.smoke else args.soft_seconds
    banner("stop", args)
    results = []
    with Bench("stop", args, n) as bench:
        worker = bench.start_worker(pool_idle_ttl=60, worker_threads=n, concurrency=n)
        check = RemoteCheck(bench)
        try:
            run_minke(bench, n, n)  # warm-up: first-job costs; fills the pool
            for scenario in (lambda: soft_stop(bench, check, n, max(1, n // 2), soft_seconds),
                             lambda: kill(bench, check, n, seconds, pty=False),
                             lambda: kill(bench, check, n, seconds, pty=True),
                             lambda: healthy(bench, worker, n)):
                res = scenario()
                results.append(res)
                print(f"   {res['scenario']}: {fmt_seconds(res['final_s'])} s, "
                      f"{res['statuses']}; {res['detail']}", flush=True)
        finally:
            check.close()
    report(results, args, n, seconds)
    return 0


def fmt_seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def report(results: list[dict], args, n: int, seconds: int) -> None:
    targets = {
        "a": "running commands finish (exit 0), waiting ones canceled with no command, "
             "nothing left",
        "b": f"all final ≤ {TARGET_KILL_SECONDS:.0f} s after the kill, none running/stopping, "
             "no remote sleep left (beyond the spec's disconnect)",
        "c": f"all final ≤ {TARGET_KILL_SECONDS:.0f} s after the kill, none running/stopping, "
             "no remote sleep left",
        "d": "every session completed/success",
    }
    rows = []
    for res in results:
        key = res["scenario"][0]
        left = res["left"]
        rows.append((res["scenario"], fmt_seconds(res["final_s"]), res["statuses"],
                     left.get("sleep", 0) if key in "abc" else "-",
                     sum(left.values()) if key in "abc" else "-",
                     verdict(res["ok"], args.smoke)))
    notes = [f"{key}. target: {text}" for key, text in targets.items()]
    notes += [f"{res['scenario'][:1]}. {res['detail']}" for res in results]
    notes += [
        "final within: a. from the (soft) stop, b./c. from the second stop (the kill), until the "
        "last session's final status event is read from the run's Redis stream; d. dispatch → "
        "run.finished",
        "remote left: processes with the scenario's tag in their environment, counted over SSH "
        f"{GRACE_SECONDS:.0f} s after every session was final (sleeps / all tagged processes)",
        "stops via webapp.engine.control.stop_run (what `minke stop` calls): the kill is "
        "a second request right after the first; one worker, MINKE_POOL_IDLE_TTL=60",
    ]
    table(f"stopping runs: {n} hosts, kills interrupt `sleep {seconds}`",
          ["scenario", "final within s", "statuses", "remote sleeps left",
           "remote tagged procs left", "verdict"], rows, notes)


if __name__ == "__main__":
    sys.exit(main())
