"""Commands defined in the browser, in Chromium against the app under gunicorn, a real worker
and sshd: an admin defines a command on the pages and runs it at once; screenshots."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def row_of(page, label):
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label,
                                                                exact=True))


def add_command(page, label: str, cmd: str) -> None:
    page.goto("/admin/")
    page.get_by_role("link", name="Commands", exact=True).click()
    page.get_by_role("button", name="Add command").or_(
        page.get_by_role("link", name="Add command", exact=True)).first.click()
    page.get_by_label("Label").fill(label)
    page.get_by_label("Command", exact=True).fill(cmd)
    expect(page.get_by_label("Host", exact=True)).to_be_checked()
    page.get_by_role("button", name="Add command").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved command {label}")


def test_an_admin_defines_a_command_and_runs_it_on_hosts_at_once(app, worker, make_hosts,
                                                                  make_user, browser_page,
                                                                  web_login, page_errors):
    page = browser_page
    make_user("eve", "minke.admin")
    make_hosts(3)
    web_login(page, "eve")

    add_command(page, "Say where", "printf 'on %s\\n' {name}")

    page.goto("/objects/host/")
    for label in ("h00", "h02"):
        page.get_by_label(f"Select {label}").check()
    session = page.get_by_role("combobox", name="Session", exact=True)
    assert "Say where" in session.locator("optgroup[label='Commands'] option").all_inner_texts()
    page.get_by_role("button", name="Run…").wait_for()  # nothing chosen yet
    session.select_option(label="Say where")
    page.get_by_role("button", name="Run", exact=True).click()  # no page follows: no "…"
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    expect(page.get_by_role("rowheader")).to_have_count(2)
    for label in ("h00", "h02"):
        row = row_of(page, label)
        expect(row.locator(".badge")).to_have_text("success", timeout=20_000)
        expect(row.locator("ul.cmds")).to_contain_text(f"$ printf 'on %s\\n' {label}")
        expect(row.locator(".term-out")).to_have_text(f"on {label}\n")
    assert not page_errors


def test_screenshots_of_the_command_pages_light_and_dark(app, make_user, browser_page, web_login,
                                                         artifacts):
    """Not a check of looks: pictures for people to look at (the artifacts directory)."""
    page = browser_page
    make_user("eve", "minke.admin")
    web_login(page, "eve")
    add_command(page, "Disk usage", "df -h {root}")
    add_command(page, "Restart web server", "systemctl restart nginx && systemctl status nginx")
    page.goto("/admin/commands/groups/new")
    page.get_by_label("Label").fill("Web server checks")
    page.get_by_label("Description").fill("Configuration test, then the status")
    page.get_by_label("Restart web server", exact=True).check()
    page.get_by_label("Position of Restart web server").fill("2")
    page.get_by_label("Disk usage", exact=True).check()
    page.get_by_label("Position of Disk usage").fill("1")
    page.get_by_role("button", name="Add command group").click()
    expect(page.get_by_role("status")).to_contain_text("Saved command group")
    group_url = page.get_by_role("link", name="Web server checks", exact=True).get_attribute("href")
    delete_url = page.get_by_role("link", name="Delete command Disk usage").get_attribute("href")
    page.goto("/admin/commands/new")
    page.get_by_label("Label").fill("Broken")
    page.get_by_label("Command", exact=True).fill("echo `{hostname}`")
    page.get_by_role("button", name="Add command").click()
    expect(page.locator("#cmd-error")).to_contain_text("backticks")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(artifacts / f"commands-refused-{scheme}.png"), full_page=True)
        for name, url in (("list", "/admin/commands/"), ("group", group_url),
                          ("delete", delete_url)):
            page.goto(url)
            page.screenshot(path=str(artifacts / f"commands-{name}-{scheme}.png"),
                            full_page=True)
        page.goto("/admin/commands/new")
