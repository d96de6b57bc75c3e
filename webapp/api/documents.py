"""The JSON documents of the API: sessions with their form fields, objects, runs and
what a run's sessions stored after given sequence numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from wtforms import Field, PasswordField

from sessions import Session
from sessions.messages import BaseMessage
from sessions.registry import group_name

from ..changes import CHANGED, change_condition, run_change_counts
from ..extensions import db
from ..kit import Page, utc_iso
from ..models import Host, MinkeSession, Run
from ..objects.specs import ListSpec
from ..runs.feed import SessionView
from ..status import badge_key, run_counts

SESSIONS_PAGE = 1000
"""Sessions of a run per page of ``GET /runs/<id>``."""


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def field_doc(field: Field, secret: bool = False) -> dict[str, Any]:
    """One form field: what a client must send for it."""
    choices = getattr(field, "choices", None)
    return {
        "name": field.name,
        "label": str(field.label.text),
        "type": field.type,
        "required": bool(field.flags.required),
        "choices": [_plain(choice[0] if isinstance(choice, tuple | list) else choice)
                    for choice in choices] if choices is not None else None,
        "description": str(field.description or ""),
        "default": _plain(field.default) if not callable(field.default) else None,
        "secret": secret or isinstance(field, PasswordField),
    }


def session_doc(session_cls: type[Session]) -> dict[str, Any]:
    form_cls = session_cls.get_form()
    return {
        "name": session_cls.__name__,
        "verbose_name": str(session_cls.verbose_name),
        "description": (session_cls.__doc__ or "").strip(),
        "group": group_name(session_cls),
        "work_on": list(session_cls.work_on_names()),
        "confirm": bool(session_cls.confirm),
        "fields": [field_doc(field, field.name in session_cls.secret_fields)
                   for field in form_cls()] if form_cls is not None else [],
        # the secrets it asks for itself; a targeted host's group may ask for more
        "secrets": list(session_cls.ask_secrets),
    }


def objects_doc(spec: ListSpec, page: Page) -> dict[str, Any]:
    """A page of an object list: each object's id, label, columns and latest status."""
    return {
        "model": spec.model_name,
        "total": page.total,
        "page": page.number,
        "pages": page.pages,
        "size": page.size,
        "objects": [{
            "id": row.obj.id,
            "label": row.label,
            "fields": {column.key: _plain(column.value(row)) for column in spec.columns},
            "status": row.badge if spec.has_status else None,
            "last_run": row.run_id,
            # a disabled host is skipped by every run, with this reason (None: no such flag)
            "disabled": getattr(row.obj, "disabled", None),
            "disabled_reason": getattr(row.obj, "disabled_reason", None) or None,
        } for row in page.rows],
    }


def run_doc(run: Run, *, page: int = 1, changed: bool = False) -> dict[str, Any]:
    """A run, its counts per status and per change mark, and (a page of) its sessions'
    states; with ``changed`` only the sessions whose output changed since the previous run
    (``total`` and ``pages`` count those)."""
    ms = MinkeSession
    query = (sa.select(ms.id, ms.object_type, ms.object_id, ms.object_label, Host.name,
                       ms.proc_status, ms.session_status, ms.start_time, ms.end_time, ms.change)
             .outerjoin(Host, Host.id == ms.host_id).where(ms.run_id == run.id))
    if changed:
        query = query.where(change_condition(CHANGED))
    rows = db.session.execute(query.order_by(ms.id).limit(SESSIONS_PAGE)
                              .offset((max(1, page) - 1) * SESSIONS_PAGE))
    counts = run_counts(run.id)
    changes = run_change_counts(run.id)
    total = changes[CHANGED] if changed else sum(counts.values())
    return {
        "id": run.id,
        "session": run.session_name,
        "object_type": run.object_type,
        "user": run.user_name,
        "origin": run.origin,
        "schedule": run.schedule.name if run.schedule else None,
        "data": run.data,
        "created_at": utc_iso(run.created_at),
        "finished_at": utc_iso(run.finished_at),
        "finished": run.finished_at is not None,
        "counts": {key: n for key, n in counts.items() if n},
        "changes": changes,
        "changed_only": changed,
        "total": total,
        "page": max(1, page),
        "pages": max(1, -(-total // SESSIONS_PAGE)),
        "sessions": [{
            "id": sid, "object_type": object_type, "object_id": object_id, "object": label,
            "host": host, "status": badge_key(proc, outcome), "proc_status": proc,
            "session_status": outcome, "start_time": utc_iso(start), "end_time": utc_iso(end),
            "change": change,
        } for sid, object_type, object_id, label, host, proc, outcome, start, end, change
            in rows],
    }


def changes_doc(view: SessionView) -> dict[str, Any]:
    """A session's state and what it stored after the sequence number asked for."""
    return {
        "id": view.id,
        "object": view.object_label,
        "status": view.status_key,
        "proc_status": view.proc_status,
        "session_status": view.session_status,
        "final": view.is_final,
        "start_time": utc_iso(view.start_time),
        "end_time": utc_iso(view.end_time),
        "seq": view.seq,
        "messages": [{"seq": m.seq, "level": m.level, "kind": m.kind,
                      "text": BaseMessage.render(m.kind, m.payload), "payload": m.payload}
                     for m in view.messages],
        "commands": [{"seq": c.seq, "id": c.id, "command": c.command, "exit_code": c.exit_code,
                      "status": c.status, "truncated": c.truncated,
                      "stdout_bytes": c.stdout_bytes, "stderr_bytes": c.stderr_bytes}
                     for c in view.commands],
        "output": [piece.as_event() for c in view.commands for piece in c.output],
    }


def run_session_ids(run_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(MinkeSession.id)
                                   .where(MinkeSession.run_id == run_id)
                                   .order_by(MinkeSession.id)))
