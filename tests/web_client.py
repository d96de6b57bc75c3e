"""Helpers for tests that use the dashboard through Flask's test client, CSRF tokens and all."""

from __future__ import annotations

import contextvars
import re
from html.parser import HTMLParser

from flask.testing import FlaskClient

from webapp.extensions import db

_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own application context, as on a server.

    The ``app`` fixture keeps an application context pushed for the whole
    test, and Flask reuses it for the requests of the plain test client: they
    would share ``g`` (Flask-Login's cached user) and one database session.
    Before each request the test's own transaction is ended, as a server's
    other process would have it (on SQLite an open write transaction blocks
    every other writer).
    """

    def open(self, *args, **kwargs):
        db.session.rollback()
        return contextvars.Context().run(super().open, *args, **kwargs)


def isolated_client(app) -> IsolatedClient:
    app.test_client_class = IsolatedClient
    try:
        return app.test_client()
    finally:
        app.test_client_class = None


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    response = client.get(path)
    match = _TOKEN.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


def login(client, name: str, password: str = "pw", *, remember: bool = False,
          next_url: str | None = None):
    """Log in through the login form; returns the response (a redirect when it worked)."""
    data = {"name": name, "password": password, "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "y"
    url = "/login" if next_url is None else "/login?" + _query(next=next_url)
    return client.post(url, data=data)


def post(client, url: str, data: dict | None = None, *, token_from: str = "/"):
    """POST a form with the session's CSRF token added."""
    fields = dict(data or {})
    fields["csrf_token"] = csrf_token(client, token_from)
    return client.post(url, data=fields)


def _query(**args: str) -> str:
    from urllib.parse import urlencode

    return urlencode(args)


class Controls(HTMLParser):
    """Collects a page's form controls, labels and table headers, to check accessibility."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0
        self.tables = 0
        self.headers = 0
        self.optgroups: list[str] = []
        self.options: list[tuple[str | None, str]] = []
        self._group: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "label":
            self.label_depth += 1
            if "for" in a:
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "tag": tag, "_in_label": str(self.label_depth > 0)})
        elif tag == "table":
            self.tables += 1
        elif tag == "th":
            self.headers += 1
        elif tag == "optgroup":
            self._group = a.get("label")
            self.optgroups.append(a.get("label", ""))
        elif tag == "option":
            self.options.append((self._group, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1
        elif tag == "optgroup":
            self._group = None

    def unlabelled(self) -> list[dict[str, str]]:
        """Controls with neither a wrapping/pointing ``<label>`` nor an ``aria-label``."""
        return [c for c in self.controls
                if c["_in_label"] != "True" and c.get("id") not in self.label_for
                and not c.get("aria-label") and not c.get("aria-labelledby")]


def controls(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser
