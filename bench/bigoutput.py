"""Big output: one session prints 100 MB to stdout and, at the same time, 1 MB to stderr (target 3).

``BigOutputSession`` (bench/bench_sessions.py) runs two ``awk`` loops on one host: line i of
stdout is ``"%09d " + FILLER + "\\n"``, line i of stderr ``"E%08d " + FILLER + "\\n"`` (100
bytes each); this script generates the same bytes locally (hashed block by block, never held
whole) to compare with what was stored. Measured:

- the worker's memory the way a user first meets it (issue 11 section 6): in each round a
  fresh worker (default settings) does one small run, then the first big run, both through
  the CLI (``minke run BigOutputSession --host b000 --data …``), then more
  big runs dispatched in-process (the steady state); for each: VmRSS before, VmRSS sampled
  every 20 ms during the run and VmHWM after it (growth = peak − before);
- wall time from dispatch to ``run.finished`` and MB/s, beside a reference: the same command
  on a plain paramiko channel whose output is read and thrown away (the SSH ceiling);
- every byte back in order: ``minke output SESSION -o FILE`` (stdout) and ``--stream
  stderr`` (printed), sha256 against the local bytes; the CLI's peak RSS;
- the tail: ``webapp.output.tail`` of 64 KiB in this process, and ``minke output --tail``;
- the live stream: the run's ``session.output`` events in Redis (count, per second, largest
  count in any 1 s window by the stream ids' clock, sequence order and which stored chunks
  their ``first_seq``…``seq`` ranges cover).

The checks below the memory table (bytes, tail, live events) are of the last in-process run.

Many at once, and what the database keeps (issue 22, point 5): a fresh worker runs
``BigOutputSession`` on ``--parallel`` hosts at once, each printing ``--out-lines`` lines
(default 20 × 100 MB); its RSS growth, the database's growth against the bytes printed
(SQLite after a checkpoint; ``pg_database_size``), then ``minke cleanup --older-than 0`` as a
user runs it, the space it left free, and the same run again: the space a cleanup frees is
what the next runs write into.

    .venv/bin/python bench/bigoutput.py [--smoke] [--rounds 3] [--steady-runs 2]
        [--out-lines 1000000] [--err-lines 10000] [--parallel 20]
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

import sqlalchemy as sa

from .bench_sessions import FILLER, LINE_BYTES
from .common import (
    Bench,
    BenchError,
    banner,
    database_bytes,
    fabric_connection,
    host_name,
    median,
    parser,
    proc_memory,
    reset_peak_memory,
    table,
    verdict,
)

MB = 1000 * 1000  # output sizes and rates: 100 MB = 1,000,000 lines of 100 bytes
MIB = 1024 * 1024  # memory
TAIL_BYTES = 64 * 1024
TARGET_RSS_GROWTH = 64 * MIB
TARGET_TAIL_SECONDS = 0.05  # 64 KiB from the end, in this process
STREAM_FORMATS = {"stdout": "%09d", "stderr": "E%08d"}


# -- the expected bytes -------------------------------------------------------------------

@dataclass
class Expected:
    size: int
    sha256: str
    tail: bytes  # the last TAIL_BYTES


def expected_blocks(stream: str, lines: int, per_block: int = 10_000) -> Iterator[bytes]:
    """What BigOutputSession prints to ``stream``, in blocks of ``per_block`` lines."""
    fmt = STREAM_FORMATS[stream] + " " + FILLER + "\n"
    for start in range(1, lines + 1, per_block):
        stop = min(lines, start + per_block - 1)
        yield "".join([fmt % i for i in range(start, stop + 1)]).encode()


def expected(stream: str, lines: int) -> Expected:
    digest, size, tail = hashlib.sha256(), 0, b""
    for block in expected_blocks(stream, lines):
        digest.update(block)
        size += len(block)
        tail = (tail + block)[-TAIL_BYTES:]
    if size != lines * LINE_BYTES:
        raise BenchError(f"expected {stream}: {size} bytes for {lines} lines")
    return Expected(size, digest.hexdigest(), tail)


def file_digest(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(MIB):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


# -- watching the worker and the live stream ----------------------------------------------

class RssSampler:
    """Samples VmRSS of ``pid`` every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._done.is_set():
            try:
                self.peak = max(self.peak, proc_memory(self.pid)["VmRSS"])
                self.samples += 1
            except (OSError, KeyError):  # the worker died: the run's wait reports it
                return
            self._done.wait(self.interval)


