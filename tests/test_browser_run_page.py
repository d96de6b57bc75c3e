"""The run page in Chromium against the app under gunicorn, a real worker and sshd:
rows turn final live, output, reconnects, stopping, screenshots."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sessions import REGISTRY
from webapp.engine.dispatch import start_run
from webapp.extensions import db
from webapp.models import MinkeSession

pytestmark = [pytest.mark.browser, pytest.mark.integration]

RUNNER = ("minke.view_hosts", "minke.run_echosession", "minke.run_sleepsession",
          "minke.run_chattysession", "minke.run_bigoutputsession", "minke.run_messagessession")


@pytest.fixture
def ada(make_user):
    return make_user("ada", *RUNNER)


def launch(app, session_name, hosts, user, data=None):
    run = start_run(app.extensions["minke"], REGISTRY.get(session_name), hosts, user=user,
                    data=data)
    return run.id


def rows(page):
    return page.locator("#results tbody tr")


def test_rows_turn_to_success_live_with_their_output(app, worker, make_hosts, ada, browser_page,
                                                     web_login, page_errors, artifacts):
    page = browser_page
    web_login(page, "ada")
    run_id = launch(app, "SleepSession", make_hosts(3), ada, {"seconds": 1})
    page.goto(f"/runs/{run_id}")
    expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
    expect(rows(page)).to_have_count(3)
    for label in ("h00", "h01", "h02"):
        row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label))
        expect(row.locator(".badge")).to_have_text("success", timeout=20_000)
        expect(row.locator("ul.cmds")).to_contain_text("$ sleep 1; echo slept")
        expect(row.locator("ul.cmds")).to_contain_text("exit 0")
    expect(page.locator("#run-state")).to_have_text("finished")
    expect(page.locator("#count-done")).to_have_text("3")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="h01"))
    row.get_by_text("Output of h01").click()
    expect(row.locator(".term-out")).to_have_text("slept\n")
    expect(row.get_by_label("Follow the output")).to_be_checked()
    assert not page_errors


def row_of(page, label):
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label,
                                                                exact=True))


def test_dashboard_flow_select_form_confirm_and_watch(app, worker, make_hosts, ada, browser_page,
                                                      web_login, page_errors):
    page = browser_page
    make_hosts(3)
    web_login(page, "ada")
    page.goto("/objects/host/")
    for label in ("h00", "h02"):
        page.get_by_label(f"Select {label}").check()
    session = page.get_by_role("combobox", name="Session", exact=True)
    assert session.locator("optgroup[label='Testing'] option").all_inner_texts() == [
        "echo session"]
    session.select_option("EchoSession")
    page.get_by_role("button", name="Run…").click()
    page.get_by_role("button", name="Run").click()  # the message is missing
    expect(page.get_by_role("alert")).to_contain_text("please correct the fields")
    page.get_by_label("Message", exact=True).fill("hello <world>")
    page.get_by_role("button", name="Run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    expect(rows(page)).to_have_count(2)
    for label in ("h00", "h02"):
        row = row_of(page, label)
        expect(row.locator(".badge")).to_have_text("success", timeout=20_000)
        expect(row.locator(".term-out")).to_have_text("hello <world>\n")
    assert not page_errors


def test_stop_asks_then_stops_softly_then_kills(app, worker, make_hosts, ada, browser_page,
                                                web_login, page_errors):
    page = browser_page
    web_login(page, "ada")
    run_id = start_run(app.extensions["minke"], REGISTRY.get("SleepSession"), make_hosts(3),
                       user=ada, data={"seconds": 60}, concurrency=2).id
    page.goto(f"/runs/{run_id}")
    expect(row_of(page, "h00").locator(".badge")).to_have_text("running", timeout=15_000)
    expect(row_of(page, "h01").locator(".badge")).to_have_text("running", timeout=15_000)
    expect(row_of(page, "h02").locator(".badge")).to_have_text("queued")

    page.get_by_role("button", name="Stop run").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Stop run #")
    dialog.get_by_role("button", name="Keep running").click()
    expect(dialog).to_be_hidden()
    expect(row_of(page, "h00").locator(".badge")).to_have_text("running")

    page.get_by_role("button", name="Stop run").click()
    dialog.get_by_role("button", name="Stop", exact=True).click()
    expect(row_of(page, "h00").locator(".badge")).to_have_text("stopping")
    page.wait_for_timeout(1000)
    expect(row_of(page, "h00").locator(".badge")).to_have_text("stopping")  # sleep 60 goes on

    page.get_by_role("button", name=re.compile("^Kill run")).click()
    for label in ("h00", "h01"):
        expect(row_of(page, label).locator(".badge")).to_have_text("stopped", timeout=10_000)
    expect(row_of(page, "h02").locator(".badge")).to_have_text("canceled")
    expect(page.locator("#run-state")).to_have_text("finished")
    expect(page.locator("#stop-run")).to_be_hidden()
    assert not page_errors


def test_one_session_stops_alone(app, worker, make_hosts, ada, browser_page, web_login):
    page = browser_page
    web_login(page, "ada")
    run_id = launch(app, "SleepSession", make_hosts(2), ada, {"seconds": 3})
    page.goto(f"/runs/{run_id}")
    expect(row_of(page, "h01").locator(".badge")).to_have_text("running", timeout=15_000)
    row_of(page, "h01").get_by_role("button", name="Stop h01").click()
    page.get_by_role("dialog").get_by_role("button", name="Stop", exact=True).click()
    row_of(page, "h01").get_by_role("button", name="Kill h01: interrupt running commands now"
                                    ).click()
    expect(row_of(page, "h01").locator(".badge")).to_have_text("stopped", timeout=10_000)
    expect(row_of(page, "h00").locator(".badge")).to_have_text("success", timeout=10_000)


def stored(run_id):
    """Per object label: the message ids and the terminal text the page should show."""
    db.session.rollback()
    result = {}
    for session in db.session.scalars(db.select(MinkeSession)
                                      .where(MinkeSession.run_id == run_id)):
        ids = [f"m-{session.id}-{m.seq}" for m in session.messages]
        output = "".join(c.stdout + c.stderr for c in session.commands)
        result[session.object_label] = (ids, output)
    db.session.rollback()
    return result


def shown(page):
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#results tbody tr')].map(row => [row.querySelector('th').textContent,
        [[...row.querySelectorAll('.msgs li.msg')].map(li => li.id),
         [...row.querySelectorAll('.term-out')].map(pre => pre.textContent).join('')]]))""")


