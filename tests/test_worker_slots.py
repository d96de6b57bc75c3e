"""One worker process runs several runs at once — real worker subprocesses, sshd, Redis.

A long run holds one slot, not the worker; when every slot is busy a run is queued,
says behind what, and starts by itself when a slot frees; shutdown is warm first.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.test_engine_stop import (
    dispatch,
    finished,
    remote_sleeps,
    sessions_of,
    states,
    wait_for,
)
from tests.web_client import login
from webapp.extensions import db
from webapp.models import User
from webapp.runs.queued import queue_note, queue_text

pytestmark = pytest.mark.integration


def test_a_quick_run_is_not_held_up_by_a_long_one_on_the_same_worker(
        runner, make_hosts, worker):
    make_hosts(2)
    long = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=8")
    wait_for(lambda: states(long) == ["running"])
    started = time.monotonic()
    quick = dispatch(runner, "UptimeSession", "--host", "h01")
    wait_for(lambda: states(quick) == ["completed"], timeout=8)
    assert time.monotonic() - started < 3.0
    assert states(long) == ["running"]  # well before the long one ends
    assert sessions_of(quick)[0].worker_id == sessions_of(long)[0].worker_id
    runner.invoke(args=["minke", "stop", "--kill", str(long)])
    wait_for(lambda: finished(long) and finished(quick))


def test_with_every_slot_busy_a_run_is_queued_behind_what_and_starts_when_one_frees(
        runner, make_hosts, start_worker, make_user, app, client):
    make_hosts(3)
    start_worker("--slots", "1")
    alice_id = make_user("alice", "minke.admin").id
    from tests.test_busy_hosts import own_runs_user

    bob_id = own_runs_user(make_user, "bob").id
    state = app.extensions["minke"]
    long = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=4",
                    "--user", "alice")
    wait_for(lambda: states(long) == ["running"])
    first = dispatch(runner, "UptimeSession", "--host", "h01", "--user", "alice")
    second = dispatch(runner, "UptimeSession", "--host", "h02", "--user", "bob")
    db.session.rollback()
    alice, bob = db.session.get(User, alice_id), db.session.get(User, bob_id)
    note = queue_note(state, second, alice)
    assert note["position"] == 2 and note["ahead"] == {"runs": [first], "others": 0}
    assert note["running"] == {"runs": [long], "others": 0} and note["slots"] == 1
    assert note["text"] == (f"queued: 2nd in line, behind run #{first}; every slot (1) is "
                            f"busy with run #{long}")
    # bob sees his own run's place, but not alice's runs: only counted
    assert queue_note(state, second, bob)["text"] == (
        "queued: 2nd in line, behind 1 other run; every slot (1) is busy with 1 other run")
    db.session.rollback()
    assert login(client, "bob").status_code == 302
    page = client.get(f"/runs/{second}").get_data(as_text=True)
    assert "queued: 2nd in line, behind 1 other run" in page and f"#{first}" not in page
    assert client.get(f"/runs/{second}/queue").get_json()["queue"]["position"] == 2
    # it starts by itself when the slot frees, and is no longer reported queued
    wait_for(lambda: states(second) == ["completed"], timeout=20)
    assert client.get(f"/runs/{second}/queue").get_json() == {"queue": None}
    assert states(first) == ["completed"]
    assert sessions_of(first)[0].start_time <= sessions_of(second)[0].start_time
    wait_for(lambda: finished(long) and finished(second))


def test_a_run_a_worker_is_about_to_take_is_not_said_to_wait_for_a_busy_slot():
    # between a POST and the moment a worker with a free slot takes the job, the run is in
    # the queue: "every slot is busy" would send its user looking for the wrong cause
    nobody = {"runs": [], "others": 0}
    ahead = {"runs": [5], "others": 0}
    assert queue_text({"position": 2, "ahead": ahead, "running": {"runs": [3], "others": 0},
                       "slots": 16, "busy": 2}) == (
        "queued: 2nd in line, behind run #5; starting: 14 of 16 slots are free")
    assert queue_text({"position": 1, "ahead": nobody, "running": {"runs": [3], "others": 15},
                       "slots": 16, "busy": 16}) == (
        "queued: next to start; every slot (16) is busy with runs #3 and 15 others")
    assert queue_text({"position": 1, "ahead": nobody, "running": nobody, "slots": 0,
                       "busy": 0}) == "queued: next to start; no worker is running"


def test_minke_run_says_it_is_queued_and_behind_what(runner, make_hosts, start_worker):
    make_hosts(2)
    start_worker("--slots", "1")
    long = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=3")
    wait_for(lambda: states(long) == ["running"])
    result = runner.invoke(args=["minke", "run", "UptimeSession", "--host", "h01"])
    assert result.exit_code == 0, result.output
    assert f"queued: next to start; every slot (1) is busy with run #{long}" in result.output
    assert "h01: success" in result.output


def test_the_worker_prints_its_slots_and_a_warm_shutdown_finishes_its_jobs(
        runner, make_hosts, start_worker):
    make_hosts(2)
    worker = start_worker("--slots", "3")
    assert "3 slots" in worker.log_text()
    runs = [dispatch(runner, "SleepSession", "--host", host, "--data", "seconds=3")
            for host in ("h00", "h01")]
    wait_for(lambda: all(states(run) == ["running"] for run in runs))
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=20) == 0
    for run in runs:
        [session] = sessions_of(run)
        assert (session.proc_status, session.session_status) == ("completed", "success")
        assert finished(run)


def test_a_second_signal_ends_the_running_jobs(runner, make_hosts, start_worker, sshd):
    make_hosts(1)
    worker = start_worker()
    run = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=41")
    wait_for(lambda: sessions_of(run)[0].commands and remote_sleeps(sshd.user, 41))
    worker.proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)  # a second signal within 1 s counts once (a process group's Ctrl+C)
    assert worker.proc.poll() is None  # warm: still waiting for the run
    worker.proc.send_signal(signal.SIGTERM)
    worker.proc.wait(timeout=15)
    wait_for(lambda: states(run) == ["failed"])
    text = " ".join(m.text for m in sessions_of(run)[0].messages)
    assert "was shut down (cold)" in text
    wait_for(lambda: not remote_sleeps(sshd.user, 41))
    assert finished(run)
