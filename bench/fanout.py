"""Cold fan-out of ``hostname; uptime``: Minke vs plain fabric vs Ansible (issue 8, target 1).

Minke in-process: dispatch (load hosts, ``start_run``: store, commit, enqueue) until the
run's ``run.finished`` event, which the worker publishes only after every session, command
result and message is committed. Minke through the CLI, as a user runs it (issue 11
section 6): ``minke run FanoutSession --group firstN --concurrency 50`` as a
subprocess with the bench's environment, from before it starts until it exits, with the CLI's
own start-up (``minke sessions``) measured in the same round. The worker
runs with ``MINKE_POOL_IDLE_TTL=0`` so every run opens fresh connections (cold).
Fabric: ``Connection.run(hide=True, in_stream=False)`` in a ThreadPoolExecutor,
one new connection per host, closed after. Ansible: ``ansible all -m raw -f 50``
with ControlMaster off (no connection survives a round). Same concurrency (50) for all;
rounds interleave the clients in a rotating order.

    .venv/bin/python bench/fanout.py [--smoke] [--rounds 3] [--sizes 50,200] [--no-cli]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

import sqlalchemy as sa

from .bench_sessions import FANOUT_COMMAND
from .common import (
    REPO_ROOT,
    Bench,
    BenchError,
    as_utc_timestamp,
    banner,
    fabric_connection,
    median,
    parser,
    table,
    verdict,
)

ANSIBLE_VENV = REPO_ROOT / "bench" / ".venv-ansible"
ANSIBLE_REQUIREMENTS = REPO_ROOT / "bench" / "requirements-ansible.txt"
TARGET_VS_FABRIC = 1.2
TARGET_VS_ANSIBLE = 4.5


# -- the three clients ------------------------------------------------------------------

def run_minke(bench: Bench, n: int, concurrency: int, host_ids: list[int] | None = None,
              on_dispatched: Callable[[int], object] | None = None) -> dict:
    """One Minke run of the fan-out session on the first ``n`` hosts (or ``host_ids``);
    ``on_dispatched(run_id)`` is called once the run is queued (a page watching it)."""
    host_ids = bench.host_ids[:n] if host_ids is None else host_ids
    n = len(host_ids)
    dispatched = bench.dispatch("FanoutSession", host_ids, concurrency=concurrency,
                                threads=concurrency)
    if on_dispatched is not None:
        on_dispatched(dispatched.run_id)
    finished = bench.wait_finished(dispatched.run_id, timeout=120 + n)
    seconds = finished.t_finished - dispatched.t_start
    rows = bench.check_fanout(dispatched.run_id, n)
    return {
        "seconds": seconds,
        "dispatch": dispatched.t_enqueued - dispatched.t_start,
        "pickup": rows["first_start"] - dispatched.wall_enqueued,
        "span": rows["last_end"] - rows["first_start"],
        "tail": (dispatched.wall_start + seconds) - rows["last_end"],
        "jobs": dispatched.jobs,
    }


def group_name(n: int) -> str:
    return f"first{n}"


def run_minke_cli(bench: Bench, n: int, concurrency: int) -> dict:
    """The CLI's start-up alone, then ``minke run FanoutSession --group firstN`` (seconds)."""
    from webapp.extensions import db
    from webapp.models import Run

    startup = bench.cli_startup()
    result, run_id = bench.cli_run("FanoutSession", "--group", group_name(n), "--concurrency",
                                   str(concurrency), timeout=120 + n,
                                   worker_threads=concurrency)
    rows = bench.check_fanout(run_id, n)
    created = as_utc_timestamp(db.session.scalar(sa.select(Run.created_at)
                                                 .where(Run.id == run_id)))
    jobs = db.session.scalar(sa.select(Run.job_count).where(Run.id == run_id))
    db.session.rollback()
    return {
        "seconds": result.seconds,
        "startup": startup.seconds,
        "dispatch": created - result.wall_start,
        "pickup": rows["first_start"] - created,
        "span": rows["last_end"] - rows["first_start"],
        "tail": (result.wall_start + result.seconds) - rows["last_end"],
        "jobs": jobs,
        "created_to_exit": result.wall_start + result.seconds - created,
    }


def run_fabric(bench: Bench, n: int, concurrency: int) -> dict:
    def one(address: str) -> str:
        connection = fabric_connection(bench.sshd, address)
        try:
            return connection.run(FANOUT_COMMAND, hide=True, in_stream=False).stdout
        finally:
            connection.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outputs = list(pool.map(one, bench.addresses[:n]))
    seconds = time.perf_counter() - t0
    bad = sum(1 for out in outputs if "load average" not in out)
    if bad:
        raise BenchError(f"fabric: {bad} of {n} outputs lack 'load average'")
    return {"seconds": seconds}


