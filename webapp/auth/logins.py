"""Login sessions kept on the server: what the cookies name, and ending them.

A login through the login form adds a :class:`~webapp.models.LoginSession` row
named by a random token; the user's Flask-Login id becomes ``"<user id>:<token>"``
(:meth:`User.get_id <webapp.models.User.get_id>`), so the session cookie and the
remember-me cookie both carry the token, and a new login makes new cookies. The
user loader (:func:`load_user`) accepts only the token of a live row of an
active user, in one query.

Ending a login deletes its row: a logout ends the browser's own, "log out
everywhere", a password reset and a disable end all of a user's. A copied
session or remember-me cookie of an ended login is refused from then on. After
the change is committed every web process is told to check its open sockets
(:func:`recheck_sockets`; webapp/runs/revocation.py listens).

The rows live in the database, not in Redis: Redis may keep nothing on disk
(the demo's does not), and a Redis restart must not log everybody out, nor let
an ended login back in.

These functions change ``db.session`` and never commit: the caller commits once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from typing import Any, Literal

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from redis import RedisError

from ..audit import log_action
from ..database import begin_read_only
from ..extensions import db
from ..models import LoginSession, User, utcnow

log = logging.getLogger(__name__)

TOUCH_SECONDS = 60
"""``last_seen_at`` is written at most once a minute per login (a write per request would
cost every page a write transaction)."""

Reason = Literal["logout", "revoked", "password", "disabled", "roles"]
"""Why the sockets of a user are checked (:func:`recheck_sockets`); the socket's page says it."""

_PENDING = "minke_socket_checks"  # db.session.info key: the checks to announce at commit