@dataclass
class LiveOutput:
    """The ``session.output`` events of one session, without their data (only its length)."""

    stream_ms: list[int] = field(default_factory=list)  # Redis clock at XADD
    seq: list[int] = field(default_factory=list)
    first_seq: list[int] = field(default_factory=list)
    pieces: list[tuple[str, int, int]] = field(default_factory=list)  # (stream, first, last)
    data_chars: Counter = field(default_factory=Counter)  # per stream
    omitted: Counter = field(default_factory=Counter)
    t_finished: float = 0.0

    def per_second(self) -> float:
        """Events per second from the first to the last (over at least one second)."""
        if not self.stream_ms:
            return 0.0
        span = (self.stream_ms[-1] - self.stream_ms[0]) / 1000
        return len(self.stream_ms) / max(span, 1.0)

    def max_in_one_second(self) -> int:
        best, lo = 0, 0
        for hi, ms in enumerate(self.stream_ms):
            while ms - self.stream_ms[lo] >= 1000:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def in_order(self) -> bool:
        """Every event's range ``first_seq``…``seq`` lies after the previous event's."""
        previous = 0
        for first, last in zip(self.first_seq, self.seq, strict=True):
            if not previous < first <= last:
                return False
            previous = last
        return True

    def covered(self, chunks: dict[str, list[int]]) -> int:
        """How many stored chunks (``seq`` by stream) some event's range covers."""
        ranges: dict[str, list[tuple[int, int]]] = {}
        for stream, first, last in self.pieces:
            ranges.setdefault(stream, []).append((first, last))
        count = 0
        for stream, seqs in chunks.items():
            spans = ranges.get(stream, [])
            count += sum(1 for s in seqs if any(a <= s <= b for a, b in spans))
        return count


def follow(bench: Bench, run_id: int, session_id: int, timeout: float) -> LiveOutput:
    """Read the run's event stream until ``run.finished``; keep the session's output events."""
    from webapp.engine import events as ev

    live = LiveOutput()
    last_id = "0"
    deadline = time.monotonic() + timeout
    while True:
        last_id, entries = ev.read_batches(bench.redis, bench.state.keys, run_id, last_id,
                                           block_ms=200)
        for entry_id, batch in entries:
            for event in batch:
                if event["event"] == ev.RUN_FINISHED:
                    live.t_finished = time.perf_counter()
                    return live
                if event["event"] == ev.SESSION_OUTPUT and event.get("session") == session_id:
                    live.stream_ms.append(int(entry_id.split("-")[0]))
                    live.seq.append(event["seq"])
                    live.first_seq.append(event["first_seq"])
                    for piece in event["pieces"]:
                        live.pieces.append((piece["stream"], piece["first_seq"], piece["seq"]))
                        live.data_chars[piece["stream"]] += len(piece["data"])
                        live.omitted[piece["stream"]] += piece["omitted"]
        if time.monotonic() > deadline:
            raise BenchError(f"run {run_id} not finished within {timeout:.0f} s")


# -- the run --------------------------------------------------------------------------------

def big_run(bench: Bench, worker, out_lines: int, err_lines: int, timeout: float) -> dict:
    """One big run dispatched in this process, the worker's RSS sampled while it runs."""
    hwm_reset = reset_peak_memory(worker.pid)
    before = proc_memory(worker.pid)
    d = bench.dispatch("BigOutputSession", bench.host_ids[:1], concurrency=1, threads=1,
                       data={"out_lines": str(out_lines), "err_lines": str(err_lines)})
    with RssSampler(worker.pid) as sampler:
        live = follow(bench, d.run_id, d.session_ids[0], timeout)
    return {"dispatched": d, "live": live, "seconds": live.t_finished - d.t_start,
            "session_id": d.session_ids[0], "before": before, "hwm_reset": hwm_reset,
            "rss_sampled_peak": sampler.peak, "rss_samples": sampler.samples,
            "memory_after": proc_memory(worker.pid)}


