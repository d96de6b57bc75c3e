"""The admin pages (permission ``minke.admin``): users, roles, hosts and host groups, through
the test client with CSRF tokens, on the real database, sshd and audit log."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from sessions import REGISTRY, SessionGroup, SingleCommandSession
from tests.web_client import controls, csrf_token, isolated_client, login
from webapp.extensions import db
from webapp.models import AuditEntry, Host, HostGroup, Message, Role, User

pytestmark = pytest.mark.integration


@pytest.fixture
def as_admin(client, admin):
    assert login(client, "ada").status_code == 302
    return client


def send(client, url: str, data: dict | None = None, **kwargs):
    """POST ``data`` to ``url`` with the CSRF token of the page at ``url`` (or of ``/``)."""
    fields = {"csrf_token": csrf_token(client, "/admin/"), **(data or {})}
    return client.post(url, data=fields, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def row(model, **where):
    db.session.rollback()
    return db.session.scalar(sa.select(model).filter_by(**where))


def actions() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def admin_urls(app) -> list[tuple[str, str]]:
    """Every (method, URL) under /admin, with 1 for every id."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            url = rule.build(dict.fromkeys(rule.arguments, 1))[1]
            urls += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return urls


# who may enter -------------------------------------------------------------------------------


def test_every_admin_url_refuses_users_without_minke_admin(app, client, make_user, make_hosts):
    # minke.edit_hosts opens the host pages: tests/test_permissions.py
    make_hosts(1, group="web")
    make_user("olga", "minke.view_hosts", "minke.view_all_runs", "minke.stop_all_runs")
    login(client, "olga")
    urls = admin_urls(app)
    assert len(urls) >= 25
    token = csrf_token(client, "/")
    for method, url in urls:
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 403, (method, url, response.status_code)
    assert "/admin/" not in text(client.get("/"))  # no Admin link either


def test_every_admin_url_sends_strangers_to_the_login_page(app, client):
    token = csrf_token(client)  # a POST without one is refused before the login check
    for method, url in admin_urls(app):
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)


def test_admins_see_the_admin_link_and_every_section(as_admin):
    home = text(as_admin.get("/"))
    assert 'href="/admin/"' in home and 'href="/audit/"' not in home
    index = text(as_admin.get("/admin/"))
    for link, label in [("/admin/users/", "Users"), ("/admin/roles/", "Roles"),
                        ("/admin/hosts/", "Hosts"), ("/admin/groups/", "Host groups"),
                        ("/audit/", "Audit log")]:
        assert re.search(rf'<li><a href="{link}">{label}</a>', index), label


def test_every_admin_page_has_labelled_controls_and_table_headers(as_admin, make_hosts):
    host = make_hosts(1, group="web")[0]
    group_id, role_id = row(HostGroup, name="web").id, row(Role, name="ada-role").id
    user_id = row(User, name="ada").id
    pages = ["/admin/", "/admin/users/", "/admin/users/new", f"/admin/users/{user_id}",
             "/admin/roles/", "/admin/roles/new", f"/admin/roles/{role_id}",
             f"/admin/roles/{role_id}/delete", "/admin/hosts/", "/admin/hosts/new",
             f"/admin/hosts/{host.id}", f"/admin/hosts/{host.id}/delete", "/admin/hosts/import",
             "/admin/groups/", "/admin/groups/new", f"/admin/groups/{group_id}",
             f"/admin/groups/{group_id}/delete"]
    for url in pages:
        response = as_admin.get(url)
        assert response.status_code == 200, url
        page = controls(text(response))
        assert page.unlabelled() == [], (url, page.unlabelled())
        assert page.headers or not page.tables, url
        ids = re.findall(r'\bid="([^"]+)"', text(response))
        assert len(ids) == len(set(ids)), (url, sorted(i for i in ids if ids.count(i) > 1))


# users ---------------------------------------------------------------------------------------


