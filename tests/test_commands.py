"""Commands defined in the browser (issue 13 section 2): an admin defines shell commands and
command groups on the pages; each is a session in every web process and worker at once,
without a restart, with its own run permission — runs on the real sshd through a real worker.
"""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from sessions import REGISTRY
from tests.test_scale_out import WebUser, form_fields
from tests.test_web_objects import run_count, run_id_of, wait_finished
from tests.web_client import controls, csrf_token, isolated_client, login, post
from webapp.commands.classes import CONFIRMED_KEY
from webapp.commands.sync import bump_revision
from webapp.database import begin_read_only
from webapp.extensions import db
from webapp.models import (
    AuditEntry,
    Command,
    CommandGroup,
    CommandRevision,
    MinkeSession,
    Permission,
    Role,
    Run,
    StoredResult,
)

pytestmark = pytest.mark.integration

NASTY = "a b; echo INJECTED $(id) `id` 'q' \"dq\" $HOME * ~ \\ |&>"


@pytest.fixture
def ada(client, admin):
    """The in-process test client (a second web process beside the live server), as admin."""
    login(client, "ada")
    return client


@pytest.fixture
def web(live_server, admin):
    """The admin in the live gunicorn server, over HTTP with cookies and CSRF tokens."""
    return WebUser(live_server.url, "ada")


def read(query):
    """One value read as another process would: in a read-only transaction ended at once
    (on SQLite an open write transaction would block the live server's writes)."""
    db.session.rollback()
    begin_read_only()
    try:
        return db.session.scalar(query)
    finally:
        db.session.rollback()


def define_command(web: WebUser, label: str, cmd: str, *, models=("Host",), active=True,
                   description: str = "", command_id: int | None = None) -> int:
    """Create (or change) a command through the live server's form; its id."""
    path = "/admin/commands/new" if command_id is None else f"/admin/commands/{command_id}/"
    fields = [("csrf_token", WebUser.csrf_token(web.get(path))), ("label", label),
              ("description", description), ("cmd", cmd), *[("models", m) for m in models]]
    if active:
        fields.append(("active", "y"))
    landed = web.post(path, fields)
    assert landed.endswith("/admin/commands/"), landed
    if command_id is not None:
        return command_id
    return read(sa.select(Command.id).where(Command.label == label)
                .order_by(Command.id.desc()).limit(1))


def define_group(web: WebUser, label: str, positions: dict[int, int], *, as_options=False,
                 models=("Host",)) -> int:
    """Create a group through the live server's form: ``positions`` command id → position."""
    fields = [("csrf_token", WebUser.csrf_token(web.get("/admin/commands/groups/new"))),
              ("label", label), ("description", f"{label}, as a test defines it"),
              *[("models", m) for m in models], ("active", "y")]
    for command_id, position in positions.items():
        fields += [("commands", command_id), (f"position-{command_id}", position)]
    if as_options:
        fields.append(("as_options", "y"))
    landed = web.post("/admin/commands/groups/new", fields)
    assert landed.endswith("/admin/commands/"), landed
    return read(sa.select(CommandGroup.id).where(CommandGroup.label == label))


def start_from_list(web: WebUser, session: str, hosts, extra=()) -> int:
    """Start ``session`` on ``hosts`` from the host list of the live server; the run's id."""
    ids = [("ids", host.id) for host in hosts]
    db.session.rollback()  # reading the ids began a transaction: it must not block the server
    token = WebUser.csrf_token(web.get("/objects/host/"))
    landed = web.post("/objects/host/run", [("csrf_token", token), ("session", session),
                                            *ids, *extra])
    match = re.search(r"/runs/(\d+)$", landed)
    assert match, landed
    return int(match.group(1))


def session_options(html: str) -> dict[str, list[str]]:
    """The session select's options by ``<optgroup>``."""
    found: dict[str, list[str]] = {}
    for group, value in controls(html).options:
        found.setdefault(group or "", []).append(value)
    return found


def results_of(run_id: int, worker=None) -> list[MinkeSession]:
    run = wait_finished(run_id, worker=worker)
    sessions = sorted(run.sessions, key=lambda s: s.object_label)
    return sessions


def commands_run(session: MinkeSession) -> list[str]:
    return [c.command for c in sorted(session.commands, key=lambda c: c.id)]


# -- defining and running --------------------------------------------------------------------


