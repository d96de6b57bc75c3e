"""Schedules (issue 21): their times, exactly one run per firing, missed firings and
overlaps by the schedule's policy, the owner's rights at the moment of firing, sessions
that ask for secrets refused, and the origin of scheduled runs wherever runs are shown.

Unit level on the app and its database (runs are stored and queued in Redis; no worker
is needed to see what a firing started). tests/test_schedules_processes.py fires with
real scheduler processes and workers; tests/test_browser_schedules.py drives the page.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from tests.web_client import login, post
from webapp.extensions import db
from webapp.models import AuditEntry, Host, HostGroup, Run, Schedule, ScheduleFiring, utcnow
from webapp.schedules.calendar import Timing, TimingError
from webapp.schedules.firing import fire_due
from webapp.schedules.operations import (
    ScheduleError,
    ScheduleRefused,
    ScheduleSpec,
    create_schedule,
)

OWNER_PERMISSIONS = ("minke.schedule", "minke.view_hosts", "minke.run_echosession")


@pytest.fixture
def hosts(app):
    group = HostGroup(name="web")
    made = [Host(name=f"web{i}", hostname="127.0.0.1", groups=[group]) for i in (1, 2)]
    db.session.add_all(made)
    db.session.commit()
    return made


@pytest.fixture
def owner(make_user, hosts):
    return make_user("olga", *OWNER_PERMISSIONS)


def make_schedule(owner, *, name="nightly", interval=60, **fields) -> Schedule:
    spec = ScheduleSpec(name=name, session="EchoSession", target={"groups": ["web"]},
                        data={"message": "hi"}, interval=interval, **fields)
    schedule = create_schedule(spec, owner)
    db.session.commit()
    return schedule


def due_now(schedule: Schedule, *, ago: float = 0.0) -> dt.datetime:
    """Make ``schedule`` due ``ago`` seconds ago; return now (whole seconds, as every due
    time the calendar gives)."""
    now = utcnow().replace(microsecond=0)
    schedule.next_due_at = now - dt.timedelta(seconds=ago)
    db.session.commit()
    return now


def firings(schedule_id: int) -> list[ScheduleFiring]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ScheduleFiring).where(
        ScheduleFiring.schedule_id == schedule_id).order_by(ScheduleFiring.id)))


def runs_of(schedule_id: int) -> list[Run]:
    return list(db.session.scalars(sa.select(Run).where(Run.schedule_id == schedule_id)))


# times --------------------------------------------------------------------------------------

def test_a_cron_expression_keeps_its_wall_clock_time_across_daylight_saving():
    timing = Timing.parse(cron="0 3 * * *", interval=None, timezone="Europe/Berlin")

    # Berlin leaves summer time on 25 October 2026: 03:00 is 01:00 UTC before, 02:00 after
    times = timing.following(dt.datetime(2026, 10, 24, 12), 2)

    assert times == [dt.datetime(2026, 10, 25, 2), dt.datetime(2026, 10, 26, 2)]


@pytest.mark.parametrize(("cron", "interval", "timezone", "complaint"), [
    ("* * *", None, "UTC", "is no cron expression"),
    (None, None, "UTC", "either a cron expression or an interval"),
    ("* * * * *", 60, "UTC", "either a cron expression or an interval"),
    (None, 0, "UTC", "between 1 and"),
    (None, "soon", "UTC", "a whole number of seconds"),
    ("* * * * *", None, "Mars/Olympus", "unknown time zone"),
])
def test_bad_timings_are_refused_with_the_reason(cron, interval, timezone, complaint):
    with pytest.raises(TimingError, match=complaint):
        Timing.parse(cron=cron, interval=interval, timezone=timezone)


# exactly once -------------------------------------------------------------------------------

def test_a_due_firing_starts_one_run_as_the_owner_and_moves_on(app, owner):
    schedule = make_schedule(owner)
    now = due_now(schedule)

    fired = fire_due(app.extensions["minke"], now=now)
    again = fire_due(app.extensions["minke"], now=now)  # a second scheduler, same moment

    assert [f.outcome for f in fired] == ["started"] and again == []
    [run] = runs_of(schedule.id)
    assert (run.origin, run.origin_label, run.user_id) == ("schedule", "schedule nightly",
                                                           owner.id)
    assert sorted(s.object_label for s in run.sessions) == ["web1", "web2"]
    [firing] = firings(schedule.id)
    assert (firing.outcome, firing.run_id, firing.due_at) == ("started", run.id, now)
    assert db.session.get(Schedule, schedule.id).next_due_at == now + dt.timedelta(seconds=60)
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "schedule.fire"))
    assert audit.target == "schedule nightly" and audit.details["run"] == run.id


def test_a_new_host_of_the_group_is_included_at_the_next_firing(app, owner):
    schedule = make_schedule(owner)
    group = db.session.scalar(sa.select(HostGroup).where(HostGroup.name == "web"))
    db.session.add(Host(name="web3", hostname="127.0.0.1", groups=[group]))
    db.session.commit()

    fire_due(app.extensions["minke"], now=due_now(schedule))

    [run] = runs_of(schedule.id)
    assert sorted(s.object_label for s in run.sessions) == ["web1", "web2", "web3"]


def test_a_kill_between_the_commit_and_the_queueing_leaves_a_run_failed_visibly(app, owner):
    """The process dies after the run and its firing were stored, before Redis got its
    jobs: the workers' reaper fails the sessions with the reason, nothing waits forever."""
    from webapp.engine.worker.reaper import LOST_JOB_GRACE, fail_lost_jobs

    state = app.extensions["minke"]
    schedule = make_schedule(owner)

    class Killed(BaseException):
        """What a SIGKILL does to the enqueue: nothing after it runs."""

    def killed(*_args, **_kwargs):
        raise Killed

    queue_enqueue = state.queue.enqueue_many
    state.queue.enqueue_many = killed
    try:
        with pytest.raises(Killed):
            fire_due(state, now=due_now(schedule))
    finally:
        state.queue.enqueue_many = queue_enqueue
    db.session.rollback()
    [run] = runs_of(schedule.id)  # the firing and its run were committed together
    assert firings(schedule.id)[0].run_id == run.id
    later = utcnow() - dt.timedelta(seconds=LOST_JOB_GRACE + 1)
    db.session.execute(sa.update(type(run.sessions[0])).where(
        type(run.sessions[0]).run_id == run.id).values(created_at=later))
    db.session.commit()

    assert fail_lost_jobs(state) == 2
    db.session.expire_all()
    assert {s.proc_status for s in run.sessions} == {"failed"}
    assert db.session.get(Run, run.id).finished_at is not None


