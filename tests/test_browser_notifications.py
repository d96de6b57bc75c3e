"""The desktop notification: the tab of the user who started a run, in the background,
shows one when the run finishes (Chromium, the app under gunicorn, a real worker)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sessions import REGISTRY
from webapp.engine.dispatch import start_run

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# records every Notification the page makes (the real one still shows it)
RECORD = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  class Recording extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title, body: (options || {}).body || "" });
    }
  }
  Object.defineProperty(Recording, "permission", { get: () => Real.permission });
  Recording.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recording;
})();
"""
HIDE = """
Object.defineProperty(document, "visibilityState", { get: () => "hidden" });
Object.defineProperty(document, "hidden", { get: () => true });
document.dispatchEvent(new Event("visibilitychange"));
"""


def test_a_finished_run_notifies_its_users_tab_in_the_background(
        app, worker, make_hosts, make_user, browser_page, live_server, web_login, artifacts):
    page = browser_page
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.context.add_init_script(RECORD)
    ada = make_user("ada", "minke.view_hosts", "minke.run_sleepsession")
    web_login(page, "ada")
    run = start_run(app.extensions["minke"], REGISTRY.get("SleepSession"), make_hosts(2),
                    user=ada, data={"seconds": 2})
    page.goto(f"/runs/{run.id}")
    expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
    assert page.evaluate("window.__notes") == []
    page.evaluate(HIDE)  # the user went to another tab
    expect(page.locator("#run-state")).to_have_text("finished", timeout=20_000)
    page.wait_for_function("window.__notes.length > 0")
    [note] = page.evaluate("window.__notes")
    assert note["title"].startswith(f"Run #{run.id}: ") and note["title"].endswith("finished")
    assert note["body"] == "2 success"


COUNT_ASKS = """
(() => {
  window.__asks = 0;
  Notification.requestPermission = () => { window.__asks += 1; return Promise.resolve("default"); };
})();
"""


def test_the_permission_is_asked_once_at_the_first_click_never_again(
        app, make_hosts, make_user, browser_page, web_login):
    page = browser_page
    page.context.add_init_script(COUNT_ASKS)
    ada = make_user("ada", "minke.view_hosts", "minke.run_sleepsession")
    web_login(page, "ada")
    # no worker: the run stays queued, its page keeps loading the notifier
    run = start_run(app.extensions["minke"], REGISTRY.get("SleepSession"), make_hosts(1),
                    user=ada, data={"seconds": 1})
    page.goto(f"/runs/{run.id}")
    assert page.evaluate("Notification.permission") == "default"
    assert page.evaluate("window.__asks") == 0  # not without a click
    page.locator("h1").click()
    page.locator("h1").click()
    assert page.evaluate("window.__asks") == 1
    page.reload()
    page.locator("h1").click()
    assert page.evaluate("window.__asks") == 0  # this page load did not ask again
