"""Fixtures for tests through a real browser against the real app server.

- ``live_server``: the app under gunicorn (``-k gevent``, as ``scripts/start`` serves it:
  scripts/webserver.py) on a free port, with the tests' configuration
  (database, Redis, session modules); its log is attached to a failing test's report.
- ``chromium``: Debian's ``/usr/bin/chromium`` driven by Playwright (never a downloaded
  browser), one per test run.
- ``browser_page``: a fresh browser context and page on ``live_server``; on failure its
  screenshot goes to the artifacts directory.
- ``artifacts``: ``$MINKE_TEST_ARTIFACTS`` or ``var/test-artifacts``: screenshots to look at.
- ``web_login(page, name, password="pw")``: log in through the login form.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.loopback import free_port, stop_process
from scripts.webserver import web_command
from scripts.workers import REPO_ROOT, subprocess_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT = 30.0


@dataclass
class LiveServer:
    url: str
    proc: subprocess.Popen
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(env: dict[str, str], log_path: Path, *, port: int | None = None,
                 model: str = "gevent") -> LiveServer:
    """gunicorn serving ``wsgi:app`` with ``env``; returns once the login page answers.

    ``model``: see :func:`scripts.webserver.web_command` (only benchmarks pass another)."""
    port = port or free_port()
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            web_command(f"127.0.0.1:{port}", model=model, extra=("--graceful-timeout", "2")),
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(server.url + "/login", timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"the app server did not start:\n{server.log_text()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def live_server(app_config: dict[str, Any], _schema: None,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app under gunicorn, on the tests' database and Redis, for the whole test run."""
    server = start_server(subprocess_env(app_config),
                          tmp_path_factory.mktemp("web") / "gunicorn.log")
    yield server
    stop_process(server.proc, 10)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("MINKE_TEST_ARTIFACTS") or REPO_ROOT / "var" / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    item.stash.setdefault(_FAILED, False)
    if report.failed:
        item.stash[_FAILED] = True
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, chromium: Any, live_server: LiveServer,
                 app: Any, artifacts: Path) -> Iterator[Any]:
    """A new page (own cookies) on ``live_server``; a failing test leaves a screenshot and
    the server log's tail in its report."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1400,
                                                                        "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    if request.node.stash.get(_FAILED, False):
        page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"), full_page=True)
        print("---- app server log (tail) ----\n" + "\n".join(
            live_server.log_text().splitlines()[-60:]))
    context.close()


@pytest.fixture
def web_login() -> Callable[..., None]:
    def login(page: Any, name: str, password: str = "pw") -> None:
        page.goto("/login")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login" not in url)

    return login


@pytest.fixture
def page_errors(browser_page: Any) -> list[str]:
    """Script errors, and responses a user should never meet, on ``browser_page``: 5xx,
    401 and 403 (a 400 of a refused form is no error)."""
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(str(error)))
    browser_page.on("console", lambda m: errors.append(m.text) if m.type == "error" and
                    "Failed to load resource" not in m.text else None)
    browser_page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                    if r.status >= 500 or r.status in (401, 403) else None)
    return errors
