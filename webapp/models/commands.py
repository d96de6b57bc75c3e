"""Shell commands and command groups defined in the browser (django-minke's contrib.commands).

Each active :class:`Command` and :class:`CommandGroup` becomes a session
class (``webapp/commands/sessions.py``). The one :class:`CommandRevision` row
changes in the same transaction as any of them, so that every web process and
worker notices a change with one cheap read and builds its classes again.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class _Defined:
    """What commands and groups share: label, description, the models, active."""

    label: Mapped[str] = mapped_column(sa.String(256))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    models: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    """Names of the minke models (``MINKE_MODELS``) it works on, e.g. ``["Host", "Site"]``."""
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Command(_Defined, Base):
    """One shell command; its session is ``Command_<id>``."""

    __tablename__ = "command"
    # ids are never used again: a role granting minke.run_command_3 must not come to grant
    # the run of a new command after command 3 was deleted (SQLite reuses the highest id)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    cmd: Mapped[str] = mapped_column(sa.Text)
    """The command template, with LF line ends; placeholders as in Python sessions."""

    def __repr__(self) -> str:
        return f"<Command {self.id} {self.label!r}>"


class CommandGroup(_Defined, Base):
    """Commands run one after another (a chain), or offered as a choice (``as_options``);
    its session is ``CommandGroup_<id>``."""

    __tablename__ = "command_group"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    as_options: Mapped[bool] = mapped_column(default=False)
    """Offer the commands as a choice in the run's form instead of running them all."""
    entries: Mapped[list[CommandOrder]] = relationship(
        back_populates="group", order_by="CommandOrder.position", cascade="all, delete-orphan",
        lazy="selectin")

    @property
    def commands(self) -> list[Command]:
        """The group's commands, in order."""
        return [entry.command for entry in self.entries]

    def __repr__(self) -> str:
        return f"<CommandGroup {self.id} {self.label!r}>"


class CommandOrder(Base):
    """A command's place in a group."""

    __tablename__ = "command_order"
    __table_args__ = (sa.UniqueConstraint("group_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        sa.ForeignKey("command_group.id", ondelete="CASCADE"), index=True)
    command_id: Mapped[int] = mapped_column(
        sa.ForeignKey("command.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    group: Mapped[CommandGroup] = relationship(back_populates="entries")
    command: Mapped[Command] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<CommandOrder group {self.group_id} #{self.position}: {self.command_id}>"


class CommandRevision(Base):
    """The one row (id 1) that changes with every change to commands and groups.

    Its ``token`` is a new random value each time, not a counter: a database
    that is emptied or recreated never comes back to a value a process has
    already seen.
    """

    __tablename__ = "command_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<CommandRevision {self.token}>"
