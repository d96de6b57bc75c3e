"""A login ends when it should: copied cookies of an ended login are refused.

Against the app under gunicorn (``live_server``) with plain HTTP clients that
keep their own cookies, as browsers and scripts would; a replay sends a copy
of cookies taken earlier. Every claim is what a user notices: the page they
get, or the login page instead.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa

from tests.web_client import isolated_client, login
from webapp import accounts
from webapp.api.tokens import create_token
from webapp.auth.logins import load_user
from webapp.extensions import db
from webapp.models import AuditEntry, LoginSession, User, utcnow

pytestmark = pytest.mark.integration

TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the caller sees the 302 and where it points


class Browser:
    """One browser: its own cookies, redirects shown rather than followed."""

    def __init__(self, url: str, agent: str = "TestBrowser/1.0") -> None:
        self.url, self.agent = url, agent
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirects)

    def request(self, path: str, data: dict | None = None,
                headers: dict | None = None) -> tuple[int, str, str]:
        """Status, ``Location`` and body of one request."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.url + path, data=body,
                                         headers={"User-Agent": self.agent, **(headers or {})})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, "", response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode()

    def post(self, path: str, data: dict | None = None, token_from: str = "/profile/"):
        token = TOKEN.search(self.request(token_from)[2]).group(1)
        return self.request(path, {**(data or {}), "csrf_token": token})

    def login(self, name: str, password: str = "pw", *, remember: bool = False) -> None:
        fields = {"name": name, "password": password, **({"remember": "y"} if remember else {})}
        status, location, _ = self.post("/login", fields, token_from="/login")
        assert (status, location) == (302, "/"), "the login failed"

    def cookies(self) -> dict[str, str]:
        return {cookie.name: cookie.value for cookie in self.jar}


def replay(url: str, cookies: dict[str, str], path: str = "/profile/") -> tuple[int, str]:
    """GET ``path`` with copied cookies: status and ``Location``."""
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    status, location, _ = Browser(url).request(path, headers={"Cookie": header})
    return status, location


def logged_in(url: str, cookies: dict[str, str]) -> bool:
    status, location = replay(url, cookies)
    assert status == 200 or (status == 302 and location.startswith("/login")), (status, location)
    return status == 200


def remember_only(browser: Browser) -> dict[str, str]:
    """The remember-me cookie alone: a browser restarted without its session cookie."""
    return {"remember_token": browser.cookies()["remember_token"]}


def audit(action: str) -> list[AuditEntry]:
    entries = list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                                      .order_by(AuditEntry.id)))
    db.session.rollback()
    return entries


@pytest.fixture
def bob(make_user) -> int:
    """The user ``bob``'s id, read in a transaction that ends at once (on SQLite an open
    one would hold the write lock the server's requests wait for)."""
    user_id = make_user("bob").id
    db.session.rollback()
    return user_id


def test_a_session_cookie_copied_before_logout_is_refused_after_it(live_server, bob):
    browser = Browser(live_server.url)
    browser.login("bob")
    copied = browser.cookies()
    assert logged_in(live_server.url, copied)
    status, location, _ = browser.post("/logout")
    assert (status, location) == (302, "/login")
    assert replay(live_server.url, copied) == (302, "/login?next=%2Fprofile%2F")
    assert [entry.user_name for entry in audit("login.logout")] == ["bob"]


def test_the_remember_cookie_is_new_at_every_login(live_server, bob):
    first, second = Browser(live_server.url), Browser(live_server.url)
    first.login("bob", remember=True)
    second.login("bob", remember=True)
    assert remember_only(first) != remember_only(second)
    assert logged_in(live_server.url, remember_only(first))
    assert logged_in(live_server.url, remember_only(second))


def _logout(browser, admin_browser, runner, bob):
    browser.post("/logout")


def _admin_password_reset(browser, admin_browser, runner, bob):
    status, _, _ = admin_browser.post(f"/admin/users/{bob}/password",
                                      {"password": "new-pw", "confirm": "new-pw"})
    assert status == 302


def _cli_password_reset(browser, admin_browser, runner, bob):
    result = runner.invoke(args=["minke", "user", "passwd", "bob", "--password", "new-pw"])
    assert result.exit_code == 0, result.output


def _disable_and_enable(browser, admin_browser, runner, bob):
    for action in ("disable", "enable"):
        status, _, _ = admin_browser.post(f"/admin/users/{bob}/{action}")
        assert status == 302


def _everywhere_from_the_profile(browser, admin_browser, runner, bob):
    other = Browser(browser.url)  # the user, in another browser
    other.login("bob")
    other.post("/profile/logins/end-all")


def _everywhere_from_the_admin_page(browser, admin_browser, runner, bob):
    status, _, _ = admin_browser.post(f"/admin/users/{bob}/logout")
    assert status == 302


def _everywhere_from_the_cli(browser, admin_browser, runner, bob):
    result = runner.invoke(args=["minke", "user", "logout", "bob"])
    assert result.exit_code == 0 and "logged bob out everywhere" in result.output.lower()


@pytest.mark.parametrize("end", [_logout, _admin_password_reset, _cli_password_reset,
                                 _disable_and_enable, _everywhere_from_the_profile,
                                 _everywhere_from_the_admin_page, _everywhere_from_the_cli],
                         ids=lambda end: end.__name__.strip("_"))
