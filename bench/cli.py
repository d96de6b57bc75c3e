"""The command line's own cost (issue 20 point 6): start-up and exit of ``minke`` commands.

Each command runs as a user types it, in a subprocess with the bench's environment, once
as ``flask --app wsgi minke …`` (the full app: pages, API, Socket.IO, migrations, every
command module) and once as the ``minke`` console command (an app for commands, each
command's module imported when it runs), alternating, in the same rounds:

- ``sessions`` (the registry and one small query: the start-up alone),
- ``runs --limit 5`` (history read from the database),
- ``run UptimeSession --host b000`` (dispatch, a real worker, a real sshd host).

Output is unbuffered (``PYTHONUNBUFFERED=1``). start-up = from before the subprocess is
started until its first byte of output; exit = from its last byte of output until its exit
is seen; total = the whole call. Targets: ``minke sessions`` start-up < 0.3 s and exit
< 0.1 s (medians).

    .venv/bin/python bench/cli.py [--smoke] [--rounds N] [--database-url URL] [--busy N]
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    MINKE,
    REPO_ROOT,
    Bench,
    BenchError,
    banner,
    host_name,
    median,
    parser,
    table,
    verdict,
)

CLIENTS = {
    "flask --app wsgi minke": (sys.executable, "-m", "flask", "--app", "wsgi", "minke"),
    "minke": (MINKE,),
}
STARTUP_TARGET = 0.3
EXIT_TARGET = 0.1


@dataclass
class Call:
    startup: float
    exit: float
    total: float


def timed_call(command: tuple[str, ...], env: dict[str, str], timeout: float = 120) -> Call:
    """Run ``command``; when its first and last output came and when it exited."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = last = None
    output = b""
    streams = {proc.stdout.fileno(): proc.stdout, proc.stderr.fileno(): proc.stderr}
    deadline = t0 + timeout
    while streams:
        ready, _, _ = select.select(list(streams), [], [], max(0.0, deadline - time.perf_counter()))
        if not ready:
            proc.kill()
            raise BenchError(f"{' '.join(command)} took over {timeout} s")
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                del streams[fd]
                continue
            if fd == proc.stdout.fileno():
                now = time.perf_counter()
                first = first if first is not None else now
                last = now
                output += chunk
    proc.wait()
    ended = time.perf_counter()
    if proc.returncode != 0 or first is None:
        raise BenchError(f"{' '.join(command)} exited {proc.returncode}: {output[-500:]!r}")
    return Call(first - t0, ended - last, ended - t0)


def busy_loops(count: int) -> list[subprocess.Popen]:
    """``count`` processes that keep a core busy each (the machine under load)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--busy", type=int, default=0,
                   help="measure beside this many busy-looping processes (a loaded machine)")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.smoke else 10)
    banner("cli", args)
    with Bench("cli", args, 1) as bench:
        bench.start_worker()
        env = bench.env()
        host = host_name(0)
        commands = {
            "sessions": ("sessions",),
            "runs --limit 5": ("runs", "--limit", "5"),
            f"run UptimeSession --host {host}": ("run", "UptimeSession", "--host", host),
        }
        calls: dict[tuple[str, str], list[Call]] = {}
        timed_call((MINKE, "run", "UptimeSession", "--host", host), env)  # host key stored
        loops = busy_loops(args.busy)
        try:
            for _ in range(rounds):
                for label, cmd in commands.items():
                    for client, prefix in CLIENTS.items():
                        calls.setdefault((label, client), []).append(
                            timed_call((*prefix, *cmd), env))
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
    rows = []
    for label in commands:
        old, new = (calls[(label, client)] for client in CLIENTS)
        base = median([c.total for c in old])
        for client, found in zip(CLIENTS, (old, new), strict=True):
            total = median([c.total for c in found])
            rows.append([label, client, len(found), median([c.startup for c in found]),
                         median([c.exit for c in found]), total, f"{total / base:.2f}x"])
    sessions = calls[("sessions", "minke")]
    startup, exit_ = median([c.startup for c in sessions]), median([c.exit for c in sessions])
    table("the command line's start-up and exit (seconds, medians)",
          ["command", "client", "N", "start-up", "exit", "total", "total vs flask"], rows,
          notes=["start-up: subprocess started → first byte of output; exit: last byte of output"
                 " → exit seen; both clients alternate in each round, same database and worker"
                 + (f"; beside {args.busy} busy-looping processes" if args.busy else ""),
                 f"target: `minke sessions` start-up < {STARTUP_TARGET} s: {startup:.3f} s → "
                 f"{verdict(startup < STARTUP_TARGET, args.smoke)}; exit < {EXIT_TARGET} s: "
                 f"{exit_:.3f} s → {verdict(exit_ < EXIT_TARGET, args.smoke)}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
