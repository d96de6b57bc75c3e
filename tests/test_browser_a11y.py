"""Accessibility (issue 19): axe-core finds no serious or critical problem on any page, in
light and in dark, and the keyboard reaches what a user needs in a few presses.

axe-core is vendored for the tests only (tests/vendor/axe-core) and injected by
Playwright; the pages are every page an admin reaches by links from the dashboard
(as ../shared/tools/pagewalk.py walks them), plus the error pages, the start page of a
session with a form and a run page with output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from webapp.extensions import db

pytestmark = [pytest.mark.browser, pytest.mark.integration]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PAGE_LIMIT = 45  # pages walked at most (the admin's whole site with a few runs: ~35)
SKIP = re.compile(r"\.(csv|json)$|/logout|/output/\d+/page|/api/|/socket\.io")


def axe_findings(page) -> list[str]:
    """The serious and critical findings of axe-core on ``page``, one line each."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + ": "
                          + (n.failureSummary || "").split("\\n").slice(1, 2).join(""))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {json.dumps(v['nodes'])}" for v in result]


def walk(page, start: str, limit: int = PAGE_LIMIT) -> list[str]:
    """Same-origin pages reachable by links from ``start``, in the order first seen."""
    origin = urlparse(page.url).netloc
    seen, queue = [], [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.append(url)
        page.goto(url)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            parts = urlparse(href)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if parts.netloc == origin and not SKIP.search(parts.path) and target not in seen \
                    and target not in queue:
                queue.append(target)
    return seen


@pytest.fixture
def site(make_user, make_hosts, execute_run):
    """An admin, a user without list permissions, hosts and two finished runs with output."""
    make_user("ada", "minke.admin")
    make_user("nolist", "minke.run_echosession")
    hosts = make_hosts(3, group="web")
    echo = execute_run("EchoSession", hosts, data={"message": "hello"})
    one = execute_run("EchoSession", hosts[:1], data={"message": "only one"})
    ids = {"hosts": [host.id for host in hosts], "runs": [echo.id, one.id],
           "group": hosts[0].groups[0].id}
    db.session.rollback()  # SQLite: the server process writes at login
    return ids


@pytest.mark.parametrize(("scheme", "width"), [("light", 1280), ("dark", 390)])
def test_no_serious_axe_finding_on_any_page(chromium, live_server, web_login, site, scheme,
                                            width):
    """axe-core on every page, light at 1280 px and dark at 390 px; at 390 px also no
    sideways scrolling of the whole page (wide tables scroll in their own box, result rows
    stack) and no text under 12 px."""
    context = chromium.new_context(base_url=live_server.url, color_scheme=scheme, bypass_csp=True,
                                   viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        web_login(page, "ada")
        pages = walk(page, "/")
        pages += ["/objects/host/?session=EchoSession", "/runs/987654",
                  f"/admin/hosts/{site['hosts'][0]}/delete",
                  f"/admin/groups/{site['group']}/delete"]
        pages.append(f"/admin/hosts/{site['hosts'][0]}/edit")
        findings, narrow = {}, {}
        for url in pages:
            page.goto(url)
            found = axe_findings(page)
            if found:
                findings[url] = found
            fits = page.evaluate(NARROW_TEXT) if width < 700 else {"wide": 0, "small": []}
            if fits["wide"] > 0 or fits["small"]:
                narrow[url] = fits
        # the start page of a session with a form, and a 403 of a user without lists
        page.goto("/objects/host/")
        page.locator('input[name="ids"]').first.check()
        page.locator("#session").select_option("EchoSession")
        page.get_by_role("button", name="Run…").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Echo")
        findings.update({"prepare": f} if (f := axe_findings(page)) else {})
        page.context.clear_cookies()
        web_login(page, "nolist")
        for url in ("/", "/objects/host/"):
            page.goto(url)
            findings.update({f"nolist {url}": f} if (f := axe_findings(page)) else {})
        assert len(pages) >= 20, pages  # the walk found the site, not just a login page
        assert not findings, json.dumps(findings, indent=1)
        assert not narrow, json.dumps(narrow, indent=1)
    finally:
        context.close()


def test_keyboard_reaches_the_first_row_and_the_dialog_returns_focus(
        browser_page, web_login, make_user, make_hosts):
    make_user("kim", "minke.view_hosts", "minke.run_echosession")
    make_hosts(3)
    page = browser_page
    web_login(page, "kim")
    page.goto("/objects/host/")
    page.keyboard.press("Tab")  # the first stop on a list page: its skip link
    expect(page.locator(":focus")).to_have_text("Skip to the list")
    page.keyboard.press("Enter")
    presses = 0
    while presses < 4 and page.evaluate("document.activeElement.name") != "ids":
        page.keyboard.press("Tab")
        presses += 1
    assert page.evaluate("document.activeElement.name") == "ids", presses
    page.keyboard.press("Space")  # tick the first row
    select_page = page.locator("#select-page")
    assert select_page.evaluate("el => el.indeterminate") is True  # 1 of 3 ticked
    page.locator('input[name="ids"]').nth(1).check()
    page.locator('input[name="ids"]').nth(2).check()
    assert select_page.evaluate("el => el.indeterminate") is False
    expect(select_page).to_be_checked()


NARROW_TEXT = """() => { const small = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, element = node.parentElement;
    if (!node.textContent.trim()) continue;
    if (element.closest('.visually-hidden, [hidden], .skip-link')) continue;
    const box = element.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const size = parseFloat(getComputedStyle(element).fontSize);
    if (size < 12) small.add(`${element.tagName}.${element.className} ${size.toFixed(1)}px`);
  }
  return {wide: document.documentElement.scrollWidth - innerWidth, small: [...small]}; }"""


def tab_to(page, selector: str, *, back: bool = False, limit: int = 40) -> int:
    """Press Tab (Shift+Tab with ``back``) until the focused element matches ``selector``;
    returns the presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} presses")


def test_the_whole_flow_with_the_keyboard_only(worker, make_user, make_hosts, browser_page,
                                               page_errors):
    """Log in, tick two hosts, choose a session, fill its form, run, watch, stop, kill:
    no mouse; each step within a few presses."""
    make_user("kai", "minke.view_hosts", "minke.run_sleepsession")
    make_hosts(3)
    page = browser_page
    page.goto("/login")
    # the user name field has the focus (autofocus lands once the page has rendered: a
    # loaded machine may take longer than typing does to begin)
    page.wait_for_function("document.activeElement && document.activeElement.name === 'name'",
                           timeout=5000)
    page.keyboard.type("kai")
    page.keyboard.press("Tab")
    page.keyboard.type("pw")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto("/objects/host/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Skip to the list"
    assert tab_to(page, 'input[name="ids"]') <= 2
    page.keyboard.press("Space")
    assert tab_to(page, 'input[name="ids"]:not(:checked)') <= 4  # the next row's box
    page.keyboard.press("Space")
    assert tab_to(page, "#session", back=True) <= 16
    page.keyboard.type("sleep")  # the select's type-ahead
    assert page.locator("#session").input_value() == "SleepSession"
    assert tab_to(page, "#run-button") <= 3
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Sleep session")
    expect(page.get_by_label("Seconds")).to_be_focused()  # the form's first field
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".badge")).to_have_text("running", timeout=15_000)

    # skip links, the main navigation, the run's views, the status filter and the "only
    # changed" box come before it
    assert tab_to(page, "#stop-run") <= 13
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Keep running")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Stop
    kill = page.get_by_role("button", name=re.compile("^Kill run"))
    expect(kill).to_be_focused()
    page.keyboard.press("Enter")
    for i in range(2):
        expect(rows.nth(i).locator(".badge")).to_have_text("stopped", timeout=10_000)
    assert not page_errors


def test_pagination_links_never_overlap(make_user, browser_page, web_login):
    """Issue 19: Pico gives links in a <nav> negative margins; the audit log's page links
    (more than 50 entries) overlapped by ~11 px."""
    from webapp.audit import log_action

    make_user("ada", "minke.admin")
    for i in range(260):
        log_action("test.entry", f"entry {i}", user=None)
    db.session.commit()
    page = browser_page
    web_login(page, "ada")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/audit/?page=3")
        boxes = page.eval_on_selector_all(
            "nav.pagination a, nav.pagination span, nav.pager a",
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return [e.textContent.trim(), r.left, r.top, r.right, r.bottom]; })")
        assert len(boxes) >= 4, boxes
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                overlap_x = min(a[3], b[3]) - max(a[1], b[1])
                overlap_y = min(a[4], b[4]) - max(a[2], b[2])
                assert overlap_x <= 0.5 or overlap_y <= 0.5, (width, a, b)
