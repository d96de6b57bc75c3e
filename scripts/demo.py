"""Start Minke with everything it needs on this machine: ``scripts/start [--port N] [--check]``.

State lives in ``var/``: the SQLite database, the secret key, the admin
password, sshd keys and logs. Redis is the one at ``$REDIS_URL`` (default
``redis://127.0.0.1:6379/0``) or a private redis-server started for the
demo. Four demo hosts are real sshd servers on 127.0.0.201-204. Unless
``$MINKE_SMTP_HOST`` names a mail server, email notifications go to a local
mailbox (aiosmtpd) that prints each mail to ``var/log/mail.log``.
``--check`` starts everything in a throw-away state directory, fetches the
login page, prints OK and shuts down.

The demo also shows a model of the user's own: ``Site`` (scripts/demo_sites.py,
its table from scripts/demo_sites_migrations/), two sites per demo host whose
directories are real ones under ``var/sites/``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from scripts.loopback import LoopbackSSHD, ensure_redis, free_port, port_is_free, stop_process
from scripts.webserver import web_command
from scripts.workers import WORKER_COMMAND, wait_registered

ROOT = Path(__file__).resolve().parent.parent
DEMO_HOSTS = 4
DEMO_FIRST_ADDRESS = 201  # 127.0.0.201…: clear of the tests' 127.0.0.2–21
DEMO_MODULE = "scripts.demo_sites"  # the user-style module with the Site model and its sessions
DEMO_MIGRATIONS = "scripts/demo_sites_migrations"
DEMO_SITES = {"shop": 120_000, "blog": 30_000}  # per host: site name -> bytes of its data file

log = logging.getLogger("minke.demo")


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def _on_signal(signum: int, _frame: Any) -> None:
    raise Stop(signal.Signals(signum).name)


def read_or_create(path: Path, make: Any) -> str:
    """The contents of ``path``, created by ``make()`` (readable by the owner only) if missing."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(make() + "\n")
    return path.read_text().strip()


def open_log(path: Path) -> Any:
    """``path`` opened for appending, readable by the owner only (logs name users and hosts)."""
    file = open(path, "ab", opener=lambda name, flags: os.open(name, flags, 0o600))
    os.chmod(path, 0o600)  # a log from before this rule
    return file


def make_site_root(root: Path, size: int) -> Path:
    """A site's directory with an index page and a data file of ``size`` bytes, readable
    by every user (the demo hosts log in as another user on this same machine)."""
    root.mkdir(parents=True, exist_ok=True)
    for directory in [root, *root.parents][:3]:  # root, its host's dir, sites/
        directory.chmod(0o755)
    (root / "index.html").write_text(f"<h1>{root.name}</h1>\n")
    (root / "data.bin").write_bytes(b"x" * size)
    for path in root.iterdir():
        path.chmod(0o644)
    return root


