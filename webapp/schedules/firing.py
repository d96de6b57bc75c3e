"""Firing schedules, exactly once, with the owner's rights of the moment.

A firing *claims* its due time in the transaction that starts its run: it moves the
schedule's ``next_due_at`` on only where it still holds the due time it read
(compare and set) and inserts a ``schedule_firing`` row, unique per schedule and due
time; :func:`webapp.engine.dispatch.start_run` stores the run in that same
transaction (``with_run``) and commits. Two scheduler processes reading the same due
schedule race for the claim; the database lets one win, the other finds nothing to
do. A process killed before the commit leaves nothing, and the due time is still
there for the next process; killed after it, the run is stored and its jobs, if not
queued yet, are failed visibly by the workers' reaper (``fail_lost_jobs``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sessions import REGISTRY, Session, UnknownSession

from ..audit import log_action
from ..database import read_only
from ..engine.dispatch import (
    DispatchError,
    EnqueueError,
    MissingSecrets,
    PermissionDenied,
    start_run,
    validate_data,
)
from ..extensions import db
from ..kit import utc_iso
from ..models import Run, Schedule, ScheduleFiring, User, utcnow
from ..permissions import schedule_refusal
from ..references import NoSuchObjects, SelectionError
from .operations import pause_schedule, resolve_target, target_models, timing_of

if TYPE_CHECKING:
    from ..engine.clients import EngineClients

logger = logging.getLogger(__name__)

ROUNDS = 20
"""How many due times of one schedule one call of :func:`fire_due` works through at
most (a scheduler catching up within the grace time)."""


@dataclass(frozen=True)
class Fired:
    """What one firing did: its schedule, due time, outcome, note and run."""

    schedule: str
    due_at: dt.datetime
    outcome: str
    note: str = ""
    run_id: int | None = None


@dataclass
class Claim:
    """A due time this process claimed, in its open transaction."""

    schedule: Schedule
    firing: ScheduleFiring
    missed: int = 0
    """Due times that passed more than the grace time ago (0: on time)."""


def fire_due(state: EngineClients, *, now: dt.datetime | None = None) -> list[Fired]:
    """Fire every enabled schedule that is due at ``now`` (default: now); return what
    each firing did. Commits each firing on its own."""
    fired: list[Fired] = []
    for _ in range(ROUNDS):
        moment = now or utcnow()
        with read_only():
            due = list(db.session.scalars(
                sa.select(Schedule.id).where(Schedule.enabled.is_(True),
                                             Schedule.next_due_at <= moment)
                .order_by(Schedule.next_due_at)))
        if not due:
            break
        for schedule_id in due:
            result = fire_schedule(state, schedule_id, now=moment)
            if result is not None:
                fired.append(result)
    return fired


def fire_schedule(state: EngineClients, schedule_id: int, *,
                  now: dt.datetime | None = None) -> Fired | None:
    """Fire the schedule's due time if it is due and this process wins its claim; return
    what it did (``None``: not due, or another process fired it). Commits."""
    grace = dt.timedelta(seconds=state.config["MINKE_SCHEDULE_GRACE"])
    now = now or utcnow()

    def claim() -> Claim | None:
        return claim_due(schedule_id, now, grace)

    first = claim()
    return None if first is None else attempt(state, first, claim)


def run_now(state: EngineClients, schedule: Schedule, *, user: User | None) -> Fired:
    """Fire ``schedule`` now, outside its times (its owner's rights and its overlap policy
    apply as at any firing); ``user``: who asked. Commits.

    :raises ValueError: when it fired at this very moment already.
    """
    schedule_id, asked_by = schedule.id, user.name if user is not None else "the command line"

    def claim() -> Claim | None:
        found = db.session.get(Schedule, schedule_id)
        if found is None:
            return None
        firing = ScheduleFiring(schedule_id=schedule_id, due_at=utcnow(), outcome="started",
                                note=f"run now, asked by {asked_by}")
        db.session.add(firing)
        db.session.flush()
        return Claim(found, firing)

    first = claim()
    assert first is not None  # the caller holds the schedule
    result = attempt(state, first, claim)
    if result is None:
        raise ValueError(f"schedule {schedule.name} was deleted meanwhile")
    return result


def claim_due(schedule_id: int, now: dt.datetime, grace: dt.timedelta) -> Claim | None:
    """Claim the schedule's due time in a new writing transaction, or end it and return
    ``None`` when it is not due or another process claimed it first."""
    db.session.rollback()
    schedule = db.session.get(Schedule, schedule_id, populate_existing=True)
    due = schedule.next_due_at if schedule is not None else None
    if schedule is None or not schedule.enabled or due is None or due > now:
        db.session.rollback()
        return None
    timing = timing_of(schedule)
    if now - due > grace:
        missed, following = timing.due_between(due, now)
    else:
        missed, following = 0, timing.next_after(due)
    moved = db.session.execute(
        sa.update(Schedule).where(Schedule.id == schedule_id, Schedule.next_due_at == due,
                                  Schedule.enabled.is_(True))
        .values(next_due_at=following).execution_options(synchronize_session=False))
    if not getattr(moved, "rowcount", 0):
        db.session.rollback()
        return None
    schedule.next_due_at = following
    firing = ScheduleFiring(schedule_id=schedule_id, due_at=due, outcome="started", note="")
    db.session.add(firing)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:  # fired already: the unique (schedule, due time) says so
        db.session.rollback()
        return None
    return Claim(schedule, firing, missed)


def attempt(state: EngineClients, claim: Claim,
            reclaim: Callable[[], Claim | None]) -> Fired | None:
    """Decide what the claimed firing does and do it: start the run as the owner, or
    record why not (pausing the schedule when the owner may not run it). Commits.

    ``reclaim`` claims the firing again in a new transaction, after the run's start
    was refused and rolled back with the claim."""
    schedule = claim.schedule
    due = claim.firing.due_at
    missed_note = (f"missed {claim.missed} firing{'s' if claim.missed > 1 else ''} from "
                   f"{utc_iso(due)} while no scheduler ran" if claim.missed else "")
    if claim.missed and schedule.missed == "skip":
        return finish(claim, "missed", f"{missed_note}: skipped, as the schedule says")
    try:
        session_cls = REGISTRY.get(schedule.session_name)
    except UnknownSession:
        return finish(claim, "refused", f"the session {schedule.session_name} is no longer "
                                        "installed", pause=True)
    try:
        objects = resolve_target(schedule.target, session_cls)
    except NoSuchObjects as exc:
        return finish(claim, "failed", f"no objects to run on: {exc}")
    except SelectionError as exc:
        return finish(claim, "refused", f"its objects cannot be chosen: {exc}", pause=True)
    owner = schedule.owner
    reason = schedule_refusal(owner, session_cls,
                              {type(obj) for obj in objects} or target_models(schedule.target))
    if reason is not None:
        return finish(claim, "refused", reason, pause=True)
    if not objects:
        return finish(claim, "failed", "no objects to run on: its target names none now")
    if schedule.overlap == "skip":
        going = db.session.scalar(sa.select(Run.id).where(
            Run.schedule_id == schedule.id, Run.finished_at.is_(None))
            .order_by(Run.id.desc()).limit(1))
        if going is not None:
            return finish(claim, "skipped", f"run #{going} of this schedule was still going")
    note = f"{missed_note}: ran once now" if missed_note else claim.firing.note
    return start(state, claim, session_cls, objects, owner, note, reclaim)


def start(state: EngineClients, claim: Claim, session_cls: type[Session], objects: list[Any],
          owner: User | None, note: str, reclaim: Callable[[], Claim | None]) -> Fired | None:
    """Start the firing's run; the claim commits with it."""
    schedule, firing = claim.schedule, claim.firing
    name, due = schedule.name, firing.due_at

    def link(run: Run) -> None:
        run.schedule_id = schedule.id
        firing.run_id, firing.note = run.id, note[:300]
        schedule.note = note[:300] or None
        log_action("schedule.fire", f"schedule {name}",
                   {"outcome": "started", "run": run.id, "due": utc_iso(due), "note": note},
                   user=owner)

    try:
        data = validate_data(session_cls, schedule.data)
        run = start_run(state, session_cls, objects, user=owner, data=data, origin="schedule",
                        with_run=link)
    except EnqueueError as exc:  # stored with its firing; its sessions failed with the reason
        db.session.rollback()
        return Fired(name, due, "started", str(exc), firing.run_id)
    except DispatchError as exc:  # nothing stored, the claim neither: claim it again
        db.session.rollback()
        again = reclaim()
        if again is None:
            return None
        refused = isinstance(exc, PermissionDenied | MissingSecrets)
        reason = (f"{exc}: nobody is there to give secrets when a schedule fires"
                  if isinstance(exc, MissingSecrets) else str(exc))
        return finish(again, "refused" if refused else "failed", reason, pause=True)
    run_id = run.id
    db.session.rollback()  # start_run left a read-only transaction open
    logger.info("schedule %s fired: run #%s", name, run_id)
    return Fired(name, due, "started", note, run_id)


def finish(claim: Claim, outcome: str, note: str, *, pause: bool = False) -> Fired:
    """Record a firing that started no run, pausing the schedule when asked. Commits."""
    schedule, firing = claim.schedule, claim.firing
    firing.outcome, firing.note = outcome, note[:300]
    schedule.note = f"{outcome}: {note}"[:300]
    log_action("schedule.fire", f"schedule {schedule.name}",
               {"outcome": outcome, "due": utc_iso(firing.due_at), "note": note},
               user=schedule.owner)
    if pause:
        pause_schedule(schedule, f"paused at the firing of {utc_iso(firing.due_at)}: {note}")
    result = Fired(schedule.name, firing.due_at, outcome, note)
    db.session.commit()
    logger.warning("schedule %s: %s (%s)", result.schedule, outcome, note)
    return result
