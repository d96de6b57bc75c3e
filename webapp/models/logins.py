"""Login sessions: one row per browser login, what its cookies name (webapp/auth/logins.py)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class LoginSession(Base):
    """A login through the login form, alive until it is ended.

    The session cookie and the remember-me cookie name it by a random token, of
    which only the SHA-256 is stored. Ending it (logout, "log out everywhere", a
    password reset, a disable) deletes the row: every cookie naming it is refused
    from then on.
    """

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                         index=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """Hex SHA-256 of the token the cookies carry."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    """When a request last used it, to the minute (written at most once a minute)."""
    remember: Mapped[bool] = mapped_column(default=False)
    """Whether the login asked to be remembered (a remember-me cookie was set)."""
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    """The client's address at login."""

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} of user {self.user_id}>"
