"""Object lists and starting runs from them: filters, sorting, paging, the session select,
forms, confirmation, select all matching, permissions — runs executed by a real worker."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from tests.web_client import controls, csrf_token, isolated_client, login, post
from webapp.database import begin_read_only
from webapp.engine.latest import refresh_latest
from webapp.extensions import db
from webapp.models import Host, HostGroup, MinkeSession, Run, User

pytestmark = pytest.mark.integration


@pytest.fixture
def ada(client, admin):
    """The test client, logged in as an administrator."""
    login(client, "ada")
    return client


def wait_finished(run_id: int, timeout: float = 30.0, worker=None) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        begin_read_only()  # SQLite: a plain BEGIN, which never blocks the worker's writes
        run = db.session.get(Run, run_id)
        if run.finished_at is not None:
            return run
        db.session.rollback()
        time.sleep(0.1)
    log = worker.log_text()[-3000:] if worker is not None else ""
    raise AssertionError(f"run #{run_id} did not finish within {timeout} s\n{log}")


def run_id_of(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    match = re.fullmatch(r"/runs/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def run_count() -> int:
    db.session.rollback()
    begin_read_only()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Run))
    db.session.rollback()
    return count


def queued_jobs(app) -> int:
    return app.extensions["minke"].queue.count


def fake_hosts(n: int, *, group: str | None = None, history: int = 0, **fields) -> list[Host]:
    """``n`` hosts that are only rows (no sshd behind them), each with ``history`` stored
    sessions of which the last is an error for every third host."""
    host_group = HostGroup(name=group) if group else None
    hosts = [Host(name=f"x{i:05d}", hostname=f"10.0.{i // 250}.{i % 250}", **fields)
             for i in range(n)]
    for host in hosts:
        if host_group is not None:
            host.groups.append(host_group)
    db.session.add_all(hosts)
    db.session.flush()
    if history:
        run = Run(session_name="UptimeSession", object_type="Host")
        db.session.add(run)
        db.session.flush()
        rows = []
        for index, host in enumerate(hosts):
            for k in range(history):
                last = k == history - 1
                rows.append({"run_id": run.id, "session_name": "UptimeSession",
                             "object_type": "Host", "object_id": host.id,
                             "object_label": host.name, "proc_status": "completed",
                             "session_status": "error" if last and index % 3 == 0
                             else "success"})
        db.session.execute(sa.insert(MinkeSession), rows)
        refresh_latest()
    db.session.commit()
    return hosts


class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)


def test_list_shows_groups_and_the_latest_status_of_real_runs(ada, make_hosts, execute_run,
                                                               admin):
    hosts = make_hosts(3, group="web")
    execute_run("EchoSession", hosts[:2], data={"message": "one"}, user=admin)
    execute_run("FailingSession", hosts[:1], user=admin)
    html = ada.get("/objects/host/").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr[^>]*>\s*<td class=\"select\">.*?"
                                                        r"<strong>(h\d\d)</strong>.*?</tr>",
                                                        html, re.S)}
    assert set(rows) == {"h00", "h01", "h02"}
    assert 'data-status="error">error<' in rows["h00"]
    assert 'data-status="success">success<' in rows["h01"]
    assert 'data-status="none">never run<' in rows["h02"]
    assert "<td>web</td>" in rows["h00"]
    assert f"/history/objects/Host/{hosts[0].id}" in rows["h00"]


def test_the_latest_status_filter_follows_each_change_whoever_makes_it(
        ada, app, make_hosts, execute_run, admin, runner):
    """The list filters on a copy of the latest session's statuses that the database keeps
    current: the worker's writer, a stop and the cleanup all change it."""
    import datetime as dt

    from sessions import REGISTRY
    from webapp.engine.dispatch import start_run
    from webapp.engine.stops import stop_run

    hosts = make_hosts(2)

    def listed(status: str) -> list[str]:
        html = ada.get(f"/objects/host/?status={status}").get_data(as_text=True)
        return re.findall(r"<strong>(h\d\d)</strong>", html)

    assert listed("none") == ["h00", "h01"]
    failed = execute_run("FailingSession", hosts[:1], user=admin)
    assert (listed("error"), listed("none")) == (["h00"], ["h01"])
    echoed = execute_run("EchoSession", hosts, data={"message": "hi"}, user=admin)
    assert (listed("success"), listed("error"), listed("none")) == (["h00", "h01"], [], [])

    state = app.extensions["minke"]  # queued: no worker takes it; then stopped
    queued = start_run(state, REGISTRY.get("EchoSession"), [hosts[1]], user=admin,
                       data={"message": "later"})
    assert (listed("queued"), listed("success")) == (["h01"], ["h00"])
    stop_run(state, queued)
    db.session.commit()
    assert (listed("canceled"), listed("queued")) == (["h01"], [])

    # cleanup deletes h00's latest run: its session before that shows again
    for run in (queued, echoed):
        db.session.get(Run, run.id).created_at -= dt.timedelta(days=30)
    db.session.commit()
    result = runner.invoke(args=["minke", "cleanup", "--older-than", "7"])
    assert "2 run(s) older than 7 day(s) deleted" in result.output, result.output
    assert db.session.get(Run, failed.id) is not None
    assert (listed("error"), listed("none"), listed("success")) == (["h00"], ["h01"], [])


