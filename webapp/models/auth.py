"""Users, roles and the permission strings roles grant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .base import Base, utcnow

ADMIN_PERMISSION = "minke.admin"
"""Grants every permission."""
VIEW_HOSTS = "minke.view_hosts"
EDIT_HOSTS = "minke.edit_hosts"
VIEW_ALL_RUNS = "minke.view_all_runs"
STOP_ALL_RUNS = "minke.stop_all_runs"
SCHEDULE = "minke.schedule"

BUILTIN_PERMISSIONS = {
    ADMIN_PERMISSION: "Everything, including user and role administration",
    VIEW_HOSTS: "See hosts, host groups and the objects on hosts, and run sessions on them",
    EDIT_HOSTS: "The admin pages of hosts and host groups (add, change, import, test, "
                "host keys, disable, delete), without the rest of the admin",
    VIEW_ALL_RUNS: "See the runs of other users, and their statuses in the object lists",
    STOP_ALL_RUNS: "Stop the runs of other users",
    SCHEDULE: "Make schedules that run sessions at set times, as their owner "
              "(admins see and pause everyone's)",
}
"""The permissions Minke itself checks (webapp/permissions.py says where), and what each
grants, as the role page shows them."""

user_roles = sa.Table(
    "user_roles",
    Base.metadata,
    sa.Column("user_id", sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("role.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Base):
    """A permission string known to the system (built-in or a session's run permission)."""

    __tablename__ = "permission"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str] = mapped_column(sa.String(300), default="")

    def __repr__(self) -> str:
        return f"<Permission {self.name}>"


class Role(Base):
    """A named set of permission strings."""

    __tablename__ = "role"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    description: Mapped[str] = mapped_column(sa.String(300), default="")
    permissions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    def __repr__(self) -> str:
        return f"<Role {self.name}>"


class User(UserMixin, Base):
    """Somebody who logs in to the dashboard or is named by ``minke run --user``."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    # Not mapped: the login session this object was loaded through (webapp/auth/logins.py),
    # set by the login and by the user loader; None for a token's or the CLI's user.
    if TYPE_CHECKING:  # annotated for the checker only: SQLAlchemy would map them
        login_token: str | None
        login_id: int | None
    login_token = None
    login_id = None

    def __repr__(self) -> str:
        return f"<User {self.name}>"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str | None:
        """Flask-Login's id, which both cookies carry: ``"<id>:<login token>"``, a new one
        at every login and refused once that login ends; None without a login session."""
        return f"{self.id}:{self.login_token}" if self.login_token else None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def permission_names(self) -> set[str]:
        return {name for role in self.roles for name in role.permissions}

    @property
    def is_admin(self) -> bool:
        return ADMIN_PERMISSION in self.permission_names

    def has_permissions(self, permissions: Iterable[str]) -> bool:
        """True when the user's roles grant all ``permissions`` (admins hold every one)."""
        held = self.permission_names
        return ADMIN_PERMISSION in held or set(permissions) <= held
