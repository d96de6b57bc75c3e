"""Schedules fired by real processes (issue 21): two ``minke scheduler`` processes and
three workers, one scheduler killed (SIGKILL) while it is firing; every due time of
every schedule starts exactly one run, none is lost and none runs twice.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from scripts.loopback import stop_process
from scripts.workers import MINKE, REPO_ROOT
from webapp.extensions import db
from webapp.models import MinkeSession, Run, Schedule, ScheduleFiring
from webapp.schedules.operations import ScheduleSpec, create_schedule

pytestmark = pytest.mark.integration

SCHEDULES = 3  # each fires every second: a killed scheduler is likely mid-firing


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen([MINKE, "scheduler", "--tick", "0.2"], cwd=REPO_ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while "Minke scheduler" not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return proc


def fired_runs(log: Path) -> set[int]:
    """The runs a scheduler says it started (``… started run #N``)."""
    return {int(word[1:]) for line in log.read_text().splitlines() if ": started run #" in line
            for word in line.split() if word.startswith("#") and word[1:].isdigit()}


def wait_for(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.1)


def test_two_schedulers_fire_each_due_time_once_also_when_one_is_killed_mid_firing(
        app, make_hosts, make_user, start_worker, worker_env, tmp_path):
    make_hosts(2, group="web")
    owner = make_user("olga", "minke.schedule", "minke.view_hosts", "minke.run_echosession")
    for i in range(SCHEDULES):
        create_schedule(ScheduleSpec(name=f"every-second-{i}", session="EchoSession",
                                     target={"groups": ["web"]}, data={"message": "tick"},
                                     interval=1, overlap="queue"), owner)
    db.session.commit()
    with ThreadPoolExecutor(3) as pool:  # start-ups overlap
        list(pool.map(lambda _i: start_worker(), range(3)))
    logs = [tmp_path / "scheduler-a.log", tmp_path / "scheduler-b.log"]
    a, b = (start_scheduler(worker_env, log) for log in logs)
    try:
        wait_for(lambda: len(fired_runs(logs[0])) >= 3 * SCHEDULES, timeout=20)
        a.kill()  # right after it reported a firing: busy with the next schedule's
        a.wait()
        killed_at = db.session.scalar(sa.select(sa.func.max(ScheduleFiring.due_at)))
        db.session.rollback()
        before = len(fired_runs(logs[1]))
        wait_for(lambda: len(fired_runs(logs[1])) >= before + 3 * SCHEDULES, timeout=20)
    finally:
        stop_process(a)
        stop_process(b, 10)
    assert b.returncode == 0, logs[1].read_text()  # SIGTERM: it finished its tick and left

    db.session.rollback()
    for schedule in db.session.scalars(sa.select(Schedule)):
        firings = db.session.scalars(sa.select(ScheduleFiring).where(
            ScheduleFiring.schedule_id == schedule.id).order_by(ScheduleFiring.due_at)).all()
        due = [f.due_at for f in firings]
        # every second from the first to the last due time, each once: none lost, none twice
        assert [(t - due[0]).total_seconds() for t in due] == list(range(len(due))), due
        assert {f.outcome for f in firings} == {"started"}
        assert due[-1] > killed_at  # b went on after a died
        runs = db.session.scalars(sa.select(Run).where(Run.schedule_id == schedule.id)).all()
        assert sorted(r.id for r in runs) == sorted(f.run_id for f in firings)
        assert {(r.origin, r.user_id) for r in runs} == {("schedule", owner.id)}
    # what each scheduler reported starting: together every run, no run by both
    by_a, by_b = fired_runs(logs[0]), fired_runs(logs[1])
    assert not by_a & by_b
    scheduled = set(db.session.scalars(sa.select(Run.id).where(Run.schedule_id.is_not(None))))
    assert by_a | by_b <= scheduled
    db.session.rollback()

    def all_done() -> bool:
        db.session.rollback()
        return not db.session.scalar(sa.select(sa.func.count()).select_from(Run).where(
            Run.schedule_id.is_not(None), Run.finished_at.is_(None)))

    wait_for(all_done, timeout=60)
    sessions = db.session.scalars(sa.select(MinkeSession).join(Run).where(
        Run.schedule_id.is_not(None))).all()
    # the workers ran every run on its hosts; only a run that a stored and was killed before
    # queueing (it never said it started it) is failed, visibly, by the workers' reaper
    unqueued = {s.run_id for s in sessions if s.proc_status == "failed"}
    assert len(unqueued) <= 1 and not unqueued & (by_a | by_b), [
        (s.run_id, s.messages[-1].text) for s in sessions if s.proc_status == "failed"]
    assert {s.proc_status for s in sessions if s.run_id not in unqueued} == {"completed"}
    for session in (s for s in sessions if s.run_id in unqueued):
        assert "before queueing it" in session.messages[-1].text
    db.session.rollback()
