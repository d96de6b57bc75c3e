"""End to end: `flask minke run` through a real worker over real SSH."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def run_json(runner, *args):
    result = runner.invoke(args=["minke", "run", *args, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    start = result.output.index("[")
    return result.exit_code, json.loads(result.output[start:])


def test_uptime_runs_on_two_hosts(runner, make_hosts, worker):
    make_hosts(2)
    code, report = run_json(runner, "UptimeSession", "--host", "h00", "--host", "h01")
    assert code == 0, report
    assert [s["object"] for s in report] == ["h00", "h01"]
    for session in report:
        assert session["proc_status"] == "completed"
        assert session["status"] == "success"
        assert session["commands"][0]["command"] == "uptime"
        assert "load average" in session["commands"][0]["stdout"], session