def cli_big_run(bench: Bench, worker, out_lines: int, err_lines: int, timeout: float) -> dict:
    """One big run as a user starts it: ``minke run BigOutputSession``, RSS sampled."""
    hwm_reset = reset_peak_memory(worker.pid)
    before = proc_memory(worker.pid)
    with RssSampler(worker.pid) as sampler:
        result, run_id = bench.cli_run("BigOutputSession", "--host", host_name(0),
                                       "--data", f"out_lines={out_lines}",
                                       "--data", f"err_lines={err_lines}", timeout=timeout)
    return {"run_id": run_id, "seconds": result.seconds, "before": before, "hwm_reset": hwm_reset,
            "rss_sampled_peak": sampler.peak, "rss_samples": sampler.samples,
            "memory_after": proc_memory(worker.pid)}


def growth(res: dict) -> int:
    """Peak RSS during the run − RSS before; the peak is the higher of the sampled peak and
    VmHWM (when VmHWM was reset before the run; else it may be an earlier run's)."""
    return peak(res) - res["before"]["VmRSS"]


def peak(res: dict) -> int:
    hwm = res["memory_after"]["VmHWM"] if res["hwm_reset"] else 0
    return max(res["rss_sampled_peak"], hwm)


def memory_round(bench: Bench, out_lines: int, err_lines: int, steady_runs: int,
                 timeout: float) -> tuple[list[dict], dict]:
    """A fresh worker: one small run and the first big run through the CLI, then
    ``steady_runs`` big runs in-process; the memory of each big run, and the last one."""
    worker = bench.start_worker()  # the defaults a user's worker has
    try:
        bench.cli_run("BigOutputSession", "--host", host_name(0), "--data", "out_lines=1000",
                      "--data", "err_lines=100", timeout=60)  # the one small run
        time.sleep(0.5)
        runs = [dict(cli_big_run(bench, worker, out_lines, err_lines, timeout),
                     what="first: fresh worker after one small run, `minke run` (CLI)")]
        time.sleep(0.5)
        last: dict = {}
        for i in range(steady_runs):
            last = big_run(bench, worker, out_lines, err_lines, timeout)
            runs.append(dict(last, what=f"big run {i + 2} in the same worker (in-process)"))
            time.sleep(0.5)
    finally:
        bench.stop_worker(worker)
    return runs, last


def stored(bench: Bench, session_id: int) -> dict:
    """The session's command row and its chunks (``seq`` by stream, characters by stream)."""
    from webapp.extensions import db
    from webapp.models import MinkeSession, OutputChunk, StoredResult

    db.session.rollback()
    session = db.session.get(MinkeSession, session_id)
    commands = db.session.scalars(sa.select(StoredResult)
                                  .where(StoredResult.session_id == session_id)).all()
    if len(commands) != 1:
        raise BenchError(f"session {session_id}: {len(commands)} commands stored, expected 1 "
                         f"({session.proc_status}/{session.session_status})")
    command = commands[0]
    chunk_rows = db.session.execute(
        sa.select(OutputChunk.stream, OutputChunk.seq, sa.func.length(OutputChunk.data))
        .where(OutputChunk.command_id == command.id).order_by(OutputChunk.seq)).all()
    chunks: dict[str, list[int]] = {"stdout": [], "stderr": []}
    chars: Counter = Counter()
    for stream, seq, length in chunk_rows:
        chunks[stream].append(seq)
        chars[stream] += length
    result = {"proc_status": session.proc_status, "session_status": session.session_status,
              "command_id": command.id, "command": command.command,
              "exit_code": command.exit_code, "truncated": command.truncated,
              "stdout_bytes": command.stdout_bytes, "stderr_bytes": command.stderr_bytes,
              "chunks": chunks, "chars": chars}
    db.session.rollback()
    return result