def test_a_command_defined_in_the_pages_runs_on_real_hosts_without_a_restart(
        app, worker, web, ada, make_hosts, runner):
    hosts = make_hosts(2, verbose_name=NASTY)

    command_id = define_command(web, "Greet", "printf '<%s>' {name} {verbose_name}",
                                description="Says who it is")
    name = f"Command_{command_id}"

    # both web processes list it under "Commands", with its description as the tooltip
    for page in (web.get("/objects/host/"), ada.get("/objects/host/").get_data(as_text=True)):
        assert name in session_options(page)["Commands"]
        assert 'title="Says who it is"' in page or "Says who it is" in page
    run_id = start_from_list(web, name, hosts)

    sessions = results_of(run_id, worker)
    for session, host in zip(sessions, hosts, strict=True):
        assert (session.proc_status, session.session_status) == ("completed", "success")
        [result] = session.commands
        assert result.stdout == f"<{host.name}><{NASTY}>"  # one word, unchanged: quoted
        assert "INJECTED" not in result.stdout.replace(NASTY, "")
    run = db.session.get(Run, run_id)
    assert run.data[CONFIRMED_KEY] == [
        {"id": command_id, "label": "Greet", "cmd": "printf '<%s>' {name} {verbose_name}"}]
    db.session.rollback()

    # the command line knows it too, permission and all
    listed = runner.invoke(args=["minke", "sessions"])
    assert name in listed.output and f"minke.run_command_{command_id}" in listed.output
    permissions = runner.invoke(args=["minke", "create-permissions", "--list"])
    assert f"minke.run_command_{command_id}" in permissions.output
    assert "Run Greet" in permissions.output


def test_flask_minke_run_runs_a_command_defined_in_the_pages(app, worker, web, make_hosts,
                                                               runner):
    make_hosts(1)
    command_id = define_command(web, "Kernel", "uname -s")

    result = runner.invoke(args=["minke", "run", f"Command_{command_id}", "--host", "h00"])

    assert result.exit_code == 0, result.output
    db.session.rollback()
    stored = db.session.scalar(sa.select(StoredResult).order_by(StoredResult.id.desc()))
    assert (stored.command, stored.stdout) == ("uname -s", "Linux\n")


def test_a_chain_group_runs_its_commands_in_order_and_stops_at_an_error(app, worker, web,
                                                                          make_hosts):
    hosts = make_hosts(1)
    one = define_command(web, "One", "echo one")
    fails = define_command(web, "Fails", "echo failing >&2; exit 3")
    three = define_command(web, "Three", "echo three")
    group_id = define_group(web, "Chain", {one: 3, fails: 2, three: 1})

    [session] = results_of(start_from_list(web, f"CommandGroup_{group_id}", hosts), worker)

    assert commands_run(session) == ["echo three", "echo failing >&2; exit 3"]  # not "one"
    assert [c.exit_code for c in sorted(session.commands, key=lambda c: c.id)] == [0, 3]
    assert session.session_status == "error"


def test_an_options_group_offers_its_commands_and_runs_the_chosen_one(app, worker, web,
                                                                        make_hosts):
    hosts = make_hosts(2)
    first = define_command(web, "Hostname", "hostname")
    second = define_command(web, "Where", "printf '%s' {hostname}")
    group_id = define_group(web, "Pick one", {first: 1, second: 2}, as_options=True)
    name = f"CommandGroup_{group_id}"

    ids = [("ids", host.id) for host in hosts]
    db.session.rollback()
    prepare = web.post_for_page("/objects/host/run", [
        ("csrf_token", WebUser.csrf_token(web.get("/objects/host/"))), ("session", name), *ids])
    page = controls(prepare)
    choice = next(c for c in page.controls if c["tag"] == "select")
    assert choice["name"] == "s-cmd"
    assert [value for _group, value in page.options] == [str(first), str(second)]
    assert not page.unlabelled()
    fields = [(key, value) for key, value in form_fields(prepare)] + [("s-cmd", second)]
    landed = web.post("/objects/host/run", fields)
    run_id = int(re.search(r"/runs/(\d+)$", landed).group(1))

    for session, host in zip(results_of(run_id, worker), hosts, strict=True):
        assert commands_run(session) == [f"printf '%s' {host.hostname}"]
        assert session.commands[0].stdout == host.hostname
        assert session.session_status == "success"


# -- changes reach every process; what a queued run executes ---------------------------------