def set_up_database(env: dict[str, str], sshd: LoopbackSSHD, password: str,
                    sites_dir: Path) -> str:
    """Migrate, then create or update the demo group, hosts, sites and admin; a note on the
    password."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade", "heads"],
                   cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    from scripts.demo_sites import Site
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import (
        ADMIN_PERMISSION,
        BUILTIN_PERMISSIONS,
        Host,
        HostGroup,
        Permission,
        Role,
        User,
    )

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
                      "REDIS_URL": env["REDIS_URL"], "SECRET_KEY": env["SECRET_KEY"],
                      "MINKE_SESSION_MODULES": env["MINKE_SESSION_MODULES"],
                      "MINKE_MIGRATION_DIRS": env["MINKE_MIGRATION_DIRS"]})
    with app.app_context():
        def one(model: Any, **by: Any) -> Any:
            return db.session.scalar(db.select(model).filter_by(**by))

        group = one(HostGroup, name="demo") or HostGroup(name="demo", comment="loopback sshd")
        db.session.add(group)
        for i, address in enumerate(sshd.addresses, 1):
            host = one(Host, name=f"demo{i}") or Host(name=f"demo{i}")
            host.hostname, host.port, host.username = address, sshd.port, sshd.user
            host.config = sshd.host_config()
            if group not in host.groups:
                host.groups.append(group)
            db.session.add(host)
            db.session.flush()
            for name, size in DEMO_SITES.items():
                site = one(Site, host_id=host.id, name=name) or Site(host=host, name=name)
                site.root = str(make_site_root(sites_dir / host.name / name, size * i))
                db.session.add(site)
        if one(Permission, name=ADMIN_PERMISSION) is None:
            db.session.add(Permission(name=ADMIN_PERMISSION,
                                      description=BUILTIN_PERMISSIONS[ADMIN_PERMISSION]))
        role = one(Role, name="admin") or Role(name="admin", permissions=[])
        if ADMIN_PERMISSION not in role.permissions:
            role.permissions = [*role.permissions, ADMIN_PERMISSION]
        note = ""
        user = one(User, name="admin")
        if user is None:
            user = User(name="admin")
            user.set_password(password)
        elif not user.check_password(password):
            note = " (changed since: var/admin_password no longer matches)"
        if role not in user.roles:
            user.roles.append(role)
        db.session.add_all([role, user])
        db.session.commit()
        db.engine.dispose()
    return note


def wait_for_web(proc: subprocess.Popen, url: str, timeout: float = 30) -> bytes:
    """The body of ``url`` once the web server answers it with 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return response.read()
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the web server exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/start", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, help="web server port (default 5000)")
    parser.add_argument("--check", action="store_true",
                        help="start everything, fetch the login page, print OK and stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    port = args.port or (free_port() if args.check else 5000)
    if not port_is_free(port, ["127.0.0.1"]):
        print(f"scripts/start: port {port} on 127.0.0.1 is taken (another Minke?); "
              "choose another with --port N", file=sys.stderr)
        return 2
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.check:  # a private state dir: never touches a running demo's database
            state = Path(tempfile.mkdtemp(prefix="check-", dir=var))
            stack.callback(shutil.rmtree, state, ignore_errors=True)
        else:
            state = var
        state.chmod(0o755)
        logs = state / "log"
        logs.mkdir(exist_ok=True)
        try:
            return run(args, port, state, logs, stack)
        except Stop:
            print("\nStopping Minke …")
            return 0
        except (RuntimeError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", None) or ""
            print(f"scripts/start: {error}\n{detail}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the shutdown finish
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def run(args: argparse.Namespace, port: int, state: Path, logs: Path,
        stack: contextlib.ExitStack) -> int:
    own_key = not os.environ.get("SECRET_KEY")
    secret_key = os.environ.get("SECRET_KEY") or read_or_create(
        ROOT / "var" / "secret_key", lambda: secrets.token_hex(32))
    redis_url, redis_proc = ensure_redis(
        os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0", state / "redis")
    stack.callback(stop_process, redis_proc)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{state / 'minke.db'}"
    if args.check:
        database_url = f"sqlite:///{state / 'minke.db'}"
    env = {**os.environ, "SECRET_KEY": secret_key, "REDIS_URL": redis_url,
           "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    modules = [m for m in os.environ.get("MINKE_SESSION_MODULES", "").split(",") if m.strip()]
    dirs = [d for d in os.environ.get("MINKE_MIGRATION_DIRS", "").split(",") if d.strip()]
    env["MINKE_SESSION_MODULES"] = ",".join(dict.fromkeys([*modules, DEMO_MODULE]))
    env["MINKE_MIGRATION_DIRS"] = ",".join(dict.fromkeys([*dirs, DEMO_MIGRATIONS]))
    if args.check:  # a queue of its own: a running demo's jobs are not ours to take
        env["MINKE_QUEUE"] = f'"minke-check-{os.getpid()}"'
    mailbox = not env.get("MINKE_SMTP_HOST")  # notifications by email go to a local mailbox
    if mailbox:
        env["MINKE_SMTP_HOST"], env["MINKE_SMTP_PORT"] = "127.0.0.1", str(free_port())
    os.environ.update(env)

    sshd = LoopbackSSHD(DEMO_HOSTS, state / "sshd", first_address=DEMO_FIRST_ADDRESS)
    stack.enter_context(sshd)
    password = read_or_create(state / "admin_password", lambda: secrets.token_urlsafe(12))
    note = set_up_database(env, sshd, password, state / "sites")

    processes: dict[str, tuple[subprocess.Popen, Path]] = {}

    def spawn(name: str, cmd: list[str]) -> subprocess.Popen:
        path = logs / f"{name}.log"
        with open_log(path) as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
        processes[name] = (proc, path)
        stack.callback(stop_process, proc, 15)
        return proc

    if mailbox:  # aiosmtpd's debugging server: prints every mail it gets to mail.log
        spawn("mail", [sys.executable, "-m", "aiosmtpd", "-n", "-l",
                       f"127.0.0.1:{env['MINKE_SMTP_PORT']}"])
    web = spawn("web", web_command(f"127.0.0.1:{port}"))
    worker = spawn("worker", [*WORKER_COMMAND])
    spawn("scheduler", [WORKER_COMMAND[0], "scheduler"])  # fires the schedules (more: failover)
    url = f"http://127.0.0.1:{port}"
    for name, wait in (("web", lambda: wait_for_web(web, url + "/login")),
                       ("worker", lambda: wait_registered(worker, redis_url))):
        try:
            page = wait()
        except RuntimeError as error:
            raise RuntimeError(f"{error}; its log ({processes[name][1]}):\n"
                               f"{tail(processes[name][1])}") from None
        if name == "web" and b"Log in" not in page:
            raise RuntimeError(f"{url}/login answered without a login form")
    if args.check:
        print(f"OK: web {url}, worker pid {worker.pid}, {DEMO_HOSTS} demo hosts on "
              f"{sshd.addresses[0]}… port {sshd.port}, Redis {redis_url}")
        return 0

    print(f"\nMinke is running at {url} — log in as admin / {password}{note}\n")
    print("Run a session from the command line (in another shell, from this directory):")
    key = " SECRET_KEY=$(cat var/secret_key)" if own_key else ""
    print(f"  export DATABASE_URL={database_url} REDIS_URL={redis_url}{key}")
    print(f"  export MINKE_SESSION_MODULES={env['MINKE_SESSION_MODULES']} "
          f"MINKE_MIGRATION_DIRS={env['MINKE_MIGRATION_DIRS']}")
    print("  .venv/bin/minke run UptimeSession --group demo")
    print("  .venv/bin/minke run SiteSize --objects Site --where host=demo1\n")
    print(f"Logs: {logs}/web.log, {logs}/worker.log, {logs}/scheduler.log. Stop with Ctrl-C.")
    if mailbox:
        print(f"Email notifications land in {logs}/mail.log (MINKE_SMTP_HOST: a real server).")
    while True:
        for name, (proc, path) in processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"the {name} process exited with status {proc.returncode}; "
                                   f"its log ({path}):\n{tail(path)}")
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
