"""One permission policy (webapp/permissions.py) on every path: the API, the pages, re-runs
and the CLI's ``--user`` refuse runs on objects the user may not list; a user limited to
their own runs sees nothing of other users' runs in the object lists and the API;
``minke.edit_hosts`` opens the admin host pages and nothing else of the admin.

Real app, database, Redis and (for the runs whose statuses are shown) sshd."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.test_admin_pages import admin_urls
from tests.test_api import bearer, queued
from tests.test_web_objects import run_count, run_id_of
from tests.web_client import csrf_token, login, post
from webapp.api.tokens import create_token
from webapp.extensions import db
from webapp.models import Host, Role, Run
from webapp.permissions import viewable_run_ids

pytestmark = pytest.mark.integration

API = "/api/v1"
RUNS_ECHO = "minke.run_echosession"


@pytest.fixture
def token_for(app):
    """``token_for(user) -> str``: a committed API token of ``user``."""

    def make(user) -> str:
        _row, token = create_token(user, "test")
        db.session.commit()
        return token

    return make


@pytest.fixture
def hosts(make_hosts):
    return make_hosts(3, group="web")


@pytest.fixture
def runner_only(make_user):
    """May run EchoSession but not list hosts (no ``minke.view_hosts``)."""
    return make_user("nolist", RUNS_ECHO)


def text(response) -> str:
    return response.get_data(as_text=True)


# runs on objects the user may not list ------------------------------------------------------


@pytest.mark.parametrize("objects", [
    {"model": "Host", "where": {}},
    {"model": "Host", "ids": [1, 2]},
    {"model": "Host", "where": {"name": "h00"}},
    {"hosts": ["h00", "h01"]},
    {"groups": ["web"]},
    {"hosts": ["no-such-host"]},  # refused before the lookup: the answer tells nothing
], ids=["where-all", "ids", "where-name", "hosts", "groups", "unknown-host"])
def test_api_refuses_a_run_on_hosts_the_user_may_not_list(app, client, hosts, runner_only,
                                                          token_for, objects):
    before_runs, before_jobs = run_count(), queued(app)
    answer = client.post(f"{API}/runs", headers=bearer(token_for(runner_only)),
                         json={"session": "EchoSession", "objects": objects,
                               "data": {"message": "hi"}})
    assert answer.status_code == 403, answer.get_json()
    assert "minke.view_hosts" in answer.get_json()["error"]
    assert run_count() == before_runs and queued(app) == before_jobs


def test_api_runs_on_hosts_once_the_role_may_list_them(app, client, hosts, runner_only,
                                                       token_for):
    token = token_for(runner_only)
    role = runner_only.roles[0]
    role.permissions = [*role.permissions, "minke.view_hosts"]
    db.session.commit()
    answer = client.post(f"{API}/runs", headers=bearer(token),
                         json={"session": "EchoSession", "objects": {"model": "Host", "where": {}},
                               "data": {"message": "hi"}})
    assert answer.status_code == 201, answer.get_json()
    assert run_count() == 1 and queued(app) >= 1


def test_api_offers_no_session_on_a_model_the_user_may_not_list(client, hosts, runner_only,
                                                               token_for):
    answer = client.get(f"{API}/sessions", headers=bearer(token_for(runner_only)))
    assert answer.status_code == 200
    assert "EchoSession" not in {session["name"] for session in answer.get_json()["sessions"]}
    assert client.get(f"{API}/objects/Host",
                      headers=bearer(token_for(runner_only))).status_code == 403


def test_cli_user_without_the_view_permission_queues_nothing(app, runner, hosts, runner_only):
    result = runner.invoke(args=["minke", "run", "EchoSession", "--host", "h00", "--user",
                                 "nolist", "--data", "message=hi", "--no-wait"])
    assert result.exit_code == 2, result.output
    assert "minke.view_hosts" in result.output
    assert run_count() == 0 and queued(app) == 0


def test_a_rerun_needs_the_view_permission_too(app, client, hosts, make_user, token_for):
    ops = make_user("ops", "minke.view_hosts", RUNS_ECHO)
    started = client.post(f"{API}/runs", headers=bearer(token_for(ops)),
                          json={"session": "EchoSession", "objects": {"hosts": ["h00"]},
                                "data": {"message": "hi"}})
    assert started.status_code == 201
    run_id = started.get_json()["id"]
    login(client, "ops")
    token = csrf_token(client, "/history/")
    role = db.session.get(Role, ops.roles[0].id)
    role.permissions = [RUNS_ECHO]  # the role loses minke.view_hosts
    db.session.commit()
    jobs = queued(app)
    refused = client.post(f"/history/runs/{run_id}/rerun", data={"csrf_token": token})
    assert refused.status_code == 403
    assert run_count() == 1 and queued(app) == jobs

    role.permissions = [RUNS_ECHO, "minke.view_hosts"]
    db.session.commit()
    again = client.post(f"/history/runs/{run_id}/rerun", data={"csrf_token": token})
    assert run_id_of(again) != run_id and run_count() == 2


def test_list_and_start_pages_refuse_a_user_without_the_view_permission(client, hosts,
                                                                       runner_only):
    login(client, "nolist")
    assert client.get("/objects/host/").status_code == 403
    refused = post(client, "/objects/host/run", {"session": "EchoSession", "ids": "1",
                                                 "message": "hi", "step": "run"})
    assert refused.status_code == 403 and run_count() == 0
    home = text(client.get("/"))
    assert "/objects/host/" not in home


# users limited to their own runs -------------------------------------------------------------


def rows_of(html: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(
        r"<tr[^>]*>\s*<td class=\"select\">.*?<strong>(h\d\d)</strong>.*?</tr>", html, re.S)}


@pytest.fixture
def two_users_runs(hosts, make_user, execute_run):
    """``mine`` (own runs only) ran EchoSession on h00; then ``boss`` (who sees every run)
    ran FailingSession on h00 and h01: the latest session of both is the boss's error."""
    mine = make_user("mine", "minke.view_hosts", RUNS_ECHO)
    boss = make_user("boss", "minke.view_hosts", "minke.view_all_runs",
                     "minke.run_failingsession")
    own = execute_run("EchoSession", hosts[:1], data={"message": "mine"}, user=mine)
    other = execute_run("FailingSession", hosts[:2], user=boss)
    assert {s.proc_status for s in own.sessions} == {"completed"}
    return mine, boss, own.id, other.id


