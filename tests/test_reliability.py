"""Faults: nothing stuck, nothing orphaned — the engine's cases of docs/reliability.md."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
import rq
import sqlalchemy as sa

from scripts.loopback import free_port, stop_process
from scripts.workers import WorkerProcess, wait_registered
from sessions import REGISTRY
from tests.test_engine_stop import (
    dispatch,
    finished,
    remote_sleeps,
    sessions_of,
    states,
    wait_for,
)
from webapp.engine.dispatch import start_run
from webapp.extensions import db
from webapp.models import MinkeSession, Run

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


def only(run: Run):
    [session] = run.sessions
    return session


@pytest.mark.parametrize(("session_name", "seconds"), [("CommandTimeoutSession", 41),
                                                       ("ConfigTimeoutSession", 42)])
def test_a_timed_out_command_is_killed_on_the_host_and_fails_the_session_saying_so(
        execute_run, make_hosts, sshd, session_name, seconds):
    session = only(execute_run(session_name, make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("failed", "error")
    assert "timed out after 1 s" in session.messages[0].text
    wait_for(lambda: remote_sleeps(sshd.user, seconds) == [], timeout=3)
    [command] = session.commands
    assert "never" not in command.stdout  # its shell was killed too, not only the sleep


# -- a Redis that restarts empty ---------------------------------------------------------


def _redis_server(port: int, workdir) -> subprocess.Popen:
    proc = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    wait_for(lambda: _answers(client), timeout=10, interval=0.05)
    return proc


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


@pytest.mark.slow
def test_a_redis_restart_mid_run_leaves_every_session_and_the_cli_intact(
        app, make_hosts, worker_env, tmp_path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = _redis_server(port, tmp_path)
    env = {**worker_env, "REDIS_URL": url, "MINKE_WORKER_HEARTBEAT": "1"}
    worker = WorkerProcess.start(env=env, log_path=tmp_path / "worker.log")
    cli = None
    try:
        wait_registered(worker.proc, url)
        make_hosts(2)
        cli = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "minke", "run", "SleepSession",
             "--host", "h00", "--host", "h01", "--data", "seconds=14"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: _proc_states() == {"running"}, timeout=20)
        server.kill()  # stopped 10 s, then back empty
        server.wait()
        time.sleep(10)
        server = _redis_server(port, tmp_path)

        out, err = cli.communicate(timeout=60)
        db.session.rollback()
        said = [m.text for s in db.session.scalars(sa.select(MinkeSession)) for m in s.messages]
        assert cli.returncode == 0, said
        assert "Traceback" not in err and "Redis does not answer" in err
        assert "Redis answers again" in err
        db.session.rollback()
        sessions = db.session.scalars(sa.select(MinkeSession)).all()
        assert {(s.proc_status, s.session_status) for s in sessions} == {("completed", "success")}
        assert not any("died" in m.text for s in sessions for m in s.messages)
        run = db.session.scalar(sa.select(Run))
        assert run.finished_at >= max(s.end_time for s in sessions)
        # the worker registered again: rq lists it, `minke run` finds it
        connection = redis.Redis.from_url(url)
        wait_for(lambda: any(w.pid == worker.pid for w in rq.Worker.all(connection=connection)),
                 timeout=10)
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
        worker.stop()
        stop_process(server)
        db.session.rollback()


def _proc_states() -> set[str]:
    db.session.rollback()
    states = set(db.session.scalars(sa.select(MinkeSession.proc_status)))
    db.session.rollback()
    return states


# -- honest failure reasons ---------------------------------------------------------------


def test_a_server_that_never_speaks_ssh_fails_with_no_banner(execute_run, make_hosts, app):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    try:
        host = make_hosts(1, hostname="127.0.0.1", port=silent.getsockname()[1])[0]
        started = time.monotonic()

        session = only(execute_run("UptimeSession", [host]))

        timeout = app.config["MINKE_CONNECT_TIMEOUT"]
        assert (session.proc_status, session.session_status) == ("failed", "error")
        assert session.messages[0].text.startswith(f"no SSH banner within {timeout} s")
        assert time.monotonic() - started < timeout + 5
    finally:
        for connection, _address in accepted:
            connection.close()
        silent.close()


def test_a_connection_lost_mid_command_fails_the_session_saying_so(execute_run, make_hosts):
    session = only(execute_run("ConnectionDropSession", make_hosts(1)))

    assert (session.proc_status, session.session_status) == ("failed", "error")
    assert session.messages[0].text.startswith("connection lost while running")
    assert session.commands[0].stdout == "before\n"


def test_a_default_command_timeout_applies_to_every_command(execute_run, make_hosts, app, sshd):
    app.config["MINKE_COMMAND_TIMEOUT"] = 1
    session = only(execute_run("SleepSession", make_hosts(1), {"seconds": "43"}))

    assert session.proc_status == "failed"
    assert "timed out after 1 s" in session.messages[0].text
    wait_for(lambda: remote_sleeps(sshd.user, 43) == [], timeout=3)


# -- installations sharing one Redis --------------------------------------------------------


@pytest.mark.slow
def test_two_installations_sharing_a_redis_never_see_each_others_runs(
        app, make_hosts, worker_env, redis_url, tmp_path):
    """B is a second installation on another database (its run ids start at 1 too), on
    the same Redis as the tests' app A. A's run #1 is queued (no worker of A) and a stale
    ``run.finished`` of A's run #1 sits in A's stream: B's worker must not take A's job,
    and B's ``minke run`` (its run #1) must report B's own outcome."""
    state = app.extensions["minke"]
    [host] = make_hosts(1)
    a_run = start_run(state, REGISTRY.get("UptimeSession"), [host], user=None, origin="cli")
    state.publisher.publish(a_run.id, "run.finished", {"summary": {"stale": 1}})
    db.session.rollback()

    b_env = {**worker_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade", "heads"], cwd=ROOT, env=b_env, check=True,
                   capture_output=True)
    subprocess.run([*flask, "minke", "host", "add", "b-host", "--hostname", host.hostname,
                    "--port", str(host.port), "--username", host.username,
                    "--config", json.dumps(host.config)],
                   cwd=ROOT, env=b_env, check=True, capture_output=True)
    b_worker = WorkerProcess.start(env=b_env, log_path=tmp_path / "b-worker.log")
    try:
        wait_registered(b_worker.proc, redis_url)
        ran = subprocess.run([*flask, "minke", "run", "UptimeSession", "--host", "b-host",
                              "--json"], cwd=ROOT, env=b_env, capture_output=True, text=True,
                             timeout=60)

        assert ran.returncode == 0, ran.stdout + ran.stderr
        [report] = json.loads(ran.stdout)
        assert (report["object"], report["status"]) == ("b-host", "success")
        db.session.rollback()
        a_session = db.session.scalar(sa.select(MinkeSession).where(
            MinkeSession.run_id == a_run.id))
        assert a_session.proc_status == "initialized"  # B's worker left A's job alone
        assert state.queue.count == 1
    finally:
        b_worker.stop()
        db.session.rollback()


def test_a_host_whose_stored_config_cannot_be_used_fails_alone(execute_run, make_hosts):
    """A row stored before configs were validated (or written around the CLI)."""
    good, bad = make_hosts(2)
    bad.config = {"run": 5, "run.pty": True}
    db.session.commit()

    run = execute_run("UptimeSession", [good, bad])

    by_name = {s.object_label: s for s in run.sessions}
    assert by_name[good.name].session_status == "success"
    assert by_name[bad.name].proc_status == "failed"
    assert "connection configuration of h01 is invalid" in by_name[bad.name].messages[0].text
    assert run.finished_at is not None


def test_five_concurrent_runs_on_the_same_hosts_wait_their_turn_or_skip_them(
        runner, make_hosts, start_worker, make_user):
    make_hosts(3)
    start_worker()
    start_worker()
    make_user("alice", "minke.admin")
    hosts = ["--host", "h00", "--host", "h01", "--host", "h02"]
    first = dispatch(runner, "SleepSession", *hosts, "--data", "seconds=4", "--user", "alice")
    wait_for(lambda: set(states(first)) == {"running"})
    waiting = [dispatch(runner, "UptimeSession", *hosts) for _ in range(2)]
    skipping = [dispatch(runner, "UptimeSession", *hosts, "--skip-busy") for _ in range(2)]

    for run_id in skipping:
        wait_for(lambda run_id=run_id: states(run_id) == ["canceled"] * 3, timeout=20)
        for session in sessions_of(run_id):
            [note] = session.messages
            assert note.text.startswith("not run: host h0") and note.about_run == first
    wait_for(lambda: finished(first))
    ended = {s.host_id: s.end_time for s in sessions_of(first)}
    for run_id in waiting:
        wait_for(lambda run_id=run_id: states(run_id) == ["completed"] * 3, timeout=30)
        for session in sessions_of(run_id):
            assert session.messages[0].text == "waiting for the host"
            assert session.start_time >= ended[session.host_id]  # after the holder's end
    assert states(first) == ["completed"] * 3


def test_killing_one_session_leaves_the_same_users_other_commands_alone(
        runner, make_hosts, worker):
    """Both hosts are the same machine and user here: the kill must find its own command's
    processes only (once it matched every process of the user)."""
    make_hosts(2)
    run_id = dispatch(runner, "SleepSession", "--host", "h00", "--host", "h01",
                      "--data", "seconds=4")
    wait_for(lambda: states(run_id) == ["running", "running"])
    doomed = sessions_of(run_id)[1].id
    for _ in range(2):
        runner.invoke(args=["minke", "stop", str(run_id), "--session", str(doomed)])

    wait_for(lambda: all(s.is_final for s in sessions_of(run_id)), timeout=20)
    kept, killed = sessions_of(run_id)
    assert (killed.proc_status, kept.proc_status, kept.session_status) == (
        "stopped", "completed", "success")
    assert kept.commands[0].stdout == "slept\n"


def test_cleanup_kills_a_stuck_python_session_and_its_worker_takes_the_next_job(
        runner, make_hosts, worker):
    make_hosts(1)
    stuck = dispatch(runner, "PythonLoopSession", "--host", "h00")
    wait_for(lambda: sessions_of(stuck)[0].commands)
    waiting = dispatch(runner, "UptimeSession", "--host", "h00")
    time.sleep(1)  # longer than the 0.6 s given below

    result = runner.invoke(args=["minke", "cleanup", "--kill-stuck", "0.01"])

    assert "1 session(s) running longer than 0.01 minute(s) killed" in result.output
    wait_for(lambda: states(stuck) == ["stopped"], timeout=10)
    assert "its Python code was interrupted" in sessions_of(stuck)[0].messages[-1].text
    wait_for(lambda: states(waiting) == ["completed"], timeout=20)
