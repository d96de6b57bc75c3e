"""`flask minke run`: exit status 0/1 through a real worker, 2 for usage errors storing nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import MinkeSession, Run

pytestmark = pytest.mark.integration


def run_cli(runner, session: str, *args: str):
    return runner.invoke(args=["minke", "run", session, "--host", "h00", *args, "--json"])


def report_of(result) -> list[dict]:
    return json.loads(result.output[result.output.index("["):])


def test_run_exits_0_when_every_session_succeeds(runner, make_hosts, worker):
    make_hosts(1)

    result = run_cli(runner, "EchoSession", "--data", "message=hello world")

    assert result.exit_code == 0, result.output
    [session] = report_of(result)
    assert (session["proc_status"], session["status"]) == ("completed", "success")
    assert session["commands"][0]["stdout"] == "hello world\n"


def test_run_exits_1_when_a_session_ends_with_error(runner, make_hosts, worker):
    make_hosts(1)

    result = run_cli(runner, "FailingSession")

    assert result.exit_code == 1, result.output
    [session] = report_of(result)
    assert (session["proc_status"], session["status"]) == ("completed", "error")
    assert session["commands"][0]["exit_code"] == 3


@pytest.mark.parametrize(("session", "args", "complaint"), [
    ("NoSuchSession", (), "no session named 'NoSuchSession' is registered"),
    ("EchoSession", ("--host", "nowhere", "--data", "message=x"), "unknown host: nowhere"),
    ("EchoSession", (), "message: This field is required"),
    ("EchoSession", ("--data", "message=x", "--data", "colour=red"), "colour: unknown field"),
    ("EchoSession", ("--data", "message"), "--data expects key=value"),
    ("UptimeSession", ("--data", "message=x"), "UptimeSession has no form"),
], ids=["unknown-session", "unknown-host", "missing-field", "unknown-field", "not-key-value",
        "data-without-form"])
def test_usage_errors_exit_2_with_a_message_and_store_nothing(runner, make_hosts, app,
                                                              session, args, complaint):
    make_hosts(1)

    result = run_cli(runner, session, *args)

    assert result.exit_code == 2, result.output
    assert complaint in result.output
    assert "Traceback" not in result.output
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Run)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MinkeSession)) == 0
    assert app.extensions["minke"].queue.count == 0
