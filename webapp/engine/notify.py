"""Telling the notifications that a run started or finished, without waiting on them.

The engine knows nothing of channels or subscriptions: it queues one job on the
notification queue (:func:`notify_queue`, beside the run queue, taken by the same
``minke worker`` processes) naming the run and the phase; the job
(``webapp.notifications.jobs.run_event``, named by string like
:data:`~webapp.engine.dispatch.JOB_FUNCTION`) finds who hears of it and queues one
delivery job per channel. A run never waits on SMTP or HTTP, and a notification that
cannot be queued is logged, never an error of the run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import redis.exceptions
import sqlalchemy as sa
from flask import current_app, has_app_context

from ..database import read_only
from ..extensions import db
from ..models import Delivery, Subscription, utcnow

if TYPE_CHECKING:
    from rq import Queue

    from .clients import EngineClients

logger = logging.getLogger(__name__)

EVENT_FUNCTION = "webapp.notifications.jobs.run_event"
"""The job that turns a run's phase into deliveries (args: run id, phase)."""
DELIVER_FUNCTION = "webapp.notifications.jobs.deliver"
"""The job that makes one delivery attempt (args: channel, subscription, run, event,
attempt, facts)."""
STARTED, FINISHED = "started", "finished"
JOB_TTL = 7 * 24 * 3600


def notify_queue(state: EngineClients) -> Queue:
    """The notification queue: the run queue's name with ``-notify``."""
    from rq import Queue

    return Queue(state.keys.queue(f"{state.config['MINKE_QUEUE']}-notify"),
                 connection=state.redis)


def announce(run_id: int, phase: str, state: EngineClients | None = None) -> bool:
    """Queue the notification job of ``run_id``'s ``phase`` (:data:`STARTED`,
    :data:`FINISHED`) when anyone subscribed to anything; ``state`` defaults to the app's.

    Reads in a read-only transaction of its own (call it after committing). Never raises for Redis:
    a lost notification is logged, the run goes on.

    :returns: whether a job was queued.
    """
    if state is None:
        if not has_app_context():
            return False
        state = current_app.extensions["minke"]
    with read_only():
        anyone = db.session.scalar(sa.select(sa.exists().where(Subscription.id.is_not(None))))
    if not anyone:
        return False
    try:
        notify_queue(state).enqueue(EVENT_FUNCTION, run_id, phase, result_ttl=600,
                                    failure_ttl=JOB_TTL,
                                    description=f"notify run #{run_id} {phase}")
    except redis.exceptions.RedisError as exc:  # the run must not fail for a notification
        logger.warning("run #%d %s: notification not queued: %s", run_id, phase, exc)
        return False
    return True


def queue_delivery(state: EngineClients, channel_id: int, subscription_id: int | None,
                   run_id: int | None, event: str, attempt: int, facts: dict[str, Any]) -> None:
    """Queue one delivery attempt.

    :raises redis.exceptions.RedisError: when Redis refuses it.
    """
    notify_queue(state).enqueue(DELIVER_FUNCTION, channel_id, subscription_id, run_id, event,
                                attempt, facts, result_ttl=600, failure_ttl=JOB_TTL,
                                description=f"notify {event} of run #{run_id} "
                                            f"(channel {channel_id}, attempt {attempt})")


def release_due_retries(state: EngineClients, now: dt.datetime | None = None) -> int:
    """Queue the next attempt of every delivery whose back-off has passed (the workers'
    heartbeat calls this). Each is claimed in the database first, so two workers never
    queue the same one. Commits.

    :returns: how many were queued.
    """
    due = sa.and_(Delivery.status == "retrying", Delivery.next_attempt_at <= (now or utcnow()))
    with read_only():  # most beats find none: no write transaction for them
        if not db.session.scalar(sa.select(sa.exists().where(due))):
            return 0
    rows = db.session.execute(
        sa.update(Delivery).where(due)
        .values(status="retried")
        .returning(Delivery.id, Delivery.channel_id, Delivery.subscription_id,
                   Delivery.run_id, Delivery.event, Delivery.attempt, Delivery.details)).all()
    db.session.commit()
    for row in rows:
        try:
            queue_delivery(state, row.channel_id, row.subscription_id, row.run_id, row.event,
                           row.attempt + 1, dict(row.details or {}))
        except redis.exceptions.RedisError as exc:  # claimed but not queued: offer it again
            logger.warning("delivery %d: retry not queued: %s", row.id, exc)
            db.session.execute(sa.update(Delivery).where(Delivery.id == row.id)
                               .values(status="retrying"))
            db.session.commit()
    return len(rows)