def ansible_executable() -> tuple[str | None, str]:
    """The bench's own ansible (bench/.venv-ansible, created on demand), or a reason."""
    exe = ANSIBLE_VENV / "bin" / "ansible"
    if exe.exists():
        return str(exe), ""
    try:
        subprocess.run([_base_python(), "-m", "venv", str(ANSIBLE_VENV)], check=True,
                       capture_output=True)
        subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q",
                        "--disable-pip-version-check", "-r", str(ANSIBLE_REQUIREMENTS)],
                       check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        output = detail.decode(errors="replace")[-300:]
        return None, f"installing ansible-core failed: {exc} {output}"
    return (str(exe), "") if exe.exists() else (None, "ansible not found after install")


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or "python3"


def write_inventory(bench: Bench, n: int) -> Path:
    path = bench.workdir / f"inventory-{n}.ini"
    lines = ["[bench]"]
    lines += [f"b{i:03d} ansible_host={address}" for i, address in enumerate(bench.addresses[:n])]
    lines += ["", "[bench:vars]", f"ansible_port={bench.sshd.port}",
              f"ansible_user={bench.sshd.user}",
              f"ansible_ssh_private_key_file={bench.sshd.key_filename}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_ansible(bench: Bench, n: int, concurrency: int, exe: str) -> dict:
    home = bench.workdir / "ansible-home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        ANSIBLE_HOME=str(home), ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        # cold like the others: no ControlMaster socket may carry over between rounds
        ANSIBLE_SSH_ARGS="-o ControlMaster=no -o UserKnownHostsFile=/dev/null "
                         "-o StrictHostKeyChecking=no -o LogLevel=ERROR",
    )
    t0 = time.perf_counter()
    result = subprocess.run(
        [exe, "all", "-i", str(write_inventory(bench, n)), "-m", "raw", "-a", FANOUT_COMMAND,
         "-f", str(concurrency)], env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    changed = result.stdout.count("| CHANGED |")
    if result.returncode != 0 or changed != n:
        raise BenchError(f"ansible: exit {result.returncode}, {changed}/{n} hosts changed:\n"
                         f"{result.stdout[-1500:]}\n{result.stderr[-1500:]}")
    return {"seconds": seconds}


# -- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default="50,200", help="host counts (comma-separated)")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--no-ansible", action="store_true")
    p.add_argument("--no-cli", action="store_true", help="skip Minke through the CLI")
    args = p.parse_args(argv)
    sizes = [5] if args.smoke else [int(s) for s in args.sizes.split(",")]
    rounds = args.rounds or (1 if args.smoke else 3)
    banner("fanout", args)

    exe, skipped = None, ""
    if args.smoke:
        skipped = "Ansible skipped in smoke mode"
    elif args.no_ansible:
        skipped = "Ansible skipped (--no-ansible)"
    else:
        exe, skipped = ansible_executable()
    clients = ["minke"] + ([] if args.no_cli else ["minke-cli"]) + ["fabric"] + (
        ["ansible"] if exe else [])

    results: dict[tuple[str, int], list[dict]] = {}
    with Bench("fanout", args, max(sizes)) as bench:
        worker = bench.start_worker(pool_idle_ttl=0, worker_threads=args.concurrency,
                                    concurrency=args.concurrency)
        for n in sizes:
            bench.create_group(group_name(n), bench.host_ids[:n])
        # warm-up (not measured): imports and first-use costs in the worker and in this process
        run_minke(bench, min(5, max(sizes)), args.concurrency)
        if "minke-cli" in clients:  # and the page cache for the CLI's imports
            bench.cli_startup()
        run_fabric(bench, min(5, max(sizes)), args.concurrency)
        for r in range(rounds):
            for n in sizes:
                order = clients[r % len(clients):] + clients[:r % len(clients)]
                for client in order:
                    if client == "minke":
                        res = run_minke(bench, n, args.concurrency)
                    elif client == "minke-cli":
                        res = run_minke_cli(bench, n, args.concurrency)
                    elif client == "fabric":
                        res = run_fabric(bench, n, args.concurrency)
                    else:
                        res = run_ansible(bench, n, args.concurrency, exe)
                    results.setdefault((client, n), []).append(res)
                    extra = (f" (CLI start-up alone {res['startup']:.3f} s)"
                             if "startup" in res else "")
                    print(f"   round {r + 1} N={n} {client}: {res['seconds']:.3f} s{extra}",
                          flush=True)
                    time.sleep(0.5)  # let sshd reap the closed sessions
        if args.profile:
            profile_run(bench, worker, max(sizes), args.concurrency)

    report(results, sizes, clients, rounds, args, skipped)
    return 0


def profile_run(bench: Bench, worker, n: int, concurrency: int) -> None:
    from .profiling import Profiler, summarise

    path = bench.workdir.parent / f"minke-bench-fanout-{n}.pyspy.txt"
    with Profiler(worker.pid, path):
        res = run_minke(bench, n, concurrency)
    print(f"   profiled run N={n}: {res['seconds']:.3f} s (py-spy attached); stacks in {path}")
    summarise(path, f"worker profile, cold fan-out N={n}")


CLI_NET = "minke-cli − start-up"
CLI_OWN = "minke-cli from Run inserted"


def report(results, sizes, clients, rounds, args, skipped: str) -> None:
    results = dict(results)
    shown = list(clients)
    if "minke-cli" in clients:  # the CLI's run less its start-up measured in the same round
        for n in sizes:
            results[(CLI_NET, n)] = [{"seconds": r["seconds"] - r["startup"]}
                                     for r in results[("minke-cli", n)]]
            results[("CLI start-up", n)] = [{"seconds": r["startup"]}
                                            for r in results[("minke-cli", n)]]
            results[(CLI_OWN, n)] = [{"seconds": r["created_to_exit"]}
                                     for r in results[("minke-cli", n)]]
        at = shown.index("minke-cli") + 1
        shown[at:at] = [CLI_NET, CLI_OWN, "CLI start-up"]
    rows = []
    med = {key: median([r["seconds"] for r in runs]) for key, runs in results.items()}
    mins = {key: min(r["seconds"] for r in runs) for key, runs in results.items()}
    for n in sizes:
        for client in shown:
            key = (client, n)
            rate = "-" if client == "CLI start-up" else f"{n / med[key]:.1f}"
            rows.append((n, client, mins[key], med[key], rate,
                         f"{med[key] / med[('fabric', n)]:.2f}x",
                         f"{mins[key] / mins[('fabric', n)]:.2f}x", len(results[key])))
    notes = [f"rounds: {rounds}, interleaved (rotating order); concurrency {args.concurrency}; "
             "cold: new connections every run"]
    if "minke-cli" in clients:
        notes.append("minke-cli: `minke run FanoutSession --group firstN "
                     f"--concurrency {args.concurrency}`, subprocess start → exit; CLI start-up: "
                     "`minke sessions` just before it in the same round; "
                     f"{CLI_NET}: the difference, round by round; {CLI_OWN}: Run.created_at "
                     "(the CLI's clock at the insert) → exit, the run without that call's own "
                     "start-up")
    if skipped:
        notes.append(skipped)
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        notes.append(f"growth {a}→{b} hosts (median time ratio; {b / a:.0f}x hosts): " + ", ".join(
            f"{c} {med[(c, b)] / med[(c, a)]:.2f}x" for c in clients))
    big = sizes[-1]
    judge = args.smoke or big < 200
    ratio = med[("minke", big)] / med[("fabric", big)]
    notes.append(f"target N={big}: minke ≤ {TARGET_VS_FABRIC}x fabric: {ratio:.2f}x (median), "
                 f"{mins[('minke', big)] / mins[('fabric', big)]:.2f}x (min) → "
                 f"{verdict(ratio <= TARGET_VS_FABRIC, judge)}")
    if "minke-cli" in clients:
        total, startup = med[("minke-cli", big)], med[("CLI start-up", big)]
        net = med[(CLI_NET, big)]
        cli_ratio = net / med[("fabric", big)]
        notes.append(f"N={big} through the CLI: `minke run` returns in {total:.3f} s = start-up "
                     f"{startup:.3f} s + {total - startup:.3f} s (medians)")
        own = med[(CLI_OWN, big)] / med[("fabric", big)]
        notes.append(f"target N={big}: minke run through the CLI ≤ {TARGET_VS_FABRIC}x fabric + "
                     f"start-up: {cli_ratio:.2f}x (median of run − start-up; from Run inserted "
                     f"to exit: {own:.2f}x) → {verdict(cli_ratio <= TARGET_VS_FABRIC, judge)}")
    if "ansible" in clients:
        speedup = med[("ansible", big)] / med[("minke", big)]
        notes.append(f"target N={big}: minke ≥ {TARGET_VS_ANSIBLE}x faster than ansible: "
                     f"{speedup:.2f}x → {verdict(speedup >= TARGET_VS_ANSIBLE, judge)}")
    table("cold fan-out of `hostname; uptime` (seconds)",
          ["N", "client", "min s", "median s", "hosts/s", "vs fabric (med)", "vs fabric (min)",
           "runs"], rows, notes)
    brk = []
    for n in sizes:
        for client in ("minke", "minke-cli"):
            runs = results.get((client, n))
            if not runs:
                continue
            brk.append((n, client, median([r["dispatch"] for r in runs]) * 1000,
                        median([r["pickup"] for r in runs]) * 1000,
                        median([r["span"] for r in runs]) * 1000,
                        median([r["tail"] for r in runs]) * 1000, runs[0]["jobs"]))
    table("minke cold run, where the time goes (median ms)",
          ["N", "client", "start → run stored and queued", "→ first session start",
           "first start → last end", "last end → run.finished read / CLI exit", "jobs"], brk,
          ["minke: start = before the hosts are loaded, in this process; `run stored and "
           "queued` = start_run returned",
           "minke-cli: start = subprocess started; `run stored` = Run.created_at (the CLI's "
           "clock at the insert; commit and enqueue follow)",
           "session start/end times are the worker's (stored start_time/end_time)"])


if __name__ == "__main__":
    sys.exit(main())
