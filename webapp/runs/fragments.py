"""The pieces of the run page a catching-up browser receives, rendered by the page's macros."""

from __future__ import annotations

from typing import Any

from flask import get_template_attribute
from markupsafe import Markup

from .feed import STATUS_KEYS, SessionView

MACROS = "runs/_macros.html"


def badges() -> dict[str, Markup]:
    """The badge of every status, rendered once per page by the shared badge macro."""
    badge_for = get_template_attribute("macros/badges.html", "badge_for")
    return {key: badge_for(key) for key in STATUS_KEYS}


EMPTY_ROW = SessionView(0, "", "", None, "queued", None, None, None)
"""Stands for a row whose details are not loaded: renders the empty lists they go in."""


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


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
        "start": _iso(view.start_time),
        "end": _iso(view.end_time),
        "messages": [{"seq": m.seq, "html": str(message(m))} for m in view.messages],
        "commands": [{"seq": c.seq, "html": str(command_item(c, run_id)),
                      "term": str(term_block(c, with_output=False))} for c in view.commands],
        "output": [piece.as_event() for c in view.commands for piece in c.output],
    }