# missed firings and overlaps ----------------------------------------------------------------

@pytest.mark.parametrize(("policy", "runs", "outcome", "note"), [
    ("run_once", 1, "started", "missed 10 firings from"),
    ("skip", 0, "missed", "skipped, as the schedule says"),
])
def test_missed_firings_after_downtime_follow_the_schedules_policy(app, owner, policy, runs,
                                                                   outcome, note):
    schedule = make_schedule(owner, missed=policy)
    now = due_now(schedule, ago=9 * 60 + 30)  # ten due times passed, the last 30 s ago

    fire_due(app.extensions["minke"], now=now)

    assert len(runs_of(schedule.id)) == runs
    [firing] = firings(schedule.id)
    assert firing.outcome == outcome and note in firing.note
    schedule = db.session.get(Schedule, schedule.id)
    assert note in schedule.note  # shown on the schedule
    assert schedule.next_due_at == now + dt.timedelta(seconds=30)  # the next one, on time


@pytest.mark.parametrize(("policy", "runs", "outcome"), [
    ("skip", 1, "skipped"), ("queue", 2, "started")])
def test_a_firing_while_the_previous_run_goes_on_follows_the_overlap_policy(
        app, owner, policy, runs, outcome):
    schedule = make_schedule(owner, overlap=policy)
    state = app.extensions["minke"]
    first = due_now(schedule)
    fire_due(state, now=first)  # no worker: the run stays queued

    [fired] = fire_due(state, now=first + dt.timedelta(seconds=60))  # its next due time

    assert len(runs_of(schedule.id)) == runs
    assert fired.outcome == outcome
    if policy == "skip":
        first = runs_of(schedule.id)[0]
        assert firings(schedule.id)[-1].note == f"run #{first.id} of this schedule was still going"


