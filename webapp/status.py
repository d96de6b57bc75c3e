"""The one status vocabulary: the badge a session shows, from its two statuses.

A session has a life-cycle status (``proc_status``) and, once it ran, an
outcome (``session_status``). Lists, filters, the run page, history, the API,
the CLI and reports show one badge: the outcome of a completed session, else
where it is in its life cycle. Its key, its text, its colour on a terminal,
the SQL that finds it and a run's counts per badge all live here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sessions.status import ProcStatus

from .extensions import db
from .models import MinkeSession

BADGES: dict[str, str] = {
    "none": "never run",
    "queued": "queued",
    "running": "running",
    "stopping": "stopping",
    "success": "success",
    "warning": "warning",
    "error": "error",
    "failed": "failed",
    "stopped": "stopped",
    "canceled": "canceled",
}
"""Badge key -> the text it shows (never colour alone)."""

COUNTED = ("queued", "running", "stopping", "success", "warning", "error", "failed",
           "stopped", "canceled")
"""The badges a run's sessions can show, in the order the run page counts them."""

FINAL = frozenset({"success", "warning", "error", "failed", "stopped", "canceled"})
"""Badges of sessions that ended."""

UNSUCCESSFUL = frozenset({"error", "failed", "stopped", "canceled"})
"""Badges of sessions that did not complete with success or warning."""

TERMINAL_COLOURS = {"success": "green", "warning": "yellow", "error": "red", "failed": "red",
                    "canceled": "magenta", "stopped": "magenta"}
"""The colour the command line prints a badge in (click's names); others are plain."""


def badge_key(proc_status: str | None, session_status: str | None) -> str:
    """The badge of a session with these statuses (``"none"`` for no session)."""
    if not proc_status:
        return "none"
    if proc_status == ProcStatus.INITIALIZED.value:
        return "queued"
    if proc_status == ProcStatus.COMPLETED.value:
        return session_status or "success"
    return proc_status if proc_status in BADGES else "running"


def badge_condition(key: str, table: Any = MinkeSession) -> Any:
    """SQL condition on the rows of ``table`` (:class:`MinkeSession`, or any with its
    ``proc_status`` and ``session_status`` columns) matching badge ``key`` (not ``"none"``).

    :raises KeyError: for an unknown key or ``"none"``.
    """
    proc, outcome = table.proc_status, table.session_status
    if key == "queued":
        return proc == ProcStatus.INITIALIZED.value
    if key in ("running", "stopping", "failed", "stopped", "canceled"):
        return proc == key
    if key == "success":
        return sa.and_(proc == ProcStatus.COMPLETED.value,
                       sa.or_(outcome == "success", outcome.is_(None)))
    if key in ("warning", "error"):
        return sa.and_(proc == ProcStatus.COMPLETED.value, outcome == key)
    raise KeyError(key)


def unsuccessful_condition(table: Any = MinkeSession) -> Any:
    """SQL condition: a session of ``table`` that shows one of :data:`UNSUCCESSFUL`."""
    return sa.or_(*(badge_condition(key, table) for key in sorted(UNSUCCESSFUL)))


def run_counts(run_id: int) -> dict[str, int]:
    """How many sessions of the run show each badge of :data:`COUNTED` (zeros included)."""
    counts = dict.fromkeys(COUNTED, 0)
    for proc, outcome, n in db.session.execute(
            sa.select(MinkeSession.proc_status, MinkeSession.session_status, sa.func.count())
            .where(MinkeSession.run_id == run_id)
            .group_by(MinkeSession.proc_status, MinkeSession.session_status)):
        key = badge_key(proc, outcome)
        counts[key] = counts.get(key, 0) + n
    return counts