def timed_tail(command_id: int, stream: str) -> tuple[float, bytes]:
    from webapp.extensions import db
    from webapp.output import tail

    db.session.rollback()
    t0 = time.perf_counter()
    text = tail(command_id, stream, TAIL_BYTES)
    seconds = time.perf_counter() - t0
    db.session.rollback()
    return seconds, text.encode()


def ssh_reference(bench: Bench, command: str) -> tuple[float, int]:
    """The same command on a plain paramiko channel (stderr merged), output thrown away."""
    connection = fabric_connection(bench.sshd, bench.addresses[0])
    try:
        connection.open()
        channel = connection.transport.open_session()
        channel.set_combine_stderr(True)
        t0 = time.perf_counter()
        channel.exec_command(command)
        size = 0
        while data := channel.recv(256 * 1024):
            size += len(data)
        status = channel.recv_exit_status()
        seconds = time.perf_counter() - t0
        channel.close()
    finally:
        connection.close()
    if status != 0:
        raise BenchError(f"reference command exited {status}")
    return seconds, size


# -- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--out-lines", type=int, default=1_000_000,
                   help="stdout lines of 100 bytes (default 1,000,000 = 100 MB)")
    p.add_argument("--err-lines", type=int, default=10_000,
                   help="stderr lines of 100 bytes (default 10,000 = 1 MB)")
    p.add_argument("--steady-runs", type=int, default=None,
                   help="big runs in-process after the first one, per fresh worker (default 2)")
    p.add_argument("--parallel", type=int, default=20,
                   help="sessions printing --out-lines each in one run at once (default 20; "
                        "0: not measured)")
    args = p.parse_args(argv)
    parallel = min(args.parallel, 3) if args.smoke else args.parallel
    out_lines = 20_000 if args.smoke else args.out_lines
    err_lines = 1_000 if args.smoke else args.err_lines
    timeout = 120 if args.smoke else 1800
    banner("bigoutput", args)

    t0 = time.perf_counter()
    want = {"stdout": expected("stdout", out_lines), "stderr": expected("stderr", err_lines)}
    print(f"   expected bytes generated locally: stdout {want['stdout'].size:,} B, stderr "
          f"{want['stderr'].size:,} B ({time.perf_counter() - t0:.1f} s)", flush=True)

    rounds = args.rounds or (1 if args.smoke else 3)
    steady_runs = max(1, args.steady_runs if args.steady_runs is not None
                      else (1 if args.smoke else 2))
    memory: list[tuple[int, dict]] = []
    with Bench("bigoutput", args, max(1, parallel)) as bench:
        for r in range(rounds):
            runs, res = memory_round(bench, out_lines, err_lines, steady_runs, timeout)
            memory += [(r + 1, run) for run in runs]
            print(f"   round {r + 1}: worker RSS growth " + ", ".join(
                f"{growth(run) / MIB:.1f}" for run in runs) + " MiB (first, then steady)",
                  flush=True)
        session_id = res["session_id"]
        print(f"   run #{res['dispatched'].run_id}: {res['seconds']:.1f} s, worker VmRSS "
              f"{res['before']['VmRSS'] / MIB:.0f} → peak {res['rss_sampled_peak'] / MIB:.0f} MiB "
              f"(VmHWM {res['memory_after']['VmHWM'] / MIB:.0f} MiB), "
              f"{len(res['live'].seq)} live output events", flush=True)
        rows = stored(bench, session_id)
        checks = read_back(bench, session_id, rows, want)
        ref_seconds, ref_size = ssh_reference(bench, rows["command"])
        print(f"   reference (paramiko channel, output discarded): {ref_seconds:.1f} s for "
              f"{ref_size:,} B", flush=True)
        flush_interval = bench.app.config["MINKE_OUTPUT_FLUSH_INTERVAL"]
        chunk_size = bench.app.config["MINKE_OUTPUT_CHUNK_SIZE"]
        many = (many_at_once(bench, parallel, out_lines, err_lines, timeout)
                if parallel else None)
    report_memory(args, memory, want)
    report(args, want, res["before"], res, rows, checks, (ref_seconds, ref_size),
           flush_interval, chunk_size)
    if many is not None:
        report_many(args, many, parallel, want)
    return 0


