"""Checking a user name and password, in the same time whether or not the user exists."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import User


@cache
def _dummy_hash() -> str:
    """A hash made like every new password's, checked when there is no real one to check."""
    return generate_password_hash("minke: no such user")


def authenticate(name: str, password: str) -> User | None:
    """The active user ``name`` when ``password`` is theirs, else ``None``.

    A password hash is checked in every case (a dummy one for an unknown user or one
    without a password): the response time does not tell which user names exist.
    """
    user = db.session.scalar(sa.select(User).where(User.name == name))
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user
