"""The pieces of the run page a browser receives after it rendered the page: live messages
and catch-up answers, rendered by the page's own macros."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import get_template_attribute, has_app_context
from markupsafe import Markup

from ..kit import utc_iso
from ..models import Run
from ..status import COUNTED, run_counts
from .feed import MessageView, SessionView, load_changes, session_statuses

MACROS = "runs/_macros.html"


def badges() -> dict[str, Markup]:
    """The badge of every status, rendered once per page by the shared badge macro."""
    badge_for = get_template_attribute("macros/badges.html", "badge_for")
    return {key: badge_for(key) for key in COUNTED}


PLACEHOLDER_COMMAND = {"id": 0, "session_id": 0, "seq": 0, "command": "", "exit_code": None,
                       "status": "running", "stdout_bytes": 0, "stderr_bytes": 0, "output": []}
"""A command the page's script fills in for commands that start live."""


def message_html(event: Mapping[str, Any]) -> str | None:
    """A message event as the run page renders the stored message (the ``message`` macro):
    the renderer of ``webapp.engine.events`` in every process with an app (a worker's
    result writer runs in its app context). ``None`` outside an app context."""
    if not has_app_context():
        return None
    message = get_template_attribute(MACROS, "message")
    return str(message(MessageView(event["session"], event["seq"], event["level"],
                                   event["kind"], event["payload"])))


def session_changes(view: SessionView, run_id: int) -> dict[str, Any]:
    """What changed in one session, as JSON: its state, then its new messages, commands
    and terminal blocks as HTML (the same macros as the page), its output as pieces."""
    message = get_template_attribute(MACROS, "message")
    command_item = get_template_attribute(MACROS, "command_item")
    term_block = get_template_attribute(MACROS, "term_block")
    return {
        "id": view.id,
        "seq": view.seq,
        "status": view.status_key,
        "proc_status": view.proc_status,
        "final": view.is_final,
        "change": view.change,
        "start": utc_iso(view.start_time),
        "end": utc_iso(view.end_time),
        "messages": [{"seq": m.seq, "html": str(message(m))} for m in view.messages],
        "commands": [{"seq": c.seq, "html": str(command_item(c, run_id)),
                      "term": str(term_block(c, with_output=False))} for c in view.commands],
        "output": [piece.as_event() for c in view.commands for piece in c.output],
    }


def catch_up(run: Run, after: Mapping[int, int], *, summary: bool = False,
             statuses: bool = False) -> dict[str, Any]:
    """What a page that shows sessions up to ``after`` (id → sequence number) missed:
    ``sessions`` (their changes) and ``finished``; with ``summary`` the counts per badge,
    with ``statuses`` every session's badge (a paged run's rows on other pages)."""
    answer: dict[str, Any] = {
        "sessions": [session_changes(view, run.id) for view in load_changes(run.id, after)],
        "finished": run.finished_at is not None,
    }
    if summary:
        answer["summary"] = run_counts(run.id)
    if statuses:
        answer["statuses"] = session_statuses(run.id)
    return answer