def test_a_run_after_a_cleanup_never_takes_a_deleted_runs_numbers(
        make_hosts, execute_run, admin, runner):
    """Audit entries, notifications and bookmarks name runs, sessions and outputs by id:
    after a cleanup deleted the newest run, the next one gets new numbers (SQLite would give
    the highest id again without AUTOINCREMENT)."""
    hosts = make_hosts(1)
    old = execute_run("EchoSession", hosts, data={"message": "old"}, user=admin)
    old_ids = (old.id, old.sessions[0].id, old.sessions[0].commands[0].id)
    result = runner.invoke(args=["minke", "cleanup", "--older-than", "0"])
    assert "1 run(s) older than 0 day(s) deleted" in result.output, result.output
    assert db.session.get(Run, old_ids[0]) is None

    new = execute_run("EchoSession", hosts, data={"message": "new"}, user=admin)
    new_ids = (new.id, new.sessions[0].id, new.sessions[0].commands[0].id)
    assert all(n > o for n, o in zip(new_ids, old_ids, strict=True)), (old_ids, new_ids)


def test_search_filters_and_sorting(ada, app):
    hosts = fake_hosts(30, group="db", history=2)
    hosts[5].comment = "primary database"
    hosts[7].disabled = True
    db.session.commit()

    def names(query: str) -> list[str]:
        html = ada.get("/objects/host/" + query).get_data(as_text=True)
        return re.findall(r"<strong>(x\d+)</strong>", html)

    assert names("?q=PRIMARY") == ["x00005"]
    assert names("?q=10.0.0.1") == ["x00001"] + [f"x{i:05d}" for i in range(10, 20)]
    assert names("?q=%25") == []  # LIKE wildcards are searched literally
    assert names("?disabled=yes") == ["x00007"]
    assert len(names("?disabled=no&size=100")) == 29
    assert len(names(f"?group={hosts[0].groups[0].id}&size=100")) == 30
    assert names("?group=999") == []
    errors = names("?status=error&size=100")
    assert errors == [f"x{i:05d}" for i in range(0, 30, 3)]
    assert len(names("?status=success&size=100")) == 20
    assert names("?status=none") == []
    assert names("?sort=name&dir=desc&size=10")[:2] == ["x00029", "x00028"]
    assert names("?sort=address&size=10")[0] == "x00000"
    assert names("?sort=nonsense&size=10")[0] == "x00000"  # unknown column: default order


def test_the_host_search_is_answered_from_its_trigram_index_on_postgresql(app):
    """The migration indexes the exact expression listing.search_text builds for the
    host list: if they drift apart, every search is a sequential scan again."""
    from webapp.objects.listing import Filters, matching_ids
    from webapp.objects.specs import list_specs

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigram index is PostgreSQL's")
    fake_hosts(50)
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    query = matching_ids(list_specs()["host"], Filters(q="x0004"))
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(db.session.execute(sa.text("EXPLAIN " + sql)).scalars())
    assert "ix_host_search" in plan, plan
    assert sorted(db.session.scalars(query)) == [h.id for h in db.session.scalars(
        sa.select(Host).where(Host.name.like("x0004%")).order_by(Host.id))]
    db.session.rollback()


def test_pagination(ada):
    fake_hosts(25)
    first = ada.get("/objects/host/?size=10").get_data(as_text=True)
    assert "1–10 of 25" in first
    assert 'href="/objects/host/?sort=name&amp;dir=asc&amp;size=10&amp;page=2"' in first
    third = ada.get("/objects/host/?size=10&page=3").get_data(as_text=True)
    assert re.findall(r"<strong>(x\d+)</strong>", third) == [f"x{i:05d}" for i in range(20, 25)]
    beyond = ada.get("/objects/host/?size=10&page=99").get_data(as_text=True)
    assert "21–25 of 25" in beyond
    filtered = ada.get("/objects/host/?size=10&page=99&q=x0000").get_data(as_text=True)
    assert "1–10 of 10" in filtered and "<strong>x00009</strong>" in filtered
    filtered = ada.get("/objects/host/?size=10&page=3&q=x000").get_data(as_text=True)
    assert "21–25 of 25" in filtered
    assert "Nothing matches these filters" in ada.get("/objects/host/?q=zz").get_data(as_text=True)


