"""Hostile input gets 4xx, never 500: every route of the app's url_map (pages and API, GET and
POST with CSRF), as an admin and as a limited user, with hostile values in each URL variable,
each query and form value the view reads, and each field of the API's JSON bodies.

The cases come from the app itself, so a new route, query value or form field is fuzzed
without touching this module: the routes from ``app.url_map``; the names a view reads from
``request.args``/``request.form`` recorded by probing it once (a request class whose
parameter dicts note every name asked for); the API bodies' fields from the OpenAPI document.
On SQLite and PostgreSQL (``TEST_DATABASE_URL``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from sessions import REGISTRY
from tests.web_client import csrf_token, login
from webapp.api.schema import openapi_document
from webapp.api.tokens import create_token
from webapp.engine.dispatch import start_run
from webapp.extensions import db
from webapp.models import (
    Command,
    CommandGroup,
    Host,
    HostGroup,
    MinkeSession,
    Role,
    StoredResult,
)

pytestmark = pytest.mark.slow

HUGE_NUMBER = "9" * 5000  # past Python's 4300-digit limit for int(str)
HOSTILE: list[Any] = [2**63, 2**31, -1, 0, "abc", "", HUGE_NUMBER, "x" * 20_000]
"""What a hostile client sends: past SQLite's and PostgreSQL's integers, negative, zero,
no number, nothing, and too much."""

SKIPPED_ENDPOINTS = {"static", "auth.logout"}  # a logout ends the fuzzing client's login
LAST_WORDS = ("delete", "revoke")  # run these last: the objects stay for the others


# -- what a view reads: parameter dicts that note each name asked for ------------------------

READ: set[str] = set()


class _RecordingDict(dict):
    def __getitem__(self, key):
        READ.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        READ.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        READ.add(key)
        return super().__contains__(key)


class _RecordingMultiDict(ImmutableMultiDict):
    def __getitem__(self, key):
        READ.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002 - MultiDict's signature
        READ.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        READ.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        READ.add(key)
        return super().__contains__(key)

    def to_dict(self, flat=True):
        return _RecordingDict(super().to_dict(flat))


class RecordingRequest(Request):
    parameter_storage_class = _RecordingMultiDict


# -- the world the routes work on ----------------------------------------------------------


@dataclass
class World:
    ids: dict[str, int]
    """A valid value for each URL variable name, so that one variable at a time is hostile."""
    command_ids: dict[str, int] = field(default_factory=dict)
    """The same for the command editor's blueprint, where the names mean other things."""
    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def world(app, admin, make_user) -> World:
    limited = make_user("lim", "minke.view_hosts", "minke.run_echosession")
    victim = make_user("victim")
    group = HostGroup(name="fuzz-group")
    # nothing listens on port 1: a host test or key fetch fails at once
    host = Host(name="fuzz1", hostname="127.0.0.1", port=1, username="nobody", groups=[group])
    command = Command(label="Uptime", cmd="uptime", models=["Host"])
    command_group = CommandGroup(label="Checks", models=["Host"])
    db.session.add_all([group, host, command, command_group])
    db.session.commit()
    run = start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), [host],
                    user=admin, data={"message": "hi"})
    session = db.session.scalar(db.select(MinkeSession).filter_by(run_id=run.id))
    result = StoredResult(session_id=session.id, seq=1, command="echo hi", status="success",
                           exit_code=0, stdout="hi\n")
    db.session.add(result)
    victim_token, _secret = create_token(admin, "victim")
    db.session.commit()
    tokens = {}
    for user in (admin, limited):
        _row, tokens[user.name] = create_token(user, "fuzz")
    db.session.commit()
    role = db.session.scalar(db.select(Role).filter_by(name="victim-role"))
    return World(
        ids={"run_id": run.id, "session_id": session.id, "command_id": result.id, "seq": 1,
             "host_id": host.id, "group_id": group.id, "user_id": victim.id,
             "role_id": role.id, "token_id": victim_token.id, "object_id": host.id,
             "model": "Host", "slug": "host"},
        command_ids={"command_id": command.id, "group_id": command_group.id},
        tokens=tokens)