def test_own_runs_user_sees_only_their_own_latest_status_in_the_list(client, two_users_runs):
    _mine, _boss, own_id, other_id = two_users_runs
    login(client, "mine")
    html = text(client.get("/objects/host/"))
    rows = rows_of(html)
    assert 'data-status="success">success<' in rows["h00"]  # theirs, not the newer error
    assert f"/runs/{own_id}" in rows["h00"]
    assert 'data-status="none">never run<' in rows["h01"]  # only the boss ran it
    assert f"/runs/{other_id}" not in html and 'data-status="error"' not in html
    assert "Your latest session" in html

    error = text(client.get("/objects/host/?status=error"))
    assert "0 matching" in error or not rows_of(error)
    assert not rows_of(error)
    assert set(rows_of(text(client.get("/objects/host/?status=success")))) == {"h00"}
    assert set(rows_of(text(client.get("/objects/host/?status=none")))) == {"h01", "h02"}


def test_the_user_who_sees_every_run_sees_the_latest_of_anyone(client, two_users_runs):
    _mine, _boss, _own_id, other_id = two_users_runs
    login(client, "boss")
    rows = rows_of(text(client.get("/objects/host/")))
    assert 'data-status="error"' in rows["h00"] and f"/runs/{other_id}" in rows["h00"]
    assert set(rows_of(text(client.get("/objects/host/?status=error")))) == {"h00", "h01"}


