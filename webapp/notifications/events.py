"""What happened to a run, as notifications tell it: its events and their facts.

``started`` is sent when the run is stored and its jobs queued (what an operator
who clicked Run means: the run exists and has its link; it may still wait for a
free worker slot). When the last session ended, the run is ``stopped`` (someone
stopped it), else ``failed`` (an object ended error or failed), else
``succeeded``; and ``slow`` too when it took longer than the mean plus k standard
deviations of the previous runs of the same session (Rundeck's "average duration
exceeded"), judged when it finishes.
"""

from __future__ import annotations

import statistics
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..kit import utc_iso
from ..models import Message, MinkeSession, Run
from ..status import badge_condition, badge_key, run_counts

EVENTS = ("started", "succeeded", "failed", "stopped", "slow")
"""The events a subscription may ask for, in the order pages list them."""
EVENT_TEXT = {"started": "started", "succeeded": "succeeded", "failed": "failed",
              "stopped": "stopped", "slow": "took much longer than usual"}
FAILURES_SHOWN = 5
MESSAGE_CHARS = 300


def outcome(counts: dict[str, int], stopped: bool) -> str:
    """``stopped``, ``failed`` or ``succeeded`` for a finished run with these badge counts
    (``stopped``: a stop was asked for the whole run)."""
    if stopped or counts.get("stopped"):
        return "stopped"
    if counts.get("error") or counts.get("failed"):
        return "failed"
    return "succeeded"


def duration(run: Run) -> float | None:
    """Seconds from the run's start to its end (``None`` while it runs)."""
    if run.finished_at is None:
        return None
    return (run.finished_at - run.created_at).total_seconds()


def usual_duration(run: Run) -> dict[str, float] | None:
    """The previous finished runs like this one — of its session, and of its schedule when
    a schedule started it (the same objects each time): how many (the last
    ``MINKE_NOTIFY_SLOW_RUNS``), their mean and standard deviation in seconds, and the
    limit (mean + ``MINKE_NOTIFY_SLOW_FACTOR`` deviations, at least one second more than
    the mean); ``None`` with fewer than three of them."""
    config = current_app.config
    query = (sa.select(Run.created_at, Run.finished_at)
             .where(Run.session_name == run.session_name, Run.id < run.id,
                    Run.finished_at.is_not(None)))
    if run.schedule_id is not None:
        query = query.where(Run.schedule_id == run.schedule_id)
    rows = db.session.execute(
        query.order_by(Run.id.desc()).limit(int(config["MINKE_NOTIFY_SLOW_RUNS"]))).all()
    if len(rows) < 3:
        return None
    seconds = [(end - start).total_seconds() for start, end in rows if end is not None]
    mean, deviation = statistics.fmean(seconds), statistics.pstdev(seconds)
    limit = mean + max(float(config["MINKE_NOTIFY_SLOW_FACTOR"]) * deviation, 1.0)
    return {"runs": len(rows), "mean": round(mean, 3), "stdev": round(deviation, 3),
            "limit": round(limit, 3)}


def first_failures(run_id: int, limit: int = FAILURES_SHOWN) -> list[dict[str, str]]:
    """The first unsuccessful sessions of the run: object, badge, and the text of its first
    error message (the start of it)."""
    unsuccessful = sa.or_(*(badge_condition(key) for key in ("error", "failed")))
    rows = db.session.execute(
        sa.select(MinkeSession.id, MinkeSession.object_label, MinkeSession.proc_status,
                  MinkeSession.session_status)
        .where(MinkeSession.run_id == run_id, unsuccessful)
        .order_by(MinkeSession.id).limit(limit)).all()
    failures = []
    for session_id, label, proc, status in rows:
        message = db.session.scalar(
            sa.select(Message).where(Message.session_id == session_id,
                                     Message.level == "error")
            .order_by(Message.seq).limit(1))
        text = " ".join(message.text.split()) if message is not None else ""
        if len(text) > MESSAGE_CHARS:
            text = text[:MESSAGE_CHARS - 1] + "…"
        failures.append({"object": label, "status": badge_key(proc, status), "message": text})
    return failures


def run_url(run_id: int) -> str:
    """The run page's address (``MINKE_BASE_URL``: the address users open Minke at)."""
    return f"{current_app.config['MINKE_BASE_URL'].rstrip('/')}/runs/{run_id}"


def facts(run: Run, event: str, usual: dict[str, float] | None = None) -> dict[str, Any]:
    """What every message of ``event`` says of ``run``: never its form data (where a
    session's secret fields would be), only names, counts, times and error texts."""
    counts = {key: n for key, n in run_counts(run.id).items() if n}
    return {
        "event": event,
        "run": {"id": run.id, "session": run.session_name, "user": run.user_name,
                "origin": run.origin, "object_type": run.object_type,
                "schedule": run.schedule_id,
                "schedule_name": run.schedule.name if run.schedule is not None else None,
                "created_at": utc_iso(run.created_at), "finished_at": utc_iso(run.finished_at),
                "duration_seconds": duration(run), "url": run_url(run.id)},
        "counts": counts,
        "objects": sum(counts.values()),
        "failures": first_failures(run.id) if event != "started" else [],
        "usual_duration": usual,
    }


def finished_events(run: Run, stopped: bool) -> tuple[list[str], dict[str, float] | None]:
    """The events of a finished run (its outcome, and ``slow`` when it was) and the usual
    duration it was compared with."""
    events = [outcome(run_counts(run.id), stopped)]
    usual = usual_duration(run)
    took = duration(run)
    if usual is not None and took is not None and took > usual["limit"]:
        events.append("slow")
    return events, usual
