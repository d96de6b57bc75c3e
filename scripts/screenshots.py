"""Screenshots of the README tour's pages, light and dark, 1280 px and 390 px wide.

Against a running Minke (``scripts/start``), as the admin it printed::

    .venv/bin/python scripts/screenshots.py http://127.0.0.1:5000 admin "$(cat var/admin_password)"

It runs "run a command" on the demo hosts (a command that prints a line every half
second for a minute) through the pages, as the tour does, and saves
``docs/screenshots/<page>-<scheme>-<width>.png``: the dashboard, the host list, the start
page with the command form, the run page while it runs, a finished one-host run, the
history and an error page. Debian's Chromium, never a downloaded browser.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web_services import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
COMMAND = 'for i in $(seq 1 120); do echo "line $i: $(hostname) $(date +%T)"; sleep 0.5; done'


def login(page, user: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def start_runs(page) -> tuple[str, str]:
    """The tour's runs: a short one on demo1 (first: a host runs one session at a time),
    then a long one on every demo host; their URLs."""
    page.goto("/objects/host/")
    page.get_by_label("Select demo1").check()
    page.locator("#session").select_option(label="check shell and home")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    expect(page.locator("#run-state")).to_have_text("finished", timeout=30_000)
    one_host = page.url
    page.goto("/objects/host/")
    page.get_by_label(re.compile(r"Select all \d+ matching")).check()
    page.locator("#session").select_option(label="run a command")
    page.get_by_role("button", name="Run…").click()
    page.get_by_label("Command").fill(COMMAND)
    page.get_by_role("button", name="Confirm and run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    return page.url, one_host


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("user")
    parser.add_argument("password")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        setup = browser.new_page(base_url=args.url)
        login(setup, args.user, args.password)
        long_run, one_host = start_runs(setup)
        expect(setup.locator("pre.tail").first).to_contain_text("line 6", timeout=30_000)
        pages = {
            "dashboard": "/",
            "hosts": "/objects/host/",
            "start": None,  # the command form, reached through the list
            "run-live": long_run,
            "run-one-host": one_host,
            "history": "/history/",
            "not-found": "/runs/999999",
        }
        for scheme in ("light", "dark"):
            for width in (1280, 390):
                context = browser.new_context(base_url=args.url, color_scheme=scheme,
                                              viewport={"width": width, "height": 860},
                                              reduced_motion="reduce")
                page = context.new_page()
                login(page, args.user, args.password)
                for name, url in pages.items():
                    if url is None:
                        page.goto("/objects/host/")
                        page.get_by_label("Select demo2").check()
                        page.locator("#session").select_option(label="run a command")
                        page.get_by_role("button", name="Run…").click()
                    else:
                        page.goto(url)
                    page.wait_for_load_state("networkidle")
                    path = OUT / f"{name}-{scheme}-{width}.png"
                    page.screenshot(path=str(path))
                    print(path.relative_to(ROOT))
                context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
