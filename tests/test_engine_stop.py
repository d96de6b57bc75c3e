"""Stopping runs from another process, killing, dead workers and host locks — real workers."""

from __future__ import annotations

import subprocess
import time

import pytest
import sqlalchemy as sa
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy.orm import selectinload

from webapp.engine import locks
from webapp.extensions import db
from webapp.models import MinkeSession, Run

pytestmark = pytest.mark.integration


def dispatch(runner, session: str, *args: str) -> int:
    result = runner.invoke(args=["minke", "run", session, *args, "--no-wait"])
    assert result.exit_code == 0, result.output
    return int(result.output.strip().splitlines()[-1])


def sessions_of(run_id: int) -> list[MinkeSession]:
    """The run's sessions with their messages and commands, detached from the database
    session so that reading them never holds SQLite's write lock while a worker writes."""
    db.session.rollback()
    rows = db.session.scalars(
        sa.select(MinkeSession).where(MinkeSession.run_id == run_id).order_by(MinkeSession.id)
        .options(selectinload(MinkeSession.messages), selectinload(MinkeSession.commands))
    ).all()
    db.session.expunge_all()
    db.session.rollback()
    return rows


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def finished(run_id: int) -> bool:
    db.session.rollback()
    done = db.session.scalar(sa.select(Run.finished_at).where(Run.id == run_id)) is not None
    db.session.rollback()
    return done


def states(run_id: int) -> list[str]:
    return [s.proc_status for s in sessions_of(run_id)]


def remote_sleeps(user: str, seconds: int) -> list[str]:
    found = subprocess.run(["pgrep", "-u", user, "-f", f"sleep {seconds}"],
                           capture_output=True, text=True)
    return found.stdout.split()


def test_soft_stop_lets_the_running_command_finish_and_runs_no_more(runner, make_hosts, worker):
    make_hosts(1)
    run_id = dispatch(runner, "TwoSleepsSession", "--host", "h00", "--data", "seconds=2")
    wait_for(lambda: states(run_id) == ["running"])
    time.sleep(0.3)
    result = runner.invoke(args=["minke", "stop", str(run_id)])
    assert "stop requested" in result.output
    wait_for(lambda: states(run_id) == ["stopped"])
    session = sessions_of(run_id)[0]
    assert [c.command for c in session.commands] == ["sleep 2; echo first"]
    assert session.commands[0].stdout == "first\n"  # the running command finished


@pytest.mark.parametrize(("session", "seconds"), [("SleepSession", 31), ("PtySleepSession", 32)])
def test_second_stop_kills_the_remote_command(runner, make_hosts, worker, sshd, session, seconds):
    make_hosts(2)
    run_id = dispatch(runner, session, "--host", "h00", "--host", "h01",
                      "--data", f"seconds={seconds}")
    wait_for(lambda: states(run_id) == ["running", "running"])
    wait_for(lambda: len(remote_sleeps(sshd.user, seconds)) >= 2)
    runner.invoke(args=["minke", "stop", str(run_id)])
    started = time.monotonic()
    runner.invoke(args=["minke", "stop", str(run_id)])
    wait_for(lambda: set(states(run_id)) == {"stopped"}, timeout=5)
    assert time.monotonic() - started < 3
    wait_for(lambda: remote_sleeps(sshd.user, seconds) == [], timeout=3)
    # the job marks the run finished once its threads and its writer are done: moments later
    wait_for(lambda: finished(run_id), timeout=5)


def test_stopping_a_run_cancels_its_waiting_sessions(runner, make_hosts, worker):
    make_hosts(1)
    first = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=3")
    wait_for(lambda: states(first) == ["running"])
    second = dispatch(runner, "UptimeSession", "--host", "h00")  # queued behind the first job
    runner.invoke(args=["minke", "stop", str(second)])
    assert wait_for(lambda: states(second) == ["canceled"])
    wait_for(lambda: states(first) == ["completed"])


def test_a_killed_worker_fails_its_sessions_kills_their_commands_and_frees_the_host(
        runner, make_hosts, start_worker, app, sshd):
    make_hosts(1)
    doomed = start_worker(MINKE_WORKER_HEARTBEAT="1")
    run_id = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=37")
    # the command's row (with its token) is stored: what a kill by another process needs
    wait_for(lambda: sessions_of(run_id)[0].commands and remote_sleeps(sshd.user, 37))
    state = app.extensions["minke"]
    host_id = sessions_of(run_id)[0].host_id
    assert locks.holder_of(state.redis, state.keys, host_id)["run"] == run_id
    doomed.kill()
    # the survivor notices the heartbeat missing for its grace period
    start_worker(MINKE_WORKER_HEARTBEAT="1", MINKE_WORKER_GRACE="2")
    wait_for(lambda: states(run_id) == ["failed"], timeout=20)
    session = sessions_of(run_id)[0]
    assert session.session_status == "error"
    assert "died" in session.messages[-1].text
    assert "its remote command was killed" in session.messages[-1].text
    wait_for(lambda: remote_sleeps(sshd.user, 37) == [], timeout=5)
    assert locks.holder_of(state.redis, state.keys, host_id) is None
    wait_for(lambda: finished(run_id), timeout=5)  # marked right after the locks are freed
    # rq no longer counts the dead worker's job as started (it would for the job timeout)
    job = Job.fetch(state.keys.job_id(run_id, 0), connection=state.redis)
    wait_for(lambda: job.get_status() == JobStatus.FAILED, timeout=5)
    assert job.id not in StartedJobRegistry(queue=state.queue).get_job_ids()


def test_a_job_that_fails_leaves_no_session_waiting_and_says_why(app, execute_run, make_hosts,
                                                                  monkeypatch):
    def redis_gone(*args, **kwargs):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(locks, "acquire_many", redis_gone)

    with pytest.raises(ConnectionError):
        execute_run("EchoSession", make_hosts(2), {"message": "hi"})

    db.session.expire_all()
    sessions = db.session.scalars(sa.select(MinkeSession)).all()
    assert [(s.proc_status, s.session_status) for s in sessions] == [("failed", "error")] * 2
    for session in sessions:
        assert "Redis went away" in session.messages[-1].text
    assert db.session.scalar(sa.select(Run.finished_at)) is not None
