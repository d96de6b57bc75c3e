"""Token authentication for the API: ``Authorization: Bearer <token>``, never the session
cookie (a page's cookie must not let a script on another site drive the API, and the
API needs no CSRF token because a cookie does not authenticate it)."""

from __future__ import annotations

from flask import g, request

from ..database import begin_read_only
from .errors import ApiError
from .tokens import token_user


def authenticate() -> None:
    """``before_request`` of the API: make the token's user the request's user, or 401.
    The OpenAPI description is public."""
    if request.endpoint == "api.openapi":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "authentication required: send Authorization: Bearer <token> "
                            "(tokens are made on your profile page)")
    user = token_user(token.strip())
    if user is None:
        raise ApiError(401, "invalid or revoked token")
    # Flask-Login's current user for this request only: nothing goes into the session
    g._login_user = user
    if request.method in ("GET", "HEAD"):
        begin_read_only()