@pytest.mark.parametrize("drop", ["transport", "offline"])
def test_a_dropped_connection_loses_and_repeats_nothing(app, worker, make_hosts, ada,
                                                        browser_page, web_login, page_errors,
                                                        drop):
    page = browser_page
    web_login(page, "ada")
    run_id = launch(app, "ChattySession", make_hosts(3), ada)
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#live-state")).to_have_text("live")
    page.wait_for_function("() => minkeRunPage.stats.events > 50", timeout=20_000)
    if drop == "transport":  # the connection breaks: the client reconnects by itself
        page.evaluate("() => minkeRunPage.socket.io.engine.close()")
        page.wait_for_timeout(700)
    else:  # the browser goes offline for a while
        page.context.set_offline(True)
        page.evaluate("() => minkeRunPage.socket.io.engine.close()")
        page.wait_for_timeout(1500)
        page.context.set_offline(False)
    expect(page.locator("#run-state")).to_have_text("finished", timeout=30_000)
    expect(page.locator("#live-state")).to_have_text("finished")  # live until the run ended
    page.wait_for_function("() => document.querySelectorAll('.badge[data-status=success]')"
                           ".length >= 3")
    page.wait_for_timeout(500)  # the last catch-up answer
    want = stored(run_id)
    got = shown(page)
    assert set(got) == set(want)
    for label, (ids, output) in want.items():
        assert got[label][0] == ids, label  # every message once, in order
        assert got[label][1] == output, label
    stats = page.evaluate("() => minkeRunPage.stats")
    assert stats["catchUps"] >= 2  # at least: after the first join, after the reconnect
    assert not [e for e in page_errors if "ERR_INTERNET_DISCONNECTED" not in e]


def test_screenshots_of_the_run_pages_light_and_dark(app, worker, make_hosts, ada, make_user,
                                                     browser_page, web_login, artifacts,
                                                     page_errors):
    """Not a check of looks: pictures for people to look at (the artifacts directory)."""
    page = browser_page
    make_user("eve", "minke.admin")
    hosts = make_hosts(6)
    hosts[4].port = 1  # unreachable: an error row and an odd group
    db.session.commit()
    echo = launch(app, "EchoSession", hosts, ada,
                  {"message": "\\033[1;32mready\\033[0m disk \\033[33m71%\\033[0m <ok>"})
    kinds = launch(app, "MessagesSession", hosts[:2], ada)
    web_login(page, "eve")
    page.goto(f"/runs/{echo}")
    expect(page.locator("#run-state")).to_have_text("finished", timeout=30_000)
    row_of(page, "h01").get_by_text("Output of h01").click()
    command_link = row_of(page, "h02").get_by_role("link", name="stdout")
    shots = {"run": f"/runs/{echo}", "messages": f"/runs/{kinds}",
             "grouped": f"/runs/{echo}/grouped", "output": command_link.get_attribute("href")}
    page.goto(f"/runs/{kinds}")
    expect(page.locator("#run-state")).to_have_text("finished", timeout=30_000)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, url in shots.items():
            page.goto(url)
            if name == "run":
                row_of(page, "h01").get_by_text("Output of h01").click()
            page.screenshot(path=str(artifacts / f"run-page-{name}-{scheme}.png"), full_page=True)
    assert not page_errors


