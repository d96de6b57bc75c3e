"""Schedules: a session run on a target at set times, and each firing of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .auth import User
from .base import Base, utcnow

MISSED_POLICIES = {"run_once": "run once now", "skip": "skip them"}
"""What a schedule does with the firings it missed while no scheduler ran."""
OVERLAP_POLICIES = {"skip": "skip the firing, with a note", "queue": "start it anyway (it queues)"}
"""What a firing does while the schedule's previous run is still going."""


class Schedule(Base):
    """A session, its objects (names or a filter, resolved at each firing) and its form
    data, run at the times a cron expression or an interval gives, as its owner."""

    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    session_name: Mapped[str] = mapped_column(sa.String(200))
    target: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """What :func:`webapp.references.select_objects` takes: ``hosts``, ``groups``, ``refs``,
    ``model`` and ``where``."""
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    cron: Mapped[str | None] = mapped_column(sa.String(120))
    interval: Mapped[int | None] = mapped_column()
    """Seconds between firings, when there is no ``cron``."""
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"),
                                                 index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    paused_reason: Mapped[str | None] = mapped_column(sa.String(300))
    missed: Mapped[str] = mapped_column(sa.String(10), default="run_once")
    overlap: Mapped[str] = mapped_column(sa.String(10), default="skip")
    next_due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    """The next firing (UTC); each firing claims it by moving it on, once."""
    note: Mapped[str | None] = mapped_column(sa.String(300))
    """What the last firing did, when it did not start a run as planned."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    owner: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Schedule {self.name}>"

    @property
    def owner_name(self) -> str:
        return self.owner.name if self.owner else "(deleted user)"

    @property
    def when(self) -> str:
        """The schedule's times in words: its cron expression or its interval."""
        if self.cron:
            return f"cron {self.cron} ({self.timezone})"
        return f"every {self.interval} s"


class ScheduleFiring(Base):
    """One due time of a schedule and what came of it. Unique per schedule and due
    time: a second scheduler process claiming the same firing fails to insert it."""

    __tablename__ = "schedule_firing"
    __table_args__ = (sa.UniqueConstraint("schedule_id", "due_at",
                                          name="uq_schedule_firing_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(sa.ForeignKey("schedule.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime] = mapped_column()
    fired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(sa.String(10))
    """``started``: a run began; ``skipped``: the previous run was still going; ``missed``:
    no scheduler ran at the time; ``refused``: the owner may not run it (the schedule was
    paused); ``failed``: the run could not start (no objects, bad form data)."""
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("run.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<ScheduleFiring {self.schedule_id} {self.due_at} {self.outcome}>"
