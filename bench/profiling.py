"""Sampling a worker with py-spy (installed into .venv on demand, never into requirements.txt)
and summarising where its busy threads spend their time.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;… count``); only
threads that are not idle are sampled, so the counts are CPU (or GIL-waiting) time.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from .common import REPO_ROOT, table

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
CATEGORIES = [  # first match wins, tested against each frame's file from the leaf upwards
    ("ssh crypto/transport (paramiko, cryptography)", ("paramiko/", "cryptography/", "nacl/",
                                                      "bcrypt/")),
    ("invoke/fabric runner & config", ("invoke/", "fabric/")),
    ("SQLAlchemy + DB driver", ("sqlalchemy/", "sqlite3/", "psycopg/")),
    ("redis-py / socketio emit", ("redis/", "socketio/", "engineio/")),
    ("json", ("json/",)),
    ("rq", ("rq/",)),
    ("minke engine (webapp/)", ("webapp/",)),
    ("sessions framework", ("sessions/",)),
    ("threading / queue / socket", ("threading.py", "queue.py", "socket.py", "selectors.py",
                                    "concurrent/")),
]


def py_spy() -> str:
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "py-spy"], check=True)
    return str(exe if exe.exists() else shutil.which("py-spy"))


class Profiler:
    """``with Profiler(pid, path): ...`` samples ``pid`` while the block runs."""

    def __init__(self, pid: int, path: Path, rate: int = 200) -> None:
        self.pid, self.path, self.rate = pid, Path(path), rate
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Profiler:
        self.proc = subprocess.Popen(
            [py_spy(), "record", "--pid", str(self.pid), "--rate", str(self.rate),
             "--format", "raw", "--threads", "--nonblocking", "--output", str(self.path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # let it attach
        if self.proc.poll() is not None:
            raise RuntimeError(f"py-spy failed: {self.proc.stderr.read().decode()}")
        return self

    def __exit__(self, *exc) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            m = FRAME.match(raw)
            frames.append((m["func"], m["file"]) if m else (raw, ""))
        stacks.append((frames, int(count)))
    return stacks


def _short(file: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", str(REPO_ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def summarise(path: Path, title: str, top: int = 18) -> str:
    """Tables: samples by category (leaf frame), top leaf functions, top inclusive minke frames."""
    stacks = _parse(path)
    total = sum(c for _, c in stacks) or 1
    by_thread: Counter = Counter()
    categories: Counter = Counter()
    leaf: Counter = Counter()
    inclusive: Counter = Counter()
    for frames, count in stacks:
        thread = frames[0][0] if frames and frames[0][0].startswith("thread") else "?"
        body = frames[1:] if thread != "?" else frames
        by_thread[_thread_kind(body)] += count
        if body:
            func, file = body[-1]
            leaf[f"{func} ({_short(file)})"] += count
        categories[_category(body)] += count
        seen = set()
        for func, file in body:
            if "webapp/" in file or "sessions/" in file or "/bench/" in file:
                key = f"{func} ({_short(file)})"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += count

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f}%"

    out = [table(f"{title}: busy samples by what the leaf frame is in ({total} samples)",
                 ["category", "share"], [(k, pct(v)) for k, v in categories.most_common()])]
    out.append(table(f"{title}: busy samples by thread", ["thread", "share"],
                     [(k, pct(v)) for k, v in by_thread.most_common(8)]))
    out.append(table(f"{title}: top leaf functions (self time)", ["function", "share"],
                     [(k, pct(v)) for k, v in leaf.most_common(top)]))
    out.append(table(f"{title}: top project frames (inclusive)", ["function", "share"],
                     [(k, pct(v)) for k, v in inclusive.most_common(top)]))
    return "\n\n".join(out)


def _category(frames: list[tuple[str, str]]) -> str:
    for _func, file in reversed(frames):
        for name, markers in CATEGORIES:
            if any(m in file for m in markers):
                return name
    return "other"


def _thread_kind(frames: list[tuple[str, str]]) -> str:
    names = [f"{func} ({_short(file)})" for func, file in frames]
    for func, file in frames:
        if "webapp/engine/worker/writer.py" in file:
            return "result writer (writer.py _loop)"
        if func == "_run_unit":
            return "session threads (execute._run_unit)"
        if "invoke/runners.py" in file and func in ("handle_stdout", "handle_stderr"):
            return "output reader threads (invoke handle_stdout/err)"
        if "paramiko/transport.py" in file and func == "run":
            return "paramiko transport threads"
        if "rq/" in file:
            return "rq main loop"
    return names[1] if len(names) > 1 else (names[0] if names else "?")
