"""What changed since last time: each session's output against the same session's
previous run on the same object.

A session that completes is compared, command by command, with the *previous
session*: the latest one in an earlier run with the same session name and the
same object that completed too. Commands are compared in order by their command
line and the SHA-256 of their whole stdout (hashed by the worker as it streamed,
so a 1 GB output costs no memory here). The result is stored on the session
(``MinkeSession.change``) when it completes, so that counts and the filter are one
SQL condition however many sessions a run has:

- ``changed``: a command line or a command's stdout differs, or the commands differ
  in number;
- ``unchanged``: the same commands with the same stdout;
- ``new``: no previous session to compare with (never run there before, or its run
  predates the hashes: rows without a hash are not read again to compare).

Sessions that did not complete (failed, stopped, canceled) get no mark: their
output is partial. The run page, the API, ``minke show`` and notifications read
this module; the worker's result writer calls :func:`mark_changes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from sessions.status import ProcStatus

from .extensions import db
from .models import MinkeSession, StoredResult

CHANGED, UNCHANGED, NEW = "changed", "unchanged", "new"
CHANGES: tuple[str, ...] = (CHANGED, UNCHANGED, NEW)
"""The marks a completed session gets, in the order pages count them."""

CHANGE_TEXTS = {CHANGED: "output changed", UNCHANGED: "output unchanged",
                NEW: "new: nothing to compare with"}
"""Mark -> what it means, for titles and help texts."""

CHANGED_VALUES = ("1", "true", "0", "false")
"""What the filter parameter ``changed`` takes (pages, API): 1/true only changed objects."""

_COMPLETED = ProcStatus.COMPLETED.value
_ID_BATCH = 500  # sessions per statement when marking


def change_condition(key: str, table: Any = MinkeSession) -> Any:
    """SQL condition: a session of ``table`` whose mark is ``key``.

    :raises KeyError: for a key not in :data:`CHANGES`.
    """
    if key not in CHANGES:
        raise KeyError(key)
    return table.change == key


def run_change_counts(run_id: int) -> dict[str, int]:
    """How many sessions of the run are ``changed``, ``unchanged`` and ``new`` (zeros
    included); sessions not completed (yet) are in none of them."""
    counts = dict.fromkeys(CHANGES, 0)
    for change, n in db.session.execute(
            sa.select(MinkeSession.change, sa.func.count())
            .where(MinkeSession.run_id == run_id, MinkeSession.change.is_not(None))
            .group_by(MinkeSession.change)):
        if change in counts:
            counts[change] = n
    return counts


def previous_session_query(session_ids: Iterable[int]) -> sa.Select[Any]:
    """Rows ``(id, previous_id)``: each session of ``session_ids`` and the id of its
    previous session (``None`` when there is none)."""
    current = aliased(MinkeSession)
    earlier = aliased(MinkeSession)
    previous = (sa.select(earlier.id)
                .where(earlier.session_name == current.session_name,
                       earlier.object_type == current.object_type,
                       earlier.object_id == current.object_id,
                       earlier.run_id < current.run_id,
                       earlier.proc_status == _COMPLETED)
                .order_by(earlier.run_id.desc(), earlier.id.desc())
                .limit(1)
                .correlate(current)
                .scalar_subquery())
    return sa.select(current.id, previous.label("previous_id")).where(
        current.id.in_(list(session_ids)))


def previous_session_id(session_id: int) -> int | None:
    """The id of the session's previous session, or ``None``."""
    row = db.session.execute(previous_session_query([session_id])).first()
    return row.previous_id if row else None


@dataclass(frozen=True)
class CommandKey:
    """What two runs' commands are compared by."""

    command: str
    stdout_sha256: str | None


def _command_keys(session_ids: Sequence[int]) -> dict[int, list[CommandKey]]:
    keys: dict[int, list[CommandKey]] = {sid: [] for sid in session_ids}
    if not session_ids:
        return keys
    for sid, command, digest in db.session.execute(
            sa.select(StoredResult.session_id, StoredResult.command, StoredResult.stdout_sha256)
            .where(StoredResult.session_id.in_(list(session_ids)))
            .order_by(StoredResult.session_id, StoredResult.seq)):
        keys[sid].append(CommandKey(command, digest))
    return keys


def compare(current: Sequence[CommandKey], previous: Sequence[CommandKey] | None) -> str:
    """The mark of a session whose commands are ``current`` against ``previous`` (the
    previous session's, ``None`` without one)."""
    if previous is None or any(key.stdout_sha256 is None for key in previous):
        return NEW
    return UNCHANGED if list(current) == list(previous) else CHANGED


def mark_changes(session_ids: Iterable[int]) -> dict[int, str]:
    """Compare each completed session of ``session_ids`` with its previous session and
    store its mark; returns id -> mark of those marked. The caller commits.

    Three statements per batch of sessions, whatever their number of commands.
    """
    marks: dict[int, str] = {}
    ids = list(session_ids)
    for start in range(0, len(ids), _ID_BATCH):
        batch = ids[start:start + _ID_BATCH]
        completed = list(db.session.scalars(sa.select(MinkeSession.id).where(
            MinkeSession.id.in_(batch), MinkeSession.proc_status == _COMPLETED)))
        if not completed:
            continue
        pairs: dict[int, int | None] = {
            sid: previous
            for sid, previous in db.session.execute(previous_session_query(completed))}
        keys = _command_keys(completed + [p for p in pairs.values() if p is not None])
        for sid in completed:
            previous = pairs.get(sid)
            marks[sid] = compare(keys[sid], keys[previous] if previous is not None else None)
        table = cast(sa.Table, MinkeSession.__table__)  # Core: no objects in the session
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("b_id"))
            .values(change=sa.bindparam("b_change")),
            [{"b_id": sid, "b_change": mark} for sid, mark in marks.items()
             if sid in completed])
    return marks