def test_admin_creates_a_user_with_roles_who_can_log_in(app, as_admin, make_user):
    make_user("template", "minke.view_hosts")
    response = send(as_admin, "/admin/users/new", {
        "name": "bob", "password": "b0b-pass", "confirm": "b0b-pass",
        "roles": ["template-role"]})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users/"
    bob = row(User, name="bob")
    assert [r.name for r in bob.roles] == ["template-role"]
    assert bob.password_hash != "b0b-pass" and bob.check_password("b0b-pass")
    listing = text(as_admin.get("/admin/users/"))
    assert "bob" in listing and "template-role" in listing and "active" in listing
    assert "user.create" in actions()
    other = isolated_client(app)
    assert login(other, "bob", "b0b-pass").status_code == 302


@pytest.mark.parametrize("fields, message", [
    ({"name": "bob", "password": "one", "confirm": "two"}, "The two passwords differ."),
    ({"name": "bob", "password": "", "confirm": ""}, "This field is required."),
    ({"name": "b o b", "password": "pw", "confirm": "pw"}, "invalid user name"),
    ({"name": "ada", "password": "pw", "confirm": "pw"}, "a user named &#39;ada&#39; already"),
])
def test_a_bad_new_user_is_refused_with_the_reason(as_admin, fields, message):
    response = send(as_admin, "/admin/users/new", fields)
    assert response.status_code == 400
    assert message in text(response)
    assert row(User, name=fields["name"]) is None or fields["name"] == "ada"
    assert "user.create" not in actions()


def test_admin_edits_roles_resets_the_password_and_disables_a_user(app, as_admin, make_user):
    bob = make_user("bob", "minke.view_hosts")
    make_user("carl", "minke.view_all_runs")
    response = send(as_admin, f"/admin/users/{bob.id}", {"roles": ["carl-role"]})
    assert response.status_code == 302
    assert [r.name for r in row(User, name="bob").roles] == ["carl-role"]

    response = send(as_admin, f"/admin/users/{bob.id}/password",
                    {"password": "new-pass", "confirm": "new-pass"})
    assert response.status_code == 302
    assert row(User, name="bob").check_password("new-pass")
    mismatch = send(as_admin, f"/admin/users/{bob.id}/password",
                    {"password": "x", "confirm": "y"})
    assert mismatch.status_code == 400 and "The two passwords differ." in text(mismatch)

    assert send(as_admin, f"/admin/users/{bob.id}/disable").status_code == 302
    assert row(User, name="bob").active is False
    assert "disabled" in text(as_admin.get("/admin/users/"))
    assert login(isolated_client(app), "bob", "new-pass").status_code == 401
    assert send(as_admin, f"/admin/users/{bob.id}/enable").status_code == 302
    assert login(isolated_client(app), "bob", "new-pass").status_code == 302
    assert {"user.roles", "user.password", "user.disable", "user.enable"} <= set(actions())
    assert "new-pass" not in str(db.session.scalars(sa.select(AuditEntry.details)).all())


def test_a_post_without_the_csrf_token_changes_nothing(as_admin, make_user):
    bob = make_user("bob", "minke.view_hosts")
    response = as_admin.post(f"/admin/users/{bob.id}/disable")
    assert response.status_code == 400
    assert row(User, name="bob").active is True


# the last admin ------------------------------------------------------------------------------


def test_the_last_admin_cannot_be_disabled_nor_lose_the_admin_role(as_admin, admin, make_user):
    make_user("viewer", "minke.view_hosts")
    refusals = [
        send(as_admin, f"/admin/users/{admin.id}/disable"),
        send(as_admin, f"/admin/users/{admin.id}", {"roles": ["viewer-role"]}),
        send(as_admin, f"/admin/roles/{row(Role, name='ada-role').id}",
             {"name": "ada-role", "permissions": ["minke.view_hosts"]}),
        send(as_admin, f"/admin/roles/{row(Role, name='ada-role').id}/delete"),
    ]
    for response in refusals:
        assert response.status_code == 400
        assert "would leave no active user with minke.admin" in text(response)
    ada = row(User, name="ada")
    assert ada.active and ada.is_admin
    assert row(Role, name="ada-role").permissions == ["minke.admin"]
    assert not {"user.disable", "user.roles", "role.update", "role.delete"} & set(actions())


def test_an_admin_may_step_down_once_another_active_admin_exists(as_admin, admin, make_user):
    other = make_user("root2", "minke.admin")
    other.active = False
    db.session.commit()
    response = send(as_admin, f"/admin/users/{admin.id}/disable")
    assert response.status_code == 400  # the other admin is disabled: no admin would be left
    assert send(as_admin, f"/admin/users/{other.id}/enable").status_code == 302
    assert send(as_admin, f"/admin/users/{admin.id}/disable").status_code == 302
    assert row(User, name="ada").active is False


