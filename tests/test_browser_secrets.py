"""The secret prompt in Chromium: the prepare page asks for what the session and the
hosts' group ask for; a wrong passphrase fails the hosts, the right one works; nothing
is filled in again. Screenshots of the prompt, light and dark."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.test_browser_run_page import row_of
from tests.test_secrets import group, key_hosts, key_sshd, sudo_stub  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_prepare_page_asks_for_the_secrets_and_a_wrong_then_the_right_passphrase_runs(
        app, worker, key_hosts, key_sshd, sudo_stub, make_user, browser_page,  # noqa: F811
        web_login, artifacts):
    _server, passphrase = key_sshd
    password = f"sudo-{secrets.token_hex(8)}"
    bin_dir = sudo_stub(password)
    key_hosts(group("vault", "ssh_key_passphrase"))
    make_user("ops", "minke.view_hosts", "minke.run_sudosession")
    page = browser_page
    web_login(page, "ops")

    def prepare() -> None:
        page.goto("/objects/host/")
        for label in ("k00", "k01"):
            page.get_by_label(f"Select {label}").check()
        page.get_by_role("combobox", name="Session", exact=True).select_option("SudoSession")
        page.get_by_role("button", name="Run…").click()
        expect(page.get_by_role("group", name="Secrets for this run")).to_be_visible()

    prepare()
    expect(page.get_by_role("alert")).to_have_count(0)  # nothing said wrong before a try
    key = page.get_by_label("SSH key passphrase")
    sudo = page.get_by_label("sudo password")
    for field in (key, sudo):
        expect(field).to_have_attribute("type", "password")
        expect(field).to_have_attribute("autocomplete", "off")
        expect(field).to_have_value("")
    expect(page.get_by_text("Asked by host group vault.")).to_be_visible()
    expect(page.get_by_text("Asked by the session.")).to_be_visible()
    page.get_by_label("Directory of the sudo stand-in").fill(bin_dir)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(artifacts / f"prepare-secrets-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")

    page.get_by_role("button", name="Run").click()  # nothing typed: asked again, nothing run
    expect(page.get_by_role("alert")).to_contain_text("type every secret asked for")
    expect(page.get_by_text("Type the SSH key passphrase.")).to_be_visible()
    page.screenshot(path=str(artifacts / "prepare-secrets-missing.png"), full_page=True)

    page.get_by_label("SSH key passphrase").fill("not-the-passphrase")
    page.get_by_label("sudo password").fill(password)
    page.get_by_role("button", name="Run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    for label in ("k00", "k01"):
        row = row_of(page, label)
        expect(row.locator(".badge")).to_have_text("failed", timeout=20_000)
        expect(row).to_contain_text("the SSH key could not be unlocked: wrong passphrase")

    prepare()
    expect(page.get_by_label("SSH key passphrase")).to_have_value("")  # never kept
    page.get_by_label("Directory of the sudo stand-in").fill(bin_dir)
    page.get_by_label("SSH key passphrase").fill(passphrase)
    page.get_by_label("sudo password").fill(password)
    page.get_by_role("button", name="Run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    for label in ("k00", "k01"):
        row = row_of(page, label)
        expect(row.locator(".badge")).to_have_text("success", timeout=20_000)
    page.screenshot(path=str(artifacts / "prepare-secrets-run.png"), full_page=True)