# -- many at once, and the database -------------------------------------------------------

def free_bytes(bench: Bench) -> int | None:
    """Space inside the database file that new rows reuse (SQLite's free pages); None on
    PostgreSQL, where VACUUM (autovacuum) marks dead rows' space for reuse."""
    if not bench.database_url.startswith("sqlite"):
        return None
    from webapp.extensions import db

    with db.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
    return int(pages) * int(size)


def parallel_run(bench: Bench, worker, n: int, out_lines: int, err_lines: int,
                 timeout: float) -> dict:
    """One run of BigOutputSession on ``n`` hosts at once; RSS sampled, database measured."""
    from webapp.engine import events as ev

    db_before = database_bytes(bench)
    hwm_reset = reset_peak_memory(worker.pid)
    before = proc_memory(worker.pid)
    d = bench.dispatch("BigOutputSession", bench.host_ids[:n], concurrency=n, threads=n,
                       data={"out_lines": str(out_lines), "err_lines": str(err_lines)})
    with RssSampler(worker.pid) as sampler:
        finished = bench.wait_finished(d.run_id, timeout=timeout)
    res = {"run_id": d.run_id, "seconds": finished.t_finished - d.t_start, "before": before,
           "hwm_reset": hwm_reset, "rss_sampled_peak": sampler.peak,
           "rss_samples": sampler.samples, "memory_after": proc_memory(worker.pid),
           "db_before": db_before, "db_after": database_bytes(bench),
           "events": sum(1 for e in finished.events if e["event"] == ev.SESSION_OUTPUT)}
    complete = sum(1 for sid in d.session_ids
                   if stored(bench, sid)["stdout_bytes"] == out_lines * LINE_BYTES)
    if complete != n:
        raise BenchError(f"run {d.run_id}: {complete} of {n} sessions stored all their output")
    return res


def many_at_once(bench: Bench, n: int, out_lines: int, err_lines: int, timeout: float) -> dict:
    """The parallel run, a cleanup of every finished run as a user runs it, the run again."""
    worker = bench.start_worker(worker_threads=n, concurrency=n)
    try:
        first = parallel_run(bench, worker, n, out_lines, err_lines, timeout)
        grew = first["db_after"] - first["db_before"]
        print(f"   {n} sessions at once: {first['seconds']:.1f} s, worker RSS growth "
              f"{growth(first) / MIB:.1f} MiB, database +{grew / MB:.1f} MB", flush=True)
        t0 = time.perf_counter()
        cleanup = bench.cli("cleanup", "--older-than", "0").check("cleanup")
        cleaned = {"seconds": time.perf_counter() - t0, "text": cleanup.stdout.strip(),
                   "db": database_bytes(bench), "free": free_bytes(bench)}
        again = parallel_run(bench, worker, n, out_lines, err_lines, timeout)
    finally:
        bench.stop_worker(worker)
    return {"first": first, "cleanup": cleaned, "again": again}


