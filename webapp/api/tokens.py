"""API tokens: made per user (shown once), stored as their SHA-256, revocable.

A token is ``minke_`` followed by 32 random bytes in URL-safe base64; a
request names it as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from ..audit import log_action
from ..extensions import db
from ..models import ApiToken, User, utcnow

TOKEN_PREFIX = "minke_"
TOUCH_SECONDS = 60
"""``last_used_at`` is written at most once a minute per token (a write per request would
cost every API read a write transaction)."""


class TokenError(ValueError):
    """A token cannot be made or revoked as asked."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Make a token for ``user``; the caller commits and shows the token once.

    :returns: the row and the token itself (stored nowhere).
    :raises TokenError: for an empty or too long name.
    """
    name = name.strip()
    if not name or len(name) > 80:
        raise TokenError("name the token (1-80 characters), e.g. after the pipeline using it")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, digest=digest(token),
                   prefix=token[:len(TOKEN_PREFIX) + 4])
    db.session.add(row)
    db.session.flush()
    log_action("api_token.create", f"API token #{row.id}", {"name": name}, user=user)
    return row, token


def user_tokens(user: User) -> list[ApiToken]:
    """The tokens of ``user``, newest first (revoked ones too)."""
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())))


def revoke_token(user: User, token_id: int) -> ApiToken:
    """Revoke a token of ``user``; the caller commits.

    :raises TokenError: when ``user`` has no such active token.
    """
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise TokenError("no such token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        log_action("api_token.revoke", f"API token #{row.id}", {"name": row.name}, user=user)
    return row


def token_user(token: str) -> User | None:
    """The active user an active ``token`` belongs to, else ``None``.

    Notes the use when the last one noted is over :data:`TOUCH_SECONDS` old,
    in a short transaction of its own (the request's transaction is ended).
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.digest == digest(token),
                                                      ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(seconds=TOUCH_SECONDS):
        db.session.rollback()  # a read-only transaction cannot write (SQLite)
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == row.id)
                           .values(last_used_at=now))
        db.session.commit()
        user = db.session.get(User, row.user_id)
    return user