def test_an_edit_changes_the_next_run_and_a_queued_run_keeps_what_was_confirmed(
        app, web, ada, make_hosts, start_worker):
    hosts = make_hosts(1)
    command_id = define_command(web, "Version", "echo v1")
    name = f"Command_{command_id}"
    queued = start_from_list(web, name, hosts)  # no worker yet: it waits in the queue

    define_command(web, "Version", "echo v2", command_id=command_id)
    after = start_from_list(web, name, hosts)
    # the in-process app (another web process) runs the new text as well
    later = run_id_of(post(ada, "/objects/host/run", {"session": name, "ids": hosts[0].id},
                           token_from="/objects/host/"))
    worker = start_worker()

    assert [c.stdout for c in results_of(queued, worker)[0].commands] == ["v1\n"]
    assert [c.stdout for c in results_of(after, worker)[0].commands] == ["v2\n"]
    assert [c.stdout for c in results_of(later, worker)[0].commands] == ["v2\n"]


def test_a_re_run_and_the_command_line_run_the_command_as_it_is_now(app, worker, web, ada,
                                                                     make_hosts, runner):
    hosts = make_hosts(1)
    command_id = define_command(web, "Version", "echo v1")
    first = start_from_list(web, f"Command_{command_id}", hosts)
    assert [c.stdout for c in results_of(first, worker)[0].commands] == ["v1\n"]
    define_command(web, "Version", "echo v2", command_id=command_id)

    again = run_id_of(post(ada, f"/history/runs/{first}/rerun", token_from="/history/"))

    assert [c.stdout for c in results_of(again, worker)[0].commands] == ["v2\n"]
    assert read(sa.select(Run.data).where(Run.id == again))[CONFIRMED_KEY][0]["cmd"] == "echo v2"
    listed = runner.invoke(args=["minke", "sessions", "--json"])
    [doc] = [s for s in json.loads(listed.output) if s["name"] == f"Command_{command_id}"]
    assert (doc["verbose_name"], doc["group"], doc["work_on"]) == ("Version", "Commands",
                                                                  ["Host"])


def test_the_api_lists_command_sessions_and_an_options_group_runs_from_the_command_line(
        app, worker, web, make_hosts, runner, admin):
    from webapp.api.tokens import create_token

    make_hosts(1)
    first = define_command(web, "First", "echo first")
    second = define_command(web, "Second", "echo second")
    group_id = define_group(web, "Either", {first: 1, second: 2}, as_options=True)
    _row, token = create_token(admin, "ci")
    db.session.commit()

    answer = isolated_client(app).get("/api/v1/sessions",
                                      headers={"Authorization": f"Bearer {token}"})
    names = [s["name"] for s in answer.get_json()["sessions"]]
    assert {f"Command_{first}", f"Command_{second}", f"CommandGroup_{group_id}"} <= set(names)

    result = runner.invoke(args=["minke", "run", f"CommandGroup_{group_id}", "--host", "h00",
                                 "--data", f"cmd={second}", "--json"])
    assert result.exit_code == 0, result.output
    [session] = json.loads(result.output[result.output.index("["):])
    assert [c["stdout"] for c in session["commands"]] == ["second\n"]
    refused = runner.invoke(args=["minke", "run", f"CommandGroup_{group_id}", "--host", "h00",
                                  "--data", "cmd=999999"])
    assert refused.exit_code == 2 and "Not a valid choice" in refused.output


def test_deactivating_removes_the_session_and_posting_it_anyway_queues_nothing(
        app, web, ada, make_hosts):
    hosts = make_hosts(1)
    command_id = define_command(web, "Soon off", "true")
    name = f"Command_{command_id}"
    assert name in session_options(web.get("/objects/host/"))["Commands"]

    define_command(web, "Soon off", "true", command_id=command_id, active=False)

    assert name not in session_options(web.get("/objects/host/")).get("Commands", [])
    page = ada.get("/objects/host/").get_data(as_text=True)
    assert name not in session_options(page).get("Commands", [])
    before, jobs = run_count(), app.extensions["minke"].queue.count
    response = post(ada, "/objects/host/run", {"session": name, "ids": hosts[0].id},
                    token_from="/objects/host/")
    assert response.status_code == 400  # no such session any more
    assert (run_count(), app.extensions["minke"].queue.count) == (before, jobs)
    assert name not in REGISTRY