@pytest.mark.parametrize("query", ["", "?q=x0&status=error&sort=address&dir=desc",
                                   "?status=none", "?disabled=no&group=1"])
def test_a_page_costs_the_same_queries_whatever_its_size(ada, app, query):
    fake_hosts(150, group="all", history=2)
    sep = "&" if query else "?"
    counts = {}
    for size in (10, 100):
        with QueryCounter(db.engine) as counter:
            response = ada.get(f"/objects/host/{query}{sep}size={size}")
        assert response.status_code == 200
        counts[size] = len(counter.statements)
    assert counts[10] == counts[100], counts
    assert counts[10] <= 8, counts


def test_group_list_costs_the_same_queries_whatever_its_size(ada):
    for g in range(30):
        db.session.add(HostGroup(name=f"g{g:02d}"))
    db.session.commit()
    counts = []
    for size in (10, 25):
        with QueryCounter(db.engine) as counter:
            assert ada.get(f"/objects/hostgroup/?size={size}").status_code == 200
        counts.append(len(counter.statements))
    assert counts[0] == counts[1]


def test_session_select_groups_runnable_sessions(client, make_user):
    make_user("op", "minke.view_hosts", "minke.run_echosession", "minke.run_uptimesession")
    fake_hosts(2)
    login(client, "op")
    page = controls(client.get("/objects/host/").get_data(as_text=True))
    offered = {value for _, value in page.options if value and value[0].isupper()}
    assert offered == {"EchoSession", "UptimeSession"}
    assert ("Testing", "EchoSession") in page.options
    assert ("System information", "UptimeSession") in page.options


def test_admin_sees_every_host_session_grouped(ada):
    fake_hosts(1)
    page = controls(ada.get("/objects/host/").get_data(as_text=True))
    assert {"Testing", "System information", "Commands"} <= set(page.optgroups)
    values = {value for _, value in page.options}
    assert "SiteDiskUsage" not in values  # works on Site, not on Host


def test_posting_a_session_the_user_may_not_run_is_refused(client, make_user, app):
    make_user("op", "minke.view_hosts", "minke.run_echosession")
    hosts = fake_hosts(2)
    login(client, "op")
    # refused: a permission is missing (403, naming it); no such session for hosts (400)
    for session, status in (("UptimeSession", 403), ("SiteDiskUsage", 400),
                            ("NoSuchSession", 400)):
        response = post(client, "/objects/host/run", {"session": session, "ids": str(hosts[0].id)})
        assert response.status_code == status, session
    assert "minke.run_uptimesession" in post(
        client, "/objects/host/run", {"session": "UptimeSession", "ids": str(hosts[0].id)}
    ).get_data(as_text=True)
    assert run_count() == 0
    assert queued_jobs(app) == 0


def test_run_without_csrf_token_is_refused(ada, app):
    hosts = fake_hosts(1)
    response = ada.post("/objects/host/run", data={"session": "UptimeSession",
                                                   "ids": str(hosts[0].id)})
    assert response.status_code == 400
    assert run_count() == 0