def report_many(args, many: dict, n: int, want: dict[str, Expected]) -> None:
    smoke = args.smoke
    first, cleaned, again = many["first"], many["cleanup"], many["again"]
    printed = n * (want["stdout"].size + want["stderr"].size)
    grew = first["db_after"] - first["db_before"]
    regrew = again["db_after"] - again["db_before"]
    rss = max(growth(first), growth(again))
    free = cleaned["free"]
    rows = [
        ("run: dispatch → run.finished (s), first / after the cleanup",
         f"{first['seconds']:.1f} / {again['seconds']:.1f}", "", ""),
        ("throughput, all sessions (MB/s)", f"{printed / MB / first['seconds']:.1f}", "", ""),
        ("worker RSS growth: peak − before (MiB), worse of the two runs", f"{rss / MIB:.1f}",
         f"< {TARGET_RSS_GROWTH // MIB}", verdict(rss < TARGET_RSS_GROWTH, smoke)),
        ("database growth / bytes printed (MB)", f"{grew / MB:.1f} / {printed / MB:.1f} = "
         f"{grew / printed:.2f}x", "≤ 1.00x", verdict(grew <= printed, smoke)),
        ("`minke cleanup --older-than 0` (s): what it said", f"{cleaned['seconds']:.1f}: "
         + cleaned["text"].replace("\n", "; "), "", ""),
        ("database after the cleanup (MB), of it free for new rows",
         f"{cleaned['db'] / MB:.1f}, " + (f"{free / MB:.1f}" if free is not None
                                          else "(PostgreSQL: after VACUUM)"), "", ""),
        ("the same run again: database growth (MB) / first run's",
         f"{regrew / MB:.1f} / {grew / MB:.1f} = {regrew / max(grew, 1):.2f}x",
         "freed space reused", verdict(regrew <= 0.1 * grew, smoke)),
        ("live session.output events, first run (all sessions)", f"{first['events']}", "", ""),
    ]
    table(f"many at once: {n} sessions × {want['stdout'].size / MB:.0f} MB stdout + "
          f"{want['stderr'].size / MB:.2f} MB stderr in one run, and what the database keeps",
          ["measure", "value", "target", "verdict"], rows,
          [f"a fresh worker with MINKE_WORKER_THREADS = MINKE_CONCURRENCY = {n}; the cleanup "
           "deletes every finished run (this bench's earlier ones too); output chunks are "
           "stored as text: SQLite keeps them as they are, PostgreSQL compresses large values "
           "(TOAST)"])


def report_memory(args, memory: list[tuple[int, dict]], want: dict[str, Expected]) -> None:
    rows = [(r, run["what"], run["before"]["VmRSS"] / MIB, peak(run) / MIB,
             growth(run) / MIB, run["memory_after"]["VmRSS"] / MIB, run["seconds"])
            for r, run in memory]
    first = [growth(run) for _r, run in memory if run["what"].startswith("first")]
    steady = [growth(run) for _r, run in memory if not run["what"].startswith("first")]
    notes = [
        f"each round: a fresh `minke worker` (default settings), one small run (1,000 + "
        f"100 lines) through the CLI, then {want['stdout'].size / MB:g} MB stdout + "
        f"{want['stderr'].size / MB:g} MB stderr: first through the CLI, then in-process",
        "growth = peak − RSS before the run; peak = the higher of VmRSS sampled every 20 ms "
        "and VmHWM after (reset before each run: "
        f"{'yes' if all(run['hwm_reset'] for _r, run in memory) else 'NO, sampled only'}); "
        "s = dispatch (CLI: subprocess start) → run.finished (CLI: exit)",
        f"first big run in a fresh worker: growth median {median(first) / MIB:.1f}, max "
        f"{max(first) / MIB:.1f} MiB; steady state: median {median(steady) / MIB:.1f}, max "
        f"{max(steady) / MIB:.1f} MiB",
        f"target: every big run < {TARGET_RSS_GROWTH // MIB} MiB, the first one included: max "
        f"{max(first + steady) / MIB:.1f} MiB → "
        f"{verdict(max(first + steady) < TARGET_RSS_GROWTH, args.smoke)}",
    ]
    table("big output: worker memory, first big run in a fresh worker and steady state",
          ["round", "run", "RSS before MiB", "peak MiB", "growth MiB", "after MiB", "s"], rows,
          notes)


