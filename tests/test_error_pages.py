"""Error pages in the app's layout: what happened, in words, and a way on (issue 19).

A refusal a permission would lift names that permission and who may grant it; the
API's errors stay JSON; a 500 shows a reference that is in the log. The home page
tells a user whom no list is open to what to ask for; a run refused because nothing
was ticked keeps the chosen session.
"""

from __future__ import annotations

import logging

import pytest
from flask import abort
from werkzeug.exceptions import TooManyRequests

from tests.web_client import login, post

pytestmark = pytest.mark.integration

RUNS_ECHO = "minke.run_echosession"


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_404_is_a_page_of_the_app_with_its_menu_and_ways_on(client, make_user):
    make_user("ops", "minke.view_hosts")
    login(client, "ops")
    page = client.get("/runs/987654", headers={"Referer": "http://localhost/history/"})
    assert page.status_code == 404
    body = text(page)
    assert "Not found" in body and "may have been deleted" in body
    assert 'aria-label="Main"' in body and ">History</a>" in body  # the layout's menu
    assert 'href="http://localhost/history/"' in body  # back where the user came from
    assert "Dashboard</a>" in body


def test_a_403_names_the_missing_permission_and_who_grants_it(client, make_user, make_hosts):
    make_hosts(1)
    make_user("boss", "minke.admin")
    make_user("nolist", RUNS_ECHO)
    login(client, "nolist")
    page = client.get("/objects/host/")
    assert page.status_code == 403
    body = text(page)
    assert "You may not see the list of hosts." in body
    assert "<code>minke.view_hosts</code>" in body and "See hosts" in body  # its description
    assert "Ask an administrator (boss)" in body


def test_a_session_refused_on_the_start_page_names_its_permission(client, make_user,
                                                                  make_hosts):
    [host] = make_hosts(1)
    make_user("viewer", "minke.view_hosts")
    login(client, "viewer")
    refused = post(client, "/objects/host/run", {"session": "EchoSession", "ids": str(host.id),
                                                 "message": "hi", "step": "run"},
                   token_from="/objects/host/")
    assert refused.status_code == 403
    assert f"<code>{RUNS_ECHO}</code>" in text(refused)
    unknown = post(client, "/objects/host/run", {"session": "NoSuchSession", "ids": str(host.id)},
                   token_from="/objects/host/")
    assert unknown.status_code == 400 and "There is no session" in text(unknown)


def test_another_users_run_names_the_view_all_runs_permission(client, make_user, make_hosts,
                                                              app):
    from sessions import REGISTRY
    from webapp.engine.dispatch import start_run

    hosts = make_hosts(1)
    owner = make_user("owner", "minke.view_hosts", RUNS_ECHO)
    run = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), hosts, user=owner,
                    data={"message": "hi"})
    make_user("other", "minke.view_hosts")
    login(client, "other")
    page = client.get(f"/runs/{run.id}")
    assert page.status_code == 403
    assert "minke.view_all_runs" in text(page) and "another user" in text(page)


def test_the_api_keeps_json_errors(client):
    answer = client.get("/api/v1/no-such-thing")
    assert answer.status_code in (401, 404) and answer.is_json and "error" in answer.get_json()


def test_a_server_error_shows_a_reference_that_is_in_the_log(app, client, make_user, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaputt")

    make_user("ops", "minke.view_hosts")
    login(client, "ops")
    with caplog.at_level(logging.ERROR, logger="webapp.errors"):
        page = client.get("/boom")
    assert page.status_code == 500
    body = text(page)
    assert "Something went wrong on our side" in body and "kaputt" not in body
    reference = body.split("the reference <code>")[1].split("</code>")[0]
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)


def test_home_tells_a_user_without_lists_what_to_ask_for(client, make_user):
    make_user("boss", "minke.admin")
    make_user("nolist", RUNS_ECHO)
    login(client, "nolist")
    home = text(client.get("/"))
    assert "No object list is open to you" in home and "minke.view_hosts" in home
    assert "Ask an administrator (boss)" in home
    assert "Open a list, tick" not in home  # no advice the user cannot follow


def test_nothing_ticked_keeps_the_chosen_session(client, make_user, make_hosts):
    make_hosts(2)
    make_user("ops", "minke.view_hosts", RUNS_ECHO)
    login(client, "ops")
    refused = post(client, "/objects/host/run", {"session": "EchoSession"},
                   token_from="/objects/host/")
    assert refused.status_code == 302
    page = text(client.get(refused.headers["Location"]))
    assert "Tick the objects" in page
    assert '<option value="EchoSession"' in page
    chosen = page.split('<option value="EchoSession"')[1].split(">")[0]
    assert "selected" in chosen


@pytest.mark.parametrize("code, title", [
    (400, "The request was not understood"), (405, "Not possible this way"),
    (409, "Not possible now"), (413, "Too large"), (429, "Too many attempts"),
    (503, "Not available right now"),
])
def test_every_error_is_a_page_in_the_layout(app, client, make_user, code, title):
    @app.get("/fail")
    def fail():
        if code == 429:
            raise TooManyRequests(retry_after=120)
        abort(code)

    make_user("ops", "minke.view_hosts")
    login(client, "ops")
    page = client.get("/fail")
    assert page.status_code == code
    body = text(page)
    assert title in body and f"Error {code}" in body and 'aria-label="Main"' in body
    if code == 429:
        assert "Try again in 2 minutes" in body and page.headers["Retry-After"] == "120"
