"""The JSON API: tokens, sessions, objects, starting, following, stopping and exporting runs,
against the real app, Redis, an rq worker and sshd; docs/api.md's CI script on gunicorn."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.test_web_objects import run_count
from tests.web_client import login, post
from webapp.api.tokens import create_token
from webapp.extensions import db
from webapp.models import ApiToken

pytestmark = pytest.mark.integration

API_DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
API = "/api/v1"


@pytest.fixture
def token_for(app):
    """``token_for(user) -> str``: a committed API token of ``user``."""

    def make(user, name: str = "test") -> str:
        _row, token = create_token(user, name)
        db.session.commit()
        return token

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ops(make_user):
    """A user who may list hosts and run EchoSession and SleepSession."""
    return make_user("ops", "minke.view_hosts", "minke.run_echosession", "minke.run_sleepsession")


def queued(app) -> int:
    return app.extensions["minke"].queue.count


def test_a_token_is_shown_once_stored_hashed_and_revocable(client, ops):
    login(client, "ops")
    page = post(client, "/profile/tokens", {"name": "ci pipeline"}, token_from="/profile/")
    assert page.status_code == 200
    token = re.search(r'value="(minke_[A-Za-z0-9_-]{40,})"', page.get_data(as_text=True)).group(1)
    db.session.rollback()
    row = db.session.scalar(sa.select(ApiToken))
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.name, row.prefix, row.digest) and token.startswith(row.prefix)
    assert row.last_used_at is None
    listing = client.get("/profile/").get_data(as_text=True)
    assert "ci pipeline" in listing and token not in listing and row.prefix in listing

    assert client.get(f"{API}/sessions", headers=bearer(token)).status_code == 200
    db.session.rollback()
    assert db.session.get(ApiToken, row.id).last_used_at is not None
    assert "never" not in client.get("/profile/").get_data(as_text=True)

    revoked = post(client, f"/profile/tokens/{row.id}/revoke", token_from="/profile/")
    assert revoked.status_code == 302
    answer = client.get(f"{API}/sessions", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.get_json() == {"error": "invalid or revoked token"}
    assert "revoked" in client.get("/profile/").get_data(as_text=True)


def test_another_users_token_cannot_be_revoked(client, ops, make_user, token_for):
    token_for(make_user("other"))
    other_id = db.session.scalar(sa.select(ApiToken.id))
    login(client, "ops")
    assert post(client, f"/profile/tokens/{other_id}/revoke",
                token_from="/profile/").status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer minke_nope"},
                                     {"Authorization": "Basic b3BzOnB3"}])
def test_the_api_wants_a_valid_token(client, headers):
    answer = client.get(f"{API}/sessions", headers=headers)
    assert answer.status_code == 401
    assert answer.is_json and "error" in answer.get_json()
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_logged_in_browser_session_does_not_authenticate_the_api(client, ops):
    login(client, "ops")
    assert client.get("/").status_code == 200
    assert client.get(f"{API}/sessions").status_code == 401
    # and a POST without a CSRF token is refused for the missing token, not for CSRF
    assert client.post(f"{API}/runs", json={}).status_code == 401


def test_errors_are_json(client, ops, token_for):
    token = token_for(ops)
    missing = client.get(f"{API}/no-such-thing", headers=bearer(token))
    assert missing.status_code == 404 and "error" in missing.get_json()
    wrong_method = client.delete(f"{API}/runs/1", headers=bearer(token))
    assert wrong_method.status_code == 405 and "error" in wrong_method.get_json()
    assert client.get(f"{API}/runs/999", headers=bearer(token)).get_json() == {
        "error": "no run 999"}


def test_sessions_are_those_the_user_may_run_with_their_fields(client, ops, token_for):
    response = client.get(f"{API}/sessions", headers=bearer(token_for(ops)))
    assert "Set-Cookie" not in response.headers  # a token never turns into a session
    answer = response.get_json()
    by_name = {session["name"]: session for session in answer["sessions"]}
    assert set(by_name) == {"EchoSession", "SleepSession"}
    echo = by_name["EchoSession"]
    assert echo["group"] == "Testing" and echo["work_on"] == ["Host"]
    assert echo["description"].startswith("Echo the form's message")
    assert echo["fields"] == [{"name": "message", "label": "Message", "type": "StringField",
                               "required": True, "choices": None, "description": "",
                               "default": None, "secret": False}]
    assert by_name["SleepSession"]["fields"][0]["type"] == "IntegerField"


def test_objects_are_listed_and_searched_like_the_object_list(client, ops, make_user,
                                                                  make_hosts, token_for):
    hosts = make_hosts(3)
    hosts[1].disabled, hosts[1].disabled_reason = True, "disk replaced until Friday"
    db.session.commit()
    token = token_for(ops)
    page = client.get(f"{API}/objects/Host?search=h01", headers=bearer(token)).get_json()
    assert page["model"] == "Host" and page["total"] == 1
    (host,) = page["objects"]
    assert host["label"] == "h01" and host["fields"]["name"] == "h01"
    assert host["status"] == "none" and host["last_run"] is None
    assert (host["disabled"], host["disabled_reason"]) == (True, "disk replaced until Friday")
    enabled = client.get(f"{API}/objects/Host?search=h00", headers=bearer(token)).get_json()
    assert (enabled["objects"][0]["disabled"], enabled["objects"][0]["disabled_reason"]) == (
        False, None)
    paged = client.get(f"{API}/objects/host?size=10&page=1", headers=bearer(token)).get_json()
    assert [o["label"] for o in paged["objects"]] == ["h00", "h01", "h02"]
    assert client.get(f"{API}/objects/Nothing", headers=bearer(token)).status_code == 404
    nobody = token_for(make_user("nobody"))
    refused = client.get(f"{API}/objects/Host", headers=bearer(nobody))
    assert refused.status_code == 403 and "minke.view_hosts" in refused.get_json()["error"]


def test_starting_checks_like_the_page_and_queues_nothing_when_refused(
        app, client, ops, make_user, make_hosts, token_for):
    host = make_hosts(1)[0]
    objects = {"model": "Host", "ids": [host.id]}
    outsider = token_for(make_user("outsider", "minke.view_hosts"))
    refused = client.post(f"{API}/runs", headers=bearer(outsider), json={
        "session": "EchoSession", "objects": objects, "data": {"message": "hi"}})
    assert refused.status_code == 403
    assert "may not run EchoSession" in refused.get_json()["error"]

    token = token_for(ops)
    invalid = client.post(f"{API}/runs", headers=bearer(token), json={
        "session": "EchoSession", "objects": objects, "data": {"nonsense": "1"}})
    assert invalid.status_code == 400
    assert invalid.get_json()["fields"] == {"nonsense": ["unknown field"],
                                            "message": ["This field is required."]}
    for body, says in [
        ({"session": "NoSuchSession", "objects": objects}, "unknown session"),
        ({"session": "EchoSession", "objects": {"model": "Host", "where": {"port": "x"}},
          "data": {"message": "x"}}, "port is an integer"),
        ({"session": "EchoSession", "objects": {"model": "Host"}, "data": {"message": "x"}},
         '"ids" or "where"'),
        ({"session": "EchoSession", "objects": {"hosts": ["h00"]}, "data": {"message": "x"},
          "concurrency": 0}, "concurrency"),
        (["not", "an", "object"], "expected a JSON object"),
    ]:
        answer = client.post(f"{API}/runs", headers=bearer(token), json=body)
        assert answer.status_code == 400, body
        assert says in answer.get_json()["error"], answer.get_json()
    missing = client.post(f"{API}/runs", headers=bearer(token), json={
        "session": "EchoSession", "objects": {"model": "Host", "ids": [999]},
        "data": {"message": "x"}})
    assert missing.status_code == 404  # well asked, but no such host
    assert "no Host with id 999" in missing.get_json()["error"]
    assert run_count() == 0 and queued(app) == 0


def follow(client, token: str, run_id: int, timeout: float = 30.0) -> tuple[dict, list[dict]]:
    """Poll the events as the script of docs/api.md does; every answer's sessions, in order."""
    after, answers = "", []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"{API}/runs/{run_id}/events?after={after}", headers=bearer(token))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        events = answer.get_json()
        answers.append(events)
        after = events["after"]
        if events["finished"]:
            return events, answers
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def test_a_run_started_followed_and_exported(client, ops, make_hosts, token_for, worker):
    hosts = make_hosts(2)
    token = token_for(ops)
    started = client.post(f"{API}/runs", headers=bearer(token), json={
        "session": "EchoSession", "objects": {"model": "Host", "where": {"port": hosts[0].port}},
        "data": {"message": "hello api"}})
    assert started.status_code == 201, started.get_json()
    run_id = started.get_json()["id"]
    urls = started.get_json()["urls"]
    assert started.headers["Location"] == urls["run"] == f"http://localhost{API}/runs/{run_id}"
    assert urls["page"].endswith(f"/runs/{run_id}")

    _last, answers = follow(client, token, run_id)
    seen_messages, seen_output, commands = [], [], {}
    for events in answers:
        for session in events["sessions"]:
            seen_messages += [(session["id"], m["seq"]) for m in session["messages"]]
            seen_output += [(session["id"], p["seq"], p["data"]) for p in session["output"]]
            for command in session["commands"]:
                commands[session["id"], command["seq"]] = command
    assert len(seen_output) == len(set(seen_output)), "output sent twice"
    assert len(seen_messages) == len(set(seen_messages)), "message sent twice"
    assert sorted(data for _sid, _seq, data in seen_output) == ["hello api\n"] * 2
    assert [c["exit_code"] for c in commands.values()] == [0, 0]
    assert [c["command"] for c in commands.values()] == ["echo 'hello api'"] * 2

    run = client.get(urls["run"], headers=bearer(token)).get_json()
    assert run["finished"] and run["origin"] == "api" and run["user"] == "ops"
    assert run["counts"] == {"success": 2}
    assert [s["object"] for s in run["sessions"]] == ["h00", "h01"]
    assert {s["status"] for s in run["sessions"]} == {"success"}

    document = client.get(urls["export_json"], headers=bearer(token)).get_json()
    assert document["run"]["id"] == run_id
    assert [s["commands"][0]["stdout"] for s in document["sessions"]] == ["hello api\n"] * 2
    table = client.get(urls["export_csv"], headers=bearer(token))
    assert table.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(table.get_data(as_text=True))))
    assert [row["stdout"] for row in rows] == ["hello api\n"] * 2


