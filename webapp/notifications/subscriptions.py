"""A user's channels and subscriptions as operations (pages, command line and API call
these); the caller commits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from sessions import REGISTRY
from sessions.registry import UnknownSession

from ..audit import log_action
from ..extensions import db
from ..models import Delivery, NotificationChannel, Schedule, Subscription, User
from .channels import KINDS, new_secret, seal_secret
from .events import EVENTS

SCOPES = {"session": "runs of a session", "schedule": "runs of a schedule",
          "mine": "my own runs"}
"""Subscription scope → what the pages call it."""
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
MAX_ID = 2**31 - 1


class NotificationError(ValueError):
    """A channel or subscription cannot be made as asked; ``field`` names the bad input."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class NotFound(LookupError):
    """No such channel or subscription of this user."""


def user_channels(user: User) -> list[NotificationChannel]:
    return list(db.session.scalars(sa.select(NotificationChannel)
                                   .where(NotificationChannel.user_id == user.id)
                                   .order_by(NotificationChannel.id)))


def user_subscriptions(user: User) -> list[Subscription]:
    return list(db.session.scalars(sa.select(Subscription).where(Subscription.user_id == user.id)
                                   .order_by(Subscription.id)))


def channel_of(user: User, channel_id: Any) -> NotificationChannel:
    """:raises NotFound: unless ``channel_id`` is one of ``user``'s channels."""
    if not isinstance(channel_id, int) or isinstance(channel_id, bool) \
            or not 0 < channel_id <= MAX_ID:
        raise NotFound(f"no channel {channel_id!r}")
    channel = db.session.get(NotificationChannel, channel_id)
    if channel is None or channel.user_id != user.id:
        raise NotFound(f"no channel {channel_id}")
    return channel


def check_target(kind: str, target: str) -> str:
    target = target.strip()
    if kind == "email":
        if len(target) > 254 or not EMAIL.match(target):
            raise NotificationError("enter an email address, e.g. ops@example.com", "target")
        return target
    parts = urlsplit(target)
    if len(target) > 500 or parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotificationError("enter an http:// or https:// URL (at most 500 characters)",
                                "target")
    return target


def create_channel(user: User, kind: Any, name: Any, target: Any
                   ) -> tuple[NotificationChannel, str | None]:
    """Make a channel of ``user``'s; a webhook gets a new signing key.

    :returns: the channel and the webhook's signing key (to show once; else ``None``).
    :raises NotificationError: for a bad kind, name or address.
    """
    if not isinstance(kind, str) or kind not in KINDS:
        raise NotificationError(f"kind must be one of {', '.join(KINDS)}", "kind")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 80:
        raise NotificationError("name the channel (1-80 characters)", "name")
    if not isinstance(target, str):
        raise NotificationError("give the address (email) or URL", "target")
    secret = new_secret() if kind == "webhook" else None
    channel = NotificationChannel(user_id=user.id, kind=kind, name=name,
                                  target=check_target(kind, target),
                                  sealed_secret=seal_secret(secret) if secret else None)
    db.session.add(channel)
    db.session.flush()
    log_action("channel.create", f"channel #{channel.id}", {"kind": kind, "name": name},
               user=user)
    return channel, secret


def renew_secret(user: User, channel_id: Any) -> str:
    """A new signing key for one of ``user``'s webhooks (the old one stops working).

    :raises NotFound: for no such webhook of ``user``'s.
    """
    channel = channel_of(user, channel_id)
    if channel.kind != "webhook":
        raise NotFound(f"channel {channel_id} is no webhook")
    secret = new_secret()
    channel.sealed_secret = seal_secret(secret)
    log_action("channel.secret", f"channel #{channel.id}", user=user)
    return secret


def delete_channel(user: User, channel_id: Any) -> NotificationChannel:
    """Delete one of ``user``'s channels with its subscriptions and deliveries.

    :raises NotFound: for no such channel of ``user``'s.
    """
    channel = channel_of(user, channel_id)
    db.session.execute(sa.delete(Delivery).where(Delivery.channel_id == channel.id))
    db.session.execute(sa.delete(Subscription).where(Subscription.channel_id == channel.id))
    db.session.delete(channel)
    log_action("channel.delete", f"channel #{channel.id}", {"name": channel.name}, user=user)
    return channel