# whose rights -------------------------------------------------------------------------------

@pytest.mark.parametrize(("lost", "reason"), [
    ("active", "its owner olga is disabled"),
    ("minke.run_echosession", "olga may not run EchoSession"),
    ("minke.view_hosts", "olga may not list Host"),
    ("minke.schedule", "its owner olga lost the permission minke.schedule"),
], ids=["disabled", "lost-session-permission", "lost-view-permission", "lost-schedule"])
def test_a_firing_runs_with_the_owners_rights_of_the_moment(app, owner, lost, reason):
    schedule = make_schedule(owner)
    if lost == "active":
        owner.active = False
    else:
        owner.roles[0].permissions = [p for p in OWNER_PERMISSIONS if p != lost]
    db.session.commit()

    [fired] = fire_due(app.extensions["minke"], now=due_now(schedule))

    assert fired.outcome == "refused" and runs_of(schedule.id) == []
    schedule = db.session.get(Schedule, schedule.id)
    assert not schedule.enabled and reason in schedule.paused_reason
    pause = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "schedule.pause"))
    assert reason in pause.details["reason"]
    assert fire_due(app.extensions["minke"], now=utcnow() + dt.timedelta(hours=1)) == []


@pytest.mark.parametrize(("session", "complaint"), [
    ("SudoSession", "asks for secrets (sudo_password)"),
    ("SecretFieldSession", "asks for secrets (api_key)"),
])
def test_sessions_that_ask_for_secrets_cannot_be_scheduled(app, owner, session, complaint):
    spec = ScheduleSpec(name="s", session=session, target={"hosts": ["web1"]},
                        data={"api_key": "x"} if session == "SecretFieldSession" else {},
                        interval=60)
    with pytest.raises(ScheduleError, match=re.escape(complaint)):
        create_schedule(spec, owner)


def test_a_host_group_asking_for_a_secret_later_pauses_the_schedule(app, owner):
    schedule = make_schedule(owner)
    group = db.session.scalar(sa.select(HostGroup).where(HostGroup.name == "web"))
    group.ask_secrets = ["sudo_password"]
    db.session.commit()

    [fired] = fire_due(app.extensions["minke"], now=due_now(schedule))

    assert fired.outcome == "refused"
    assert "nobody is there to give secrets" in db.session.get(Schedule, schedule.id).paused_reason


def test_only_users_who_may_run_the_session_can_schedule_it(app, make_user, hosts):
    viewer = make_user("vic", "minke.schedule", "minke.view_hosts")

    with pytest.raises(ScheduleRefused, match="vic may not run EchoSession"):
        make_schedule(viewer)


# the Schedules page -------------------------------------------------------------------------

def form(**fields) -> dict:
    return {"name": "nightly", "session": "EchoSession", "groups": "web",
            "form_data": "message=hi", "interval": "", "cron": "0 3 * * *",
            "timezone": "Europe/Berlin", "missed": "run_once", "overlap": "skip", **fields}


def test_the_page_makes_a_schedule_and_shows_its_next_firings(client, owner):
    login(client, "olga")

    response = post(client, "/schedules/new", form())

    schedule = db.session.scalar(sa.select(Schedule))
    assert response.status_code == 302 and schedule.owner_id == owner.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "cron 0 3 * * * (Europe/Berlin)" in page and "hosts of group web" in page
    assert page.count("03:00:00 CE") == 5  # the next five, on Berlin's wall clock
    assert "nightly" in client.get("/schedules/").get_data(as_text=True)