def test_a_run_is_stopped_through_the_api(client, ops, make_hosts, token_for, worker):
    host = make_hosts(1)[0]
    token = token_for(ops)
    started = client.post(f"{API}/runs", headers=bearer(token), json={
        "session": "SleepSession", "objects": {"hosts": [host.name]}, "data": {"seconds": 30}})
    run_id = started.get_json()["id"]
    deadline = time.monotonic() + 15
    while True:
        events = client.get(f"{API}/runs/{run_id}/events", headers=bearer(token)).get_json()
        if events["sessions"][0]["commands"]:
            break
        assert time.monotonic() < deadline, events
        time.sleep(0.1)
    begun = time.monotonic()
    stopped = client.post(f"{API}/runs/{run_id}/stop", headers=bearer(token), json={"kill": True})
    assert stopped.get_json() == {"run": run_id, "session": None, "level": 2, "stop": "kill"}
    last, _answers = follow(client, token, run_id, timeout=15)
    assert time.monotonic() - begun < 10
    assert last["sessions"][0]["status"] == "stopped"
    assert client.post(f"{API}/runs/{run_id}/stop", headers=bearer(token),
                       json={"kill": "yes"}).status_code == 400


def test_other_users_runs_are_hidden_unless_a_role_grants_them(
        client, ops, make_user, make_hosts, token_for, execute_run):
    run = execute_run("EchoSession", make_hosts(1), data={"message": "mine"}, user=ops)
    stranger = token_for(make_user("stranger", "minke.run_echosession"))
    for method, path in [("get", ""), ("get", "/events"), ("get", "/export.json"),
                         ("get", "/export.csv"), ("post", "/stop")]:
        answer = getattr(client, method)(f"{API}/runs/{run.id}{path}", headers=bearer(stranger))
        assert answer.status_code == 404, path
        assert answer.get_json() == {"error": f"no run {run.id}"}
    viewer = token_for(make_user("viewer", "minke.view_all_runs"))
    assert client.get(f"{API}/runs/{run.id}", headers=bearer(viewer)).status_code == 200
    assert client.post(f"{API}/runs/{run.id}/stop", headers=bearer(viewer)).status_code == 403
    stopper = token_for(make_user("stopper", "minke.view_all_runs", "minke.stop_all_runs"))
    finished = client.post(f"{API}/runs/{run.id}/stop", headers=bearer(stopper))
    assert finished.status_code == 409  # allowed to stop, but the run is over
    assert finished.get_json() == {"error": f"run #{run.id} already finished"}


