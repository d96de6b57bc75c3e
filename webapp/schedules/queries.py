"""Schedules as the pages and the API read them: whose a user sees, a schedule's firings."""

from __future__ import annotations

import sqlalchemy as sa

from sessions import Session

from ..extensions import db
from ..models import Schedule, ScheduleFiring, User
from ..permissions import ADMIN, can_manage_schedule, runnable_sessions
from .operations import ScheduleError, schedulable_session

RECENT_FIRINGS = 20


def visible_schedules(user: User) -> list[Schedule]:
    """The schedules ``user`` may see: their own; an admin all of them."""
    query = sa.select(Schedule).order_by(Schedule.name)
    if not user.has_permissions([ADMIN]):
        query = query.where(Schedule.owner_id == user.id)
    return list(db.session.scalars(query))


def visible_schedule(user: User, schedule_id: int) -> Schedule | None:
    """The schedule, when ``user`` may see it (others' are not told apart from missing)."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or not can_manage_schedule(user, schedule.owner_id):
        return None
    return schedule


def schedule_named(name: str) -> Schedule | None:
    """The schedule called ``name`` (names are unique), as the command line names them."""
    return db.session.scalar(sa.select(Schedule).where(Schedule.name == name))


def recent_firings(schedule_id: int, limit: int = RECENT_FIRINGS) -> list[ScheduleFiring]:
    return list(db.session.scalars(
        sa.select(ScheduleFiring).where(ScheduleFiring.schedule_id == schedule_id)
        .order_by(ScheduleFiring.due_at.desc(), ScheduleFiring.id.desc()).limit(limit)))


def schedulable_sessions(user: User) -> list[type[Session]]:
    """The sessions ``user`` may run and a schedule may run (no secrets asked)."""
    found = []
    for cls in runnable_sessions(user):
        try:
            schedulable_session(cls.__name__)
        except ScheduleError:
            continue
        found.append(cls)
    return found
