"""The admin pages in Chromium against the app under gunicorn: an admin sets up a role and a
user who then sees only what the role allows; screenshots of every admin page, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from webapp.extensions import db
from webapp.models import Host

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_admin_sets_up_a_role_and_a_user_who_sees_only_what_it_allows(
        chromium, live_server, make_user, make_hosts, browser_page, web_login, page_errors):
    make_user("ada", "minke.admin")
    make_hosts(2)
    page = browser_page
    web_login(page, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Roles", exact=True).click()
    page.get_by_role("button", name="Create role").click()
    page.get_by_label("Role name").fill("echoers")
    page.get_by_label("Description").fill("See hosts and echo on them")
    page.get_by_role("group", name="Built-in").get_by_label("minke.view_hosts").check()
    page.get_by_role("group", name="Testing").get_by_label("minke.run_echosession").check()
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_role("status")).to_contain_text("Created role echoers.")
    expect(page.get_by_role("row", name=re.compile("echoers"))).to_contain_text(
        "minke.run_echosession")

    page.goto("/admin/users/new")
    page.get_by_label("User name").fill("vera")
    page.get_by_label("Password", exact=True).fill("vera-pass")
    page.get_by_label("Password again").fill("vera-typo")
    page.get_by_label("echoers").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("The two passwords differ.")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("vera-pass")
    page.get_by_label("Password again").fill("vera-pass")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("Created user vera.")
    expect(page.get_by_role("row", name=re.compile("vera"))).to_contain_text("echoers")

    other = chromium.new_context(base_url=live_server.url).new_page()
    web_login(other, "vera", "vera-pass")
    nav = other.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Hosts")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    other.goto("/objects/host/")
    sessions = other.locator("#session option:not([value=''])")
    expect(sessions).to_have_count(1)
    expect(sessions).to_have_attribute("value", "EchoSession")
    assert other.goto("/admin/").status == 403
    assert other.goto("/objects/hostgroup/").status in (200, 403)
    other.context.close()
    assert not page_errors


def test_a_user_without_minke_admin_sees_no_admin_link(make_user, browser_page, web_login):
    make_user("olga", "minke.view_hosts", "minke.edit_hosts", "minke.view_all_runs")
    web_login(browser_page, "olga")
    expect(browser_page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="History")).to_be_visible()
    nav = browser_page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    nav.get_by_role("link", name="Hosts admin", exact=True).click()  # minke.edit_hosts
    expect(browser_page.get_by_role("link", name="Hosts", exact=True).first).to_be_visible()
    expect(browser_page.get_by_role("link", name="Users", exact=True)).to_have_count(0)
    assert browser_page.goto("/admin/users/").status == 403
    assert browser_page.goto("/admin/hosts/").status == 200


ADMIN_PAGES = [
    ("index", "/admin/"),
    ("users", "/admin/users/"),
    ("user-new", "/admin/users/new"),
    ("roles", "/admin/roles/"),
    ("role-new", "/admin/roles/new"),
    ("hosts", "/admin/hosts/"),
    ("host-new", "/admin/hosts/new"),
    ("host-import", "/admin/hosts/import"),
    ("groups", "/admin/groups/"),
]


def test_screenshots_of_the_admin_pages_light_and_dark(make_user, make_hosts, browser_page,
                                                       web_login, page_errors, artifacts):
    make_user("ada", "minke.admin")
    make_user("bob", "minke.view_hosts")
    hosts = make_hosts(3, group="web")
    host_id = hosts[0].id
    hosts[1].disabled, hosts[1].disabled_reason = True, "disk replaced until Friday"
    db.session.commit()  # and no more reads: on SQLite an open transaction blocks the server
    page = browser_page
    web_login(page, "ada")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, url in ADMIN_PAGES:
            assert page.goto(url).status == 200, url
            page.screenshot(path=str(artifacts / f"admin-{name}-{scheme}.png"), full_page=True)
        page.goto(f"/admin/hosts/{host_id}")
        page.get_by_label("SSH configuration").fill('{"user": "deploy",}')
        page.get_by_role("button", name="Save host").click()
        expect(page.locator("#config-error")).to_contain_text("config is not valid JSON")
        page.screenshot(path=str(artifacts / f"admin-host-error-{scheme}.png"), full_page=True)
        page.goto("/admin/hosts/")
        page.get_by_role("button", name="Test connection to h00").click()
        expect(page.get_by_role("status")).to_contain_text(re.compile(r"connected in \d+ ms"))
        page.screenshot(path=str(artifacts / f"admin-hosts-tested-{scheme}.png"), full_page=True)
        page.goto("/admin/hosts/import")
        page.get_by_label(re.compile("Host file")).set_input_files(files=[{
            "name": "hosts.csv", "mimeType": "text/csv",
            "buffer": b"name,hostname,port\nweb9,10.0.0.9,22\nweb10,10.0.0.10,0\n"}])
        page.get_by_role("button", name="Import").click()
        expect(page.get_by_role("alert")).to_contain_text("line 3: invalid port")
        page.screenshot(path=str(artifacts / f"admin-import-error-{scheme}.png"), full_page=True)
    db.session.rollback()
    assert db.session.get(Host, host_id).config != {"user": "deploy"}
    assert not page_errors
