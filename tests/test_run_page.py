"""The run page through the test client: rows, messages by kind, escaping, catch-up,
output views, the grouped view and stopping (real SSH runs, executed in-process)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web_client import controls, csrf_token, isolated_client, login
from webapp.extensions import db
from webapp.models import MinkeSession, StoredResult
from webapp.runs.ansi import ansi_to_html, palette_css, strip_ansi
from webapp.runs.groups import fold

pytestmark = pytest.mark.integration

ADMIN = ("minke.admin",)


@pytest.fixture
def ada(make_user):
    return make_user("ada", "minke.view_hosts", "minke.run_messagessession",
                     "minke.run_echosession",
                     "minke.run_messagekindssession", "minke.run_bigoutputsession",
                     "minke.run_sleepsession")


def logged_in(client, name):
    assert login(client, name).status_code == 302
    return client


def session_ids(run):
    return [s.id for s in sorted(run.sessions, key=lambda s: s.id)]


# -- the page ---------------------------------------------------------------------------------


def test_run_page_shows_a_row_per_object_with_messages_by_kind(client, ada, make_hosts,
                                                               execute_run):
    hosts = make_hosts(2)
    run = execute_run("MessagesSession", hosts, user=ada)
    html = logged_in(client, "ada").get(f"/runs/{run.id}").get_data(as_text=True)
    for sid in session_ids(run):
        assert f'id="s-{sid}"' in html
    assert html.count('data-status="warning"') >= 2  # both rows (+ the badge templates)
    assert "<th scope=\"row\">h00</th>" in html and "<th scope=\"row\">h01</th>" in html
    # pre: escaped in a <pre>; table: a header row; levels in words
    assert "<pre>plain &lt;b&gt;pre&lt;/b&gt; text</pre>" in html
    assert '<th scope="col">mount</th>' in html and "<td>42%</td>" in html
    assert '<strong class="msg-level">warning:</strong>' in html
    assert '<strong class="msg-level">error:</strong>' in html
    parsed = controls(html)
    assert not parsed.unlabelled()
    assert parsed.headers >= 7


def test_execution_messages_show_command_exit_code_and_output(client, ada, make_hosts,
                                                              execute_run):
    run = execute_run("MessageKindsSession", make_hosts(1), user=ada)
    html = logged_in(client, "ada").get(f"/runs/{run.id}").get_data(as_text=True)
    assert '<code class="cmdline">$ echo listed</code>' in html
    assert "exit 0" in html
    assert '<pre class="out-stdout">listed\n</pre>' in html
    assert "a &lt;text&gt; message" in html


def test_remote_output_is_escaped_and_its_colours_rendered(client, ada, make_hosts, execute_run):
    message = "\\033[1;31mred\\033[0m <img src=x onerror=alert(1)>"
    run = execute_run("EchoSession", make_hosts(1), data={"message": message}, user=ada)
    html = logged_in(client, "ada").get(f"/runs/{run.id}").get_data(as_text=True)
    assert "<img" not in html
    assert '<span class="ansi-bold ansi-fg-1">red</span> &lt;img src=x onerror=alert(1)&gt;' in html
    assert "\x1b" not in html


def test_the_page_of_a_run_of_somebody_else_needs_view_all_runs(client, ada, make_user,
                                                                make_hosts, execute_run):
    run = execute_run("EchoSession", make_hosts(1), data={"message": "hi"}, user=ada)
    make_user("bob")
    make_user("carol", "minke.view_all_runs")
    bob = logged_in(isolated_client(client.application), "bob")
    assert bob.get(f"/runs/{run.id}").status_code == 403
    assert bob.get(f"/runs/{run.id}/events?after=1:0").status_code == 403
    assert bob.get(f"/runs/{run.id}/grouped").status_code == 403
    carol = logged_in(isolated_client(client.application), "carol")
    page = carol.get(f"/runs/{run.id}")
    assert page.status_code == 200
    assert "stop-session" not in page.get_data(as_text=True)  # may see, not stop
    assert client.get(f"/runs/{run.id}").status_code == 302  # anonymous: to the login page


# -- catching up --------------------------------------------------------------------------


def test_events_after_zero_return_everything_a_session_stored(client, ada, make_hosts,
                                                              execute_run):
    run = execute_run("MessageKindsSession", make_hosts(1), user=ada)
    sid = session_ids(run)[0]
    logged_in(client, "ada")
    data = client.get(f"/runs/{run.id}/events?after={sid}:0").get_json()
    (change,) = data["sessions"]
    assert change["status"] == "warning" or change["status"] in ("success", "error")
    assert change["final"] is True
    assert len(change["messages"]) == 3
    assert all(m["html"].startswith(f'<li id="m-{sid}-') for m in change["messages"])
    assert [c["html"].count("$ echo listed") for c in change["commands"]] == [1, 1]
    assert "".join(p["data"] for p in change["output"]) == "listed\nlisted again\n"
    seqs = [m["seq"] for m in change["messages"]] + [c["seq"] for c in change["commands"]]
    assert change["seq"] >= max(seqs)
    assert data["summary"][change["status"]] == 1 and data["finished"] is True

    again = client.get(f"/runs/{run.id}/events?after={sid}:{change['seq']}").get_json()
    (same,) = again["sessions"]
    assert same["messages"] == [] and same["output"] == []
    # the latest command comes again (its exit code may be news), nothing else
    assert [c["seq"] for c in same["commands"]] == [max(c["seq"] for c in change["commands"])]


def test_events_can_be_posted_for_many_sessions_and_ignore_other_runs(client, ada, make_hosts,
                                                                      execute_run):
    hosts = make_hosts(3)
    run = execute_run("MessagesSession", hosts, user=ada)
    other = execute_run("MessagesSession", hosts[:1], user=ada)
    ids = session_ids(run)
    logged_in(client, "ada")
    token = csrf_token(client, f"/runs/{run.id}")
    after = {str(sid): 0 for sid in [*ids, *session_ids(other)]}
    response = client.post(f"/runs/{run.id}/events", json={"after": after},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert sorted(c["id"] for c in response.get_json()["sessions"]) == ids


@pytest.mark.parametrize("after", ["x", "1:y", "1:2:3x"])
def test_events_refuse_malformed_sequence_numbers(client, ada, make_hosts, execute_run, after):
    run = execute_run("MessagesSession", make_hosts(1), user=ada)
    logged_in(client, "ada")
    assert client.get(f"/runs/{run.id}/events?after={after}").status_code == 400


# -- output -----------------------------------------------------------------------------------


def test_big_output_opens_on_its_tail_pages_back_and_downloads_whole(client, ada, make_hosts,
                                                                     execute_run):
    run = execute_run("BigOutputSession", make_hosts(1), data={"seconds": 300}, user=ada)
    command = db.session.scalar(db.select(StoredResult).join(MinkeSession)
                                .where(MinkeSession.run_id == run.id))
    lines = 300 * 1024 // 16
    logged_in(client, "ada")
    page = client.get(f"/runs/{run.id}/output/{command.id}").get_data(as_text=True)
    assert f"{lines - 1:015d}" in page and f"{0:015d}" not in page
    first_seq = re.search(r'data-first-seq="(\d+)"', page).group(1)
    shown = set(re.findall(r"\d{15}", page))
    while True:
        earlier = client.get(f"/runs/{run.id}/output/{command.id}/page",
                             query_string={"before": first_seq}).get_json()
        shown |= set(re.findall(r"\d{15}", earlier["html"]))
        if not earlier["more"]:
            break
        first_seq = earlier["first_seq"]
    assert len(shown) == lines
    download = client.get(f"/runs/{run.id}/output/{command.id}/download", buffered=True)
    assert download.headers["Content-Disposition"].startswith("attachment")
    body = download.get_data(as_text=True)
    assert body.count("\n") == lines and body.endswith(f"{lines - 1:015d}\n")
    stderr = client.get(f"/runs/{run.id}/output/{command.id}/download?stream=stderr",
                        buffered=True)
    assert stderr.get_data(as_text=True) == "done\n"
    assert client.get(f"/runs/{run.id + 1}/output/{command.id}").status_code == 404


# -- grouped output ---------------------------------------------------------------------


def test_grouped_view_gathers_identical_output_and_folds_names(client, ada, make_hosts,
                                                               execute_run):
    hosts = make_hosts(6)
    hosts[2].port = 1  # nothing listens: its session fails and stands out
    db.session.commit()
    run = execute_run("EchoSession", hosts, data={"message": "same"}, user=ada)
    html = logged_in(client, "ada").get(f"/runs/{run.id}/grouped").get_data(as_text=True)
    blocks = re.findall(r'<code class="nodeset">([^<]+)</code>', html)
    assert blocks == ["h[00-01,03-05]", "h02"]
    assert '<pre class="group-text">same\n</pre>' in html
    assert html.count("differs from the largest group") == 1
    fragment = client.get(f"/runs/{run.id}/grouped?fragment=1").get_data(as_text=True)
    assert "<html" not in fragment and "h[00-01,03-05]" in fragment


@pytest.mark.parametrize(("names", "folded"), [
    (["web01", "web02", "web03", "web05"], "web[01-03,05]"),
    (["demo1", "demo2", "demo3", "demo4"], "demo[1-4]"),
    (["web9", "web10"], "web10,web9"),
    (["db", "rack1-node2", "rack1-node3"], "db,rack1-node[2-3]"),
    (["b000", "b199"], "b[000,199]"),
    (["x.example.org"], "x.example.org"),
])
def test_fold_names_into_ranges(names, folded):
    assert fold(names) == folded


def test_the_256_colour_stylesheet_is_what_the_palette_generates():
    """static/css/ansi-256.css is generated once and served; it must match the spans'
    classes (``ansi-fg-N``) as ansi_to_html writes them."""
    served = (Path(__file__).resolve().parent.parent / "static/css/ansi-256.css").read_text()
    assert served == palette_css()
    assert 'class="ansi-fg-196"' in str(ansi_to_html("\x1b[38;5;196mred"))


def test_ansi_to_html_escapes_and_drops_other_escapes():
    html = ansi_to_html("<b>\x1b[32mok\x1b[0m\x1b]0;title\x07\x1b[2K\x07 \x1b[38;5;196mx")
    assert str(html) == ('&lt;b&gt;<span class="ansi-fg-2">ok</span> '
                         '<span class="ansi-fg-196">x</span>')
    assert strip_ansi("\x1b[1mbold\x1b[0m") == "bold"


# -- stopping ---------------------------------------------------------------------------


def test_stop_needs_permission_and_csrf_and_cancels_waiting_sessions(client, ada, make_user,
                                                                     make_hosts, app):
    from sessions import REGISTRY
    from webapp.engine.dispatch import start_run

    run = start_run(app.extensions["minke"], REGISTRY.get("SleepSession"), make_hosts(2),
                    user=ada, data={"seconds": 30})
    run_id = run.id
    make_user("bob", "minke.view_all_runs")
    bob = logged_in(isolated_client(app), "bob")
    token = csrf_token(bob, f"/runs/{run_id}")
    assert bob.post(f"/runs/{run_id}/stop", data={"csrf_token": token}).status_code == 403

    logged_in(client, "ada")
    confirm = client.get(f"/runs/{run_id}/stop")
    assert confirm.status_code == 200 and "Stop run #" in confirm.get_data(as_text=True)
    assert client.post(f"/runs/{run_id}/stop", data={}).status_code == 400  # no CSRF token
    token = csrf_token(client, f"/runs/{run_id}")
    answer = client.post(f"/runs/{run_id}/stop", data={"csrf_token": token},
                         headers={"Accept": "application/json"})
    assert answer.get_json() == {"level": 1}
    db.session.expire_all()
    assert {s.proc_status for s in db.session.scalars(
        db.select(MinkeSession).where(MinkeSession.run_id == run_id))} == {"canceled"}
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert 'id="stop-run" class="stop-run" hidden' in page


# -- live messages, big runs ------------------------------------------------------------------


@pytest.mark.parametrize("session", ["MessagesSession", "MessageKindsSession"])  # every kind
def test_a_live_message_carries_the_html_the_page_renders_for_it(client, ada, make_hosts,
                                                                  execute_run, session):
    from webapp.engine.events import message_event

    run = execute_run(session, make_hosts(1), user=ada)
    page = logged_in(client, "ada").get(f"/runs/{run.id}").get_data(as_text=True)
    messages = run.sessions[0].messages
    assert len(messages) >= 3
    for m in messages:  # the event a worker publishes for it: the same macro, the same bytes
        html = message_event(m.session_id, m.seq, m.level, m.kind, m.payload)["html"]
        assert html.startswith(f'<li id="m-{m.session_id}-{m.seq}"') and html in page


def big_run(user, n: int) -> int:
    """A finished run of ``n`` sessions stored directly: every third an error."""
    import sqlalchemy as sa

    from webapp.models import Run, utcnow

    run = Run(session_name="EchoSession", object_type="Host", user=user, finished_at=utcnow())
    db.session.add(run)
    db.session.flush()
    db.session.execute(sa.insert(MinkeSession), [
        {"run_id": run.id, "session_name": "EchoSession", "object_type": "Host",
         "object_id": i, "object_label": f"obj{i:04d}", "proc_status": "completed",
         "session_status": "error" if i % 3 == 0 else "success"} for i in range(n)])
    db.session.commit()
    return run.id


def rows_of(page):
    return re.findall(r'<tr id="s-\d+"[^>]*>\s*<th scope="row">(obj\d+)</th>', page)


def test_a_big_run_opens_on_a_page_of_rows_with_counts_over_every_session(client, ada):
    run_id = big_run(ada, 450)
    logged_in(client, "ada")
    first = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert rows_of(first) == [f"obj{i:04d}" for i in range(200)]
    assert "Rows 1–200 of 450" in first and "page 1 of 3" in first
    assert ">150 error<" in first and ">300 success<" in first  # the whole run's counts
    statuses = re.search(r'<script type="application/json" id="run-statuses">(.*?)</script>',
                         first).group(1)
    assert statuses.count(",") >= 2 * 450 - 2  # every session's badge, for live counts
    last = client.get(f"/runs/{run_id}?page=3").get_data(as_text=True)
    assert rows_of(last) == [f"obj{i:04d}" for i in range(400, 450)]
    assert client.get(f"/runs/{run_id}?page=99").get_data(as_text=True).count('<tr id="s-') == 50


def test_a_big_run_filters_its_rows_by_status_on_the_server(client, ada):
    run_id = big_run(ada, 450)
    logged_in(client, "ada")
    errors = client.get(f"/runs/{run_id}?status=error").get_data(as_text=True)
    assert rows_of(errors) == [f"obj{i:04d}" for i in range(0, 450, 3)]
    assert "Rows 1–150 of 150 showing “error”" in errors
    assert '<option value="error" selected>' in errors
    none = client.get(f"/runs/{run_id}?status=stopped").get_data(as_text=True)
    assert rows_of(none) == [] and "No object of this run shows “stopped”" in none
    nonsense = client.get(f"/runs/{run_id}?status=<b>").get_data(as_text=True)
    assert len(rows_of(nonsense)) == 200  # an unknown status filters nothing


def test_a_command_named_by_its_session_and_number_leads_to_its_output(client, ada, make_hosts,
                                                                       execute_run):
    run = execute_run("MessageKindsSession", make_hosts(1), user=ada)
    command = db.session.scalars(db.select(StoredResult).order_by(StoredResult.seq)).first()
    logged_in(client, "ada")
    url = f"/runs/{run.id}/sessions/{command.session_id}/commands/{command.seq}"
    response = client.get(url + "?stream=stderr")
    assert response.status_code == 302
    assert response.location.endswith(f"/runs/{run.id}/output/{command.id}?stream=stderr")
    assert client.get(f"/runs/{run.id}/sessions/{command.session_id}/commands/999").status_code \
        == 404
    assert client.get(f"/runs/{run.id + 1}{url[len(f'/runs/{run.id}'):]}").status_code == 404