def test_nothing_ticked_asks_again(ada):
    response = post(ada, "/objects/host/run", {"session": "UptimeSession"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/objects/host/")
    assert run_count() == 0


def test_form_errors_queue_nothing_then_good_input_runs_on_the_worker(ada, app, make_hosts,
                                                                       worker):
    hosts = make_hosts(2)
    ids = [str(h.id) for h in hosts]
    form_page = post(ada, "/objects/host/run", {"session": "EchoSession", "ids": ids})
    assert form_page.status_code == 200
    html = form_page.get_data(as_text=True)
    assert 'name="s-message"' in html and controls(html).unlabelled() == []
    assert "h00" in html and "h01" in html
    bad = post(ada, "/objects/host/run", {"session": "EchoSession", "ids": ids, "step": "run",
                                          "s-message": ""})
    assert bad.status_code == 400
    assert "This field is required." in bad.get_data(as_text=True)
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert run_count() == 0 and queued_jobs(app) == 0
    good = post(ada, "/objects/host/run", {"session": "EchoSession", "ids": ids, "step": "run",
                                           "s-message": "hello from the form",
                                           "shown": ids, "keep": ids})
    run = wait_finished(run_id_of(good))
    assert run.data == {"message": "hello from the form"}
    assert [(s.object_label, s.session_status) for s in run.sessions] == [
        ("h00", "success"), ("h01", "success")]
    assert all("hello from the form" in s.commands[0].stdout for s in run.sessions)


def test_session_without_form_or_confirm_starts_at_once(ada, make_hosts, worker):
    hosts = make_hosts(1)
    response = post(ada, "/objects/host/run", {"session": "WhoAmISession",
                                               "ids": str(hosts[0].id)})
    run = wait_finished(run_id_of(response))
    assert run.sessions[0].session_status == "success"
    assert run.sessions[0].commands[0].stdout.startswith(hosts[0].username)


def test_confirm_lists_objects_to_untick(ada, make_hosts, worker):
    hosts = make_hosts(3)
    ids = [str(h.id) for h in hosts]
    page = post(ada, "/objects/host/run", {"session": "RunCommandSession", "ids": ids})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Confirm and run" in html
    assert html.count('name="keep"') == 3 and "<details class=\"objects-box\" open>" in html
    response = post(ada, "/objects/host/run", {
        "session": "RunCommandSession", "ids": ids, "step": "run", "s-cmd": "echo confirmed",
        "shown": ids, "keep": [ids[0], ids[2]]})
    run = wait_finished(run_id_of(response), worker=worker)
    assert [s.object_label for s in run.sessions] == ["h00", "h02"]
    assert all(s.session_status == "success" for s in run.sessions)


def test_select_all_matching_across_pages(ada, make_hosts, worker):
    make_hosts(12)
    make_hosts(2, prefix="db")
    listing = ada.get("/objects/host/?q=h&size=10").get_data(as_text=True)
    assert "Select all 12 matching hosts (all 2 pages)" in listing
    page = post(ada, "/objects/host/run", {"session": "UptimeSession", "all": "1", "q": "h"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Run on these 12 hosts?" in html
    assert html.count('name="keep"') == 12 and "db00" not in html
    shown = re.findall(r'name="shown" value="(\d+)"', html)
    response = post(ada, "/objects/host/run", {"session": "UptimeSession", "all": "1", "q": "h",
                                               "step": "run", "shown": shown,
                                               "keep": shown[1:]})
    run = wait_finished(run_id_of(response))
    assert sorted(s.object_label for s in run.sessions) == [f"h{i:02d}" for i in range(1, 12)]
    assert all(s.session_status == "success" for s in run.sessions)


def test_a_group_list_runs_on_the_groups_hosts(ada, make_hosts, worker):
    make_hosts(2, group="web")
    make_hosts(1, prefix="db", group="db")
    web = db.session.scalar(sa.select(HostGroup).filter_by(name="web"))
    listing = ada.get("/objects/hostgroup/").get_data(as_text=True)
    assert re.search(r"<strong>web</strong></td>\s*<td>2</td>", listing)
    page = post(ada, "/objects/hostgroup/run", {"session": "HostnameSession", "ids": str(web.id)})
    html = page.get_data(as_text=True)
    assert "Run on these 2 hosts?" in html and "db00" not in html
    shown = re.findall(r'name="shown" value="(\d+)"', html)
    response = post(ada, "/objects/hostgroup/run", {
        "session": "HostnameSession", "ids": str(web.id), "step": "run", "shown": shown,
        "keep": shown})
    run = wait_finished(run_id_of(response))
    assert sorted(s.object_label for s in run.sessions) == ["h00", "h01"]


def test_user_model_list_and_run(ada, make_hosts, worker):
    from scripts.demo_sites import Site

    hosts = make_hosts(2)
    db.session.add_all([Site(name="shop", host=hosts[0], root="/usr/bin"),
                        Site(name="blog", host=hosts[1], root="/"),
                        Site(name="wiki", host=hosts[1], root="/usr/bin")])
    db.session.commit()
    html = ada.get("/objects/site/?sort=name").get_data(as_text=True)
    assert re.findall(r"<strong>(\w+)</strong>", html) == ["blog", "shop", "wiki"]
    assert "<td>h01</td>" in html
    assert controls(html).unlabelled() == []
    page = controls(html)
    assert ("Sites", "SiteDiskUsage") in page.options
    assert "UptimeSession" not in {v for _, v in page.options}
    assert re.findall(r"<strong>(\w+)</strong>",
                      ada.get("/objects/site/?group=999&q=o").get_data(as_text=True)) == []
    ids = [str(s.id) for s in db.session.scalars(sa.select(Site).where(Site.root == "/usr/bin"))]
    response = post(ada, "/objects/site/run", {"session": "SiteDiskUsage", "ids": ids})
    run = wait_finished(run_id_of(response))
    assert sorted(s.object_label for s in run.sessions) == ["shop on h00", "wiki on h01"]
    assert all(s.session_status == "success" and "/usr/bin" in s.commands[0].stdout
               for s in run.sessions)
    listing = ada.get("/objects/site/?status=success").get_data(as_text=True)
    assert re.findall(r"<strong>(\w+)</strong>", listing) == ["shop", "wiki"]


def test_unknown_list_is_404(ada):
    assert ada.get("/objects/nothing/").status_code == 404


def test_csrf_token_is_per_session(client, admin):
    login(client, "ada")
    other = isolated_client(client.application)
    login(other, "ada")
    token = csrf_token(other, "/")
    response = client.post("/objects/host/run", data={"session": "UptimeSession", "ids": "1",
                                                      "csrf_token": token})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
