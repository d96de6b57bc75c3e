"""The audit log: what is recorded (logins, runs, stops, re-runs, exports, accounts, hosts,
tokens) without secrets, from the web, the API and the CLI; the admins' page and CSV."""

from __future__ import annotations

import csv
import io
import json
import time

import paramiko
import pytest
import sqlalchemy as sa

from tests.test_web_objects import run_id_of, wait_finished
from tests.web_client import login, post
from webapp import accounts, inventory
from webapp.api.tokens import create_token
from webapp.audit import log_action
from webapp.extensions import db
from webapp.models import AuditEntry

pytestmark = pytest.mark.integration

SECRET = "s3cret-token-value"  # 18 characters ending in -value: SecretTokenSession accepts it


def entries(action: str | None = None) -> list[AuditEntry]:
    db.session.rollback()
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def stored_text() -> str:
    """Every audit entry as text, to look for secrets."""
    return json.dumps([[e.action, e.target, e.details, e.user_name] for e in entries()])


def test_logins_and_failed_logins_are_recorded_without_the_password(client, make_user):
    make_user("ada", password="right-password")
    assert login(client, "ada", "wrong-password").status_code == 401
    assert login(client, "ghost", "any-password").status_code == 401
    assert login(client, "ada", "right-password").status_code == 302
    failed, unknown = entries("login.failed")
    assert (failed.target, failed.user_id, failed.origin) == ("user ada", None, "web")
    assert failed.address == "127.0.0.1"
    assert unknown.target == "user ghost"
    (success,) = entries("login.success")
    assert (success.user_name, success.target) == ("ada", "user ada")
    assert "password" not in stored_text()