def test_a_queued_run_of_a_deleted_command_fails_saying_why(app, web, make_hosts,
                                                              start_worker):
    hosts = make_hosts(2)
    command_id = define_command(web, "Doomed", "echo never")
    run_id = start_from_list(web, f"Command_{command_id}", hosts)
    token = WebUser.csrf_token(web.get(f"/admin/commands/{command_id}/delete"))
    web.post(f"/admin/commands/{command_id}/delete", {"csrf_token": token})
    assert read(sa.select(Command.id).where(Command.id == command_id)) is None
    worker = start_worker()

    for session in results_of(run_id, worker):
        assert (session.proc_status, session.session_status) == ("failed", "error")
        assert not session.commands
        assert "the command was deleted after the run started" in session.messages[-1].text


# -- permissions -----------------------------------------------------------------------------


def test_only_users_holding_its_permission_see_and_run_it(app, web, client, make_user,
                                                          make_hosts):
    hosts = make_hosts(1)
    command_id = define_command(web, "Guarded", "true")
    name, permission = f"Command_{command_id}", f"minke.run_command_{command_id}"
    assert read(sa.select(Permission.description)
                .where(Permission.name == permission)) == "Run Guarded"
    make_user("bob", "minke.view_hosts")
    make_user("carol", "minke.view_hosts", permission)

    login(client, "bob")
    assert name not in session_options(client.get("/objects/host/").get_data(as_text=True)).get(
        "Commands", [])
    before = run_count()
    response = post(client, "/objects/host/run", {"session": name, "ids": hosts[0].id},
                    token_from="/objects/host/")
    assert response.status_code == 403
    assert run_count() == before

    carol = isolated_client(app)
    login(carol, "carol")
    assert name in session_options(carol.get("/objects/host/").get_data(as_text=True))[
        "Commands"]
    assert run_id_of(post(carol, "/objects/host/run", {"session": name, "ids": hosts[0].id},
                          token_from="/objects/host/"))


def test_deleting_a_command_takes_its_permission_from_every_role(app, web, make_user):
    command_id = define_command(web, "Temporary", "true")
    permission = f"minke.run_command_{command_id}"
    make_user("carol", "minke.view_hosts", permission)
    token = WebUser.csrf_token(web.get(f"/admin/commands/{command_id}/delete"))

    web.post(f"/admin/commands/{command_id}/delete", {"csrf_token": token})

    db.session.rollback()
    assert db.session.scalar(sa.select(Permission).where(Permission.name == permission)) is None
    role = db.session.scalar(sa.select(Role).where(Role.name == "carol-role"))
    assert role.permissions == ["minke.view_hosts"]
    actions = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["command.create", "role.update", "command.delete"]


def test_deleting_a_command_of_a_group_leaves_the_group_with_the_others(ada):
    for label in ("Keep", "Drop"):
        post(ada, "/admin/commands/new", {"label": label, "cmd": f"echo {label}",
                                          "models": "Host", "active": "y"},
             token_from="/admin/commands/new")
    keep, drop = (read(sa.select(Command.id).where(Command.label == label))
                  for label in ("Keep", "Drop"))
    post(ada, "/admin/commands/groups/new", {"label": "Both", "models": "Host",
                                             "commands": [drop, keep], f"position-{drop}": 1,
                                             f"position-{keep}": 2, "active": "y"},
         token_from="/admin/commands/groups/new")
    group_id = read(sa.select(CommandGroup.id))
    ada.get("/admin/commands/")  # this process's next request builds the sessions again
    assert REGISTRY.get(f"CommandGroup_{group_id}").commands == ("echo Drop", "echo Keep")

    response = post(ada, f"/admin/commands/{drop}/delete", token_from=f"/admin/commands/{drop}/")

    assert response.status_code == 302
    page = ada.get("/admin/commands/").get_data(as_text=True)  # the registry follows
    assert "echo Drop" not in page and "Deleted command Drop" in page
    assert REGISTRY.get(f"CommandGroup_{group_id}").commands == ("echo Keep",)
    assert f"Command_{drop}" not in REGISTRY


ADMIN_URLS = ["/admin/commands/", "/admin/commands/new", "/admin/commands/{c}/",
              "/admin/commands/{c}/delete", "/admin/commands/groups/new",
              "/admin/commands/groups/{g}/", "/admin/commands/groups/{g}/delete"]


