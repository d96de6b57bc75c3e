"""Runs as plain data: what ``minke run --json`` prints and the dashboard exports."""

from __future__ import annotations

from typing import Any

from .kit import utc_iso
from .models import MinkeSession, Run
from .status import badge_key


def session_report(session: MinkeSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "object": session.object_label,
        "object_type": session.object_type,
        "host": session.host.name if session.host else None,
        "session": session.session_name,
        "proc_status": session.proc_status,
        "status": session.session_status,
        "start_time": utc_iso(session.start_time),
        "end_time": utc_iso(session.end_time),
        "change": session.change,  # against the previous run (webapp/changes.py)
        "messages": [{"level": m.level, "kind": m.kind, "text": m.text} for m in session.messages],
        "commands": [
            {"command": c.command, "exit_code": c.exit_code, "status": c.status,
             "stdout": c.stdout, "stderr": c.stderr, "truncated": c.truncated,
             "stdout_bytes": c.stdout_bytes, "stderr_bytes": c.stderr_bytes, "id": c.id}
            for c in session.commands
        ],
    }


def run_report(run: Run) -> list[dict[str, Any]]:
    return [session_report(session) for session in run.sessions]


def run_succeeded(run: Run) -> bool:
    """True when every session completed with success or warning."""
    return all(badge_key(s.proc_status, s.session_status) in ("success", "warning")
               for s in run.sessions)