def test_the_remember_cookie_stops_working(live_server, bob, admin, runner, end):
    browser, admin_browser = Browser(live_server.url), Browser(live_server.url)
    browser.login("bob", remember=True)
    admin_browser.login("ada")
    remembered, session = remember_only(browser), browser.cookies()
    assert logged_in(live_server.url, remembered)
    end(browser, admin_browser, runner, bob)
    assert not logged_in(live_server.url, remembered)
    assert not logged_in(live_server.url, session)
    assert logged_in(live_server.url, admin_browser.cookies())  # the admin's login goes on


def test_logging_out_in_one_browser_leaves_the_other_and_everywhere_ends_both(live_server,
                                                                                bob):
    office, laptop = Browser(live_server.url, "Office/1"), Browser(live_server.url, "Laptop/2")
    office.login("bob")
    laptop.login("bob", remember=True)
    office_cookies = office.cookies()
    office.post("/logout")
    assert not logged_in(live_server.url, office_cookies)
    assert logged_in(live_server.url, laptop.cookies())

    office.login("bob")
    page = office.request("/profile/")[2]
    assert "Office/1" in page and "Laptop/2" in page and "(this browser)" in page
    status, location, _ = office.post("/profile/logins/end-all")
    assert (status, location) == (302, "/login")
    assert not logged_in(live_server.url, office.cookies())
    assert not logged_in(live_server.url, laptop.cookies())
    (entry,) = audit("login.end_all")
    assert entry.details == {"reason": "revoked", "sessions": 2}


def test_the_profile_ends_one_other_login_and_lists_where_each_is(live_server, bob):
    office, laptop = Browser(live_server.url, "Office/1"), Browser(live_server.url, "Laptop/2")
    office.login("bob")
    laptop.login("bob")
    laptop_login = db.session.scalar(sa.select(LoginSession.id).order_by(LoginSession.id.desc()))
    db.session.rollback()
    page = office.request("/profile/")[2]
    assert page.count("<td>127.0.0.1</td>") == 2
    status, location, _ = office.post(f"/profile/logins/{laptop_login}/end")
    assert (status, location) == (302, "/profile/")
    assert not logged_in(live_server.url, laptop.cookies())
    assert logged_in(live_server.url, office.cookies())
    assert "Laptop/2" not in office.request("/profile/")[2]
    # somebody else's login, or one that ended, is no login of yours
    assert office.post(f"/profile/logins/{laptop_login}/end")[0] == 404
    assert [entry.details["session"] for entry in audit("login.revoke")] == [laptop_login]


def test_the_api_token_of_a_disabled_user_is_refused_at_once(live_server, bob, admin):
    _row, token = create_token(db.session.get(User, bob), "ci")
    db.session.commit()
    api = Browser(live_server.url)
    headers = {"Authorization": f"Bearer {token}"}
    assert api.request("/api/v1/sessions", headers=headers)[0] == 200
    accounts.set_active(db.session.get(User, bob), False)
    db.session.commit()
    assert api.request("/api/v1/sessions", headers=headers)[0] == 401
    accounts.set_active(db.session.get(User, bob), True)
    db.session.commit()
    assert api.request("/api/v1/sessions", headers=headers)[0] == 200  # tokens are no logins



# -- the loader: one query, few writes, an end to unused logins (in this process) -----------


def _alt_id(app, client) -> str:
    """What the session cookie names: ``"<user id>:<login token>"``."""
    cookie = client.get_cookie("session").value
    return app.session_interface.get_signing_serializer(app).loads(cookie)["_user_id"]


def _statements_of(call) -> tuple[object, list[str]]:
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("BEGIN"):  # SQLite's transaction start (webapp/database.py)
            return
        statements.append(statement.lstrip().split()[0] + (" login_session" if
                          "login_session" in statement else ""))

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        result = call()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    db.session.rollback()
    return result, statements


def _age_login(**delta) -> None:
    db.session.execute(sa.update(LoginSession).values(
        last_seen_at=utcnow() - dt.timedelta(**delta)))
    db.session.commit()


def test_the_loader_reads_the_login_with_its_user_in_one_query(app, bob):
    client = isolated_client(app)
    login(client, "bob")
    alt_id = _alt_id(app, client)
    user_id, token = alt_id.split(":")
    assert user_id == str(bob) and len(token) >= 43
    user, statements = _statements_of(lambda: load_user(alt_id))
    assert user.id == bob
    # the login joined with its user, then the user's roles (as before login sessions)
    assert statements[0] == "SELECT login_session" and len(statements) <= 2
    for forged in (f"{bob}:", f"{bob}:{token}x", f"{bob + 1}:{token}", str(bob), f"x:{token}"):
        assert load_user(forged) is None, forged


def test_last_seen_is_written_at_most_once_a_minute(app, bob):
    client = isolated_client(app)
    login(client, "bob")
    alt_id = _alt_id(app, client)
    _age_login(minutes=2)
    _user, statements = _statements_of(lambda: load_user(alt_id))
    assert "UPDATE login_session" in statements
    _user, statements = _statements_of(lambda: load_user(alt_id))
    assert not [s for s in statements if not s.startswith("SELECT")]
    assert client.get("/profile/").status_code == 200


def test_a_login_unused_for_the_configured_days_ends(app, bob):
    client = isolated_client(app)
    login(client, "bob", remember=True)
    _age_login(days=29)
    assert client.get("/profile/").status_code == 200
    _age_login(days=31)  # MINKE_LOGIN_DAYS: 30
    assert client.get("/profile/").headers["Location"].startswith("/login")
    login(client, "bob")  # the next login of bob deletes the ended row
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 1