def test_non_admins_get_403_on_every_command_page(app, client, make_user):
    command = Command(label="x", cmd="true", models=["Host"])
    group = CommandGroup(label="g", models=["Host"])
    db.session.add_all([command, group])
    bump_revision()  # as every change does
    db.session.commit()
    make_user("bob", "minke.view_hosts", "minke.edit_hosts", "minke.view_all_runs")
    login(client, "bob")
    token = csrf_token(client, "/")

    for url in ADMIN_URLS:
        url = url.format(c=command.id, g=group.id)
        assert client.get(url).status_code == 403, url
        posted = client.post(url, data={"csrf_token": token, "label": "y", "cmd": "id",
                                        "models": "Host"})
        assert posted.status_code == (405 if url == "/admin/commands/" else 403), url
    db.session.rollback()
    assert db.session.get(Command, command.id).cmd == "true"
    assert db.session.get(CommandGroup, group.id) is not None
    anonymous = isolated_client(app)
    assert anonymous.get("/admin/commands/").status_code == 302  # to the login page


# -- the form refuses what registration refuses ----------------------------------------------


@pytest.mark.parametrize(("cmd", "message"), [
    ("echo `{hostname}`", "stands in backticks"),
    ("cat <<EOF\n{hostname}\nEOF", "stands in a here-document"),
    ("echo $'{hostname}'", "stands in $'…'"),
    ("echo ok # {hostname}", "stands in a comment"),
    ("echo \\{hostname}", "right after a backslash"),
], ids=["backticks", "heredoc", "dollar-quote", "comment", "backslash"])
def test_a_bad_placeholder_re_renders_the_form_with_the_error_and_stores_nothing(
        ada, cmd, message):
    response = post(ada, "/admin/commands/new", {"label": "Bad", "cmd": cmd, "models": "Host",
                                                 "active": "y"},
                    token_from="/admin/commands/new")

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html.replace("&#39;", "'").replace("&#34;", '"')
    assert 'id="cmd-error"' in html and 'aria-invalid="true"' in html
    assert "Bad" in html  # what was typed stays in the form
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Command)) == 0
    assert db.session.get(CommandRevision, 1) is None
    assert not any(cls.__name__.startswith("Command_") for cls in REGISTRY)


def test_a_command_change_that_breaks_a_group_it_is_in_is_refused(ada):
    post(ada, "/admin/commands/new", {"label": "Plain", "cmd": "echo {root}", "models": "Host",
                                      "active": "y"}, token_from="/admin/commands/new")
    command = db.session.scalar(sa.select(Command))
    post(ada, "/admin/commands/groups/new", {
        "label": "On sites", "models": "Site", "commands": command.id,
        f"position-{command.id}": 1, "active": "y"}, token_from="/admin/commands/groups/new")
    db.session.rollback()

    # on a Host, {root} names nothing (left as written); on the group's Sites it is a field
    response = post(ada, f"/admin/commands/{command.id}/",
                    {"label": "Plain", "cmd": "echo `{root}`", "models": "Host", "active": "y"},
                    token_from=f"/admin/commands/{command.id}/")

    assert response.status_code == 400
    assert "in group" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Command, command.id).cmd == "echo {root}"


def test_every_post_needs_the_csrf_token(ada):
    response = ada.post("/admin/commands/new", data={"label": "No token", "cmd": "id",
                                                     "models": "Host"})

    assert response.status_code == 400
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Command)) == 0


def test_the_pages_label_every_control_and_record_every_change(ada):
    post(ada, "/admin/commands/new", {"label": "Uptime", "cmd": "uptime\r\nw",
                                      "models": ["Host", "Site"], "active": "y"},
         token_from="/admin/commands/new")
    command = db.session.scalar(sa.select(Command))
    assert (command.cmd, command.models) == ("uptime\nw", ["Host", "Site"])  # CRLF → LF
    db.session.rollback()
    for url in ("/admin/commands/", "/admin/commands/new", f"/admin/commands/{command.id}/",
                "/admin/commands/groups/new", f"/admin/commands/{command.id}/delete"):
        response = ada.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert not controls(html).unlabelled(), url
        assert "<script" not in html.split("</header>", 1)[1] and " style=" not in html, url
    assert "/admin/commands/" in ada.get("/admin/").get_data(as_text=True)
    db.session.rollback()
    begin_read_only()
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "command.create"))
    assert entry.details["cmd"] == "uptime\nw" and entry.user_name == "ada"


def test_a_request_checks_the_revision_with_one_query_when_nothing_changed(app, ada):
    from tests.test_web_objects import QueryCounter

    ada.get("/objects/host/")
    with QueryCounter(db.engine) as counter:
        ada.get("/objects/host/")

    assert sum("command_revision" in s for s in counter.statements) == 1
    assert not any("FROM command_group" in s for s in counter.statements)