def test_the_openapi_file_documents_every_route(app, client):
    answer = client.get(f"{API}/openapi.json")  # public: no token
    assert answer.status_code == 200
    spec = answer.get_json()
    assert spec["openapi"].startswith("3.") and spec["servers"] == [{"url": API}]
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API))
            routes[path] = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {path: set(item) for path, item in spec["paths"].items()}
    assert documented == routes
    for path, item in spec["paths"].items():
        for operation in item.values():
            params = {p["name"] for p in operation.get("parameters", []) if "name" in p}
            params |= {ref["$ref"].rsplit("/", 1)[1].replace("RunId", "run_id")
                       for ref in operation.get("parameters", []) if "$ref" in ref}
            assert set(re.findall(r"{(\w+)}", path)) <= params, path
            assert operation["responses"], path

    def refs(node):
        if isinstance(node, dict):
            yield from (v for k, v in node.items() if k == "$ref")
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(spec):
        target = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def api_doc_snippet() -> str:
    text = API_DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- api-ci-script -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/api.md has no API CI script"
    return match.group(1)


def test_the_api_docs_ci_script_starts_a_run_and_waits_for_it(
        live_server, ops, make_hosts, token_for, worker, tmp_path):
    make_hosts(2)
    script = tmp_path / "ci_run.py"
    script.write_text(api_doc_snippet())
    env = {**os.environ, "MINKE_URL": live_server.url, "MINKE_TOKEN": token_for(ops),
           "MINKE_POLL": "0.2"}
    done = subprocess.run([sys.executable, str(script), "EchoSession", "h00,h01",
                           "message=from CI"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^run #\d+ ", done.stdout, re.M), done.stdout
    for host in ("h00", "h01"):
        assert f"{host}: info: code[0]   echo 'from CI'" in done.stdout, done.stdout
    assert '"success": 2' in done.stdout

    failed = subprocess.run([sys.executable, str(script), "EchoSession", "h00"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0
    assert "400" in failed.stderr and "message" in failed.stderr
    db.session.rollback()
    assert run_count() == 1