@pytest.mark.parametrize(("fields", "complaint"), [
    ({"cron": "every day"}, "is no cron expression"),
    ({"session": "SudoSession"}, "Not a valid choice"),  # not offered: it asks for secrets
    ({"groups": "", "hosts": "nowhere"}, "unknown host: nowhere"),
    ({"form_data": "colour=red"}, "colour: unknown field"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
], ids=["cron", "secrets", "host", "data", "timezone"])
def test_bad_input_on_the_page_is_a_400_with_the_reason_and_stores_nothing(
        client, owner, fields, complaint):
    login(client, "olga")

    response = post(client, "/schedules/new", form(**fields))

    assert response.status_code == 400
    assert complaint in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Schedule)) == 0


def test_the_preview_answers_the_next_five_times_or_the_error(client, owner):
    login(client, "olga")

    good = client.get("/schedules/preview?cron=*/15+*+*+*+*&timezone=UTC").get_json()
    bad = client.get("/schedules/preview?cron=nonsense&timezone=UTC")

    assert len(good["times"]) == 5
    assert all(t["utc"][14:16] in ("00", "15", "30", "45") for t in good["times"])
    assert bad.status_code == 400 and "is no cron expression" in bad.get_json()["error"]


def test_schedules_need_the_permission_and_users_see_only_their_own(client, owner, make_user):
    schedule = make_schedule(owner)
    make_user("vic", "minke.view_hosts", "minke.run_echosession")
    make_user("sam", *OWNER_PERMISSIONS)
    make_user("ada", "minke.admin")

    login(client, "vic")
    assert client.get("/schedules/").status_code == 403
    assert "Schedules" not in client.get("/").get_data(as_text=True)
    post(client, "/logout")
    login(client, "sam")
    assert client.get(f"/schedules/{schedule.id}").status_code == 404
    assert post(client, f"/schedules/{schedule.id}/pause").status_code == 404
    assert "nightly" not in client.get("/schedules/").get_data(as_text=True)


def test_an_admin_sees_and_pauses_every_schedule(client, owner, make_user):
    schedule = make_schedule(owner)
    make_user("ada", "minke.admin")
    login(client, "ada")

    assert "nightly" in client.get("/schedules/").get_data(as_text=True)
    post(client, f"/schedules/{schedule.id}/pause")

    db.session.expire_all()
    assert not db.session.get(Schedule, schedule.id).enabled
    assert "paused by ada" in client.get(f"/schedules/{schedule.id}").get_data(as_text=True)


def test_a_paused_schedule_shows_why_on_its_page(client, owner):
    schedule = make_schedule(owner)
    owner.active = False
    db.session.commit()
    fire_due(app_state(), now=due_now(schedule))
    owner.active = True
    db.session.commit()
    login(client, "olga")

    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)

    assert "Paused" in page and "its owner olga is disabled" in page
    assert "refused" in page  # the firing's row


def app_state():
    from flask import current_app

    return current_app.extensions["minke"]


# the API, the CLI and where runs show their origin ------------------------------------------

