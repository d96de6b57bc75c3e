"""The ``minke`` console command: ``flask --app wsgi minke`` on an app without the web parts.

Run as a user types it, from another directory, against the tests' database, Redis,
sshd and a worker (itself ``minke worker``: scripts/workers.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scripts.workers import MINKE, REPO_ROOT

pytestmark = pytest.mark.integration

FLASK_MINKE = (sys.executable, "-m", "flask", "--app", "wsgi", "minke")


def run(command: tuple[str, ...], *args: str, env: dict[str, str], cwd=REPO_ROOT):
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_minke_is_flask_minke(worker_env, tmp_path):
    ours = run((MINKE,), "--help", env=worker_env, cwd=tmp_path)
    flasks = run(FLASK_MINKE, "--help", env=worker_env)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.startswith("Usage: minke [OPTIONS] COMMAND [ARGS]...")
    commands = ours.stdout.split("Commands:")[1]
    assert commands == flasks.stdout.split("Commands:")[1]
    for name in ("run", "runs", "show", "sessions", "host", "user", "worker", "cleanup"):
        assert f"\n  {name} " in commands
    ours = run((MINKE,), "sessions", "--json", env=worker_env, cwd=tmp_path)
    flasks = run(FLASK_MINKE, "sessions", "--json", env=worker_env)
    assert ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(flasks.stdout)
    assert "UptimeSession" in {s["name"] for s in json.loads(ours.stdout)}


def test_minke_runs_a_session_on_a_real_host(worker_env, make_hosts, worker, tmp_path):
    make_hosts(1)
    ran = run((MINKE,), "run", "UptimeSession", "--host", "h00", "--json", env=worker_env,
              cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    [report] = json.loads(ran.stdout)
    assert (report["object"], report["status"]) == ("h00", "success")
    assert "minke worker" in " ".join(worker.proc.args)  # the worker is the same command


def test_a_command_loads_none_of_the_web_parts(worker_env):
    probe = ("import sys\n"
             "from webapp.cli.main import main\n"
             "sys.argv = ['minke', 'sessions']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "web = ['flask_socketio', 'socketio', 'flask_migrate', 'webapp.api', 'webapp.admin',\n"
             "       'webapp.runs', 'webapp.objects', 'gevent']\n"
             "print(json.dumps([m for m in web if m in sys.modules]))\n")
    ran = run((sys.executable, "-c", "import json\n" + probe), env=worker_env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == []


def test_minke_loads_session_modules_from_the_current_directory(worker_env, tmp_path):
    """As `flask --app wsgi` does: a module next to wsgi.py, named in MINKE_SESSION_MODULES."""
    (tmp_path / "mysessions_here.py").write_text(
        "from sessions import SingleCommandSession\n\n"
        "class DiskOfHostHere(SingleCommandSession):\n"
        '    """Disk usage here."""\n'
        '    work_on = ("Host",)\n'
        '    command = "df -h /"\n')
    env = {**worker_env, "MINKE_SESSION_MODULES": json.dumps("mysessions_here")}
    listed = run((MINKE,), "sessions", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "DiskOfHostHere" in listed.stdout

    missing = run((MINKE,), "sessions", env={**env, "MINKE_SESSION_MODULES": '"nowhere_mod"'},
                  cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == ("Error: cannot import session module 'nowhere_mod': "
                                      "No module named 'nowhere_mod'")
