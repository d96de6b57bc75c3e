"""The notification jobs, on the notification queue (webapp/engine/notify.py queues them).

:func:`run_event` finds who hears of a run's phase and queues one :func:`deliver` job
per subscription and event; :func:`deliver` makes one attempt, records it, and when it
failed leaves the next attempt to the workers' heartbeat
(:func:`webapp.engine.notify.release_due_retries`) after the configured back-off.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..engine.notify import STARTED, queue_delivery
from ..engine.stops import stop_levels
from ..extensions import db
from ..models import Delivery, NotificationChannel, Run, Subscription, User, utcnow
from ..permissions import can_view_run
from .channels import SENDERS, Answer, DeliveryError
from .events import facts, finished_events

logger = logging.getLogger(__name__)


def subscribers(run: Run) -> list[Subscription]:
    """The subscriptions whose scope covers ``run`` and whose user may see it."""
    scopes = [sa.and_(Subscription.scope == "session",
                      Subscription.session_name == run.session_name)]
    if run.user_id is not None:
        scopes.append(sa.and_(Subscription.scope == "mine", Subscription.user_id == run.user_id))
    schedule_id = run.schedule_id  # set on runs a schedule started
    if schedule_id is not None:
        scopes.append(sa.and_(Subscription.scope == "schedule",
                              Subscription.schedule_id == schedule_id))
    rows = db.session.scalars(sa.select(Subscription).where(sa.or_(*scopes))
                              .order_by(Subscription.id)).all()
    users = {user.id: user for user in db.session.scalars(
        sa.select(User).where(User.id.in_({row.user_id for row in rows}), User.active))}
    return [row for row in rows
            if row.user_id in users and can_view_run(users[row.user_id], run)]


def output_changed(run_id: int) -> bool:
    """Whether any object's output changed (or is new) since its previous run
    (webapp/changes.py); when that cannot be told, True: a notification too many
    rather than a missed one."""
    try:
        from ..changes import run_change_counts  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        logger.warning("run #%d: output changes unknown (webapp.changes missing)", run_id)
        return True
    counts = run_change_counts(run_id)
    return bool(counts.get("changed") or counts.get("new"))


def run_event(run_id: int, phase: str) -> int:
    """Queue the deliveries of run ``run_id``'s ``phase`` (``started``/``finished``).

    :returns: how many deliveries were queued.
    """
    state = current_app.extensions["minke"]
    run = db.session.get(Run, run_id)
    if run is None or (phase != STARTED and run.finished_at is None):
        return 0
    if phase == STARTED:
        events, usual = ["started"], None
    else:
        stopped = None in stop_levels(state.redis, state.keys, run_id)
        events, usual = finished_events(run, stopped)
    made: dict[str, dict[str, Any]] = {}
    changed: bool | None = None
    queued = 0
    for row in subscribers(run):
        for event in (event for event in events if event in row.events):
            if row.only_changed and event != "started":
                if changed is None:
                    changed = output_changed(run_id)
                if not changed:
                    continue
            if event not in made:
                made[event] = facts(run, event, usual)
            queue_delivery(state, row.channel_id, row.id, run_id, event, 1, made[event])
            queued += 1
    db.session.rollback()  # read only
    return queued


def deliver(channel_id: int, subscription_id: int | None, run_id: int | None, event: str,
            attempt: int, details: dict[str, Any]) -> str:
    """Make attempt ``attempt`` of one delivery and record it. Commits.

    :returns: the attempt's status (``sent``, ``retrying`` or ``failed``).
    """
    channel = db.session.get(NotificationChannel, channel_id)
    if channel is None or (subscription_id is not None
                           and db.session.get(Subscription, subscription_id) is None):
        db.session.rollback()  # deleted since (a retry after an unsubscribe): not wanted
        return "gone"
    key = f"{run_id}-{event}-{subscription_id or 0}-{channel_id}"  # the same for each attempt
    row = Delivery(channel_id=channel_id, subscription_id=subscription_id, run_id=run_id,
                   event=event, attempt=attempt, details=details, status="sent")
    try:
        answer: Answer = SENDERS[channel.kind](channel, details, key)
        row.status_code, row.answer = answer.status_code, answer.text
    except Exception as exc:  # recorded as the attempt's error, retried or failed below
        if isinstance(exc, DeliveryError):
            row.error, row.status_code, row.answer = str(exc), exc.status_code, exc.answer
        else:
            logger.exception("delivery on channel %d failed unexpectedly", channel_id)
            row.error = f"{type(exc).__name__}: {exc}"
        delays = list(current_app.config["MINKE_NOTIFY_RETRY_DELAYS"])
        if attempt <= len(delays):
            row.status = "retrying"
            row.next_attempt_at = utcnow() + dt.timedelta(seconds=float(delays[attempt - 1]))
        else:
            row.status = "failed"
    db.session.add(row)
    db.session.commit()
    return row.status