# -- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    where: str
    """What is hostile: ``url:NAME``, ``query:NAME``, ``form:NAME`` or ``json:PATH``."""
    value: Any
    query: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()
    json: Any = None

    def __str__(self) -> str:
        shown = repr(self.value)
        return f"{self.method} {self.url[:80]} {self.where}={shown[:24]}"


_VARIABLE = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>")


def _routes(app) -> list[tuple[Any, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            routes.append((rule, method))
    # the deleting routes last: the objects they remove stay for every other route
    return sorted(routes, key=lambda r: any(w in r[0].endpoint for w in LAST_WORDS))


def _url(rule, world: World, hostile: tuple[str, Any] | None = None) -> str:
    valid = {**world.ids, **(world.command_ids if rule.endpoint.startswith("commands.") else {})}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if hostile and hostile[0] == name:
            return str(hostile[1])
        return str(valid.get(name, 1))

    return _VARIABLE.sub(value, rule.rule)


def _probe(client, method: str, url: str, extra: dict[str, str], headers) -> set[str]:
    """The query (GET) or form (POST) names the view at ``url`` reads."""
    READ.clear()
    _send(client, Case(method, url, "probe", None, query=tuple(extra.items()) if
                       method == "GET" else (), form=tuple(extra.items())), headers)
    return set(READ) - {"csrf_token"}


def page_cases(client, app, world: World, *, api: bool) -> Iterator[Case]:
    """Cases for the pages (``api`` False) or the API's routes."""
    for rule, method in _routes(app):
        if rule.rule.startswith("/api/") != api:
            continue
        headers = {"Authorization": f"Bearer {world.tokens['ada']}"} if api else None
        for name in rule.arguments:
            for value in HOSTILE:
                yield Case(method, _url(rule, world, (name, value)), f"url:{name}", value)
        url = _url(rule, world)
        # a probe with plausible values reaches the names read further in
        names = _probe(client, method, url, {}, headers) | _probe(
            client, method, url, {"page": "1", "step": "run", "session": "EchoSession",
                                  "ids": str(world.ids["host_id"])}, headers)
        kind = "query" if method == "GET" else "form"
        for name in sorted(names):
            for value in HOSTILE:
                pair = ((name, str(value)),)
                yield Case(method, url, f"{kind}:{name}", value,
                           query=pair if method == "GET" else (),
                           form=pair if method == "POST" else ())


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _field_paths(document: dict, schema: dict, prefix: tuple[str, ...] = ()):
    schema = _resolve(document, schema)
    for name, sub in (schema.get("properties") or {}).items():
        yield (*prefix, name)
        yield from _field_paths(document, sub, (*prefix, name))


def _with(body: Any, path: tuple[str, ...], value: Any) -> Any:
    body = copy.deepcopy(body) if isinstance(body, dict) else {}
    node = body
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return body


def api_body_cases(app, world: World) -> Iterator[Case]:
    """Each field of each documented JSON body (nested ones too), hostile, in an otherwise
    valid body (the operation's example); an item of each list too."""
    document = openapi_document()
    base_path = document["servers"][0]["url"]
    for rule, method in _routes(app):
        if not rule.rule.startswith(base_path) or method != "POST":
            continue
        template = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len(base_path):])
        operation = document["paths"][template]["post"]
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if not content:
            continue
        example = content.get("example") or {}
        url = _url(rule, world)
        for path in _field_paths(document, content["schema"]):
            for value in [*HOSTILE, [value for value in HOSTILE], None, {}, True]:
                yield Case("POST", url, "json:" + ".".join(path), value,
                           json=_with(example, path, value))
        yield Case("POST", url, "json:(extra key)", 1, json={**example, "bogus": 1})
        yield Case("POST", url, "json:(not an object)", [], json=[])


# -- running them ----------------------------------------------------------------------------


