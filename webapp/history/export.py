"""A run's results as CSV (one row per session) and JSON (the CLI's report, with the run)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy.orm import selectinload

from ..extensions import db
from ..kit import inert, utc_iso
from ..models import MinkeSession, Run
from ..reports import run_report

CSV_COLUMNS = ("session_id", "object_type", "object", "host", "session", "proc_status",
               "status", "start_time", "end_time", "seconds", "messages", "commands",
               "exit_codes", "stdout", "stderr")


def load_run(run_id: int) -> Run | None:
    """The run with its sessions, their messages and commands (a fixed number of queries)."""
    return db.session.get(Run, run_id, options=[
        selectinload(Run.sessions).selectinload(MinkeSession.messages),
        selectinload(Run.sessions).selectinload(MinkeSession.commands),
    ])





def _time(value: Any) -> str:
    return value.isoformat(sep=" ", timespec="seconds") if value else ""


def _csv_row(session: MinkeSession) -> list[Any]:
    seconds = (f"{(session.end_time - session.start_time).total_seconds():.3f}"
               if session.start_time and session.end_time else "")
    commands = session.commands
    return [session.id, session.object_type, session.object_label,
            session.host.name if session.host else "", session.session_name,
            session.proc_status, session.session_status or "", _time(session.start_time),
            _time(session.end_time), seconds,
            "\n".join(f"{m.level}: {m.text}" for m in session.messages),
            "\n".join(c.command for c in commands),
            " ".join("" if c.exit_code is None else str(c.exit_code) for c in commands),
            "".join(c.stdout for c in commands), "".join(c.stderr for c in commands)]


def run_csv(run: Run) -> str:
    """One row per session; every cell made inert for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for session in run.sessions:
        writer.writerow([inert(cell) for cell in _csv_row(session)])
    return out.getvalue()


def run_json(run: Run) -> dict[str, Any]:
    """The run's facts and, under ``sessions``, what ``minke run --json`` prints."""
    return {
        "run": {"id": run.id, "session": run.session_name, "object_type": run.object_type,
                "user": run.user_name, "origin": run.origin, "data": run.data,
                "created_at": utc_iso(run.created_at),
                "finished_at": utc_iso(run.finished_at)},
        "sessions": run_report(run),
    }