def test_api_last_run_is_the_users_own(client, two_users_runs, token_for):
    mine, boss, own_id, other_id = two_users_runs
    for user, expected in [(mine, {"h00": own_id, "h01": None, "h02": None}),
                           (boss, {"h00": other_id, "h01": other_id, "h02": None})]:
        answer = client.get(f"{API}/objects/Host", headers=bearer(token_for(user)))
        assert answer.status_code == 200
        got = {o["label"]: o["last_run"] for o in answer.get_json()["objects"]}
        assert got == expected, user.name
        errors = client.get(f"{API}/objects/Host?status=error", headers=bearer(token_for(user)))
        assert errors.get_json()["total"] == (0 if user is mine else 2)


def test_all_matching_selection_by_status_counts_only_own_sessions(client, two_users_runs):
    login(client, "mine")
    # h00's latest session of anyone is an error; of "mine" a success: nothing to select
    answer = post(client, "/objects/host/run", {"session": "EchoSession", "all": "1",
                                                "status": "error"})
    assert "h00" not in text(answer) and "h01" not in text(answer)


def test_history_pages_never_list_other_users_runs(client, two_users_runs):
    _mine, boss, own_id, other_id = two_users_runs
    login(client, "mine")
    history = text(client.get("/history/"))
    assert f"/runs/{own_id}" in history and f"/runs/{other_id}" not in history
    assert f"/runs/{other_id}" not in text(client.get(f"/history/?user={boss.id}"))
    host = db.session.scalar(sa.select(Host).where(Host.name == "h01"))
    page = client.get(f"/history/objects/Host/{host.id}")
    assert f"/runs/{other_id}" not in text(page)
    assert client.get(f"/runs/{other_id}").status_code == 403


def test_viewable_run_ids_names_only_runs_the_user_may_see(two_users_runs):
    mine, boss, own_id, other_id = two_users_runs
    assert viewable_run_ids(mine, [own_id, other_id, 999999]) == {own_id}
    assert viewable_run_ids(boss, [own_id, other_id, 999999]) == {own_id, other_id}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Run)) == 2


# minke.edit_hosts ---------------------------------------------------------------------------


HOST_PAGES = re.compile(r"^/admin/(hosts|groups)/|^/admin/$")


def sections(index_html: str) -> set[str]:
    """The links of the admin index's list of sections."""
    listing = index_html.split('class="admin-sections"', 1)[1].split("</nav>", 1)[0]
    return set(re.findall(r'<a href="(/[^"]+)">', listing))


def test_edit_hosts_opens_the_host_admin_pages_and_only_those(app, client, make_user, hosts):
    make_user("keeper", "minke.edit_hosts")
    login(client, "keeper")
    token = csrf_token(client, "/admin/")
    for method, url in admin_urls(app):
        if HOST_PAGES.match(url):
            continue
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 403, (method, url, response.status_code)
    for url in ("/audit/", "/admin/commands/"):
        assert client.get(url).status_code == 403

    index = text(client.get("/admin/"))
    assert "Hosts admin" in index
    assert sections(index) == {"/admin/hosts/", "/admin/groups/"}
    assert client.get("/admin/hosts/").status_code == 200
    assert client.get("/admin/groups/").status_code == 200
    added = post(client, "/admin/hosts/new", {"name": "new1", "hostname": "127.0.0.9", "port": "",
                                               "username": "", "groups": "", "verbose_name": "",
                                               "comment": "", "config": ""},
                 token_from="/admin/hosts/new")
    assert added.status_code == 302
    db.session.rollback()
    assert db.session.scalar(sa.select(Host).where(Host.name == "new1")) is not None
    assert ">Hosts admin</a>" in text(client.get("/profile/"))


def test_admins_keep_every_section_and_the_admin_menu(client, admin):
    login(client, "ada")
    index = text(client.get("/admin/"))
    assert sections(index) == {"/admin/users/", "/admin/roles/", "/admin/hosts/",
                               "/admin/groups/", "/admin/commands/", "/audit/"}
    assert ">Admin</a>" in text(client.get("/profile/"))