def api_token(user) -> dict[str, str]:
    from webapp.api.tokens import create_token

    _row, token = create_token(user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


API_SCHEDULE = {"name": "nightly", "session": "EchoSession", "objects": {"groups": ["web"]},
                "data": {"message": "hi"}, "interval": 600}


def test_the_api_makes_changes_pauses_and_fires_schedules(client, owner):
    headers = api_token(owner)

    made = client.post("/api/v1/schedules", json=API_SCHEDULE, headers=headers)
    schedule_id = made.get_json()["id"]
    changed = client.put(f"/api/v1/schedules/{schedule_id}", headers=headers,
                         json={**API_SCHEDULE, "cron": "30 2 * * *", "interval": None})
    fired = client.post(f"/api/v1/schedules/{schedule_id}/run-now", headers=headers)
    paused = client.post(f"/api/v1/schedules/{schedule_id}/pause", headers=headers)

    assert made.status_code == 201 and len(made.get_json()["next"]) == 5
    assert changed.get_json()["cron"] == "30 2 * * *"
    assert all(t.endswith("T02:30:00Z") for t in changed.get_json()["next"])
    run_id = fired.get_json()["run"]
    assert fired.get_json()["outcome"] == "started" and run_id
    assert paused.get_json()["enabled"] is False and paused.get_json()["next"] == []
    run = client.get(f"/api/v1/runs/{run_id}", headers=headers).get_json()
    assert (run["origin"], run["schedule"]) == ("schedule", "nightly")
    one = client.get(f"/api/v1/schedules/{schedule_id}", headers=headers).get_json()
    assert one["firings"][0]["run"] == run_id


@pytest.mark.parametrize(("body", "status", "complaint"), [
    ({**API_SCHEDULE, "session": "SudoSession"}, 400, "asks for secrets"),
    ({**API_SCHEDULE, "colour": "red"}, 400, "unknown key colour"),
    ({**API_SCHEDULE, "interval": True}, 400, "expected a whole number"),
    ({**API_SCHEDULE, "objects": {"groups": [1]}}, 400, "a list of text"),
    ({**API_SCHEDULE, "data": {"message": {"x": 1}}}, 400, "message"),
    ({**API_SCHEDULE, "session": "FailingSession"}, 403, "olga may not run FailingSession"),
], ids=["secrets", "unknown-key", "bool-interval", "bad-objects", "bad-data", "no-right"])
def test_the_api_refuses_bad_schedules_with_the_reason(client, owner, body, status, complaint):
    answer = client.post("/api/v1/schedules", json=body, headers=api_token(owner))

    assert answer.status_code == status and complaint in answer.get_json()["error"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Schedule)) == 0


def test_the_api_needs_the_schedule_permission(client, make_user):
    user = make_user("vic", "minke.view_hosts")

    answer = client.get("/api/v1/schedules", headers=api_token(user))

    assert answer.status_code == 403 and "minke.schedule" in answer.get_json()["error"]


def test_the_cli_adds_lists_pauses_resumes_and_deletes(runner, owner):
    added = runner.invoke(args=["minke", "schedule", "add", "nightly", "EchoSession",
                                "--owner", "olga", "--group", "web", "--data", "message=hi",
                                "--cron", "0 3 * * *", "--tz", "Europe/Berlin"])
    listed = runner.invoke(args=["minke", "schedule", "list"])
    paused = runner.invoke(args=["minke", "schedule", "pause", "nightly"])
    resumed = runner.invoke(args=["minke", "schedule", "resume", "nightly"])
    shown = runner.invoke(args=["minke", "schedule", "show", "nightly"])
    refused = runner.invoke(args=["minke", "schedule", "add", "s", "SudoSession", "--owner",
                                  "olga", "--host", "web1", "--every", "60"])
    deleted = runner.invoke(args=["minke", "schedule", "delete", "nightly"])

    assert added.exit_code == 0, added.output
    assert re.search(r"nightly +EchoSession +cron 0 3 \* \* \* \(Europe/Berlin\) +olga +enabled",
                     listed.output), listed.output
    assert paused.exit_code == resumed.exit_code == 0
    assert shown.output.count("  next: ") == 5
    assert refused.exit_code == 2 and "asks for secrets (sudo_password)" in refused.output
    assert deleted.exit_code == 0 and db.session.scalar(sa.select(Schedule)) is None


def test_scheduled_runs_say_so_in_the_cli_history_and_the_run_page(app, client, runner, owner):
    schedule = make_schedule(owner)
    run_id = runner.invoke(args=["minke", "schedule", "run-now", "nightly"]).output.split()[-1]
    login(client, "olga")

    runs = runner.invoke(args=["minke", "runs"]).output
    show = runner.invoke(args=["minke", "show", run_id]).output
    history = client.get("/history/").get_data(as_text=True)
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)

    assert "schedule nightly" in runs and "schedule nightly" in show
    assert "schedule nightly" in history and "schedule nightly" in page
    assert firings(schedule.id)[0].note == "run now, asked by the command line"
