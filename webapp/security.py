"""Browser-facing protections: security headers on every response, cookie flags, the client
address behind a proxy, and files holding secrets readable by their owner only.

Settings (``MINKE_*`` in the environment, or the factory's mapping):

- ``MINKE_COOKIE_SECURE`` (default off): send the session and remember-me
  cookies over HTTPS only. Turn it on behind a TLS proxy; ``SESSION_COOKIE_SECURE``
  set to true has the same effect. Both cookies are ``HttpOnly`` and ``SameSite=Lax``
  (``SESSION_COOKIE_SAMESITE="Strict"`` for stricter).
- ``MINKE_TRUSTED_PROXIES`` (default 0): how many proxies in front of the web
  processes set ``X-Forwarded-For``/``-Proto``; the login throttle counts
  attempts per client address, which is the proxy's own address unless this is set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' ws: wss:",  # Socket.IO: polling is 'self', WebSockets need ws:/wss:
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
])
"""Only our own static files run or style a page; nothing inline, no frames of us elsewhere."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

OWNER_ONLY = 0o600


def init_app(app: Flask) -> None:
    """Cookie flags, headers, proxy handling; protect the SQLite database file."""
    config = app.config
    secure = bool(config.get("MINKE_COOKIE_SECURE")) or bool(config.get("SESSION_COOKIE_SECURE"))
    samesite = config.get("SESSION_COOKIE_SAMESITE") or "Lax"  # Flask's default: none at all
    config.update(SESSION_COOKIE_SECURE=secure, SESSION_COOKIE_HTTPONLY=True,
                  SESSION_COOKIE_SAMESITE=samesite, REMEMBER_COOKIE_SECURE=secure,
                  REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE=samesite)
    app.wsgi_app = behind_proxies(app, app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(_add_headers)
    protect_sqlite_file(app.config.get("SQLALCHEMY_DATABASE_URI") or "")


def behind_proxies(app: Flask, wsgi_app: Any) -> Any:
    """``wsgi_app`` seeing the client's address, scheme and host that the
    ``MINKE_TRUSTED_PROXIES`` proxies in front forwarded (unchanged without proxies).

    Idempotent: the values come from the forwarded headers each time, so a
    middleware in front of the app's own (the Socket.IO gate) may apply it too.
    """
    proxies = int(app.config.get("MINKE_TRUSTED_PROXIES") or 0)
    if proxies <= 0:
        return wsgi_app
    return ProxyFix(wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def protect_sqlite_file(uri: str) -> None:
    """Make an SQLite database file (and its ``-wal``/``-shm``) readable by its owner only.

    A missing file is created empty with mode 0600 first: SQLite keeps an existing file's
    mode and gives the ``-wal`` and ``-shm`` files it creates the same mode. Other
    databases and in-memory SQLite are left alone.
    """
    try:
        url = sa.engine.make_url(uri)
    except sa.exc.ArgumentError:
        return  # not a URL SQLAlchemy reads: the database set-up will say so
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    if url.database.startswith("file:"):
        return  # an SQLite URI filename: its options decide, we do not parse them
    path = os.path.abspath(url.database)
    if not os.path.exists(path) and os.path.isdir(os.path.dirname(path)):
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
        except FileExistsError:
            pass  # another process created it at the same moment; chmod below
    restrict(path, f"{path}-wal", f"{path}-shm", f"{path}-journal")


def restrict(*paths: str | os.PathLike[str], mode: int = OWNER_ONLY) -> None:
    """``chmod mode`` the files that exist among ``paths`` and belong to this user."""
    for path in _existing(paths):
        if os.stat(path).st_uid != os.geteuid():
            log.warning("%s belongs to another user: cannot make it private", path)
            continue
        if os.stat(path).st_mode & 0o777 != mode:
            os.chmod(path, mode)


def _existing(paths: Iterable[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    return [path for path in paths if os.path.isfile(path)]