# roles ---------------------------------------------------------------------------------------


@pytest.fixture
def commands_session():
    """A session registered while the app runs, in the group "Commands" (as the commands
    defined in the browser are)."""

    @SessionGroup("Commands")
    class RestartNginxCommand(SingleCommandSession):
        """Restarts nginx."""

        verbose_name = "restart nginx"
        work_on = ("Host",)
        command = "sudo systemctl restart nginx"
        permissions = ("minke.run_restartnginxcommand",)

    yield RestartNginxCommand
    REGISTRY.remove("RestartNginxCommand")


def test_role_form_groups_permission_checkboxes_by_session_group(as_admin, commands_session):
    html = text(as_admin.get("/admin/roles/new"))
    legends = re.findall(r"<legend>([^<]+)</legend>", html)
    assert legends[0] == "Built-in"
    assert legends[-1] == "Sessions without a group"
    assert {"Commands", "Testing", "Sites"} <= set(legends)
    assert legends[1:-1] == sorted(legends[1:-1], key=str.lower)
    sections = dict(zip(legends, re.split(r"<legend>[^<]+</legend>", html)[1:], strict=True))
    assert 'value="minke.admin"' in sections["Built-in"]
    assert 'value="minke.stop_all_runs"' in sections["Built-in"]
    assert 'value="minke.run_restartnginxcommand"' in sections["Commands"]
    assert 'value="minke.run_echosession"' in sections["Testing"]
    assert 'type="checkbox"' in sections["Sessions without a group"]
    assert "Run restart nginx" in sections["Commands"]  # each permission with its description


def checked(html: str) -> set[str]:
    """The values of the ticked checkboxes of a page."""
    boxes = re.findall(r'<input [^>]*type="checkbox"[^>]*>', html)
    return {re.search(r'value="([^"]*)"', box).group(1) for box in boxes if " checked" in box}


def test_admin_creates_edits_and_deletes_a_role(as_admin, make_user, commands_session):
    response = send(as_admin, "/admin/roles/new", {
        "name": "ops", "description": "Operators",
        "permissions": ["minke.view_hosts", "minke.run_restartnginxcommand"]})
    assert response.status_code == 302
    ops = row(Role, name="ops")
    ops_id = ops.id
    assert ops.permissions == ["minke.view_hosts", "minke.run_restartnginxcommand"]
    page = text(as_admin.get(f"/admin/roles/{ops_id}"))
    assert checked(page) == {"minke.view_hosts", "minke.run_restartnginxcommand"}

    response = send(as_admin, f"/admin/roles/{ops_id}", {
        "name": "operators", "description": "", "permissions": ["minke.view_all_runs"]})
    assert response.status_code == 302
    assert row(Role, id=ops_id).name == "operators"
    assert row(Role, id=ops_id).permissions == ["minke.view_all_runs"]
    unknown = send(as_admin, f"/admin/roles/{ops_id}", {"name": "operators",
                                                        "permissions": ["minke.fly"]})
    assert unknown.status_code == 400 and "is not a valid choice" in text(unknown)

    bob = make_user("bob")
    bob.roles.append(db.session.get(Role, ops_id))
    db.session.commit()
    confirm = text(as_admin.get(f"/admin/roles/{ops_id}/delete"))
    assert "Delete the role operators?" in confirm and "bob" in confirm
    assert send(as_admin, f"/admin/roles/{ops_id}/delete").status_code == 302
    assert row(Role, id=ops_id) is None
    assert [role.name for role in row(User, name="bob").roles] == ["bob-role"]
    assert {"role.create", "role.update", "role.delete"} <= set(actions())


def test_a_permission_no_session_requires_any_more_stays_on_its_role(as_admin):
    role = Role(name="legacy", permissions=["minke.view_hosts", "minke.run_gonesession"])
    db.session.add(role)
    db.session.commit()
    page = text(as_admin.get(f"/admin/roles/{role.id}"))
    assert "<legend>No longer known</legend>" in page
    assert checked(page) == {"minke.view_hosts", "minke.run_gonesession"}
    response = send(as_admin, f"/admin/roles/{role.id}", {
        "name": "legacy", "permissions": ["minke.run_gonesession", "minke.view_all_runs"]})
    assert response.status_code == 302
    assert row(Role, name="legacy").permissions == ["minke.run_gonesession",
                                                    "minke.view_all_runs"]