class LoginError(LookupError):
    """No such live login of this user."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_limit() -> dt.timedelta:
    """How long a login lives unused: ``REMEMBER_COOKIE_DURATION``, as long as the
    remember-me cookie (webapp/auth/__init__.py sets its default)."""
    duration = current_app.config["REMEMBER_COOKIE_DURATION"]
    return duration if isinstance(duration, dt.timedelta) else dt.timedelta(seconds=duration)


def _live() -> sa.ColumnElement[bool]:
    """The logins still alive: used recently, of an active user (joined)."""
    return sa.and_(User.active, LoginSession.last_seen_at > utcnow() - idle_limit())


def start_login(user: User, *, remember: bool, user_agent: str, address: str) -> LoginSession:
    """Add a login of ``user`` and make it the one ``user.get_id()`` names.

    Logins of the user that were unused for longer than :func:`idle_limit` are
    deleted on the way (they are refused anyway): the table stays bounded.
    """
    db.session.execute(sa.delete(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.last_seen_at <= utcnow() - idle_limit()))
    token = secrets.token_urlsafe(32)
    login = LoginSession(user_id=user.id, digest=_digest(token), remember=remember,
                         user_agent=user_agent[:300], address=address[:64])
    db.session.add(login)
    db.session.flush()
    user.login_token, user.login_id = token, login.id
    return login


def load_user(alt_id: str) -> User | None:
    """Flask-Login's user loader: the active user whose live login ``alt_id`` names.

    ``alt_id`` is ``"<user id>:<token>"`` as :meth:`User.get_id` made it; anything
    else (an id from before login sessions, a forged or ended one) is no user.
    Notes the use at most once a minute (:data:`TOUCH_SECONDS`).
    """
    user_id, _, token = alt_id.partition(":")
    if not token or not user_id.isdecimal():
        return None
    found = db.session.execute(
        sa.select(LoginSession.id, LoginSession.last_seen_at, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.digest == _digest(token), _live())).first()
    if found is None or str(found.User.id) != user_id:
        return None
    login_id, user = found.id, found.User
    if utcnow() - found.last_seen_at > dt.timedelta(seconds=TOUCH_SECONDS):
        _touch(login_id)
    user.login_token, user.login_id = token, login_id
    return user


def _touch(login_id: int) -> None:
    """Write ``last_seen_at`` in a short transaction of its own.

    The loader runs first in a request (``_require_login``), when the transaction
    holds nothing but its own read; should it ever hold changes, the note waits
    for a later request rather than ending someone else's transaction.
    """
    session = db.session
    if session.new or session.dirty or session.deleted:
        return
    read_only = has_request_context() and request.method in ("GET", "HEAD")
    session.rollback()  # a read-only transaction cannot write (SQLite)
    session.execute(sa.update(LoginSession).where(LoginSession.id == login_id)
                    .values(last_seen_at=utcnow()))
    session.commit()
    if read_only:
        begin_read_only()  # the rest of a GET reads only, as it began


def user_logins(user: User) -> list[LoginSession]:
    """The live logins of ``user``, the most recently used first."""
    return list(db.session.scalars(
        sa.select(LoginSession).join(User, User.id == LoginSession.user_id)
        .where(LoginSession.user_id == user.id, _live())
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())))


def live_logins(logins: dict[int, int]) -> dict[int, User]:
    """Of ``logins`` (login id → its user's id), the logins still alive, each with its
    (active) user.

    Reads every live login of those users (a few per user) rather than naming each login:
    a thousand sockets of a few users cost two short queries, not a thousand parameters.
    """
    user_ids = sorted(set(logins.values()))
    alive: dict[int, int] = {}
    users: dict[int, User] = {}
    for start in range(0, len(user_ids), 500):  # bounded IN lists
        chunk = user_ids[start:start + 500]
        alive.update(db.session.execute(
            sa.select(LoginSession.id, LoginSession.user_id)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.user_id.in_(chunk), _live())).all())
        users.update((user.id, user) for user in db.session.scalars(
            sa.select(User).where(User.id.in_(chunk))))
    return {login_id: users[user_id] for login_id, user_id in logins.items()
            if alive.get(login_id) == user_id}


def end_login(user: User, login_id: int, *, action: str = "login.revoke") -> None:
    """End the login ``login_id`` of ``user``: its cookies are refused from now on.

    :param action: the audit entry's action: ``login.logout`` when the user logs out.
    :raises LoginError: when ``user`` has no such live login.
    """
    login = db.session.get(LoginSession, login_id) if 0 < login_id < 2**31 else None
    if login is None or login.user_id != user.id:
        raise LoginError("no such login session")
    db.session.delete(login)
    log_action(action, f"user {user.name}",
           {"session": login.id, "address": login.address, "started": str(login.created_at)})
    recheck_sockets(user.id, "logout" if action == "login.logout" else "revoked")


def end_all_logins(user: User, reason: Reason = "revoked") -> int:
    """End every login of ``user`` (every session and remember-me cookie, every browser).

    :param reason: why (:data:`Reason`): ``revoked`` ("log out everywhere"),
        ``password`` (a password reset), ``disabled``.
    :returns: how many logins were live.

    A password reset or a disable that ends no login adds no entry of its own (the reset
    or disable has one); "log out everywhere" is always recorded.
    """
    count = len(user_logins(user))
    db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id))
    if count or reason == "revoked":
        log_action("login.end_all", f"user {user.name}", {"reason": reason, "sessions": count})
    recheck_sockets(user.id, reason)
    return count


def recheck_sockets(user_id: int | None, reason: Reason = "roles") -> None:
    """Once the caller commits, have every web process check now the open sockets of
    ``user_id`` (``None``: of everybody): their login, and each run they watch.

    Nothing is sent when the transaction is rolled back. The sockets are checked
    every few seconds anyway: this only makes it immediate.
    """
    pending = db.session.info.get(_PENDING)
    if pending is None:
        state = current_app.extensions["minke"]
        pending = db.session.info[_PENDING] = {
            "redis": state.redis, "channel": state.keys.logins_channel, "users": {}}
    users: dict[Any, str] = pending["users"]
    if users.get(user_id) in (None, "roles"):  # an ended login says more than a role change
        users[user_id] = reason


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _announce(session: sa.orm.Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    users = pending["users"]
    notice = {"users": None if None in users else {str(uid): why for uid, why in users.items()}}
    try:
        pending["redis"].publish(pending["channel"], json.dumps(notice))
    except RedisError as exc:  # the periodic check of every socket still comes within seconds
        log.warning("could not announce ended logins through Redis: %s", exc)


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget(session: sa.orm.Session) -> None:
    session.info.pop(_PENDING, None)