def queued_run(user, n):
    """A run of ``n`` waiting sessions stored directly (no worker takes them)."""
    import sqlalchemy as sa

    from webapp.models import Run

    run = Run(session_name="EchoSession", object_type="Host", user=user)
    db.session.add(run)
    db.session.flush()
    ids = db.session.scalars(sa.insert(MinkeSession).returning(
        MinkeSession.id, sort_by_parameter_order=True), [
        {"run_id": run.id, "session_name": "EchoSession", "object_type": "Host",
         "object_id": i, "object_label": f"obj{i:04d}", "proc_status": "initialized"}
        for i in range(n)]).all()
    run_id = run.id
    db.session.commit()
    return run_id, ids


def change(app, run_id, *states):
    """Store, then publish, as a worker's writer does: (session id, seq, proc, outcome)."""
    from webapp.engine.events import status_event

    for session_id, _seq, proc, outcome in states:
        db.session.execute(db.update(MinkeSession).where(MinkeSession.id == session_id)
                           .values(proc_status=proc, session_status=outcome))
    db.session.commit()
    app.extensions["minke"].publisher.publish_many(run_id, [
        status_event(session_id, seq, proc, outcome) for session_id, seq, proc, outcome in states])


def test_a_big_run_counts_every_session_live_and_filters_on_the_server(app, ada, browser_page,
                                                                        web_login, page_errors):
    page = browser_page
    run_id, ids = queued_run(ada, 450)
    web_login(page, "ada")
    page.goto(f"/runs/{run_id}")
    expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
    expect(rows(page)).to_have_count(200)
    expect(page.locator("#run-counts")).to_contain_text("0 of 450 finished")
    # sessions on the last page: their rows are not here, their states count
    change(app, run_id, (ids[-1], 1, "running", None), (ids[-2], 1, "running", None))
    change(app, run_id, (ids[-1], 2, "completed", "error"))
    expect(page.locator("[data-count=error]")).to_have_text("1 error")
    expect(page.locator("[data-count=running]")).to_have_text("1 running")
    expect(page.locator("#count-done")).to_have_text("1")

    page.get_by_label("Show").select_option("error")  # the server pages the matching rows
    page.wait_for_url(re.compile(r"status=error"))
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_role("rowheader", name="obj0449")).to_be_visible()
    change(app, run_id, (ids[0], 1, "completed", "error"))
    expect(page.locator("#more-matching")).to_contain_text("1 more object now show “error”")
    page.locator("#more-matching").get_by_role("link", name="Show them").click()
    expect(rows(page)).to_have_count(2)
    assert not page_errors


def test_a_running_row_shows_its_newest_lines_and_stop_is_keyboard_safe(
        app, worker, make_hosts, make_user, browser_page, web_login, page_errors):
    """Issue 19: the run page is the log (each running row shows its newest output lines,
    the whole terminal a click away), the stop dialog's default answer is the safe one, and
    focus returns to the button that opened it."""
    tess = make_user("tess", *RUNNER, "minke.run_typedcommandsession")
    page = browser_page
    web_login(page, "tess")
    command = "for i in 1 2 3 4 5 6; do echo line $i; done; sleep 30"
    run_id = launch(app, "TypedCommandSession", make_hosts(2), tess, {"cmd": command})
    page.goto(f"/runs/{run_id}")
    row = row_of(page, "h00")
    tail = row.locator("pre.tail")
    expect(tail).to_have_text("line 3\nline 4\nline 5\nline 6", timeout=15_000)
    expect(page.locator("#run-eta")).to_have_text("no estimate yet")  # nothing finished
    expect(row.locator("details.term")).not_to_have_attribute("open", "")
    row.get_by_text("All output of h00").click()
    expect(row.locator(".term-out")).to_contain_text("line 1\nline 2")
    expect(tail).to_be_hidden()  # the open terminal shows it all

    stop = page.get_by_role("button", name="Stop run")
    stop.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Keep running")).to_be_focused()
    page.keyboard.press("Enter")  # the default: nothing stopped
    expect(dialog).to_be_hidden()
    expect(stop).to_be_focused()
    expect(row.locator(".badge")).to_have_text("running")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Stop", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    kill = page.get_by_role("button", name=re.compile("^Kill run"))
    expect(kill).to_be_focused()  # the next step is where the Stop was
    page.keyboard.press("Enter")
    expect(row.locator(".badge")).to_have_text("stopped", timeout=10_000)
    assert not page_errors


def test_a_run_on_one_object_opens_on_its_terminal(app, worker, make_hosts, ada, browser_page,
                                                   web_login):
    page = browser_page
    web_login(page, "ada")
    run_id = launch(app, "EchoSession", make_hosts(1), ada, {"message": "just me"})
    page.goto(f"/runs/{run_id}")
    row = row_of(page, "h00")
    expect(row.locator(".badge")).to_have_text("success", timeout=15_000)
    expect(row.locator("details.term")).to_have_attribute("open", "")
    expect(row.locator(".term-out")).to_have_text("just me\n")
    expect(row.locator("pre.tail")).to_be_hidden()  # once: the terminal shows it
    expect(page.get_by_role("heading", level=1)).to_contain_text("Echo session")
    page.get_by_role("link", name="Grouped output").click()
    expect(page.locator("#live-state")).to_have_text("finished")  # not "live"
