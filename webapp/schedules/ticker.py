"""The scheduler process (``minke scheduler``): fire what is due, every tick, until told
to stop. Run as many as you like: the database lets one of them fire each due time
(:mod:`.firing`), so a second one is a spare that takes over when the first dies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from redis.exceptions import RedisError

from ..extensions import db
from .firing import Fired, fire_due

logger = logging.getLogger(__name__)


def run_scheduler(app: Flask, stop: threading.Event, *, tick: float | None = None,
                  report: Callable[[Fired], None] | None = None) -> None:
    """Fire due schedules every ``tick`` seconds (default ``MINKE_SCHEDULER_TICK``) until
    ``stop`` is set; ``report`` hears of each firing. A database or Redis that does not
    answer is logged and tried again at the next tick."""
    tick = app.config["MINKE_SCHEDULER_TICK"] if tick is None else tick
    while not stop.is_set():
        with app.app_context():
            try:
                for fired in fire_due(app.extensions["minke"]):
                    if report is not None:
                        report(fired)
            except (sa.exc.OperationalError, sa.exc.InterfaceError, RedisError) as exc:
                # nothing was claimed in the failed transaction: the next tick tries again
                logger.warning("scheduler: %s; trying again in %s s", exc, tick)
                db.session.rollback()
            finally:
                db.session.remove()
        stop.wait(tick)
