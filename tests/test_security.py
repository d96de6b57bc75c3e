"""The dashboard against a hostile visitor: redirects after login, login throttling shared by
web processes, timing of unknown users, logout and CSRF, security headers and cookies, private
database files, and hostile remote output inert in every page and export."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from scripts.workers import subprocess_env
from tests.web_client import csrf_token, isolated_client, login, post
from tests.web_services import start_server
from webapp import create_app
from webapp.config import instance_secret_key
from webapp.extensions import db
from webapp.security import CONTENT_SECURITY_POLICY, protect_sqlite_file

ADMIN = ("minke.admin",)
HOSTILE = ("<script>alert(1)</script> <img src=x onerror=alert(1)> "
           "\x1b[31mred\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[0m \x1b]0;title\x07\x1b[2J end")


@pytest.fixture
def ada(make_user):
    return make_user("ada", *ADMIN)


@contextlib.contextmanager
def other_app(config: dict):
    """A second app on the tests' database, in its own context; its connections closed after."""
    made = create_app(config)
    with made.app_context():
        try:
            yield made
        finally:
            made.extensions["minke"].close()
            db.session.remove()
            db.engine.dispose()


def from_address(app, address: str):
    client = isolated_client(app)
    client.environ_base["REMOTE_ADDR"] = address
    return client


