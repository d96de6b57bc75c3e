"""What every benchmark needs: hosts, Redis, a migrated database, workers, dispatch, tables.

A :class:`Bench` (a context manager) sets up, in a fresh temporary directory:

- real sshd processes for N loopback hosts on ``127.0.<subnet>.1`` … (one sshd per 16
  addresses, a dedicated ``/bin/sh`` user; see scripts/loopback.py), away from the test
  suite's 127.0.0.2–21;
- a private ``redis-server`` (default) or ``--redis-url`` (flushed): the engine's stop channel
  and Socket.IO channel are server-wide pub/sub channels that ignore the db number, so a
  shared Redis would mix a bench's stop requests with the test suite's runs;
- a fresh SQLite database migrated to head, or with ``--database-url`` a new PostgreSQL
  database created next to the one named (dropped afterwards);
- ``Host`` rows for the addresses, an app context with ``create_app``;
- ``minke worker`` subprocesses with the bench's environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import redis as redis_lib  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from scripts.loopback import LoopbackSSHD, ensure_redis, free_port, stop_process  # noqa: E402
from scripts.workers import (  # noqa: E402
    MINKE,
    WorkerProcess,
    WorkerStartError,
    subprocess_env,
    wait_registered,
)

SESSION_MODULES = "bench.bench_sessions"
SECRET_KEY = "bench-not-secret"
QUEUE = "minke-bench"
# one /24 per bench, so that benches never share addresses with each other or the tests
SUBNETS = {"fanout": 1, "warm": 2, "bigoutput": 3, "roundtrip": 4, "stop": 5, "cli": 9}
WORKER_START_TIMEOUT = 30.0

log = logging.getLogger("bench")


# -- arguments and output ------------------------------------------------------------------

def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true",
                   help="a few hosts, one round: checks the bench works (no targets enforced)")
    p.add_argument("--rounds", type=int, default=None, help="measured rounds")
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL server URL: a new database is created beside the one named "
                        "(and dropped afterwards); default: a fresh SQLite file")
    p.add_argument("--redis-url", default=None,
                   help="use this Redis database (it is flushed!) instead of a private server")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--profile", action="store_true",
                   help="also record a py-spy profile of the worker in an extra run")
    return p


def banner(name: str, args: argparse.Namespace) -> None:
    print(f"== bench/{name}.py  {now_text()}  commit {git_head()}  "
          f"load {load_text()}  db {'postgresql' if args.database_url else 'sqlite'}"
          f"{'  SMOKE' if args.smoke else ''}", flush=True)
    print(f"   command: {command_line()}", flush=True)


def now_text() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def git_head() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                "--", "webapp", "sessions"], cwd=REPO_ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + ("+dirty(webapp/sessions)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_text() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def command_line() -> str:
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO_ROOT)
    except ValueError:
        pass
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", str(script), *sys.argv[1:]])


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
          notes: Iterable[str] = ()) -> str:
    """An aligned plain-text table (numbers right-aligned); printed and returned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in cells if r[i] not in ("", "-")) for i in
               range(len(headers))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(row, widths, numeric, strict=True)).rstrip()

    lines = [f"-- {title}", fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in cells]
    lines += [f"   {n}" for n in notes]
    text = "\n".join(lines)
    print(text + "\n", flush=True)
    return text


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("x%"))
    except ValueError:
        return False
    return True


def verdict(ok: bool, smoke: bool) -> str:
    if smoke:
        return "(smoke: not judged)"
    return "met" if ok else "MISSED"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ssh_connections(pid: int, port: int) -> int:
    """ESTABLISHED TCP connections of process ``pid`` to remote ``port`` (from /proc)."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return 0
    count = 0
    for table_file in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table_file).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            remote_port = int(parts[2].rsplit(":", 1)[1], 16)
            if parts[3] == "01" and remote_port == port and parts[9] in inodes:
                count += 1
    return count


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of ``pid`` in bytes, its threads and open file descriptors."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
        elif key == "Threads":
            values[key] = int(rest)
    values["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return values


def reset_peak_memory(pid: int) -> bool:
    """Reset VmHWM of ``pid`` to its current RSS (``clear_refs`` 5, Linux ≥ 4.0); whether it
    could, so that VmHWM after a run is that run's peak and not an earlier one's."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def database_bytes(bench: Bench) -> int:
    """The database's size on disk: SQLite's file after a checkpoint has moved the WAL into
    it (the WAL itself only grows to its checkpoint size), or ``pg_database_size``."""
    from webapp.extensions import db

    if bench.database_url.startswith("sqlite"):
        path = Path(bench.database_url.removeprefix("sqlite:///"))
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        return path.stat().st_size
    size = db.session.scalar(sa.text("SELECT pg_database_size(current_database())"))
    db.session.rollback()
    return int(size)


