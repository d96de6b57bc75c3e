"""One rule for a busy host, whatever the number of workers — real workers, sshd, Redis.

A session whose host another run holds waits for it (its row says so, naming the
holder only to viewers who may see that run) and runs once the host is free; with
"skip busy hosts" it is canceled instead. A stop ends a waiting session at once.
"""

from __future__ import annotations

import time

import pytest

from sessions import REGISTRY
from tests.test_engine_stop import dispatch, finished, sessions_of, states, wait_for
from tests.web_client import login
from webapp.api.tokens import create_token
from webapp.extensions import db

pytestmark = pytest.mark.integration


def own_runs_user(make_user, name: str):
    """A user who may run SleepSession and UptimeSession on hosts and sees only their runs."""
    permissions = {*REGISTRY.get("SleepSession").permissions,
                   *REGISTRY.get("UptimeSession").permissions, "minke.view_hosts"}
    return make_user(name, *sorted(permissions))


def texts(run_id: int) -> list[str]:
    return [m.text for s in sessions_of(run_id) for m in s.messages]


def page_of(app, name: str, run_id: int) -> str:
    from tests.web_client import isolated_client

    client = isolated_client(app)
    assert login(client, name).status_code == 302
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_session_on_a_held_host_waits_for_it_then_runs(
        runner, make_hosts, start_worker, make_user, app, workers):
    make_hosts(1)
    for _ in range(workers):
        start_worker()
    alice = make_user("alice", "minke.admin")
    first = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=3",
                     "--user", alice.name)
    wait_for(lambda: states(first) == ["running"])
    second = dispatch(runner, "UptimeSession", "--host", "h00")
    # waiting, not canceled: the row says what it waits for, the holder stored apart
    wait_for(lambda: "waiting for the host" in texts(second))
    assert states(second) == ["initialized"]
    [note] = sessions_of(second)[0].messages
    assert note.about_run == first and note.payload["host"] == "h00"
    page = page_of(app, "alice", second)
    assert f"waiting for h00, held by <a href=\"/runs/{first}\">run #{first}</a> of alice" in page
    wait_for(lambda: states(second) == ["completed"], timeout=20)
    assert sessions_of(second)[0].session_status == "success"
    wait_for(lambda: finished(first) and finished(second))
    # it ran once the holder had ended (the end is taken before the lock is released)
    assert sessions_of(second)[0].start_time >= sessions_of(first)[0].end_time


def test_skip_busy_cancels_and_names_the_holder_only_to_who_may_see_its_run(
        runner, make_hosts, worker, make_user, app):
    make_hosts(1)
    make_user("alice", "minke.admin")
    own_runs_user(make_user, "bob")
    make_user("carol", "minke.view_all_runs")
    first = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=3",
                     "--user", "alice")
    wait_for(lambda: states(first) == ["running"])
    second = dispatch(runner, "UptimeSession", "--host", "h00", "--skip-busy", "--user", "bob")
    wait_for(lambda: states(second) == ["canceled"])
    [note] = sessions_of(second)[0].messages
    assert note.text == "not run: host h00 is busy" and note.about_run == first
    bob_sees = page_of(app, "bob", second)
    assert "not run: host h00 is busy" in bob_sees
    for secret in (f"run #{first}", "alice", "SleepSession", f"/runs/{first}"):
        assert secret not in bob_sees
    carol_sees = page_of(app, "carol", second)
    assert (f"not run: host h00 is busy, held by <a href=\"/runs/{first}\">run #{first}</a> "
            "of alice (sleep session)") in carol_sees
    # a re-run keeps the choice
    from webapp.models import Run
    db.session.rollback()
    assert db.session.get(Run, second).skip_busy and not db.session.get(Run, first).skip_busy
    db.session.rollback()
    wait_for(lambda: finished(first))


def test_skip_busy_from_the_api_is_stored_and_checked(client, make_user, make_hosts, worker):
    make_hosts(1)
    user = make_user("api-user", "minke.admin")
    _row, token = create_token(user, "t")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"session": "UptimeSession", "objects": {"hosts": ["h00"]}}
    bad = client.post("/api/v1/runs", json={**body, "skip_busy": "yes"}, headers=headers)
    assert bad.status_code == 400 and "skip_busy" in bad.get_json()["fields"]
    answer = client.post("/api/v1/runs", json={**body, "skip_busy": True}, headers=headers)
    assert answer.status_code == 201
    from webapp.models import Run
    db.session.rollback()
    assert db.session.get(Run, answer.get_json()["id"]).skip_busy
    db.session.rollback()


def test_a_stop_ends_a_waiting_session_at_once(runner, make_hosts, worker):
    make_hosts(1)
    first = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=30")
    wait_for(lambda: states(first) == ["running"])
    second = dispatch(runner, "UptimeSession", "--host", "h00")
    wait_for(lambda: "waiting for the host" in texts(second))
    asked = time.monotonic()
    assert runner.invoke(args=["minke", "stop", str(second)]).exit_code == 0
    wait_for(lambda: states(second) == ["canceled"], timeout=5)
    assert time.monotonic() - asked < 2.0
    assert "stopped while waiting for the host" in texts(second)
    wait_for(lambda: finished(second))
    assert states(first) == ["running"]  # the holder goes on
    runner.invoke(args=["minke", "stop", "--kill", str(first)])
    wait_for(lambda: finished(first))


def test_a_thread_waiting_for_a_host_holds_no_other_idle(runner, make_hosts, worker, app):
    """One thread for a run on h00 (held by another run) and h01 (free): h01 runs first,
    so the run never holds a host it does not work on while it waits (two runs waiting
    on each other's hosts would otherwise wait forever)."""
    make_hosts(2)
    app.config.update(MINKE_WORKER_THREADS=1)
    holder = dispatch(runner, "SleepSession", "--host", "h00", "--data", "seconds=30")
    wait_for(lambda: states(holder) == ["running"])
    run = dispatch(runner, "UptimeSession", "--host", "h00", "--host", "h01",
                   "--concurrency", "1")
    wait_for(lambda: states(run) == ["initialized", "completed"])
    assert "waiting for the host" in texts(run)
    runner.invoke(args=["minke", "stop", "--kill", str(holder)])
    wait_for(lambda: states(run) == ["completed", "completed"])
    wait_for(lambda: finished(run) and finished(holder))
