"""`flask minke run` without --json: every session's messages and final status, live, labelled."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def test_run_prints_each_sessions_messages_and_status_under_its_host(runner, make_hosts, worker):
    make_hosts(3, group="web")

    result = runner.invoke(args=["minke", "run", "EchoSession", "--group", "web",
                                 "--data", "message=hello there"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.fullmatch(r"run #\d+: echo session \(EchoSession\) on 3 objects", lines[0])
    for host in ("h00", "h01", "h02"):
        mine = [line for line in lines if line.startswith(f"{host} ") or
                line.startswith(f"{host}:")]
        assert f"{host} | stdout:   hello there" in mine, result.output
        assert mine[-1] == f"{host}: success", result.output
    assert re.fullmatch(r"run #\d+ finished: 3 success", lines[-1])
    assert "?" not in "".join(line.split(" ", 1)[0] for line in lines[1:-1])
