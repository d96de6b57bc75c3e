"""Stopping a run that has finished is refused everywhere, with the same words, and leaves no
audit entry: 409 in the API and the run page's JSON, a flashed error on the page, a non-zero
exit of ``flask minke stop``. (A run waiting in the queue with no worker finishes at its first
stop: every session is canceled.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sessions import REGISTRY
from tests.web_client import csrf_token, login
from webapp.api.tokens import create_token
from webapp.engine.dispatch import start_run
from webapp.engine.stops import stop_run
from webapp.extensions import db
from webapp.models import AuditEntry, Host, Run

pytestmark = pytest.mark.integration


@pytest.fixture
def finished_run(app, admin) -> int:
    host = Host(name="done1", hostname="127.0.0.1", port=1, username="nobody")
    db.session.add(host)
    db.session.commit()
    state = app.extensions["minke"]
    run = start_run(state, REGISTRY.get("EchoSession"), [host], user=admin,
                    data={"message": "hi"})
    stop_run(state, run)  # no worker took it: canceled, and the run is over
    db.session.expire_all()
    run = db.session.get(Run, run.id)
    assert run.finished_at is not None
    db.session.commit()
    return run.id


def stops_audited() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "run.stop"))


def test_the_api_answers_409_for_a_finished_run(client, admin, finished_run):
    _row, token = create_token(admin, "ci")
    db.session.commit()
    before = stops_audited()
    for body in ({}, {"kill": True}):
        answer = client.post(f"/api/v1/runs/{finished_run}/stop", json=body,
                             headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 409
        assert answer.get_json() == {"error": f"run #{finished_run} already finished"}
    assert stops_audited() == before


def test_the_run_page_says_the_run_already_finished(client, admin, finished_run):
    login(client, "ada")
    before = stops_audited()
    token = csrf_token(client, f"/runs/{finished_run}")
    answer = client.post(f"/runs/{finished_run}/stop", data={"csrf_token": token},
                         headers={"Accept": "application/json"})
    assert answer.status_code == 409
    assert answer.get_json() == {"error": f"run #{finished_run} already finished"}
    form = client.post(f"/runs/{finished_run}/stop", data={"csrf_token": token})
    assert form.status_code == 302 and form.location == f"/runs/{finished_run}"
    page = client.get(form.location).get_data(as_text=True)
    assert f"Nothing to stop: run #{finished_run} already finished." in page
    assert stops_audited() == before


def test_the_cli_says_the_run_already_finished_and_exits_non_zero(runner, finished_run):
    before = stops_audited()
    result = runner.invoke(args=["minke", "stop", str(finished_run)])
    assert result.exit_code == 1
    assert f"run #{finished_run} already finished" in result.output
    assert stops_audited() == before
    too_big = runner.invoke(args=["minke", "stop", str(2**63)])
    assert too_big.exit_code == 2 and "2147483647" in too_big.output