def read_back(bench: Bench, session_id: int, rows: dict, want: dict[str, Expected]) -> dict:
    """Full output through the CLI (saved and printed), tails in-process and through the CLI."""
    sid = str(session_id)
    path = bench.workdir / "stdout.txt"
    saved = bench.cli("output", sid, "-o", str(path), timeout=900).check("minke output -o")
    size, digest = file_digest(path)
    path.unlink()
    printed = bench.cli("output", sid, "--stream", "stderr", timeout=300).check(
        "minke output --stream stderr")
    err_bytes = printed.stdout.encode()
    tail_cli = bench.cli("output", sid, "--tail", str(TAIL_BYTES)).check("minke output --tail")
    tails = {stream: timed_tail(rows["command_id"], stream) for stream in ("stdout", "stderr")}
    tails_again = {stream: timed_tail(rows["command_id"], stream)[0]
                   for stream in ("stdout", "stderr")}  # warm page cache: the usual case
    return {
        "saved": saved, "saved_size": size, "saved_ok": (size, digest) == (
            want["stdout"].size, want["stdout"].sha256),
        "printed": printed, "printed_size": len(err_bytes),
        "printed_ok": (len(err_bytes), hashlib.sha256(err_bytes).hexdigest()) == (
            want["stderr"].size, want["stderr"].sha256),
        "tail_cli": tail_cli,
        "tail_cli_ok": tail_cli.stdout.encode() == want["stdout"].tail,
        "tails": tails, "tails_again": tails_again,
        "tails_ok": {s: tails[s][1] == want[s].tail for s in tails},
    }