def test_changes_are_in_the_audit_log_with_the_admin_who_made_them(as_admin):
    send(as_admin, "/admin/groups/new", {"name": "web", "config": "user: deploy"})
    group_id = row(HostGroup, name="web").id
    send(as_admin, f"/admin/groups/{group_id}", {"name": "web", "comment": "front",
                                                  "config": "user: deploy"})
    send(as_admin, "/admin/hosts/new", {**HOST, "groups": "web"})
    host_id = row(Host, name="web1").id
    send(as_admin, f"/admin/hosts/{host_id}/disable", {"reason": "moving racks"})
    send(as_admin, f"/admin/hosts/{host_id}/delete")
    send(as_admin, f"/admin/groups/{group_id}/delete")
    db.session.rollback()
    written = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action.in_(["group.create", "group.update", "host.create", "host.update",
                               "host.delete", "group.delete"])).order_by(AuditEntry.id)).all()
    assert [(e.action, e.target) for e in written] == [
        ("group.create", "group web"), ("group.update", "group web"),
        ("host.create", "host web1"), ("host.update", "host web1"),
        ("host.delete", "host web1"), ("group.delete", "group web")]
    assert {(e.user_name, e.origin) for e in written} == {("ada", "web")}
    assert written[1].details == {"name": "web", "comment": "front",
                                  "config": {"user": "deploy"}}
    assert written[3].details == {"disabled": True, "disabled_reason": "moving racks"}
    assert written[5].details == {"hosts": []}


# hosts ---------------------------------------------------------------------------------------

HOST = {"name": "web1", "hostname": "10.0.0.5", "port": "2222", "username": "deploy",
        "groups": "web prod", "verbose_name": "", "comment": "front", "config": ""}


def test_admin_adds_and_edits_a_host_with_a_yaml_config(as_admin):
    response = send(as_admin, "/admin/hosts/new", {**HOST, "config": "run.pty: true\n"})
    assert response.status_code == 302
    host = row(Host, name="web1")
    assert (host.hostname, host.port, host.username) == ("10.0.0.5", 2222, "deploy")
    assert [g.name for g in host.groups] == ["prod", "web"] and host.config == {"run.pty": True}
    edit = text(as_admin.get(f"/admin/hosts/{host.id}"))
    assert "&#34;run.pty&#34;: true" in edit  # shown back as JSON

    response = send(as_admin, f"/admin/hosts/{host.id}",
                    {**HOST, "port": "", "groups": "web", "config": '{"user": "ops"}'})
    assert response.status_code == 302
    host = row(Host, name="web1")
    assert host.port is None and [g.name for g in host.groups] == ["web"]
    assert host.config == {"user": "ops"}
    assert {"host.create", "host.update"} <= set(actions())


@pytest.mark.parametrize("config, message", [
    ('{"user": "deploy",}', "config is not valid JSON"),
    ("run: [unclosed", "config is neither JSON nor YAML"),
    ('{"run": 5}', "run"),
    ("- a list\n", "config must be a JSON object"),
])
def test_a_bad_ssh_config_rerenders_the_form_with_the_error_on_the_field(as_admin, config,
                                                                         message):
    response = send(as_admin, "/admin/hosts/new", {**HOST, "config": config})
    assert response.status_code == 400
    html = text(response)
    error = re.search(r'<small id="config-error" class="field-error">([^<]*)</small>', html)
    assert error and message in error.group(1), html
    assert 'aria-describedby="config-help config-error"' in html
    assert "web1" in html  # what was typed stays in the form
    assert row(Host, name="web1") is None and row(HostGroup, name="web") is None
    assert "host.create" not in actions()


def test_a_bad_config_on_edit_changes_nothing(as_admin, make_hosts):
    host = make_hosts(1)[0]
    before = host.config
    response = send(as_admin, f"/admin/hosts/{host.id}",
                    {**HOST, "name": host.name, "config": "{nope"})
    assert response.status_code == 400 and "config is not valid JSON" in text(response)
    assert row(Host, id=host.id).config == before and row(Host, id=host.id).hostname != "10.0.0.5"


