"""``minke runs`` lists past runs with filters; ``minke show`` reads one back."""

from __future__ import annotations

import datetime as dt
import json

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def two_runs(execute_run, make_hosts, make_user):
    hosts = make_hosts(2)
    alice = make_user("alice", "minke.admin")
    good = execute_run("UptimeSession", hosts, user=alice)
    bad = execute_run("FailingSession", hosts[:1])
    return good.id, bad.id


def test_runs_lists_recent_runs_newest_first_with_outcomes(runner, two_runs):
    good, bad = two_runs

    result = runner.invoke(args=["minke", "runs", "--json"])

    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [r["id"] for r in listed] == [bad, good]
    assert listed[1]["outcomes"] == {"success": 2} and listed[1]["user"] == "alice"
    assert listed[0]["outcomes"] == {"error": 1} and listed[0]["user"] == "(command line)"
    # one timestamp format everywhere (webapp/kit.utc_iso): ISO 8601 in UTC, with its "Z"
    created = dt.datetime.fromisoformat(listed[0]["created_at"])
    assert listed[0]["created_at"].endswith("Z") and created.tzinfo == dt.UTC
    text = runner.invoke(args=["minke", "runs"]).output
    assert "UptimeSession" in text and "2 success" in text


@pytest.mark.parametrize(("args", "expected"), [
    (["--status", "unsuccessful"], ["bad"]),
    (["--status", "succeeded"], ["good"]),
    (["--session", "UptimeSession"], ["good"]),
    (["--user", "alice"], ["good"]),
    (["--object", "h01"], ["good"]),
    (["--since", "2000-01-01", "--limit", "1"], ["bad"]),
    (["--until", "2000-01-01"], []),
])
def test_runs_filters(runner, two_runs, args, expected):
    ids = dict(zip(["good", "bad"], two_runs, strict=True))

    listed = json.loads(runner.invoke(args=["minke", "runs", "--json", *args]).output)

    assert [r["id"] for r in listed] == [ids[name] for name in expected]


def test_show_prints_the_document_run_json_prints(runner, make_hosts, worker):
    make_hosts(1)
    ran = runner.invoke(args=["minke", "run", "FailingSession", "--host", "h00", "--json"])
    [report] = json.loads(ran.output)
    run_id = _run_id(runner)

    shown = runner.invoke(args=["minke", "show", str(run_id), "--json"])

    assert shown.exit_code == 0
    assert json.loads(shown.output) == [report]
    assert report["start_time"].endswith("Z") and report["end_time"].endswith("Z")
    text = runner.invoke(args=["minke", "show", str(run_id)]).output
    assert "h00: error" in text and "about to fail" in text and "1 error" in text


def _run_id(runner) -> int:
    return json.loads(runner.invoke(args=["minke", "runs", "--json"]).output)[0]["id"]


def test_show_and_runs_refuse_bad_input(runner, app):
    assert runner.invoke(args=["minke", "show", "999"]).exit_code == 2
    assert runner.invoke(args=["minke", "runs", "--user", "nobody"]).exit_code == 2