def report(args, want: dict[str, Expected], before: dict, res: dict, rows: dict, checks: dict,
           reference: tuple[float, int], flush_interval: float, chunk_size: int) -> None:
    smoke = args.smoke
    total = want["stdout"].size + want["stderr"].size
    seconds = res["seconds"]
    rss_growth = growth(res)
    live: LiveOutput = res["live"]
    n_chunks = sum(len(v) for v in rows["chunks"].values())
    covered = live.covered(rows["chunks"])
    max_window = live.max_in_one_second()
    event_bound = 2 / flush_interval
    stored_ok = (rows["exit_code"] == 0 and rows["stdout_bytes"] == want["stdout"].size
                 and rows["stderr_bytes"] == want["stderr"].size
                 and rows["chars"]["stdout"] == want["stdout"].size
                 and rows["chars"]["stderr"] == want["stderr"].size)
    in_order = checks["saved_ok"] and checks["printed_ok"] and stored_ok
    tail_s = checks["tails"]["stdout"][0]
    tail_ok = all(checks["tails_ok"].values()) and checks["tail_cli_ok"]
    cli_growth = checks["saved"].peak_rss - checks["tail_cli"].peak_rss
    ordered = live.in_order()
    bounded = max_window <= event_bound and len(live.seq) < n_chunks
    ref_s, ref_size = reference

    def mib(n: float) -> str:
        return f"{n / MIB:.1f}"

    t_rows = [
        ("run: dispatch → run.finished (s)", f"{seconds:.1f}", "", ""),
        ("throughput, stdout + stderr (MB/s)", f"{total / MB / seconds:.1f}", "", ""),
        ("reference: same command, paramiko channel, output discarded (s / MB/s)",
         f"{ref_s:.1f} / {ref_size / MB / ref_s:.1f}", "", ""),
        ("session / command", f"{rows['proc_status']}/{rows['session_status']}, exit "
         f"{rows['exit_code']}, truncated in memory: {rows['truncated']}", "", ""),
        ("worker VmRSS before (MiB)", mib(before["VmRSS"]), "", ""),
        ("worker VmRSS peak during, sampled / VmHWM after (MiB)",
         f"{mib(res['rss_sampled_peak'])} / {mib(res['memory_after']['VmHWM'])}", "", ""),
        ("worker VmRSS after (MiB)", mib(res["memory_after"]["VmRSS"]), "", ""),
        ("worker RSS growth: peak − before (MiB)", mib(rss_growth),
         f"< {TARGET_RSS_GROWTH // MIB}", verdict(rss_growth < TARGET_RSS_GROWTH, smoke)),
        ("stored: bytes stdout / stderr (row counters = chunk lengths = expected)",
         f"{rows['stdout_bytes']:,} / {rows['stderr_bytes']:,}", "", ""),
        ("stored chunks stdout / stderr", f"{len(rows['chunks']['stdout'])} / "
         f"{len(rows['chunks']['stderr'])}", f"≤ {chunk_size // 1024} KiB each", ""),
        ("CLI `minke output -o FILE` (stdout): s / MB/s / peak RSS MiB",
         f"{checks['saved'].seconds:.1f} / {want['stdout'].size / MB / checks['saved'].seconds:.1f}"
         f" / {mib(checks['saved'].peak_rss)}", "", ""),
        ("CLI `minke output --stream stderr` (printed): s / peak RSS MiB",
         f"{checks['printed'].seconds:.1f} / {mib(checks['printed'].peak_rss)}", "", ""),
        ("every byte stored and read back in order (sha256 stdout / stderr)",
         f"{'match' if checks['saved_ok'] else 'DIFFERS'} / "
         f"{'match' if checks['printed_ok'] else 'DIFFERS'}", "all bytes, in order",
         verdict(in_order, smoke)),
        ("CLI streams: its peak RSS, full stdout − `--tail` call (MiB)", mib(cli_growth),
         f"< {TARGET_RSS_GROWTH // MIB}", verdict(cli_growth < TARGET_RSS_GROWTH, smoke)),
        ("tail 64 KiB, webapp.output.tail stdout / stderr (ms, first call)",
         f"{tail_s * 1000:.1f} / {checks['tails']['stderr'][0] * 1000:.1f}", "", ""),
        ("tail 64 KiB again (ms, warm) / CLI `--tail` (s, peak RSS MiB)",
         f"{checks['tails_again']['stdout'] * 1000:.1f} / {checks['tail_cli'].seconds:.2f}, "
         f"{mib(checks['tail_cli'].peak_rss)}", "", ""),
        ("last 64 KiB read without the rest (correct bytes, first call)",
         f"{'correct' if tail_ok else 'WRONG'}, {tail_s * 1000:.1f} ms",
         f"< {TARGET_TAIL_SECONDS * 1000:.0f} ms", verdict(tail_ok and tail_s < TARGET_TAIL_SECONDS,
                                                           smoke)),
        ("live session.output events (chunks stored)", f"{len(live.seq)} ({n_chunks})", "", ""),
        ("live events per second: mean / most in any 1 s window",
         f"{live.per_second():.1f} / {max_window}", f"≤ {event_bound:.0f} in any 1 s",
         verdict(bounded, smoke)),
        ("live events: seq strictly increasing, ranges first_seq…seq in order",
         "yes" if ordered else "NO", "in order", verdict(ordered, smoke)),
        ("stored chunks inside some event's first_seq…seq range", f"{covered} of {n_chunks}",
         "(gaps allowed)", ""),
        ("live data + omitted chars, stdout / stderr",
         f"{live.data_chars['stdout'] + live.omitted['stdout']:,} / "
         f"{live.data_chars['stderr'] + live.omitted['stderr']:,}",
         f"{want['stdout'].size:,} / {want['stderr'].size:,}", ""),
    ]
    notes = [
        f"one session on one host: {want['stdout'].size / MB:.1f} MB stdout "
        f"({want['stdout'].size // LINE_BYTES:,} lines) and {want['stderr'].size / MB:.2f} MB "
        f"stderr at the same time; the last in-process run of the memory table above (steady "
        "state); "
        "MB = 10^6 bytes (output, rates), MiB = 2^20 bytes (memory)",
        f"RSS sampled every 20 ms ({res['rss_samples']} samples); growth uses the higher of the "
        "sampled peak and VmHWM",
        "read back: stdout saved by the CLI to a file, stderr printed by it; both hashed "
        "against bytes generated locally",
        f"live events are coalesced per session every MINKE_OUTPUT_FLUSH_INTERVAL = "
        f"{flush_interval} s, both streams in one event; the bound is twice that rate (room "
        "for the flush before a status event) and asks for fewer events than chunks",
        f"targets: worker RSS growth < 64 MiB; every byte in order; tail < "
        f"{TARGET_TAIL_SECONDS * 1000:.0f} ms; live events ≤ {event_bound:.0f}/s and in order",
    ]
    table("big output: one session, stdout + stderr at once",
          ["measure", "value", "target", "verdict"], t_rows, notes)


if __name__ == "__main__":
    sys.exit(main())
