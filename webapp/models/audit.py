"""The audit log: who did what, when, to what; and the API tokens users authenticate with."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class AuditEntry(Base):
    """One thing somebody did: logged in (or failed to), started, stopped, re-ran or
    exported a run, changed a user, role, host or group, created or revoked a token.

    Entries are only ever added (``webapp.audit.log_action``): the app has no path
    that changes or deletes one, and the ORM refuses to (see the listeners below).
    """

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    user_name: Mapped[str] = mapped_column(sa.String(80), default="")
    """The user's name when it happened (kept if the user is renamed or removed); for a
    failed login the name that was typed, for the command line the system user."""
    origin: Mapped[str] = mapped_column(sa.String(16), default="")
    """``web``, ``api`` or ``cli``."""
    address: Mapped[str | None] = mapped_column(sa.String(64))
    """The client's address (web and API)."""
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    """What happened, e.g. ``login.failed``, ``run.start``, ``host.update``."""
    target: Mapped[str] = mapped_column(sa.String(200), default="")
    """What it happened to, e.g. ``run #12``, ``host web1``."""
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """The inputs, never a secret (``webapp.audit.log.scrub``)."""

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.target}>"


@sa.event.listens_for(AuditEntry, "before_update")
@sa.event.listens_for(AuditEntry, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, entry: AuditEntry) -> None:
    raise PermissionError(f"audit entries cannot be changed or deleted ({entry!r})")


class ApiToken(Base):
    """A token a user made on their profile page for the JSON API.

    Only the SHA-256 of the token is stored: the token itself is shown once, when made.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """Hex SHA-256 of the token."""
    prefix: Mapped[str] = mapped_column(sa.String(12))
    """The token's first characters, to tell tokens apart in lists."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name}>"
