"""What changed since last time (webapp/changes.py, webapp/output_diff.py): a session's
output against the same session's previous run on the same object — the marks the worker
stores (real SSH), the diff, the run page's and grouped view's filter, the API and the CLI;
then the rules and the bounds on rows made directly in the database."""

from __future__ import annotations

import hashlib
import json
import tracemalloc

import pytest

from tests.web_client import isolated_client, login
from webapp.api.tokens import create_token
from webapp.changes import (
    CommandKey,
    compare,
    mark_changes,
    previous_session_id,
    run_change_counts,
)
from webapp.extensions import db
from webapp.models import MinkeSession, OutputChunk, Run, StoredResult
from webapp.output_diff import READ_LIMIT, session_diff

API = "/api/v1"


def marks(run):
    return {s.object_label: s.change for s in run.sessions}


@pytest.fixture
def ada(make_user):
    return make_user("ada", "minke.view_hosts", "minke.run_echosession")


@pytest.fixture
def three_runs(execute_run, make_hosts, ada):
    """Echo "hello" on h00 and h01 twice, then "goodbye" on h00 and "hello" on h01."""
    hosts = make_hosts(2)
    first = execute_run("EchoSession", hosts, {"message": "hello"}, user=ada)
    second = execute_run("EchoSession", hosts, {"message": "hello"}, user=ada)
    third = execute_run("EchoSession", hosts[:1], {"message": "goodbye"}, user=ada)
    fourth = execute_run("EchoSession", hosts[1:], {"message": "hello"}, user=ada)
    return first, second, third, fourth


# -- through real runs ------------------------------------------------------------------------


@pytest.mark.integration
def test_runs_are_new_then_unchanged_then_changed(three_runs):
    first, second, third, fourth = three_runs
    assert marks(first) == {"h00": "new", "h01": "new"}
    assert first.sessions[0].commands[0].stdout_sha256 == hashlib.sha256(b"hello\n").hexdigest()
    assert marks(second) == {"h00": "unchanged", "h01": "unchanged"}
    assert marks(third) == {"h00": "changed"}
    assert marks(fourth) == {"h01": "unchanged"}
    assert run_change_counts(third.id) == {"changed": 1, "unchanged": 0, "new": 0}
    assert run_change_counts(second.id) == {"changed": 0, "unchanged": 2, "new": 0}


@pytest.mark.integration
def test_the_run_page_marks_filters_and_diffs(client, three_runs):
    _first, second, third, _fourth = three_runs
    login(client, "ada")
    html = client.get(f"/runs/{second.id}").get_data(as_text=True)
    assert html.count('data-change="unchanged"') >= 2
    assert 'id="changed-filter"' in html
    only = client.get(f"/runs/{second.id}?changed=1").get_data(as_text=True)
    assert 'id="s-' not in only and "output changed since the previous run." in only

    session = third.sessions[0]
    page = client.get(f"/runs/{third.id}?changed=1").get_data(as_text=True)
    assert f'id="s-{session.id}"' in page and 'data-change="changed"' in page
    diff = client.get(f"/runs/{third.id}/sessions/{session.id}/changes",
                      headers={"Accept": "application/json"}).get_json()
    assert diff["change"] == "changed" and diff["previous"]["run"] == second.id
    [command] = diff["commands"]
    assert command["mark"] == "changed" and not command["cut"]
    assert "-hello" in command["diff"] and "+goodbye" in command["diff"]
    # without JavaScript: the same diff as a page
    text = client.get(f"/runs/{third.id}/sessions/{session.id}/changes").get_data(as_text=True)
    assert "+goodbye" in text and f"run #{second.id}" in text

    grouped = client.get(f"/runs/{second.id}/grouped?changed=1").get_data(as_text=True)
    assert "No object&#39;s output changed since the previous run." in grouped
    grouped = client.get(f"/runs/{third.id}/grouped?changed=1").get_data(as_text=True)
    assert "1 changed" in grouped and "goodbye" in grouped
    assert client.get(f"/runs/{third.id}?changed=maybe").status_code == 400


@pytest.mark.integration
def test_the_api_and_the_cli_show_marks_and_only_changed(client, runner, three_runs, ada):
    _first, second, third, _fourth = three_runs
    _row, token = create_token(ada, "t")
    db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    doc = client.get(f"{API}/runs/{second.id}", headers=auth).get_json()
    assert doc["changes"] == {"changed": 0, "unchanged": 2, "new": 0}
    assert [s["change"] for s in doc["sessions"]] == ["unchanged", "unchanged"]
    doc = client.get(f"{API}/runs/{second.id}?changed=true", headers=auth).get_json()
    assert doc["sessions"] == [] and doc["total"] == 0 and doc["changed_only"] is True
    doc = client.get(f"{API}/runs/{third.id}?changed=1", headers=auth).get_json()
    assert [(s["object"], s["change"]) for s in doc["sessions"]] == [("h00", "changed")]
    bad = client.get(f"{API}/runs/{third.id}?changed=yes", headers=auth)
    assert bad.status_code == 400 and "changed" in bad.get_json()["fields"]
    sid = third.sessions[0].id
    diff = client.get(f"{API}/runs/{third.id}/sessions/{sid}/changes", headers=auth).get_json()
    assert "+goodbye" in diff["commands"][0]["diff"]
    other = client.get(f"{API}/runs/{second.id}/sessions/{sid}/changes", headers=auth)
    assert other.status_code == 404  # a session of another run

    shown = runner.invoke(args=["minke", "show", str(second.id), "--changed"])
    assert shown.exit_code == 0, shown.output
    assert "No object's output changed" in shown.output and "h00" not in shown.output
    assert "since the previous run: 2 unchanged" in shown.output
    shown = runner.invoke(args=["minke", "show", str(third.id), "--changed", "--diff"])
    assert "h00: success [changed]" in shown.output
    assert "    -hello" in shown.output and "    +goodbye" in shown.output
    as_json = runner.invoke(args=["minke", "show", str(third.id), "--changed", "--json"])
    assert [s["change"] for s in json.loads(as_json.output)] == ["changed"]