def _send(client, case: Case, headers: dict[str, str] | None) -> Any:
    if case.method == "GET":
        return client.get(case.url, query_string=list(case.query), headers=headers)
    if case.json is not None:
        return client.post(case.url, json=case.json, headers=headers)
    data = MultiDict(case.form)
    if headers is None:  # the session's token stays valid: fetched once per login
        if not getattr(client, "fuzz_csrf", None):
            client.fuzz_csrf = csrf_token(client, "/profile/")
        data.add("csrf_token", client.fuzz_csrf)
    response = client.post(case.url, data=data, headers=headers)
    if response.status_code == 302 and response.location.startswith("/login"):
        # a route that ends logins (its own, or all of the user's) ended the fuzzer's
        assert login(client, client.fuzz_user).status_code == 302
        client.fuzz_csrf = None
    return response


def _server_errors(client, cases: Iterator[Case], headers) -> tuple[int, list[str]]:
    count, errors = 0, []
    for case in cases:
        count += 1
        try:
            response = _send(client, case, headers)
        except Exception as exc:  # the test app propagates what a server would answer 500
            errors.append(f"500 {case}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        finally:
            db.session.rollback()
        if response.status_code >= 500 or b"Traceback" in response.get_data():
            errors.append(f"{response.status_code} {case}")
    return count, errors


@pytest.fixture
def fuzz_client(app, client):
    app.request_class = RecordingRequest
    return client


@pytest.mark.parametrize("name", ["ada", "lim"])
def test_hostile_values_in_every_page_never_give_a_server_error(fuzz_client, app, world, name):
    assert login(fuzz_client, name).status_code == 302
    fuzz_client.fuzz_user = name
    count, errors = _server_errors(fuzz_client, page_cases(fuzz_client, app, world, api=False),
                                   None)
    assert count > 300
    assert not errors, f"{len(errors)} of {count} hostile requests failed:\n" + "\n".join(errors)


@pytest.mark.parametrize("name", ["ada", "lim"])
def test_hostile_values_in_every_api_call_never_give_a_server_error(fuzz_client, app, world,
                                                                     name):
    headers = {"Authorization": f"Bearer {world.tokens[name]}"}
    cases = [*page_cases(fuzz_client, app, world, api=True), *api_body_cases(app, world)]
    count, errors = _server_errors(fuzz_client, iter(cases), headers)
    assert count > 200
    assert not errors, f"{len(errors)} of {count} hostile requests failed:\n" + "\n".join(errors)
    # the fuzzing client's token still works: nothing above revoked or disabled it
    assert fuzz_client.get("/api/v1/sessions", headers=headers).status_code == 200


def test_the_fuzz_reads_what_the_views_read(fuzz_client, app, world):
    """The probe sees the query values of a list page and the fields of a form, so a new
    one is fuzzed without a change here."""
    login(fuzz_client, "ada")
    fuzz_client.fuzz_user = "ada"
    names = _probe(fuzz_client, "GET", "/objects/host/", {}, None)
    assert {"page", "size", "group", "sort", "dir", "disabled", "status"} <= names
    form = _probe(fuzz_client, "POST", f"/runs/{world.ids['run_id']}/stop", {}, None)
    assert {"session", "kill"} <= form


# -- Socket.IO: a join with hostile numbers is answered, and refused ------------------------


@pytest.fixture
def queued_run(app, admin) -> int:
    """A run of ada's waiting in the queue (no worker)."""
    host = Host(name="sock1", hostname="127.0.0.1", port=1, username="nobody")
    db.session.add(host)
    db.session.commit()
    return start_run(app.extensions["minke"], REGISTRY.get("EchoSession"), [host], user=admin,
                     data={"message": "hi"}).id


@pytest.mark.integration
def test_a_socket_join_with_hostile_numbers_is_refused_with_a_reason(live_server, queued_run):
    from tests.test_live import connected

    client = connected(live_server.url, "ada")
    try:
        for value in HOSTILE:
            cases = [{"run": value}]
            if value != 0:  # session 0 at sequence 0 is just nothing seen yet
                cases += [{"run": queued_run, "after": {str(value): 1}},
                          {"run": queued_run, "after": {"1": value}}]
            for data in cases:
                answer = client.call("join", data, timeout=5)
                assert answer["ok"] is False and answer["error"], (data, answer)
        # the connection still serves: a good join is admitted
        assert client.call("join", {"run": queued_run}, timeout=5) == {"ok": True}
    finally:
        client.disconnect()
