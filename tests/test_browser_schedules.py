"""The Schedules page in Chromium against the app under gunicorn: a user makes a schedule,
watching the next five firings follow what they type (and an error for a bad expression),
then pauses and resumes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from webapp.extensions import db
from webapp.models import Host, HostGroup

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_schedule_is_made_with_the_live_preview_then_paused_and_resumed(
        live_server, make_user, browser_page, web_login, page_errors):
    make_user("olga", "minke.schedule", "minke.view_hosts", "minke.run_echosession")
    db.session.add(Host(name="web1", hostname="127.0.0.1", groups=[HostGroup(name="web")]))
    db.session.commit()
    page = browser_page
    web_login(page, "olga")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedules").click()
    page.get_by_role("button", name="New schedule").click()

    page.get_by_label("Name").fill("nightly echo")
    page.get_by_label("Session").select_option("EchoSession")
    page.get_by_label("Host groups").fill("web")
    page.get_by_label("Form data").fill("message=good night")
    times = page.locator("#preview-times li")
    expect(page.locator("#preview-empty")).to_contain_text("Type a cron expression")
    page.get_by_label("Cron expression").fill("every night")
    expect(page.get_by_role("alert")).to_contain_text("is no cron expression")
    expect(times).to_have_count(0)
    page.get_by_label("Cron expression").fill("30 2 * * *")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    expect(times).to_have_count(5)
    expect(times.first).to_contain_text(re.compile(r"02:30:00 CES?T"))
    expect(page.locator("#preview-error")).to_be_hidden()
    expect(page.locator("#preview-empty")).to_be_hidden()
    page.get_by_role("button", name="Make schedule").click()

    expect(page.get_by_role("heading", name="Schedule nightly echo")).to_be_visible()
    expect(page.locator("#upcoming li")).to_have_count(5)
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#paused-reason")).to_contain_text("paused by olga")
    expect(page.locator("#upcoming li")).to_have_count(0)
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status").first).to_contain_text("Schedule nightly echo resumed")
    expect(page.locator("#upcoming li")).to_have_count(5)
    page.get_by_role("link", name="Schedules", exact=True).first.click()
    expect(page.get_by_role("row", name=re.compile("nightly echo"))).to_contain_text("enabled")
    assert not page_errors