def test_runs_started_stopped_rerun_and_exported_are_recorded_without_secrets(
        app, client, make_user, make_hosts, worker):
    admin = make_user("root", "minke.admin")
    hosts = make_hosts(2)
    _row, token = create_token(admin, "ci")
    db.session.commit()
    api = {"Authorization": f"Bearer {token}"}
    started = client.post("/api/v1/runs", headers=api, json={
        "session": "SecretTokenSession", "objects": {"hosts": [hosts[0].name]},
        "data": {"token": SECRET, "label": "nightly"}})
    assert started.status_code == 201, started.get_json()
    run_id = started.get_json()["id"]
    (start,) = entries("run.start")
    assert (start.target, start.origin, start.user_name) == (f"run #{run_id}", "api", "root")
    assert start.details == {"session": "SecretTokenSession", "origin": "api",
                             "data": {"label": "nightly"}, "object_type": "Host",
                             "objects": 1, "labels": ["h00"]}

    assert client.post(f"/api/v1/runs/{run_id}/stop", headers=api).status_code == 200
    (stop,) = entries("run.stop")
    assert stop.target == f"run #{run_id}" and stop.details == {"session": None, "level": 1}

    login(client, "root")
    assert client.get(f"/history/runs/{run_id}.csv").status_code == 200
    assert client.get(f"/api/v1/runs/{run_id}/export.json", headers=api).status_code == 200
    exports = entries("run.export")
    assert [(e.details["format"], e.origin) for e in exports] == [("csv", "web"), ("json", "api")]

    echo = client.post("/api/v1/runs", headers=api, json={
        "session": "EchoSession", "objects": {"hosts": ["h01"]}, "data": {"message": "hi"}})
    echo_id = echo.get_json()["id"]
    deadline = time.monotonic() + 20
    while not client.get(f"/api/v1/runs/{echo_id}", headers=api).get_json()["finished"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    again = post(client, f"/history/runs/{echo_id}/rerun", token_from="/history/")
    wait_finished(run_id_of(again))  # the worker stops at once afterwards
    (rerun,) = entries("run.rerun")
    assert (rerun.target, rerun.origin, rerun.details) == (f"run #{echo_id}", "web",
                                                           {"objects": 1})
    assert [e.origin for e in entries("run.start")] == ["api", "api", "web"]
    assert SECRET not in stored_text()


def test_cli_runs_and_changes_are_recorded_as_the_system_user(runner, make_hosts, worker):
    make_hosts(1)
    result = runner.invoke(args=["minke", "run", "EchoSession", "--host", "h00",
                                 "--data", "message=from the shell", "--json"])
    assert result.exit_code == 0, result.output
    (start,) = entries("run.start")
    assert start.origin == "cli" and start.user_id is None and start.user_name
    assert start.details["data"] == {"message": "from the shell"}
    result = runner.invoke(args=["minke", "user", "create", "eve", "--password", "pw-of-eve"])
    assert result.exit_code == 0, result.output
    (created,) = entries("user.create")
    assert (created.target, created.origin) == ("user eve", "cli")
    assert "pw-of-eve" not in stored_text()


def test_changes_to_users_roles_hosts_and_groups_are_recorded(app):
    accounts.create_role("ops", ["minke.view_hosts"])
    user = accounts.create_user("bob", "first-password")
    accounts.add_role(user, "ops")
    accounts.set_password(user, "second-password")
    config = {"user": "deploy", "connect_kwargs": {"password": "ssh-password",
                                                   "key_filename": "/keys/id"}}
    host = inventory.add_host("web1", "10.0.0.5", groups=["web"], config=config)
    inventory.update_host(host, port=2222, disabled=True)
    inventory.add_group("db", config={"connect_kwargs": {"passphrase": "key-passphrase"}})
    inventory.remove_host("web1")
    db.session.commit()
    assert [(e.action, e.target) for e in entries()] == [
        ("role.create", "role ops"), ("user.create", "user bob"),
        ("user.add_role", "user bob"), ("user.password", "user bob"),
        ("host.create", "host web1"), ("host.update", "host web1"),
        ("group.create", "group db"), ("host.delete", "host web1")]
    by_action = {e.action: e for e in entries()}
    assert by_action["host.create"].details["config"]["connect_kwargs"] == {
        "password": "(hidden)", "key_filename": "/keys/id"}
    assert by_action["host.create"].details["groups"] == ["web"]
    assert by_action["host.update"].details == {"port": 2222, "disabled": True}
    assert by_action["user.add_role"].details == {"role": "ops"}
    text = stored_text()
    for secret in ("first-password", "second-password", "ssh-password", "key-passphrase"):
        assert secret not in text


def test_a_change_that_is_rolled_back_leaves_no_entry(app):
    inventory.add_host("web1", "10.0.0.5")
    db.session.rollback()
    assert entries() == []


def test_entries_cannot_be_changed_or_deleted_through_the_app(app):
    entry = log_action("login.success", "user x", user=None)
    db.session.commit()
    entry.target = "user y"
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(entries()[0])
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    assert [e.target for e in entries()] == ["user x"]


@pytest.fixture
def logbook(app, make_user):
    """An admin, a user, and 60 entries: logins of both, host changes by the admin."""
    admin, user = make_user("admin", "minke.admin"), make_user("user", "minke.view_hosts")
    for i in range(30):
        log_action("login.success", "user user", user=user)
        log_action("host.create", f"host h{i}", {"n": i}, user=admin)
    db.session.commit()
    return admin, user


def test_the_audit_page_is_for_admins_only(client, logbook):
    login(client, "user")
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/audit.csv").status_code == 403
    assert "Audit log" not in client.get("/").get_data(as_text=True)
    post(client, "/logout")
    login(client, "admin")
    assert 'href="/admin/"' in client.get("/").get_data(as_text=True)  # the admin index
    assert 'href="/audit/"' in client.get("/admin/").get_data(as_text=True)  # links to it
    page = client.get("/audit/").get_data(as_text=True)
    assert "63 entries, page 1 of 2" in page  # and both logins through the form, the logout


def test_the_audit_page_filters_and_pages(client, logbook):
    login(client, "admin")
    page = client.get("/audit/?user=admin&action=host").get_data(as_text=True)
    assert "30 entries" in page and "host h29" in page and "user user" not in page
    page = client.get("/audit/?action=login&page=2").get_data(as_text=True)
    assert "31 entries" in page and "page 1 of" not in page  # page 2 is past the last
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert "61 entries" in client.get(f"/audit/?since={today}&until={today}").get_data(
        as_text=True)
    assert "0 entries" in client.get("/audit/?until=2000-01-01").get_data(as_text=True)
    second = client.get("/audit/?page=2").get_data(as_text=True)
    assert "61 entries, page 2 of 2" in second
    assert second.count('<td class="nowrap"><code>') == 11  # 61 - 50, the oldest
    assert "<td>host h0</td>" in second and "<td>host h29</td>" not in second


def test_the_audit_csv_export_has_every_matching_entry(client, logbook):
    login(client, "admin")
    answer = client.get("/audit/audit.csv?action=host.create")
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert len(rows) == 30
    assert rows[0]["user"] == "admin" and rows[0]["target"] == "host h29"
    assert json.loads(rows[0]["details"]) == {"n": 29}


def test_host_keys_accepted_or_forgotten_on_the_command_line_are_recorded(runner):
    inventory.add_host("moving", "10.0.0.9")
    db.session.commit()
    key = paramiko.RSAKey.generate(1024)
    accepted = runner.invoke(args=["minke", "host", "accept-key", "moving", "--key",
                                   f"ssh-rsa {key.get_base64()}"])
    assert accepted.exit_code == 0, accepted.output
    assert runner.invoke(args=["minke", "host", "forget-key", "moving"]).exit_code == 0
    learned, forgotten = entries("host.key")
    assert learned.target == "host moving" and learned.origin == "cli"
    assert learned.details["fingerprint"].startswith("SHA256:")
    assert learned.details["fingerprint"] in accepted.output
    assert forgotten.details == {"fingerprint": None}