# -- redirects after login ----------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "next=/%09/evil.example/path", "next=/%0a/evil.example", "next=/%0d%0aSet-Cookie:%20x=1",
    "next=%2F%2Fevil.example", "next=/%5Cevil.example", "next=https:evil.example",
    "next=/%E2%80%A8/evil.example", "next=%00",
])
def test_login_redirects_only_to_a_path_of_ours(client, ada, query):
    data = {"name": "ada", "password": "pw", "csrf_token": csrf_token(client)}
    response = client.post(f"/login?{query}", data=data)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/", location
    # already logged in: the same next is refused the same way, never a 500
    response = client.get(f"/login?{query}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_newline_in_the_page_asked_for_never_gives_a_server_error(client, ada):
    response = client.get("/history/%0d%0a")
    assert response.status_code in (302, 404)
    login_page = client.get("/login?next=/history/%0d%0aX:%20y")
    assert login_page.status_code == 200


# -- throttling ---------------------------------------------------------------------------------


def test_five_failures_throttle_the_user_name_even_with_the_right_password(app, client, ada):
    for _ in range(5):
        assert login(client, "ada", "wrong").status_code == 401
    response = login(client, "ada", "pw")
    assert response.status_code == 429
    text = response.get_data(as_text=True)
    assert "Too many failed logins for this user name" in text
    assert "Even the right password is refused" in text
    assert 800 < int(response.headers["Retry-After"]) <= 900
    assert client.get("/").status_code == 302  # not logged in
    # from another address too: the name is what is throttled
    assert login(from_address(app, "10.9.9.9"), "ada", "pw").status_code == 429


def test_the_address_is_throttled_after_twenty_failures_whatever_the_names(app, make_user):
    make_user("bea", *ADMIN)
    guesser = from_address(app, "10.0.0.66")
    for i in range(20):
        assert login(guesser, f"user{i}", "guess").status_code == 401
    response = login(guesser, "bea", "pw")
    assert response.status_code == 429
    assert "from your address" in response.get_data(as_text=True)
    # bea herself, from another address, logs in
    assert login(from_address(app, "10.0.0.67"), "bea", "pw").status_code == 302


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(app, app_config, make_user):
    make_user("bea", *ADMIN)
    app.config["MINKE_LOGIN_ADDRESS_LIMIT"] = 2
    client = isolated_client(app)
    for i in range(2):  # a client cannot escape its count by claiming other addresses
        spoofed = {"X-Forwarded-For": f"10.1.1.{i}"}
        data = {"name": f"x{i}", "password": "guess", "csrf_token": csrf_token(client)}
        assert client.post("/login", data=data, headers=spoofed).status_code == 401
    assert login(client, "bea").status_code == 429
    with other_app({**app_config, "MINKE_TRUSTED_PROXIES": 1,
                    "MINKE_LOGIN_ADDRESS_LIMIT": 2}) as proxied:
        behind = isolated_client(proxied)
        behind.environ_base["REMOTE_ADDR"] = "10.0.0.1"  # the proxy
        for i in range(2):
            data = {"name": f"y{i}", "password": "guess", "csrf_token": csrf_token(behind)}
            headers = {"X-Forwarded-For": "203.0.113.7"}
            assert behind.post("/login", data=data, headers=headers).status_code == 401
        data = {"name": "bea", "password": "pw", "csrf_token": csrf_token(behind)}
        assert behind.post("/login", data=data,
                           headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
        other = isolated_client(proxied)
        other.environ_base["REMOTE_ADDR"] = "10.0.0.1"
        data = {"name": "bea", "password": "pw", "csrf_token": csrf_token(other)}
        assert other.post("/login", data=data,
                          headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 302


def test_a_success_resets_the_user_count(app, client, ada):
    for _ in range(4):
        assert login(client, "ada", "wrong").status_code == 401
    assert login(client, "ada").status_code == 302
    assert post(client, "/logout").status_code == 302
    for _ in range(4):
        assert login(client, "ada", "wrong").status_code == 401
    assert login(client, "ada").status_code == 302


def test_throttle_counts_are_kept_in_redis_under_the_installation_prefix(app, client, ada):
    login(client, "ada", "wrong")
    redis, prefix = app.extensions["minke"].redis, app.extensions["minke"].keys.prefix
    keys = sorted(key.decode() for key in redis.scan_iter("*login*"))
    assert len(keys) == 2 and all(key.startswith(prefix + "login:") for key in keys)
    assert not any("ada" in key for key in keys)  # names typed by strangers are hashed
    assert all(0 < redis.ttl(key) <= 900 for key in keys)


class Browser:
    """A minimal HTTP client with cookies and without following redirects (urllib)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), self._NoRedirect)

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, body, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def login(self, name: str, password: str) -> int:
        _, page, _ = self.request("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        token = token or re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        status, _, _ = self.request("/login", {"name": name, "password": password,
                                               "csrf_token": token.group(1)})
        return status


@pytest.mark.integration
def test_web_processes_share_the_counts_through_redis(app, app_config, client, ada, tmp_path):
    """Failures through a gunicorn process count in this process and the other way round."""
    other = start_server(subprocess_env(app_config), tmp_path / "gunicorn.log")
    try:
        browser = Browser(other.url)
        for _ in range(3):
            assert browser.login("ada", "wrong") == 401
        for _ in range(2):
            assert login(client, "ada", "wrong").status_code == 401
        assert browser.login("ada", "pw") == 429
        assert login(client, "ada", "pw").status_code == 429
    finally:
        from scripts.loopback import stop_process

        stop_process(other.proc)


def test_redis_down_refuses_logins_instead_of_waving_them_through(app_config, _schema,
                                                                  redis_flush, make_user):
    with other_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"}) as broken:
        client = isolated_client(broken)
        make_user("ada", *ADMIN)
        response = login(client, "ada", "pw")
        assert response.status_code == 503
        assert "does not answer" in response.get_data(as_text=True)
        assert client.get("/").status_code == 302


# -- timing -------------------------------------------------------------------------------------


def test_unknown_user_names_take_as_long_as_wrong_passwords(app, client, ada):
    app.config.update(MINKE_LOGIN_USER_LIMIT=1000, MINKE_LOGIN_ADDRESS_LIMIT=1000)
    known, unknown = [], []
    for i in range(7):  # interleaved, medians: the machine's noise hits both alike
        for name, times in (("ada", known), (f"nobody{i}", unknown)):
            data = {"name": name, "password": "wrong", "csrf_token": csrf_token(client)}
            start = time.perf_counter()
            assert client.post("/login", data=data).status_code == 401
            times.append(time.perf_counter() - start)
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, (known, unknown)


# -- logout and CSRF ----------------------------------------------------------------------------


def test_logout_only_by_a_post_with_the_token(client, ada):
    assert login(client, "ada").status_code == 302
    assert client.get("/logout").status_code == 405
    cross_site = {"Origin": "https://evil.example", "Referer": "https://evil.example/x"}
    assert client.post("/logout", headers=cross_site).status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"},
                       headers=cross_site).status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    assert post(client, "/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_every_state_changing_endpoint_requires_the_csrf_token(app, client, ada):
    assert login(client, "ada").status_code == 302
    checked = []
    for rule in app.url_map.iter_rules():
        methods = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if not methods or rule.endpoint == "static":
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "host" if m.group(1) == "slug" else "1",
                     rule.rule)
        for method in methods:
            response = client.open(url, method=method, data={"x": "1"})
            # a logged-in browser's cookie alone changes nothing: the CSRF check refuses
            # (400), or the endpoint takes no cookie at all (the token API: 401)
            assert response.status_code in (400, 401), (method, url, response.status_code)
            if response.status_code == 400:
                assert "CSRF" in response.get_data(as_text=True), (method, url)
            checked.append(url)
    assert {"/login", "/logout"} <= set(checked) and len(checked) >= 5


# -- headers and cookies ------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(client, ada):
    responses = [client.get("/login"), client.get("/static/css/minke.css"),
                 client.get("/no-such-page"), client.get("/", headers={"Accept":
                                                                       "application/json"})]
    responses.append(login(client, "ada"))
    responses += [client.get("/"), client.get("/history/"), client.get("/login")]
    for response in responses:
        headers = response.headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        response.close()
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def _cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_cookies_are_httponly_samesite_lax_and_not_secure_by_default(client, ada):
    cookies = _cookies(login(client, "ada", remember=True))
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name]
        assert "Secure" not in cookies[name]


@pytest.mark.parametrize("how", ["mapping", "environment"])
def test_cookie_secure_is_set_from_the_configuration(app_config, _schema, redis_flush,
                                                     make_user, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("MINKE_COOKIE_SECURE", "true")
        config = app_config
    else:
        config = {**app_config, "MINKE_COOKIE_SECURE": True}
    with other_app(config) as secure_app:
        client = isolated_client(secure_app)
        client.environ_base["wsgi.url_scheme"] = "https"
        make_user("ada", *ADMIN)
        cookies = _cookies(login(client, "ada", remember=True))
    assert secure_app.config["SESSION_COOKIE_SECURE"] is True
    for name in ("session", "remember_token"):
        assert "Secure" in cookies[name] and "HttpOnly" in cookies[name]


# -- private files ------------------------------------------------------------------------------


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_sqlite_database_and_its_wal_are_readable_by_their_owner_only(tmp_path, app_config,
                                                                          redis_flush):
    path = tmp_path / "minke.db"
    with other_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}):
        assert _mode(path) == 0o600
        with db.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            connection.execute(sa.text("INSERT INTO t VALUES (1)"))
        wal = [p for p in tmp_path.iterdir() if p.name.startswith("minke.db-")]
        assert {p.name for p in wal} >= {"minke.db-wal", "minke.db-shm"}
        assert all(_mode(p) == 0o600 for p in wal), [(p.name, oct(_mode(p))) for p in wal]


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    path = tmp_path / "old.db"
    for name in ("old.db", "old.db-wal", "old.db-shm"):
        (tmp_path / name).write_bytes(b"")
        (tmp_path / name).chmod(0o644)
    protect_sqlite_file(f"sqlite:///{path}")
    assert [_mode(tmp_path / n) for n in ("old.db", "old.db-wal", "old.db-shm")] == [0o600] * 3
    protect_sqlite_file("postgresql://postgres@127.0.0.1/x")  # not a file: left alone
    protect_sqlite_file("sqlite://")


def test_the_generated_secret_key_is_private(tmp_path):
    key = instance_secret_key(str(tmp_path))
    assert len(key) == 64 and _mode(tmp_path / "secret_key") == 0o600


# -- hostile remote output ----------------------------------------------------------------------


class Executable(HTMLParser):
    """What a browser could run in a page: scripts, event handlers, inline styles, URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = attrs.get("type") != "application/json"  # data, never run
            self.scripts.append(attrs.get("src") or "")
            if self._in_script and not (attrs.get("src") or "").startswith("/static/"):
                self.found.append(f"inline script {attrs}")
        if tag in ("img", "iframe", "object", "embed", "svg", "math", "base"):
            self.found.append(f"<{tag} {attrs}>")
        for name, value in attrs.items():
            if name.startswith("on") or name == "style" or name == "srcdoc":
                self.found.append(f"{tag} {name}={value!r}")
            url = (value or "").strip().lower()
            if name in ("href", "src", "action", "data", "formaction") and (
                    url.startswith("javascript:")
                    or (url.startswith("data:") and tag != "link")):  # an icon may be data:
                self.found.append(f"{tag} {name}={value!r}")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline script text {data[:40]!r}")
        if "</" in data and self.lasttag == "script":  # a data block must not end early
            self.found.append(f"markup in a script data block {data[:40]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def executable_parts(html: str) -> list[str]:
    parser = Executable()
    parser.feed(html)
    return parser.found


@pytest.mark.integration
def test_hostile_output_is_inert_in_every_page_and_export(client, ada, make_hosts, execute_run):
    hosts = make_hosts(2)
    echo = execute_run("EchoSession", hosts, data={"message": HOSTILE}, user=ada)
    inspect = execute_run("InspectSession", hosts[:1], data={"message": HOSTILE}, user=ada)
    assert all(s.proc_status == "completed" for s in echo.sessions + inspect.sessions)
    command = echo.sessions[0].commands[0]
    assert "<script>alert(1)</script>" in command.stdout  # the hostile text really came back
    login(client, "ada")
    pages = {
        "run page": f"/runs/{echo.id}",
        "run page (messages)": f"/runs/{inspect.id}",
        "output view": f"/runs/{echo.id}/output/{command.id}",
        "grouped view": f"/runs/{echo.id}/grouped",
        "grouped fragment": f"/runs/{echo.id}/grouped?fragment=1",
        "history": "/history/",
        "object history": f"/history/objects/Host/{hosts[0].id}",
    }
    for what, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, (what, url, response.status_code)
        html = response.get_data(as_text=True)
        assert executable_parts(html) == [], what
        for shown in re.findall(r'<pre class="out-std\w+">(.*?)</pre>', html, re.S):
            assert "\x1b" not in shown and "\x07" not in shown, what  # interpreted or dropped
    run_html = client.get(f"/runs/{echo.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run_html
    assert '<span class="ansi-fg-1">red</span>' in run_html

    sid = echo.sessions[0].id
    catch_up = client.get(f"/runs/{echo.id}/events?after={sid}:0")
    earlier = client.get(f"/runs/{echo.id}/output/{command.id}/page?before=999999")
    for response in (catch_up, earlier):
        assert response.mimetype == "application/json"
        # rendered HTML travels as "html"/"term"; output pieces are data the page adds as text
        html_values = [value for key, value in _strings(response.get_json())
                       if key in ("html", "term")]
        assert any("&lt;script&gt;" in value for value in html_values)
        for value in html_values:
            assert executable_parts(value) == [], value
    for url in (f"/history/runs/{echo.id}.csv", f"/history/runs/{echo.id}.json",
                f"/runs/{echo.id}/output/{command.id}/download"):
        response = client.get(url, buffered=True)  # the download streams from the database
        assert response.status_code == 200, url
        assert response.mimetype in ("text/csv", "application/json", "text/plain"), url
        assert response.headers["Content-Disposition"].startswith("attachment"), url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    exported = client.get(f"/history/runs/{echo.id}.json").get_json()
    assert HOSTILE.split(" end")[0][:20] in json.dumps(exported)  # data, kept as data


def _strings(value, key=None):
    """(key, text) of every string in a JSON document."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)


@pytest.mark.browser
@pytest.mark.integration
def test_no_dialog_opens_and_no_policy_is_violated_in_the_browser(app, ada, make_hosts,
                                                                  execute_run, browser_page,
                                                                  web_login):
    page = browser_page
    dialogs, violations = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    hosts = make_hosts(2)
    run = execute_run("EchoSession", hosts, data={"message": HOSTILE}, user=ada)
    run_id, command_id = run.id, run.sessions[0].commands[0].id
    db.session.rollback()  # SQLite: the server process writes at login
    web_login(page, "ada")
    for url in (f"/runs/{run_id}", f"/runs/{run_id}/output/{command_id}",
                f"/runs/{run_id}/grouped", "/objects/host/"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
    page.goto(f"/runs/{run_id}")
    # the row's tail shows the output as text: escape sequences gone, markup not parsed
    expect(page.locator("pre.tail").first).to_contain_text(
        "<script>alert(1)</script> <img src=x onerror=alert(1)> red rgb")
    assert page.locator("img").count() == 0
    # no script in the page but our files (and JSON data blocks, which never run)
    assert page.evaluate("document.querySelectorAll("
                         "'script:not([src]):not([type=\"application/json\"])').length") == 0
    # the object list's script (a static file now) still works under the policy
    page.goto("/objects/host/")
    page.get_by_label(re.compile("Select all 2 matching")).check()
    assert page.locator("#selected-count").text_content() == "all 2 selected"
    assert dialogs == [] and violations == []


def test_the_demo_keeps_its_secrets_and_logs_private(tmp_path):
    from scripts.demo import open_log, read_or_create

    assert read_or_create(tmp_path / "admin_password", lambda: "pw") == "pw"
    assert _mode(tmp_path / "admin_password") == 0o600
    old_log = tmp_path / "web.log"
    old_log.write_text("from before\n")
    old_log.chmod(0o644)
    with open_log(old_log) as log:
        log.write(b"more\n")
    with open_log(tmp_path / "worker.log"):
        pass
    assert _mode(old_log) == 0o600 and _mode(tmp_path / "worker.log") == 0o600