def subscribe(user: User, *, channel_id: Any, scope: Any, events: Iterable[Any] | Any,
              session: Any = None, schedule_id: Any = None,
              only_changed: Any = False) -> Subscription:
    """Subscribe ``user`` to ``events`` of the runs in ``scope`` on one of their channels.

    ``session``: the session's name (scope ``session``); ``schedule_id``: the schedule
    (scope ``schedule``). A user hears only of runs they may see (their own, or every
    run with ``minke.view_all_runs``), whatever they subscribe to.

    :raises NotificationError: for a bad scope, session, schedule or event list.
    :raises NotFound: when the channel is not ``user``'s.
    """
    channel = channel_of(user, channel_id)
    if not isinstance(scope, str) or scope not in SCOPES:
        raise NotificationError(f"scope must be one of {', '.join(SCOPES)}", "scope")
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise NotificationError(f"events: a list among {', '.join(EVENTS)}", "events")
    events = list(events)
    wrong = [event for event in events if event not in EVENTS]
    if wrong or not events:
        raise NotificationError(f"events: one or more of {', '.join(EVENTS)}", "events")
    if not isinstance(only_changed, bool):
        raise NotificationError("only_changed: true or false", "only_changed")
    row = Subscription(user_id=user.id, channel_id=channel.id, scope=scope,
                       events=[event for event in EVENTS if event in events],
                       only_changed=only_changed)
    if scope == "session":
        if not isinstance(session, str):
            raise NotificationError("name the session", "session")
        try:
            REGISTRY.get(session)
        except UnknownSession:
            raise NotificationError(f"no session {session!r}", "session") from None
        row.session_name = session
    elif scope == "schedule":
        if not isinstance(schedule_id, int) or isinstance(schedule_id, bool) \
                or not 0 < schedule_id <= MAX_ID or db.session.get(Schedule, schedule_id) is None:
            raise NotificationError(f"no schedule {schedule_id!r}", "schedule_id")
        row.schedule_id = schedule_id
    db.session.add(row)
    db.session.flush()
    log_action("subscription.create", f"subscription #{row.id}",
               {"scope": scope, "session": row.session_name, "schedule": row.schedule_id,
                "events": row.events, "channel": channel.id, "only_changed": only_changed},
               user=user)
    return row


def unsubscribe(user: User, subscription_id: Any) -> Subscription:
    """:raises NotFound: for no such subscription of ``user``'s."""
    row = (db.session.get(Subscription, subscription_id)
           if isinstance(subscription_id, int) and 0 < subscription_id <= MAX_ID else None)
    if row is None or row.user_id != user.id:
        raise NotFound(f"no subscription {subscription_id!r}")
    db.session.delete(row)
    log_action("subscription.delete", f"subscription #{row.id}", user=user)
    return row


def visible_schedules(user: User) -> list[Schedule]:
    """The schedules the page offers: the user's own, every one for an administrator
    (the schedules page's rule; the API and the command line take any schedule's id)."""
    query = sa.select(Schedule).order_by(Schedule.name)
    if not user.is_admin:
        query = query.where(Schedule.owner_id == user.id)
    return list(db.session.scalars(query))


def describe(row: Subscription) -> str:
    """``runs of Uptime``, ``runs of schedule nightly``, ``my own runs``."""
    if row.scope == "session":
        return f"runs of {row.session_name}"
    if row.scope == "schedule":
        return f"runs of schedule {row.schedule.name if row.schedule else row.schedule_id}"
    return SCOPES["mine"]


def channel_health(channel_ids: Iterable[int]) -> dict[int, Delivery]:
    """Each channel's latest delivery attempt (what the profile page shows)."""
    ids = list(channel_ids)
    if not ids:
        return {}
    latest = (sa.select(sa.func.max(Delivery.id)).where(Delivery.channel_id.in_(ids))
              .group_by(Delivery.channel_id))
    return {row.channel_id: row for row in db.session.scalars(
        sa.select(Delivery).where(Delivery.id.in_(latest)))}


def deliveries_query(channel: NotificationChannel) -> sa.Select[Any]:
    """A channel's delivery attempts, newest first (for kit.page_of)."""
    return (sa.select(Delivery).where(Delivery.channel_id == channel.id)
            .order_by(Delivery.id.desc()))
