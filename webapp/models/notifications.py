"""Notifications: a user's channels, what they subscribed to, and every delivery attempt."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .auth import User
from .base import Base, utcnow
from .schedules import Schedule


class NotificationChannel(Base):
    """Where a user's notifications go: an email address, a webhook (signed JSON POST) or a
    Slack/Mattermost incoming webhook."""

    __tablename__ = "notification_channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    """``email``, ``webhook`` or ``slack`` (Slack and Mattermost take the same message)."""
    name: Mapped[str] = mapped_column(sa.String(80))
    target: Mapped[str] = mapped_column(sa.String(500))
    """The email address or the URL."""
    sealed_secret: Mapped[str | None] = mapped_column(sa.Text)
    """A webhook's signing key, encrypted with a key derived from ``SECRET_KEY``."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<NotificationChannel {self.id} {self.kind} {self.name!r}>"


class Subscription(Base):
    """A user hears of some runs' events on one of their channels."""

    __tablename__ = "notification_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                         index=True)
    channel_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification_channel.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(sa.String(10))
    """``session`` (runs of ``session_name``), ``schedule`` (runs a schedule started) or
    ``mine`` (the user's own runs)."""
    session_name: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    schedule_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("schedule.id", ondelete="CASCADE"), index=True)
    events: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    """Among :data:`webapp.notifications.events.EVENTS`."""
    only_changed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    """Fire only when the run's output changed since the previous run of each object."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    channel: Mapped[NotificationChannel] = relationship(lazy="joined")
    schedule: Mapped[Schedule | None] = relationship()

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {self.scope} {self.events}>"


class Delivery(Base):
    """One attempt to deliver one event of one run on one channel, and its answer."""

    __tablename__ = "notification_delivery"
    __table_args__ = (sa.Index("ix_notification_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification_channel.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(
        # named: the convention's name is longer than PostgreSQL's 63 characters
        sa.ForeignKey("notification_subscription.id", ondelete="SET NULL",
                      name="fk_notification_delivery_subscription"))
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("run.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(sa.String(20))
    attempt: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(10))
    """``sent``; ``retrying`` (another attempt at ``next_attempt_at``), ``retried`` (that
    attempt is queued); ``failed`` (no attempt left)."""
    status_code: Mapped[int | None] = mapped_column()
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    """The start of the server's answer."""
    error: Mapped[str] = mapped_column(sa.Text, default="")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """What the next attempt needs besides the ids (the event's facts as first computed)."""

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.event} #{self.attempt} {self.status}>"