@pytest.mark.integration
def test_the_previous_run_of_another_user_is_compared_but_not_shown(
        app, client, execute_run, make_hosts, make_user, ada):
    bob = make_user("bob", "minke.view_hosts", "minke.run_echosession")
    hosts = make_hosts(1)
    execute_run("EchoSession", hosts, {"message": "bob's secret"}, user=bob)
    run = execute_run("EchoSession", hosts, {"message": "hello"}, user=ada)
    assert marks(run) == {"h00": "changed"}
    login(client, "ada")
    sid = run.sessions[0].id
    diff = client.get(f"/runs/{run.id}/sessions/{sid}/changes",
                      headers={"Accept": "application/json"})
    assert diff.get_json()["previous"]["hidden"] is True
    assert diff.get_json()["commands"] == [] and "secret" not in diff.get_data(as_text=True)
    bobs = isolated_client(app)
    login(bobs, "bob")  # bob may not see ada's run at all
    assert bobs.get(f"/runs/{run.id}/sessions/{sid}/changes").status_code == 403


# -- the rules, on rows made directly ---------------------------------------------------------


def test_compare_marks():
    a, b = CommandKey("uptime", "aa"), CommandKey("uptime", "bb")
    assert compare([a], None) == "new"
    assert compare([a], [CommandKey("uptime", None)]) == "new"  # stored before the hashes
    assert compare([a], [a]) == "unchanged"
    assert compare([a], [b]) == "changed"
    assert compare([a], [a, a]) == "changed"
    assert compare([a], [CommandKey("uname", "aa")]) == "changed"
    assert compare([], []) == "unchanged"


def make_session(run_id, *, object_id=1, proc="completed", name="EchoSession",
                 outputs=()):
    session = MinkeSession(run_id=run_id, session_name=name, object_type="Host",
                           object_id=object_id, object_label=f"o{object_id}", proc_status=proc)
    db.session.add(session)
    db.session.flush()
    for seq, (command, chunks) in enumerate(outputs, start=1):
        text = "".join(chunks)
        result = StoredResult(session_id=session.id, seq=seq, command=command, status="ok",
                              stdout=text[:100], stdout_bytes=len(text.encode()),
                              stdout_sha256=hashlib.sha256(text.encode()).hexdigest())
        db.session.add(result)
        db.session.flush()
        db.session.add_all(OutputChunk(command_id=result.id, stream="stdout", seq=i, data=c)
                           for i, c in enumerate(chunks, start=1))
    return session


def make_run(name="EchoSession"):
    run = Run(session_name=name, object_type="Host")
    db.session.add(run)
    db.session.flush()
    return run.id


def test_the_previous_session_is_the_latest_completed_one_of_an_earlier_run(app):
    first, second, third, fourth = (make_run() for _ in range(4))
    old = make_session(first, outputs=[("echo", ["a\n"])])
    make_session(second, proc="failed", outputs=[("echo", ["b\n"])])  # did not complete
    make_session(second, object_id=2, outputs=[("echo", ["c\n"])])  # another object
    other_run = make_run("UptimeSession")
    make_session(other_run, name="UptimeSession", outputs=[("echo", ["d\n"])])
    current = make_session(third, outputs=[("echo", ["a\n"])])
    make_session(fourth, outputs=[("echo", ["e\n"])])  # a later run is never "previous"
    assert previous_session_id(current.id) == old.id
    assert mark_changes([current.id]) == {current.id: "unchanged"}
    stopped = make_session(third, object_id=3, proc="stopped")
    assert mark_changes([stopped.id]) == {}  # not completed: no mark
    db.session.commit()
    assert db.session.get(MinkeSession, current.id).change == "unchanged"
    assert db.session.get(MinkeSession, stopped.id).change is None


def test_big_outputs_are_diffed_in_bounded_memory_and_say_they_were_cut(app):
    chunks = ["".join(f"line {n:07d} {'x' * 86}\n" for n in range(i * 1000, (i + 1) * 1000))
              for i in range(40)]  # 100 kB each
    old = make_session(make_run(), outputs=[("cat big", chunks)])  # 4 MB
    new = make_session(make_run(), outputs=[("cat big", ["changed\n", *chunks])])
    db.session.commit()
    assert mark_changes([new.id]) == {new.id: "changed"}
    db.session.expire_all()
    tracemalloc.start()
    try:
        diff = session_diff(db.session.get(MinkeSession, new.id))
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert diff.previous_session_id == old.id
    [command] = diff.commands
    assert command.mark == "changed" and command.cut  # 4 MB each: the first 1 MiB compared
    assert "+changed" in command.lines
    assert peak < 8 * READ_LIMIT, peak  # two outputs of 4 MB never in memory whole


def test_equal_hashes_are_not_read_again(app):
    make_session(make_run(), outputs=[("echo", ["same\n"])])
    new = make_session(make_run(), outputs=[("echo", ["same\n"])])
    db.session.execute(OutputChunk.__table__.delete())  # a diff would have nothing to read
    diff = session_diff(new)
    assert [(c.mark, c.lines) for c in diff.commands] == [("unchanged", [])]