def as_utc_timestamp(value: dt.datetime | None) -> float | None:
    """A stored naive-UTC datetime as a Unix timestamp."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


# -- workers -----------------------------------------------------------------------------

class _WithConfig:
    """The app's engine state with another configuration (the bench's thread count)."""

    def __init__(self, state: Any, config: dict) -> None:
        self._state = state
        self.config = config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


@dataclass
class Dispatched:
    run_id: int
    session_ids: list[int]
    t_start: float  # perf_counter before loading objects / create_run
    t_committed: float
    t_enqueued: float
    wall_start: float  # time.time() at t_start
    wall_enqueued: float
    jobs: int


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # from before the subprocess is started until its exit is seen
    peak_rss: int
    wall_start: float = 0.0  # time.time() before the subprocess is started
    cpu: float = 0.0  # the child's user + system CPU seconds

    def check(self, what: str) -> CliResult:
        if self.returncode != 0:
            raise BenchError(f"{what} exited {self.returncode}: {self.stderr.strip()[-2000:]}")
        return self


@dataclass
class Finished:
    t_finished: float  # perf_counter when run.finished was read
    events: list[dict] = field(default_factory=list)
    stream_ids: list[str] = field(default_factory=list)  # stream id of each event

    def stream_ms(self, index: int) -> int:
        return int(self.stream_ids[index].split("-")[0])


class BenchError(RuntimeError):
    """The bench could not do what it measures (a crash, not a missed target)."""


class Bench:
    """Hosts, Redis, database, app, workers for one benchmark script."""

    def __init__(self, name: str, args: argparse.Namespace, n_hosts: int) -> None:
        self.name = name
        self.args = args
        self.n_hosts = n_hosts
        self.workdir = Path(tempfile.mkdtemp(prefix=f"minke-bench-{name}-"))
        os.chmod(self.workdir, 0o755)  # sshd reads authorized_keys as the login user
        self.sshd: LoopbackSSHD | None = None
        self.redis_url = ""
        self._redis_proc: subprocess.Popen | None = None
        self._worker_logs = 0  # worker-N.log: one per worker started
        self.database_url = ""
        self._pg_admin_url: str | None = None
        self._pg_name: str | None = None
        self.app = None
        self._ctx = None
        self.host_ids: list[int] = []
        self.workers: list[WorkerProcess] = []

    # -- set-up / tear-down

    def __enter__(self) -> Bench:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        t0 = time.perf_counter()
        first = (SUBNETS[self.name] << 8) + 1
        self.sshd = LoopbackSSHD(self.n_hosts, self.workdir / "sshd", first_address=first,
                                 idle_priority=self.hosts_idle)
        self.sshd.start(timeout=30)
        self._start_redis()
        self._create_database()
        self._create_app()
        self._create_hosts()
        print(f"   set-up: {self.n_hosts} hosts {self.sshd.addresses[0]}…"
              f"{self.sshd.addresses[-1]}:{self.sshd.port} as {self.sshd.user} "
              f"({len(self.sshd.processes)} sshd), redis {self.redis_url}, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)

    def _start_redis(self) -> None:
        if self.args.redis_url:
            self.redis_url = self.args.redis_url
        else:  # nothing answers on a fresh free port: ensure_redis starts a private server
            self.redis_url, self._redis_proc = ensure_redis(
                f"redis://127.0.0.1:{free_port()}/0", self.workdir / "redis")
        client = redis_lib.Redis.from_url(self.redis_url)
        client.flushdb()
        client.close()

    def _create_database(self) -> None:
        if not self.args.database_url:
            self.database_url = f"sqlite:///{self.workdir / 'bench.db'}"
            return
        url = sa.engine.make_url(self.args.database_url)
        self._pg_name = f"minke_bench_{self.name}_{os.getpid()}"
        self._pg_admin_url = url.render_as_string(hide_password=False)
        admin = sa.create_engine(self._pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self._pg_name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{self._pg_name}"')
        admin.dispose()
        self.database_url = url.set(database=self._pg_name).render_as_string(hide_password=False)

    def _drop_database(self) -> None:
        if not self._pg_name:
            return
        admin = sa.create_engine(self._pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
        admin.dispose()

    hosts_idle = False
    """Run the loopback hosts at the idle scheduling priority: a bench whose figures are
    the dashboard's own latency, not a ratio to plain fabric beside it, keeps the hosts'
    CPU out of them, as the other machines they stand in for would."""

    def app_config(self) -> dict[str, Any]:
        return {
            "SECRET_KEY": SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "REDIS_URL": self.redis_url,
            "MINKE_SESSION_MODULES": SESSION_MODULES,
            "MINKE_QUEUE": QUEUE,
            "MINKE_CONNECT_TIMEOUT": 10,
        }

    def _create_app(self) -> None:
        from flask_migrate import upgrade

        from webapp import create_app

        self.app = create_app(self.app_config())
        self._ctx = self.app.app_context()
        self._ctx.push()
        logging.disable(logging.INFO)  # alembic's env.py re-configures its loggers to INFO
        try:
            upgrade(revision="heads")
        finally:
            logging.disable(logging.NOTSET)

    def _create_hosts(self) -> None:
        from webapp.extensions import db
        from webapp.models import Host

        rows = [{"name": host_name(i), "hostname": address, "port": self.sshd.port,
                 "username": self.sshd.user, "config": self.sshd.host_config(),
                 "verbose_name": "", "comment": "", "disabled": False}
                for i, address in enumerate(self.sshd.addresses)]
        db.session.execute(sa.insert(Host), rows)
        db.session.commit()
        self.host_ids = list(db.session.scalars(sa.select(Host.id).order_by(Host.id)))
        # never keep a transaction open: on SQLite every transaction of the app begins with
        # BEGIN IMMEDIATE (webapp/database.py), so an idle one blocks every other writer
        db.session.rollback()

    def close(self) -> None:
        for worker in self.workers:  # signal all first: their warm shutdowns overlap
            if worker.proc.poll() is None:
                worker.proc.terminate()
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        if self._ctx is not None:
            from webapp.extensions import db

            try:
                self.app.extensions["minke"].close()
                db.session.remove()
                db.engine.dispose()
            finally:
                self._ctx.pop()
                self._ctx = None
        try:
            self._drop_database()
        except Exception as exc:  # noqa: BLE001 - tear-down goes on
            print(f"   warning: dropping {self._pg_name} failed: {exc}", file=sys.stderr)
        if self.sshd is not None:
            self.sshd.stop()
        stop_process(self._redis_proc)
        if self.args.keep:
            print(f"   kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- accessors

    @property
    def state(self):
        return self.app.extensions["minke"]

    @property
    def redis(self) -> redis_lib.Redis:
        return self.state.redis

    @property
    def addresses(self) -> list[str]:
        return self.sshd.addresses

    # -- subprocesses

    def env(self, **minke: Any) -> dict[str, str]:
        """Environment of workers and CLI calls; ``minke`` adds ``MINKE_<KEY>`` values."""
        return subprocess_env({**self.app_config(),
                               **{f"MINKE_{key.upper()}": value for key, value in minke.items()}})

    def start_worker(self, **minke: Any) -> WorkerProcess:
        """A registered ``minke worker``; ``minke`` sets config (``pool_idle_ttl=0``)."""
        # BENCH_VERBOSE=1 (with --keep): every job the worker takes, with times, in its log
        verbose = ["--verbose"] if os.environ.get("BENCH_VERBOSE") else []
        self._worker_logs += 1
        worker = WorkerProcess.start(*verbose, env=self.env(**minke),
                                     log_path=self.workdir / f"worker-{self._worker_logs}.log")
        self.workers.append(worker)
        try:
            wait_registered(worker.proc, self.redis_url, WORKER_START_TIMEOUT)
        except WorkerStartError as error:
            worker.stop()
            raise BenchError(f"{error}:\n{worker.log_text()}") from None
        return worker

    def stop_worker(self, worker: WorkerProcess) -> None:
        worker.stop()
        if worker in self.workers:
            self.workers.remove(worker)

    def cli(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None,
            on_start: Any = None) -> CliResult:
        """Run ``minke ARGS`` as a user does (the console command, the bench's environment,
        output to files): exit code, output, wall seconds, the child's peak RSS.

        ``env`` adds variables; ``on_start(pid)`` is called once the child runs (py-spy)."""
        out_path = self.workdir / "cli.out"
        err_path = self.workdir / "cli.err"
        child_env = {**self.env(), **(env or {})}
        wall_start = time.time()
        t0 = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [MINKE, *args], cwd=REPO_ROOT,
                env=child_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            if on_start is not None:
                on_start(proc.pid)
            deadline = time.monotonic() + timeout
            while True:  # wait4 also gives the child's peak RSS; polled every 2 ms
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise BenchError(f"minke {' '.join(args)} took over {timeout} s")
                time.sleep(0.002)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        return CliResult(proc.returncode, out_path.read_text(errors="replace"),
                         err_path.read_text(errors="replace"), seconds, usage.ru_maxrss * 1024,
                         wall_start, usage.ru_utime + usage.ru_stime)

    def cli_startup(self) -> CliResult:
        """``minke sessions``: what every CLI call pays before it does
        anything (interpreter, imports, ``create_app``, session modules) and at exit."""
        return self.cli("sessions", timeout=120).check("minke sessions")

    def cli_run(self, session_name: str, *selection: str, timeout: float = 600,
                **minke: Any) -> tuple[CliResult, int]:
        """``minke run SESSION SELECTION…`` as a user types it; the result and run id.

        ``minke`` sets config of the CLI process (``worker_threads=50``)."""
        env = {key: value for key, value in self.env(**minke).items()
               if key.startswith("MINKE_")}
        result = self.cli("run", session_name, *selection, timeout=timeout, env=env)
        match = re.search(r"^run #(\d+):", result.stdout, re.MULTILINE)
        if result.returncode != 0 or match is None:
            raise BenchError(f"minke run {session_name} {' '.join(selection)} exited "
                             f"{result.returncode}:\n{result.stdout[-1500:]}\n"
                             f"{result.stderr[-1500:]}")
        return result, int(match.group(1))

    def create_group(self, name: str, host_ids: Sequence[int]) -> None:
        """A ``HostGroup`` of these hosts (for ``minke run --group``)."""
        from webapp.extensions import db
        from webapp.models import Host, HostGroup

        group = HostGroup(name=name, comment="", config={})
        group.hosts = list(db.session.scalars(sa.select(Host).where(Host.id.in_(list(host_ids)))))
        db.session.add(group)
        db.session.commit()

    # -- runs

    def dispatch(self, session_name: str, host_ids: Sequence[int], *, data: dict | None = None,
                 concurrency: int = 50, threads: int = 50) -> Dispatched:
        """Dispatch like the CLI does: load the hosts, start_run (store, commit, enqueue)."""
        from sessions import REGISTRY
        from webapp.engine.dispatch import start_run, validate_data
        from webapp.extensions import db
        from webapp.models import Host, MinkeSession, Run

        session_cls = REGISTRY.get(session_name)
        wall_start = time.time()
        t_start = time.perf_counter()
        hosts = db.session.scalars(sa.select(Host).where(Host.id.in_(list(host_ids)))
                                   .order_by(Host.id)).all()
        state = self.state
        config = dict(state.config, MINKE_WORKER_THREADS=threads)
        run = start_run(_WithConfig(state, config), session_cls, hosts, user=None,
                        data=validate_data(session_cls, data), origin="cli",
                        concurrency=concurrency)
        t_enqueued = t_committed = time.perf_counter()
        wall_enqueued = time.time()
        run_id = run.id
        session_ids = list(db.session.scalars(
            sa.select(MinkeSession.id).where(MinkeSession.run_id == run_id)
            .order_by(MinkeSession.id)))
        jobs = db.session.scalar(sa.select(Run.job_count).where(Run.id == run_id))
        db.session.rollback()
        return Dispatched(run_id, session_ids, t_start, t_committed, t_enqueued, wall_start,
                          wall_enqueued, jobs)

    def wait_finished(self, run_id: int, timeout: float = 300.0, *,
                      until: Any = None) -> Finished:
        """Read the run's event stream until ``run.finished`` (or ``until(event)`` is true)."""
        from webapp.engine import events as ev

        deadline = time.monotonic() + timeout
        last_id = "0"
        done = Finished(0.0)
        while True:
            last_id, entries = ev.read_batches(self.redis, self.state.keys, run_id, last_id,
                                               block_ms=100)
            now = time.perf_counter()
            for entry_id, batch in entries:
                for event in batch:
                    event["_received"] = now
                    done.events.append(event)
                    done.stream_ids.append(entry_id)
                    if event["event"] == ev.RUN_FINISHED or (until is not None and until(event)):
                        done.t_finished = now
                        return done
            if time.monotonic() > deadline:
                raise BenchError(f"run {run_id} not finished within {timeout:.0f} s "
                                 f"({len(done.events)} events read)")

    def run_rows(self, run_id: int) -> dict[str, Any]:
        """What the run stored: sessions by status, commands, messages, times."""
        from webapp.extensions import db
        from webapp.models import Message, MinkeSession, StoredResult

        db.session.rollback()
        sessions = db.session.execute(
            sa.select(MinkeSession.id, MinkeSession.proc_status, MinkeSession.session_status,
                      MinkeSession.start_time, MinkeSession.end_time)
            .where(MinkeSession.run_id == run_id)).all()
        ids = [s.id for s in sessions]
        commands = db.session.execute(
            sa.select(StoredResult.session_id, StoredResult.exit_code, StoredResult.stdout,
                      StoredResult.created_at)
            .where(StoredResult.session_id.in_(ids))).all() if ids else []
        messages = db.session.scalar(
            sa.select(sa.func.count()).select_from(Message)
            .where(Message.session_id.in_(ids))) if ids else 0
        db.session.rollback()
        statuses: dict[str, int] = {}
        for s in sessions:
            key = f"{s.proc_status}/{s.session_status}"
            statuses[key] = statuses.get(key, 0) + 1
        starts = [as_utc_timestamp(s.start_time) for s in sessions if s.start_time]
        ends = [as_utc_timestamp(s.end_time) for s in sessions if s.end_time]
        return {"sessions": sessions, "statuses": statuses, "commands": commands,
                "messages": messages, "first_start": min(starts) if starts else None,
                "last_end": max(ends) if ends else None}

    def check_fanout(self, run_id: int, n: int, marker: str = "load average") -> dict[str, Any]:
        """Every session completed/success with one command whose stdout has ``marker``."""
        rows = self.run_rows(run_id)
        good = rows["statuses"].get("completed/success", 0)
        ok_commands = sum(1 for c in rows["commands"] if c.exit_code == 0 and marker in c.stdout)
        if good != n or ok_commands != n or rows["messages"] < n:
            raise BenchError(f"run {run_id}: expected {n} successful sessions with one command "
                             f"and a message each, got {rows['statuses']}, {ok_commands} good "
                             f"commands, {rows['messages']} messages; "
                             f"{self.failure_messages(run_id)}")
        return rows

    def failure_messages(self, run_id: int, limit: int = 5) -> str:
        """What the run's unsuccessful sessions said (their error and warning messages)."""
        from webapp.extensions import db
        from webapp.models import Message, MinkeSession

        db.session.rollback()
        found = db.session.execute(
            sa.select(MinkeSession.object_label, Message.payload)
            .join(Message, Message.session_id == MinkeSession.id)
            .where(MinkeSession.run_id == run_id, Message.level.in_(["error", "warning"]))
            .limit(limit)).all()
        db.session.rollback()
        return "; ".join(f"{label}: {payload}" for label, payload in found) or "no error messages"


def host_name(index: int) -> str:
    """The name of the bench's ``index``-th host (``b000``…)."""
    return f"b{index:03d}"


def fabric_connection(sshd: LoopbackSSHD, address: str):
    import fabric

    return fabric.Connection(address, port=sshd.port, user=sshd.user,
                             connect_kwargs=dict(sshd.connect_kwargs))
