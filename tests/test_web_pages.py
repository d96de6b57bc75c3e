"""Login, logout, CSRF, the login every page requires, and every page rendering accessibly."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from tests.web_client import controls, csrf_token, isolated_client, login, post
from webapp.auth.redirects import local_target

ADMIN = ("minke.admin",)


@pytest.fixture
def admin(make_user):
    return make_user("ada", *ADMIN)


def test_login_page_has_labelled_fields_and_remember_me(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = controls(response.get_data(as_text=True))
    names = {c.get("name") for c in page.controls}
    assert {"name", "password", "remember"} <= names
    assert page.unlabelled() == []


def test_bad_credentials_give_a_clear_error_and_no_login(client, admin):
    response = login(client, "ada", "wrong")
    assert response.status_code == 401
    assert "Unknown user name or wrong password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous
    assert login(client, "nobody", "pw").status_code == 401


def test_inactive_user_cannot_log_in(client, admin):
    from webapp.extensions import db

    admin.active = False
    db.session.commit()
    assert login(client, "ada").status_code == 401


def test_login_redirects_to_home_and_pages_render(client, admin):
    response = login(client, "ada")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Dashboard" in home.get_data(as_text=True)


def test_login_follows_a_local_next(client, admin):
    response = login(client, "ada", next_url="/history/?status=running")
    assert response.headers["Location"] == "/history/?status=running"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", " //evil.example", "javascript:alert(1)",
    "evil.example", "/%0a", "///evil.example", "http:/evil.example", "/\x00x",
])
def test_login_never_redirects_off_site(client, admin, target):
    response = login(client, "ada", next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/" or (location == target and target == "/%0a")


def test_local_target_rules():
    assert local_target("/objects/host/?q=a") == "/objects/host/?q=a"
    assert local_target("/runs/1#top") == "/runs/1#top"
    for bad in ("", None, "//x", "/\\x", "/\tx", "/x y", "x", "http://x", "/\u2028x", "/\x7fx"):
        assert local_target(bad) is None, bad


def test_remember_me_sets_a_lasting_cookie(client, admin, app):
    cookie = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    login(client, "ada")
    assert client.get_cookie(cookie) is None
    other = isolated_client(app)
    login(other, "ada", remember=True)
    remembered = other.get_cookie(cookie)
    assert remembered is not None and remembered.http_only
    # a browser restarted without its session cookie is still logged in
    other.delete_cookie("session")
    assert other.get("/").status_code == 200


def test_login_and_logout_require_csrf(client, admin):
    response = client.post("/login", data={"name": "ada", "password": "pw"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
    login(client, "ada")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    assert client.get("/logout").status_code == 405
    response = post(client, "/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_every_endpoint_requires_login(app, client):
    """Walk the URL map: every endpoint but the login page and static files refuses strangers."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.login", "api.openapi"):  # public by design
            continue
        args = {name: 1 if isinstance(rule._converters[name], IntegerConverter) else "host"
                for name in rule.arguments}
        url = rule.build(args)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 400, 401), (method, url, response.status_code)
            if method == "GET":
                assert response.status_code in (302, 401)
                if response.status_code == 302:
                    assert response.headers["Location"].startswith("/login"), url
            checked += 1
    assert checked >= 8


def test_json_clients_get_401_not_a_redirect(client):
    response = client.get("/history/runs/1.json")
    assert response.status_code == 401
    assert response.get_json() == {"error": "login required"}


def test_login_redirect_keeps_the_page_asked_for(client, admin):
    response = client.get("/objects/host/?q=web")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    login_page = client.get(response.headers["Location"])
    assert login_page.status_code == 200
    token = csrf_token(client)
    done = client.post(response.headers["Location"],
                       data={"name": "ada", "password": "pw", "csrf_token": token})
    assert done.headers["Location"] == "/objects/host/?q=web"


def test_already_logged_in_user_skips_the_login_page(client, admin):
    login(client, "ada")
    response = client.get("/login?next=/history/")
    assert response.status_code == 302 and response.headers["Location"] == "/history/"


def test_every_page_renders_with_labels_and_table_headers(client, admin, make_hosts, execute_run):
    hosts = make_hosts(2, group="web")
    run = execute_run("EchoSession", hosts, data={"message": "hi"}, user=admin)
    login(client, "ada")
    pages = ["/", "/objects/host/", "/objects/hostgroup/", "/history/",
             f"/history/objects/Host/{hosts[0].id}",
             "/objects/host/?q=h0&status=success&sort=address&dir=desc"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        page = controls(html)
        assert page.unlabelled() == [], (url, page.unlabelled())
        if page.tables:
            assert page.headers, url
        assert 'name="csrf-token"' in html
        assert "Log out" in html and 'action="/logout"' in html
    history = client.get("/history/").get_data(as_text=True)
    assert f"/runs/{run.id}" in history
    assert "2 success" in history  # counts per status are words, not colours


def test_layout_serves_vendored_css_with_dark_mode(client, admin):
    login(client, "ada")
    html = client.get("/").get_data(as_text=True)
    assert "/static/vendor/pico/pico.min.css" in html and "//cdn" not in html
    css = client.get("/static/css/minke.css")
    assert css.status_code == 200 and b"prefers-color-scheme: dark" in css.data
    pico = client.get("/static/vendor/pico/pico.min.css")
    assert pico.status_code == 200 and b"Pico CSS" in pico.data
    css.close()
    pico.close()


def test_user_without_view_hosts_sees_no_lists(client, make_user):
    make_user("runner", "minke.run_echosession")
    login(client, "runner")
    home = client.get("/").get_data(as_text=True)
    assert "/objects/host/" not in home
    assert client.get("/objects/host/").status_code == 403
    response = post(client, "/objects/host/run", {"session": "EchoSession", "ids": "1"})
    assert response.status_code == 403
