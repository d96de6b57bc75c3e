"""Ending runs: noticing a run is done, failing sessions that cannot go on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from sessions.status import MessageLevel, ProcStatus, SessionStatus

from ..extensions import db
from ..models import Message, MinkeSession, Run, utcnow
from ..status import run_counts
from . import events, locks
from .events import Publisher
from .notify import FINISHED, announce

if TYPE_CHECKING:
    from .clients import EngineClients

logger = logging.getLogger(__name__)

UNFINISHED = [s.value for s in (ProcStatus.INITIALIZED, ProcStatus.RUNNING, ProcStatus.STOPPING)]
REAPER_SEQ = 2_000_000_000  # sequence numbers of the engine's last word on a session (+1)


def finish_run_if_done(run_id: int, publisher: Publisher) -> bool:
    """Mark the run finished (and publish it) once every session ended. Commits."""
    pending = db.session.scalar(
        sa.select(sa.func.count()).where(MinkeSession.run_id == run_id,
                                         MinkeSession.proc_status.in_(UNFINISHED)))
    if pending:
        db.session.rollback()
        return False
    done = cast("sa.CursorResult[Any]", db.session.execute(
        sa.update(Run).where(Run.id == run_id, Run.finished_at.is_(None))
        .values(finished_at=utcnow())
    )).rowcount
    db.session.commit()
    if done:
        summary = {key: n for key, n in run_counts(run_id).items() if n}  # badges: status.py
        publisher.publish(run_id, events.RUN_FINISHED, {"summary": summary})
        announce(run_id, FINISHED)  # notifications: a job of their own
    return bool(done)


def fail_sessions(rows: Sequence[MinkeSession], reason: str, state: EngineClients, *,
                  status: ProcStatus = ProcStatus.FAILED) -> None:
    """End ``rows`` as ``status`` with ``reason``, release their runs' host locks. Commits."""
    if not rows:
        return
    now = utcnow()
    # only sessions still unfinished: a final state, once stored, never changes
    ended = set(db.session.scalars(
        sa.update(MinkeSession).where(MinkeSession.id.in_([row.id for row in rows]),
                                      MinkeSession.proc_status.in_(UNFINISHED))
        .values(proc_status=status.value, session_status=SessionStatus.ERROR.value, end_time=now)
        .returning(MinkeSession.id)))
    rows = [row for row in rows if row.id in ended]
    if rows:
        db.session.execute(sa.insert(Message), [
            {"session_id": row.id, "seq": REAPER_SEQ, "level": MessageLevel.ERROR.value,
             "kind": "text", "payload": {"text": reason}} for row in rows])
    db.session.commit()
    for row in rows:
        if row.host_id is not None:
            locks.release(state.redis, state.keys, row.host_id, row.run_id)
    for run_id in sorted({row.run_id for row in rows}):
        state.publisher.publish_many(run_id, [
            event for row in rows if row.run_id == run_id
            for event in (
                events.message_event(row.id, REAPER_SEQ, MessageLevel.ERROR, "text",
                                     {"text": reason}),
                events.status_event(row.id, REAPER_SEQ + 1, status, SessionStatus.ERROR,
                                    end_time=now))])
        finish_run_if_done(run_id, state.publisher)
