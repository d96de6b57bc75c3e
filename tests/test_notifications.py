"""Notifications: who hears of which run, what the message says, and how it travels —
to a real HTTP server (signed, retried after a pause) and a real SMTP server."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa

from tests.notify_servers import HookServer, start_smtp
from tests.web_client import isolated_client, login
from webapp.engine.notify import notify_queue, release_due_retries
from webapp.extensions import db
from webapp.models import Delivery, Run, Schedule, Subscription
from webapp.notifications import subscriptions as subs
from webapp.notifications.events import facts, finished_events, outcome, usual_duration
from webapp.notifications.jobs import subscribers
from webapp.notifications.messages import lines
from webapp.permissions import VIEW_ALL_RUNS


def drain(app) -> int:
    """Run the notification queue's jobs in this process until it is empty (a worker's
    work, without the worker)."""
    queue, done = notify_queue(app.extensions["minke"]), 0
    while jobs := queue.get_jobs():
        for job in jobs:
            queue.remove(job)
            job.func(*job.args, **job.kwargs)
            done += 1
    return done


@pytest.fixture
def hook():
    server = HookServer()
    yield server
    server.close()


def deliveries() -> list[Delivery]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(Delivery).order_by(Delivery.id)))


def test_webhook_is_signed_retried_after_its_pause_and_every_attempt_listed(
        app, client, make_user, make_hosts, execute_run, hook):
    ada = make_user("ada", "minke.admin")
    make_user("bob")
    channel, secret = subs.create_channel(ada, "webhook", "ci", hook.url)
    subs.subscribe(ada, channel_id=channel.id, scope="mine", events=["failed"])
    db.session.commit()
    app.config["MINKE_NOTIFY_RETRY_DELAYS"] = [30]
    hook.statuses = [503]

    run = execute_run("FailingSession", make_hosts(2), user=ada)
    drain(app)

    [first] = deliveries()
    assert (first.status, first.status_code, first.answer) == ("retrying", 503, "busy, try later")
    assert first.next_attempt_at > dt.datetime.now(dt.UTC).replace(tzinfo=None) + \
        dt.timedelta(seconds=25)
    state = app.extensions["minke"]
    assert release_due_retries(state) == 0  # not yet
    assert release_due_retries(state, now=first.next_attempt_at) == 1
    drain(app)
    assert [(d.attempt, d.status, d.status_code) for d in deliveries()] == \
        [(1, "retried", 503), (2, "sent", 200)]

    one, two = hook.requests
    assert one["body"] == two["body"]
    assert one["headers"]["X-Minke-Delivery"] == two["headers"]["X-Minke-Delivery"]
    expected = "sha256=" + hmac.new(secret.encode(), two["body"], hashlib.sha256).hexdigest()
    assert two["headers"]["X-Minke-Signature-256"] == expected
    assert two["headers"]["X-Minke-Event"] == "failed"
    body = json.loads(two["body"])
    assert body["event"] == "failed" and body["run"]["id"] == run.id
    assert body["counts"] == {"error": 2}
    assert [f["object"] for f in body["failures"]] == ["h00", "h01"]
    assert all(f["message"].startswith("code[3] echo about to fail") for f in body["failures"])
    assert body["run"]["url"] == f"http://127.0.0.1:5000/runs/{run.id}"
    assert secret not in two["body"].decode()

    login(client, "ada")
    page = client.get(f"/profile/notifications/channels/{channel.id}").get_data(as_text=True)
    assert "busy, try later" in page and "503" in page and "retried" in page and "sent" in page
    other = isolated_client(app)
    login(other, "bob")
    assert other.get(f"/profile/notifications/channels/{channel.id}").status_code == 404


def test_a_channel_that_keeps_failing_is_marked_failed_on_the_subscribers_page(
        app, client, make_user, make_hosts, execute_run, hook):
    ada = make_user("ada", "minke.admin")
    channel, _secret = subs.create_channel(ada, "slack", "team chat", hook.url)
    subs.subscribe(ada, channel_id=channel.id, scope="session", session="EchoSession",
                   events=["succeeded"])
    db.session.commit()
    app.config["MINKE_NOTIFY_RETRY_DELAYS"] = [0.01]
    hook.statuses = [500, 500]
    execute_run("EchoSession", make_hosts(1), data={"message": "hi"}, user=ada)
    drain(app)
    release_due_retries(app.extensions["minke"],
                        now=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(1))
    drain(app)
    assert [(d.attempt, d.status) for d in deliveries()] == [(1, "retried"), (2, "failed")]
    assert json.loads(hook.requests[0]["body"])["text"].startswith("*Run #")
    login(client, "ada")
    page = client.get("/profile/notifications/").get_data(as_text=True)
    assert "team chat" in page and "failed" in page and "the server answered 500" in page


def test_email_tells_counts_and_link_through_a_real_smtp_server_and_no_secret(
        app, make_user, make_hosts, execute_run):
    controller, mailbox, port = start_smtp()
    try:
        app.config.update(MINKE_SMTP_HOST="127.0.0.1", MINKE_SMTP_PORT=port,
                          MINKE_SMTP_FROM="minke@example.org",
                          MINKE_BASE_URL="https://minke.example.org/")
        ada = make_user("ada", "minke.admin")
        channel, secret = subs.create_channel(ada, "email", "me", "ada@example.com")
        assert secret is None
        subs.subscribe(ada, channel_id=channel.id, scope="mine", events=["succeeded", "failed"])
        db.session.commit()
        run = execute_run("SecretFieldSession", make_hosts(1),
                          data={"api_key": "k3y-never-told", "label": "x"}, user=ada)
        drain(app)
        [message] = mailbox.messages
    finally:
        controller.stop()
    assert mailbox.recipients == [["ada@example.com"]]
    assert message["Subject"] == f"Run #{run.id} SecretFieldSession on 1 object: succeeded"
    text = message.get_payload(decode=True).decode()
    assert "Objects: 1 success." in text
    assert f"Run page: https://minke.example.org/runs/{run.id}" in text
    assert "k3y-never-told" not in message.as_string()
    assert [d.status for d in deliveries()] == ["sent"]


def _run(session: str, seconds: float, *, end: dt.datetime, user=None, **fields) -> Run:
    row = Run(session_name=session, object_type="Host", created_at=end - dt.timedelta(
        seconds=seconds), finished_at=end, user_id=user.id if user else None, **fields)
    db.session.add(row)
    db.session.flush()
    return row


def test_a_run_is_slow_beyond_the_mean_plus_k_deviations_of_the_previous_ones(app):
    end = dt.datetime(2026, 12, 1, 12)
    for seconds in (10, 11, 9):
        _run("EchoSession", seconds, end=end)
    _run("OtherSession", 1, end=end)
    slow = _run("EchoSession", 30, end=end)
    usual = usual_duration(slow)
    assert usual["runs"] == 3 and usual["mean"] == 10
    assert usual["limit"] == pytest.approx(10 + 2 * usual["stdev"], abs=0.002)
    assert finished_events(slow, stopped=False)[0] == ["succeeded", "slow"]
    usual_one = _run("EchoSession", 11, end=end)
    assert finished_events(usual_one, stopped=False)[0] == ["succeeded"]
    few = _run("NewSession", 100, end=end)
    _run("NewSession", 1, end=end - dt.timedelta(hours=1))
    assert usual_duration(few) is None  # fewer than three before it: nothing to compare


@pytest.mark.parametrize(("counts", "stopped", "expected"), [
    ({"success": 2, "warning": 1}, False, "succeeded"),
    ({"success": 2, "error": 1}, False, "failed"),
    ({"failed": 1}, False, "failed"),
    ({"success": 1, "canceled": 2}, True, "stopped"),
    ({"stopped": 1, "error": 1}, False, "stopped"),
])
def test_a_finished_runs_outcome(counts, stopped, expected):
    assert outcome(counts, stopped) == expected


def test_subscribers_hear_only_of_runs_they_may_see(app, make_user):
    carl = make_user("carl")
    boss = make_user("boss", VIEW_ALL_RUNS)
    bob = make_user("bob")
    schedule = Schedule(name="nightly", session_name="EchoSession", interval=3600, owner_id=carl.id)
    db.session.add(schedule)
    db.session.flush()
    channels = {user.name: subs.create_channel(user, "slack", "c", "https://chat.example/h")[0]
                for user in (carl, boss, bob)}
    wanted = [
        subs.subscribe(carl, channel_id=channels["carl"].id, scope="mine", events=["failed"]),
        subs.subscribe(boss, channel_id=channels["boss"].id, scope="session",
                       session="EchoSession", events=["failed"]),
        subs.subscribe(boss, channel_id=channels["boss"].id, scope="schedule",
                       schedule_id=schedule.id, events=["slow"]),
    ]
    subs.subscribe(bob, channel_id=channels["bob"].id, scope="session", session="EchoSession",
                   events=["failed"])  # bob may not see carl's runs
    subs.subscribe(bob, channel_id=channels["bob"].id, scope="mine", events=["failed"])
    subs.subscribe(boss, channel_id=channels["boss"].id, scope="session",
                   session="FailingSession", events=["failed"])
    run = _run("EchoSession", 1, end=dt.datetime(2026, 12, 1), user=carl,
               schedule_id=schedule.id)
    assert [row.id for row in subscribers(run)] == [row.id for row in wanted]
    carl.active = False
    assert carl not in [row.user_id for row in subscribers(run)]


@pytest.mark.parametrize(("kind", "target", "field"), [
    ("sms", "+41 79", "kind"),
    ("email", "not an address", "target"),
    ("webhook", "ftp://example.org/x", "target"),
    ("slack", "javascript:alert(1)", "target"),
    ("webhook", "https://" + "x" * 500, "target"),
])
def test_bad_channels_are_refused(app, make_user, kind, target, field):
    with pytest.raises(subs.NotificationError) as caught:
        subs.create_channel(make_user("ada"), kind, "n", target)
    assert caught.value.field == field


def test_only_when_output_changed(app, make_user, make_hosts, execute_run, hook):
    ada = make_user("ada", "minke.admin")
    channel, _ = subs.create_channel(ada, "webhook", "ci", hook.url)
    subs.subscribe(ada, channel_id=channel.id, scope="mine", events=["succeeded"],
                   only_changed=True)
    db.session.commit()
    hosts = make_hosts(1)
    for message in ("one", "one", "two"):
        execute_run("EchoSession", hosts, data={"message": message}, user=ada)
        drain(app)
    # the first run is new output, the second the same, the third changed
    assert [json.loads(r["body"])["run"]["id"] for r in hook.requests] == \
        [run_id for run_id, in db.session.execute(
            sa.select(Run.id).order_by(Run.id)).all()][0::2]


def test_nothing_is_queued_for_runs_when_nobody_subscribed(app, make_user, make_hosts,
                                                            execute_run):
    execute_run("EchoSession", make_hosts(1), data={"message": "x"},
                user=make_user("ada", "minke.admin"))
    assert notify_queue(app.extensions["minke"]).count == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscription)) == 0


def test_a_run_on_a_worker_notifies_started_and_succeeded_and_retries_on_its_own(
        app, make_user, make_hosts, start_worker, hook):
    """End to end: the run's worker queues the notifications, a worker delivers them, and
    its heartbeat retries the failed attempt after the pause."""
    from sessions import REGISTRY
    from webapp.engine.dispatch import start_run

    ada = make_user("ada", "minke.admin")
    channel, _secret = subs.create_channel(ada, "webhook", "ci", hook.url)
    row = subs.subscribe(ada, channel_id=channel.id, scope="mine",
                         events=["started", "succeeded"])
    db.session.commit()
    hook.statuses = [503]
    start_worker(MINKE_NOTIFY_RETRY_DELAYS="[0.2]", MINKE_WORKER_HEARTBEAT="2")
    run = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), make_hosts(2),
                    user=ada, data={"message": "hi"})
    run_id = run.id
    db.session.rollback()
    requests = hook.wait_for(3, timeout=30)
    seen = sorted((r["headers"]["X-Minke-Event"], r["headers"]["X-Minke-Delivery"])
                  for r in requests)
    assert [event for event, _ in seen] == ["started", "started", "succeeded"]
    assert seen[0][1] == seen[1][1] == f"{run_id}-started-{row.id}-{channel.id}"
    [ended] = [json.loads(r["body"]) for r in requests
               if r["headers"]["X-Minke-Event"] == "succeeded"]
    assert ended["counts"] == {"success": 2} and ended["run"]["id"] == run_id


def test_a_stopped_run_is_told_as_stopped_not_failed(app, make_user, hook):
    from webapp.engine.stops import request_stop
    from webapp.notifications.jobs import run_event

    ada = make_user("ada")
    channel, _ = subs.create_channel(ada, "slack", "chat", hook.url)
    subs.subscribe(ada, channel_id=channel.id, scope="mine",
                   events=["succeeded", "failed", "stopped"])
    run = _run("EchoSession", 3, end=dt.datetime(2026, 12, 1), user=ada)
    db.session.commit()
    state = app.extensions["minke"]
    request_stop(state.redis, state.keys, run.id)
    assert run_event(run.id, "finished") == 1
    drain(app)
    assert [r["headers"].get("X-Minke-Event") for r in hook.requests] == [None]  # chat: no
    assert ": stopped*" in json.loads(hook.requests[0]["body"])["text"].splitlines()[0]
    assert [(d.event, d.status) for d in deliveries()] == [("stopped", "sent")]


def test_a_redirect_is_not_followed_and_an_unsubscribed_retry_is_dropped(app, make_user, hook):
    from webapp.notifications.jobs import deliver
    from webapp.notifications.messages import lines

    ada = make_user("ada")
    channel, _ = subs.create_channel(ada, "webhook", "ci", hook.url)
    row = subs.subscribe(ada, channel_id=channel.id, scope="mine", events=["slow"])
    run = _run("EchoSession", 30, end=dt.datetime(2026, 12, 1), user=ada)
    db.session.commit()
    details = {"event": "slow", "run": {"id": run.id, "session": "EchoSession", "user": "ada",
                                        "origin": "web", "created_at": "2026-12-01T11:59:30Z",
                                        "finished_at": "2026-12-01T12:00:00Z",
                                        "duration_seconds": 30.0, "url": "http://x/runs/1"},
               "counts": {"success": 1}, "objects": 1, "failures": [],
               "usual_duration": {"runs": 5, "mean": 10.0, "stdev": 1.0, "limit": 12.0}}
    assert "Usually 10s (± 1s, last 5 runs); the limit was 12s." in lines(details)
    hook.statuses = [302]
    assert deliver(channel.id, row.id, run.id, "slow", 1, details) == "retrying"
    assert len(hook.requests) == 1 and deliveries()[0].status_code == 302
    subs.unsubscribe(ada, row.id)
    db.session.commit()
    assert deliver(channel.id, row.id, run.id, "slow", 2, details) == "gone"
    assert len(hook.requests) == 1


def test_a_scheduled_run_is_compared_with_its_schedules_runs(app, make_user):
    owner = make_user("carl")
    nightly = Schedule(name="nightly", session_name="EchoSession", interval=60,
                       owner_id=owner.id)
    db.session.add(nightly)
    db.session.flush()
    end = dt.datetime(2026, 12, 1)
    for seconds in (100, 101, 99):  # the same session by hand, on many more objects
        _run("EchoSession", seconds, end=end)
    for seconds in (10, 11, 9):
        _run("EchoSession", seconds, end=end, schedule_id=nightly.id)
    scheduled = _run("EchoSession", 30, end=end, schedule_id=nightly.id, origin="schedule",
                     user=owner)
    assert usual_duration(scheduled)["mean"] == 10
    assert finished_events(scheduled, stopped=False)[0] == ["succeeded", "slow"]
    told = facts(scheduled, "slow", usual_duration(scheduled))
    assert told["run"]["schedule_name"] == "nightly"
    assert lines(told)[0].startswith("Started by carl (schedule nightly) at ")