def test_a_group_config_is_validated_too(as_admin):
    bad = send(as_admin, "/admin/groups/new", {"name": "web", "config": '{"run": {"pty": 1}}'})
    assert bad.status_code == 400 and 'id="config-error"' in text(bad)
    assert row(HostGroup, name="web") is None
    good = send(as_admin, "/admin/groups/new", {"name": "web", "comment": "the front",
                                                "config": "user: deploy"})
    assert good.status_code == 302 and row(HostGroup, name="web").config == {"user": "deploy"}
    group = row(HostGroup, name="web")
    assert send(as_admin, f"/admin/groups/{group.id}", {"name": "front", "comment": "",
                                                         "config": ""}).status_code == 302
    assert (row(HostGroup, id=group.id).name, row(HostGroup, id=group.id).config) == ("front", {})
    assert "front" in text(as_admin.get("/admin/groups/"))


def upload(client, filename: str, content: str):
    return send(client, "/admin/hosts/import",
                {"file": (io.BytesIO(content.encode()), filename)},
                content_type="multipart/form-data")


def test_import_names_the_bad_line_and_imports_nothing(as_admin):
    content = ("name,hostname,port,groups\n"
               "web1,10.0.0.1,22,web\n"
               "web2,10.0.0.2,99999,web\n"
               "web3,,22,web\n")
    response = upload(as_admin, "hosts.csv", content)
    assert response.status_code == 400
    html = text(response)
    assert "Not imported:" in html and "hosts.csv: nothing imported" in html
    assert "line 3: invalid port &#39;99999&#39;" in html and "line 4: hostname" in html
    assert db.session.scalars(sa.select(Host)).all() == []
    assert row(HostGroup, name="web") is None


def test_import_of_a_yaml_file_adds_and_updates_hosts(as_admin, make_hosts):
    make_hosts(1, prefix="web")  # web00 exists: it is updated
    content = ("- name: web00\n  hostname: 10.0.0.9\n"
               "- name: web01\n  hostname: 10.0.0.10\n  groups: [web]\n"
               "  config: {run: {pty: true}}\n")
    response = upload(as_admin, "hosts.yaml", content)
    assert response.status_code == 302
    assert "1 added, 1 updated" in text(as_admin.get(response.headers["Location"]))
    assert row(Host, name="web00").hostname == "10.0.0.9"
    assert row(Host, name="web01").config == {"run": {"pty": True}}


@pytest.mark.parametrize("filename, content, message", [
    ("hosts.txt", "name,hostname\n", "not a .csv, .yaml or .yml file"),
    ("hosts.yml", "- name: web1\n  hostname: h\n  disabled: true\n", "line 1: disabled cannot"),
    ("hosts.csv", "name,address\nweb1,h\n", "the first line must name the columns"),
])
def test_import_refuses_bad_files_with_the_clis_messages(as_admin, filename, content, message):
    response = upload(as_admin, filename, content)
    assert response.status_code == 400 and message in text(response)
    assert db.session.scalars(sa.select(Host)).all() == []


def test_disabled_host_shows_its_reason_in_lists_and_in_skipped_sessions(
        as_admin, make_hosts, execute_run):
    host, other = make_hosts(2)
    response = send(as_admin, f"/admin/hosts/{host.id}/disable",
                    {"reason": "disk replaced until Friday"})
    assert response.status_code == 302
    assert row(Host, id=host.id).disabled is True
    for url in ("/admin/hosts/", "/objects/host/"):
        html = text(as_admin.get(url))
        assert "disabled" in html and "disk replaced until Friday" in html, url

    run = execute_run("EchoSession", [row(Host, id=host.id), row(Host, id=other.id)],
                      data={"message": "hi"})
    skipped = next(s for s in run.sessions if s.host_id == host.id)
    assert skipped.proc_status == "canceled"
    texts = [m.payload.get("text") for m in db.session.scalars(
        sa.select(Message).where(Message.session_id == skipped.id))]
    assert texts == ["not run: its host is disabled: disk replaced until Friday"]

    assert send(as_admin, f"/admin/hosts/{host.id}/enable").status_code == 302
    enabled = row(Host, id=host.id)
    assert (enabled.disabled, enabled.disabled_reason) == (False, "")
    update = [e for e in db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "host.update"))]
    assert update[0].details == {"disabled": True, "disabled_reason": "disk replaced until Friday"}


