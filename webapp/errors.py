"""Error pages: every HTTP error of a page in the app's layout, with what happened and a way on.

The API's errors stay JSON (webapp/api/errors.py); one handler decides by the path.
A refusal that a permission would lift is raised with :func:`refuse`, so that the
403 page names the permission and who can grant it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any, NoReturn

from flask import Flask, render_template, request
from werkzeug.exceptions import Forbidden, HTTPException, InternalServerError

from .api import errors as api_errors

log = logging.getLogger(__name__)

TITLES = {
    400: "The request was not understood",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible this way",
    409: "Not possible now",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Not available right now",
}


class Refused(Forbidden):
    """403 for something a permission would allow: ``what`` the user tried, in words,
    and the ``permissions`` that would allow it."""

    def __init__(self, what: str, permissions: Iterable[str]) -> None:
        super().__init__(description=f"You may not {what}.")
        self.what = what
        self.permissions = list(permissions)


def refuse(what: str, *permissions: str) -> NoReturn:
    """Answer 403, naming ``what`` was refused and the ``permissions`` that allow it."""
    raise Refused(what, permissions)


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)


def _http_error(error: HTTPException) -> Any:
    if request.path.startswith(api_errors.URL_PREFIX + "/"):
        return api_errors.json_error(error)
    code = error.code or 500
    if code < 400:  # a redirect raised as an exception (a routing slash): not an error
        return error
    reference = None
    if isinstance(error, InternalServerError):
        reference = uuid.uuid4().hex[:12]
        cause = getattr(error, "original_exception", None) or error
        log.error("500 on %s %s (reference %s)", request.method, request.path, reference,
                  exc_info=(type(cause), cause, cause.__traceback__))
        _rollback()
    headers = {name: value for name, value in error.get_response().headers.items()
               if name in ("Allow", "Retry-After", "WWW-Authenticate")}
    try:
        body = render_template("errors/error.html", code=code, title=TITLES.get(code, error.name),
                               description=_description(error), reference=reference,
                               permissions=_permission_rows(error), admins=_admins(error),
                               retry_after=headers.get("Retry-After"))
    except Exception:  # the layout needs the database (the menu): say it without it
        log.exception("rendering the error page for %s failed", code)
        _rollback()
        body = (f"<!doctype html><title>{code}</title><h1>{TITLES.get(code, 'Error')}</h1>"
                f"<p><a href=\"/\">Dashboard</a></p>")
    return body, code, headers


def _description(error: HTTPException) -> str | None:
    """The error's own words, unless they are werkzeug's generic ones (the page says it)."""
    generic = type(error).description
    if not error.description or error.description == generic or error.code == 500:
        return None
    return error.description


def _permission_rows(error: HTTPException) -> list[tuple[str, str]]:
    if not isinstance(error, Refused):
        return []
    from .accounts import describe_permissions

    return describe_permissions(error.permissions)


def _admins(error: HTTPException) -> list[str]:
    if not isinstance(error, Refused):
        return []
    from .accounts import admin_names

    return admin_names()


def _rollback() -> None:
    from .extensions import db

    try:
        db.session.rollback()
    except Exception:  # the page is rendered without the database then
        log.debug("rollback before the error page failed", exc_info=True)
