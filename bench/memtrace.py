"""Where a worker's memory goes: tracemalloc snapshots at its highs (benchmarks only).

Loaded as a session module (``MINKE_SESSION_MODULES=bench.bench_sessions,bench.memtrace``)
by a worker whose environment has ``MINKE_BENCH_MEMTRACE=PATH``; does nothing otherwise.
It starts ``tracemalloc`` (``MINKE_BENCH_MEMTRACE_FRAMES`` frames, default 6) and a thread
that reads the traced size every 10 ms: whenever it is 2 MiB above the last snapshot's, it
takes a snapshot and rewrites ``PATH`` with the biggest allocation sites (by traceback) of
that snapshot, the one nearest the peak. Tracing slows the worker down (about 2x): use it
to find what holds memory, never for the numbers of a table.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

PATH = os.environ.get("MINKE_BENCH_MEMTRACE")
STEP = 2 * 1024 * 1024
MIB = 1024 * 1024


def _report(snapshot: tracemalloc.Snapshot, current: int, started: float) -> str:
    snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = snapshot.statistics("traceback")
    lines = [f"traced {current / MIB:.1f} MiB at {time.monotonic() - started:.2f} s after "
             f"start; {sum(s.count for s in stats)} blocks; biggest sites:"]
    for stat in stats[:15]:
        lines.append(f"{stat.size / MIB:8.2f} MiB {stat.count:7d} blocks")
        lines += [f"             {frame.filename}:{frame.lineno}"
                  for frame in reversed(stat.traceback)]
    return "\n".join(lines) + "\n"


def _watch() -> None:
    started = time.monotonic()
    last = 0
    while True:
        current, _peak = tracemalloc.get_traced_memory()
        if current >= last + STEP:
            snapshot = tracemalloc.take_snapshot()
            last = current
            Path(PATH).write_text(_report(snapshot, current, started))
        time.sleep(0.01)


if PATH and not tracemalloc.is_tracing():
    tracemalloc.start(int(os.environ.get("MINKE_BENCH_MEMTRACE_FRAMES", "6")))
    threading.Thread(target=_watch, name="bench-memtrace", daemon=True).start()
