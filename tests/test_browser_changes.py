"""The change marks in Chromium (app under gunicorn, a real worker and sshd): a mark appears
when a session ends live, "only objects whose output changed" filters, a click opens the diff."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sessions import REGISTRY
from webapp.engine.dispatch import start_run
from webapp.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def row_of(page, label):
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label,
                                                                exact=True))


def test_marks_appear_live_the_filter_keeps_the_changed_and_a_click_shows_the_diff(
        app, worker, make_hosts, make_user, execute_run, browser_page, web_login, page_errors):
    ada = make_user("ada", "minke.view_hosts", "minke.run_echosession")
    hosts = make_hosts(2)
    execute_run("EchoSession", hosts[:1], {"message": "hello"}, user=ada)
    execute_run("EchoSession", hosts[1:], {"message": "bye <b>"}, user=ada)
    db.session.rollback()  # its read of the run holds SQLite's write lock: the server's turn
    page = browser_page
    web_login(page, "ada")
    run_id = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), hosts, user=ada,
                       data={"message": "hello"}).id
    page.goto(f"/runs/{run_id}")
    expect(row_of(page, "h00").locator(".change-mark")).to_have_text("unchanged",
                                                                     timeout=20_000)
    expect(row_of(page, "h01").locator(".change-mark")).to_have_text("changed")
    expect(page.locator("#change-counts")).to_contain_text("1 changed")

    row_of(page, "h01").get_by_role("link", name="changed").click()
    diff = row_of(page, "h01").get_by_role("region", name="Output compared with the previous run")
    expect(diff).to_contain_text("Compared with run #")
    expect(diff.locator(".diff-del")).to_have_text("-bye <b>")  # text, not markup
    expect(diff.locator(".diff-add")).to_have_text("+hello")

    page.get_by_label("only objects whose output changed").check()
    page.wait_for_url(re.compile(r"changed=1"))
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(row_of(page, "h01")).to_be_visible()
    assert not page_errors
