"""History: who sees which runs, filters, each object's sessions, CSV/JSON export, re-runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
from wtforms import Form, PasswordField, StringField
from wtforms.validators import DataRequired

from sessions import REGISTRY, SingleCommandSession
from tests.test_web_objects import run_count, run_id_of, wait_finished
from tests.web_client import isolated_client, login, post
from webapp.engine.dispatch import start_run
from webapp.extensions import db
from webapp.kit import inert
from webapp.models import Run
from webapp.reports import run_report

pytestmark = pytest.mark.integration


@pytest.fixture
def people(make_user):
    """ada (admin: sees every run) and bob (runs two sessions, sees his own runs only)."""
    return (make_user("ada", "minke.admin"),
            make_user("bob", "minke.view_hosts", "minke.run_echosession",
                      "minke.run_failingsession"))


@pytest.fixture
def runs(people, make_hosts, execute_run):
    ada, bob = people
    hosts = make_hosts(3)
    return {
        "bob_echo": execute_run("EchoSession", hosts[:2], data={"message": "hi"}, user=bob).id,
        "ada_fail": execute_run("FailingSession", hosts[:1], user=ada).id,
        "ada_echo": execute_run("EchoSession", hosts[2:], data={"message": "yo"}, user=ada).id,
        "hosts": [h.id for h in hosts],
    }


def listed(client, query: str = "") -> list[int]:
    html = client.get("/history/" + query).get_data(as_text=True)
    return [int(n) for n in re.findall(r'<td><a href="/runs/(\d+)">', html)]


def test_users_see_their_own_runs_unless_they_may_see_all(client, runs, people):
    ada, _ = people
    login(client, "bob")
    assert listed(client) == [runs["bob_echo"]]
    assert 'id="filter-user"' not in client.get("/history/").get_data(as_text=True)
    assert listed(client, f"?user={ada.id}") == []  # the filter cannot widen what bob sees
    other = runs["ada_echo"]
    assert client.get(f"/history/runs/{other}.csv").status_code == 403
    assert client.get(f"/history/runs/{other}.json").status_code == 403
    assert post(client, f"/history/runs/{other}/rerun").status_code == 403
    assert client.get("/history/runs/999.csv").status_code == 404
    assert run_count() == 3


def test_filters_by_user_session_status_object_and_time(client, runs, people):
    ada, bob = people
    login(client, "ada")
    newest_first = [runs["ada_echo"], runs["ada_fail"], runs["bob_echo"]]
    assert listed(client) == newest_first
    assert listed(client, f"?user={bob.id}") == [runs["bob_echo"]]
    assert listed(client, "?session=FailingSession") == [runs["ada_fail"]]
    assert listed(client, "?status=unsuccessful") == [runs["ada_fail"]]
    assert listed(client, "?status=succeeded") == [runs["ada_echo"], runs["bob_echo"]]
    assert listed(client, "?status=running") == []
    assert listed(client, "?status=finished") == newest_first
    assert listed(client, "?object=H02") == [runs["ada_echo"]]
    assert listed(client, "?object=h0_") == []  # LIKE wildcards are searched literally
    today = dt.datetime.now(dt.UTC).date()
    assert listed(client, f"?since={today}&until={today}") == newest_first
    assert listed(client, f"?since={today + dt.timedelta(days=1)}") == []
    assert listed(client, f"?until={today - dt.timedelta(days=1)}") == []
    assert listed(client, "?since=garbage") == newest_first


def test_history_pages(client, runs, make_user):
    login(client, "ada")
    html = client.get("/history/?page=1").get_data(as_text=True)
    assert "3 runs" in html and 'data-status="error">1 error<' in html
    assert "Re-run 1 unsuccessful" in html


def test_object_history(client, runs):
    h00 = runs["hosts"][0]
    login(client, "ada")
    html = client.get(f"/history/objects/Host/{h00}").get_data(as_text=True)
    assert "Sessions of Host h00" in html and "2 sessions" in html
    assert re.findall(r'<a href="/runs/(\d+)">', html) == [str(runs["ada_fail"]),
                                                            str(runs["bob_echo"])]
    assert client.get("/history/objects/Nothing/1").status_code == 404
    assert client.get("/history/objects/Host/999999").status_code == 404
    bob = isolated_client(client.application)
    login(bob, "bob")
    html = bob.get(f"/history/objects/Host/{h00}").get_data(as_text=True)
    assert re.findall(r'<a href="/runs/(\d+)">', html) == [str(runs["bob_echo"])]


def test_object_rows_link_to_their_history(client, runs):
    login(client, "ada")
    html = client.get("/objects/host/").get_data(as_text=True)
    for host_id in runs["hosts"]:
        assert f'href="/history/objects/Host/{host_id}"' in html


def test_csv_export_is_one_inert_row_per_session(client, people, make_hosts, execute_run):
    ada, _ = people
    hosts = make_hosts(2)
    run = execute_run("EchoSession", hosts, user=ada,
                      data={"message": '=HYPERLINK("http://evil.example","x")'})
    login(client, "ada")
    response = client.get(f"/history/runs/{run.id}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["object"] for r in rows] == ["h00", "h01"]
    assert {r["status"] for r in rows} == {"success"} and {r["exit_codes"] for r in rows} == {"0"}
    assert rows[0]["stdout"] == "'" + '=HYPERLINK("http://evil.example","x")\n'
    assert rows[0]["host"] == "h00" and float(rows[0]["seconds"]) >= 0
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_inert_cells():
    assert inert("=1+2") == "'=1+2"
    assert inert("+1") == "'+1" and inert("-1") == "'-1" and inert("@SUM(A1)") == "'@SUM(A1)"
    assert inert("\tx") == "'\tx"
    assert inert("plain") == "plain" and inert(None) == "" and inert(3) == "3"


def test_json_export_is_the_cli_report_with_the_run(client, people, make_hosts, execute_run):
    ada, _ = people
    run = execute_run("MessagesSession", make_hosts(1), user=ada)
    login(client, "ada")
    response = client.get(f"/history/runs/{run.id}.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    document = response.get_json()
    db.session.expire_all()
    assert document["sessions"] == run_report(db.session.get(Run, run.id))
    assert document["run"]["session"] == "MessagesSession" and document["run"]["user"] == "ada"
    assert {m["kind"] for m in document["sessions"][0]["messages"]} >= {"pre", "table"}


def test_rerun_with_the_same_objects_and_inputs(client, people, make_hosts, execute_run,
                                                worker):
    ada, _ = people
    hosts = make_hosts(2)
    first = execute_run("EchoSession", hosts, user=ada, data={"message": "again"})
    login(client, "ada")
    assert client.post(f"/history/runs/{first.id}/rerun").status_code == 400  # no CSRF token
    response = post(client, f"/history/runs/{first.id}/rerun")
    again = wait_finished(run_id_of(response), worker=worker)
    assert again.id != first.id and again.data == {"message": "again"}
    assert again.user.name == "ada" and again.origin == "web"
    assert [(s.object_label, s.session_status) for s in again.sessions] == [
        ("h00", "success"), ("h01", "success")]
    assert "again" in again.sessions[0].commands[0].stdout


def test_rerun_only_the_unsuccessful_objects(client, people, make_hosts, execute_run, worker,
                                             sshd):
    ada, _ = people
    hosts = make_hosts(3)
    hosts[1].port = 1  # h01 is down
    db.session.commit()
    first = execute_run("WhoAmISession", hosts, user=ada)
    assert [s.object_label for s in first.sessions if s.session_status != "success"] == ["h01"]
    hosts = [db.session.merge(h) for h in hosts]
    hosts[1].port = sshd.port  # h01 is back
    db.session.commit()
    login(client, "ada")
    response = post(client, f"/history/runs/{first.id}/rerun", {"only": "unsuccessful"})
    again = wait_finished(run_id_of(response), worker=worker)
    assert [(s.object_label, s.session_status) for s in again.sessions] == [("h01", "success")]
    # nothing failed this time: there is nothing to re-run
    response = post(client, f"/history/runs/{again.id}/rerun", {"only": "unsuccessful"})
    assert response.status_code == 302 and response.headers["Location"] == "/history/"
    assert "no session of this run failed" in client.get("/history/").get_data(as_text=True)


class SecretForm(Form):
    login = StringField("Login", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@pytest.fixture
def secret_session():
    class WebSecretSession(SingleCommandSession):
        """Echoes a login; the password is only used remotely."""

        work_on = ("Host",)
        form = SecretForm
        command = "echo {login}"

    yield WebSecretSession
    REGISTRY.remove("WebSecretSession")


def test_rerun_asks_again_for_secrets_that_were_never_stored(client, app, people, make_hosts,
                                                             secret_session):
    ada, _ = people
    hosts = make_hosts(2)
    first = start_run(app.extensions["minke"], secret_session, hosts, user=ada,
                      data={"login": "deploy", "password": "s3cret"})
    assert first.data == {"login": "deploy"}
    login(client, "ada")
    page = post(client, f"/history/runs/{first.id}/rerun")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and run_count() == 1
    assert 'name="s-login"' in html and 'value="deploy"' in html
    assert re.search(r'<input[^>]*name="s-password"[^>]*>', html)
    assert "s3cret" not in html
    assert "secret fields are never stored" in html
    ids = [str(h.id) for h in hosts]
    fields = {"session": "WebSecretSession", "ids": ids, "step": "run", "s-login": "deploy",
              "shown": ids, "keep": ids}
    missing = post(client, "/objects/host/run", fields)
    assert missing.status_code == 400 and run_count() == 1
    done = post(client, "/objects/host/run", {**fields, "s-password": "again"})
    second = db.session.get(Run, run_id_of(done))
    assert second.data == {"login": "deploy"}
    assert len(second.sessions) == 2


def test_rerun_of_a_confirm_session_shows_the_confirmation(client, people, make_hosts,
                                                          execute_run):
    ada, _ = people
    first = execute_run("RunCommandSession", make_hosts(2), user=ada, data={"cmd": "true"})
    login(client, "ada")
    html = post(client, f"/history/runs/{first.id}/rerun").get_data(as_text=True)
    assert "Confirm and run" in html and html.count('name="keep"') == 2
    assert "true</textarea>" in html
    assert run_count() == 1


def test_rerun_needs_the_sessions_permission(client, people, make_user, make_hosts, execute_run):
    ada, _ = people
    first = execute_run("WhoAmISession", make_hosts(1), user=ada)
    make_user("eve", "minke.view_all_runs", "minke.view_hosts")
    login(client, "eve")
    assert client.get(f"/history/runs/{first.id}.csv").status_code == 200
    assert post(client, f"/history/runs/{first.id}/rerun").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Run)) == 1