def test_admin_deletes_a_host_and_a_group(as_admin, make_hosts):
    host_id = make_hosts(2, group="web")[0].id
    confirm = as_admin.get(f"/admin/hosts/{host_id}/delete")
    assert confirm.status_code == 200 and "Delete the host h00?" in text(confirm)
    assert row(Host, id=host_id) is not None  # the GET only asks
    assert send(as_admin, f"/admin/hosts/{host_id}/delete").status_code == 302
    assert row(Host, id=host_id) is None
    group = row(HostGroup, name="web")
    assert "1 host(s) stay" in text(as_admin.get(f"/admin/groups/{group.id}/delete"))
    assert send(as_admin, f"/admin/groups/{group.id}/delete").status_code == 302
    assert row(HostGroup, name="web") is None and row(Host, name="h01").groups == []
    assert {"host.delete", "group.delete"} <= set(actions())


def test_test_connection_reports_the_handshake_time(as_admin, make_hosts):
    host = make_hosts(1)[0]
    response = send(as_admin, f"/admin/hosts/{host.id}/test")
    assert response.status_code == 302
    html = text(as_admin.get("/admin/hosts/"))
    assert re.search(r"Test connection of h00 \([^)]+\): connected in \d+ ms", html), html
    assert row(Host, id=host.id).host_key  # learned as a session's connection learns it


def test_test_connection_to_a_closed_port_reports_the_reason(as_admin, make_hosts, sshd):
    from scripts.loopback import free_port

    host = make_hosts(1, port=free_port([sshd.addresses[0]]))[0]
    send(as_admin, f"/admin/hosts/{host.id}/test")
    html = text(as_admin.get("/admin/hosts/"))
    match = re.search(r'role="alert">\s*<strong>Error:</strong>\s*Test connection of h00 '
                      r'\([^)]+\): (cannot connect: [^<]+)', html)
    assert match, html
    assert "Unable to connect to port" in match.group(1) or "refused" in match.group(1)


def test_admin_accepts_and_forgets_a_host_key(as_admin, make_hosts):
    host_id = make_hosts(1)[0].id
    wrong = send(as_admin, f"/admin/hosts/{host_id}/accept-key",
                 {"fingerprint": "SHA256:not-this-one"})
    assert wrong.status_code == 302
    page = text(as_admin.get(f"/admin/hosts/{host_id}"))
    assert "Host key of h00 not accepted" in page and "nothing changed" in page
    assert row(Host, id=host_id).host_key is None

    assert send(as_admin, f"/admin/hosts/{host_id}/accept-key").status_code == 302
    key = row(Host, id=host_id).host_key
    assert key and key.split()[0].startswith(("ssh-", "ecdsa-"))
    from webapp.engine.ssh.hostkeys import fingerprint

    page = text(as_admin.get(f"/admin/hosts/{host_id}"))
    assert f"Accepted the host key {fingerprint(key)} of h00 (none was stored)." in page
    assert fingerprint(key) in text(as_admin.get("/admin/hosts/"))

    assert send(as_admin, f"/admin/hosts/{host_id}/forget-key").status_code == 302
    assert row(Host, id=host_id).host_key is None
    assert "the next connection stores the key it presents" in text(
        as_admin.get(f"/admin/hosts/{host_id}"))
    assert actions().count("host.key") == 2


def test_accepting_the_key_of_an_unreachable_host_says_why(as_admin, make_hosts, sshd):
    from scripts.loopback import free_port

    host_id = make_hosts(1, port=free_port([sshd.addresses[0]]))[0].id
    send(as_admin, f"/admin/hosts/{host_id}/accept-key")
    page = text(as_admin.get(f"/admin/hosts/{host_id}"))
    assert re.search(r"Host key of h00 not accepted: (connection lost|cannot connect)[^<]*"
                     r"(refused|Unable)", page), page
    assert row(Host, id=host_id).host_key is None
