"""The status an object list shows for a session: one word from its two statuses.

A session has a life-cycle status (``proc_status``) and, once it ran, an
outcome (``session_status``). Lists, filters and the run page show one badge:
the outcome of a completed session, else where it is in its life cycle.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sessions.status import ProcStatus

from ..models import MinkeSession

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
