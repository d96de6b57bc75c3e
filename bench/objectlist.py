"""Object lists over 100,000 hosts with run history (issue 12), through headless Chromium
(Debian's) against the app under gunicorn (``-k gthread``, as ``scripts/start`` serves it).

The database holds 100,000 hosts in 50 groups (1 % disabled, 5 % never run) and three
runs of history: every host once, again with 10 % errors, and a third over a third of the
hosts that is still going (queued, running, failed). Each list page is opened in the
browser ``--rounds`` times; the server's time is the navigation's ``responseStart -
requestStart`` (the request on loopback, the query and the template), reported beside the
page's load event. On PostgreSQL the tables are analysed after the load, as autovacuum
does on a database in use. The SQL statements of each page are counted in-process at 50 and at
200 rows per page: the count must not grow with the page.

Target: < 100 ms server time per page, filtered and sorted; constant query count.

    .venv/bin/python bench/objectlist.py [--smoke] [--rounds N] [--database-url URL]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

from . import common
from .common import Bench, banner, median, parser, table, verdict

common.SUBNETS.setdefault("objectlist", 7)  # this bench's loopback /24: 127.0.7.x

from tests.web_services import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402

PASSWORD = "bench-password"
GROUPS = 50
TARGET_MS = 100.0


def populate(n: int) -> dict[str, int]:
    """Store ``n`` hosts and their history directly (Core inserts); returns ids to filter by."""
    import sqlalchemy as sa

    from webapp.engine.latest import refresh_latest
    from webapp.extensions import db
    from webapp.models import Host, HostGroup, MinkeSession, Role, Run, User, utcnow
    from webapp.models.hosts import host_group_members

    user = User(name="admin", roles=[Role(name="admin", permissions=["minke.admin"])])
    user.set_password(PASSWORD)
    db.session.add(user)
    groups = db.session.scalars(sa.insert(HostGroup).returning(
        HostGroup.id, sort_by_parameter_order=True),
        [{"name": f"group{g:02d}", "comment": "", "config": {}} for g in range(GROUPS)]).all()
    now = utcnow()
    host_ids = db.session.scalars(sa.insert(Host).returning(
        Host.id, sort_by_parameter_order=True), [
        {"name": f"h{i:06d}", "hostname": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
         "port": 22, "username": "deploy", "config": {}, "verbose_name": "",
         "comment": "database primary" if i % 1000 == 0 else "", "disabled": i % 100 == 42,
         "created_at": now} for i in range(n)]).all()
    db.session.execute(sa.insert(host_group_members), [
        {"host_id": hid, "group_id": groups[i % GROUPS]} for i, hid in enumerate(host_ids)])
    ran = [(i, hid) for i, hid in enumerate(host_ids) if i % 20 != 3]  # 5 % never run

    def history(run_sessions: list[tuple[int, int]], status) -> None:
        run = Run(session_name="UptimeSession", object_type="Host", concurrency=50,
                  finished_at=now, user_id=user.id)
        db.session.add(run)
        db.session.flush()
        for start in range(0, len(run_sessions), 20_000):
            db.session.execute(sa.insert(MinkeSession), [
                {"run_id": run.id, "user_id": user.id, "session_name": "UptimeSession",
                 "object_type": "Host", "object_id": hid, "object_label": f"h{i:06d}",
                 "host_id": hid, "session_data": {}, **status(i), "created_at": now}
                for i, hid in run_sessions[start:start + 20_000]])

    def done(outcome: str) -> dict:
        return {"proc_status": "completed", "session_status": outcome}

    history(ran, lambda i: done("success"))
    history(ran, lambda i: done("error" if i % 10 == 1 else "success"))
    history(ran[::3], lambda i: ({"proc_status": "initialized"} if i % 7 == 0 else
                                 {"proc_status": "running"} if i % 7 == 1 else
                                 {"proc_status": "failed"} if i % 7 == 2 else
                                 done("warning" if i % 7 == 3 else "success")))
    refresh_latest()  # what the migration does for history stored before latest_session
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # statistics as autovacuum keeps them on a database in use (a bulk load has none)
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return {"group": groups[1]}  # i % 50 == 1: errors (i % 10 == 1) among them


def cases(ids: dict[str, int], n: int) -> list[tuple[str, str]]:
    """(what, URL) of the pages measured."""
    pages = -(-n // 50)
    return [
        ("page 1, by name", "/objects/host/"),
        ("page 1000 of 2000, by name", f"/objects/host/?page={min(1000, pages)}"),
        ("last page, by name descending", f"/objects/host/?sort=name&dir=desc&page={pages}"),
        ("sorted by address", "/objects/host/?sort=address"),
        ("search 'database'", "/objects/host/?q=database"),
        ("search 'h0123'", "/objects/host/?q=h0123"),
        ("group filter", f"/objects/host/?group={ids['group']}"),
        ("disabled only", "/objects/host/?disabled=yes"),
        ("latest status error", "/objects/host/?status=error"),
        ("status error, by name desc, page 5",
         "/objects/host/?status=error&sort=name&dir=desc&page=5"),
        ("status error, 200 rows", "/objects/host/?status=error&size=200"),
        ("status success, sorted by address", "/objects/host/?status=success&sort=address"),
        ("status queued", "/objects/host/?status=queued"),
        ("status never run", "/objects/host/?status=none"),
        ("status error in a group, enabled only",
         f"/objects/host/?status=error&group={ids['group']}&disabled=no"),
        ("status running, search 'h01'", "/objects/host/?status=running&q=h01"),
    ]


def count_queries(app, url: str) -> int:
    """SQL statements one request for ``url`` runs (a logged-in test client, in-process)."""
    import sqlalchemy as sa

    from webapp.auth.logins import start_login
    from webapp.extensions import db
    from webapp.models import User

    client = app.test_client()
    user = db.session.scalars(sa.select(User).limit(1)).one()
    start_login(user, remember=False, user_agent="bench/objectlist.py", address="127.0.0.1")
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()  # the login just started
        session["_fresh"] = True
    db.session.rollback()
    statements: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        response = client.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    if response.status_code != 200:
        raise common.BenchError(f"{url}: HTTP {response.status_code}")
    db.session.rollback()
    return len(statements)


def main() -> int:
    args = parser(__doc__.split("\n")[0]).parse_args()
    smoke = args.smoke
    n = 2_000 if smoke else 100_000
    rounds = args.rounds or (1 if smoke else 5)
    banner("objectlist", args)
    from playwright.sync_api import sync_playwright

    with Bench("objectlist", args, 1) as bench, sync_playwright() as playwright:
        t0 = time.perf_counter()
        ids = populate(n)
        print(f"   stored {n} hosts and their history in {time.perf_counter() - t0:.1f} s",
              flush=True)
        measured = cases(ids, n)
        count_queries(bench.app, "/objects/host/")  # a first request loads what a process keeps
        queries = {url: (count_queries(bench.app, url),
                         count_queries(bench.app, url + ("&" if "?" in url else "?")
                                       + "size=200")) for _, url in measured}
        server = start_server(bench.env(), bench.workdir / "gunicorn.log")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(base_url=server.url, viewport={"width": 1400, "height": 900})
            page.goto("/login")
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(lambda url: "/login" not in url)
            timings = {url: [] for _, url in measured}
            for _ in range(rounds + 1):  # the first round warms the server's caches
                for _, url in measured:
                    page.goto(url)
                    timings[url].append(page.evaluate("""() => {
                        const n = performance.getEntriesByType('navigation')[0];
                        return [n.responseStart - n.requestStart, n.loadEventEnd,
                                document.querySelectorAll('tbody tr').length]; }"""))
        finally:
            browser.close()
            common.stop_process(server.proc, 10)
    rows, worst = [], 0.0
    for what, url in measured:
        measured_rounds = timings[url][1:]
        server_ms = median([t[0] for t in measured_rounds])
        worst = max(worst, server_ms)
        small, big = queries[url]
        rows.append([what, server_ms, median([t[1] for t in measured_rounds]),
                     measured_rounds[-1][2], f"{small} / {big}",
                     verdict(server_ms < TARGET_MS and small == big, smoke)])
    constant = all(small == big for small, big in queries.values())
    table(f"object list over {n:,} hosts, {rounds} rounds (ms, median)",
          ["page", "server", "load", "rows", "queries 50 / 200", "verdict"], rows,
          notes=[f"slowest page: {worst:.0f} ms server time (target < {TARGET_MS:.0f}); "
                 f"query count {'constant' if constant else 'NOT constant'} in page size"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
