"""Socket.IO: logged-in users only; a browser joins the room of a run it may see.

The workers publish each run's events into the run's room through the Redis
message queue (webapp/engine/events.py); this process admits clients, puts
them in rooms and answers a join with what the page missed before it. A
refused join answers ``{"ok": false}``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room, leave_room

from ..extensions import db
from ..inputs import parse_int
from ..models import Run
from ..permissions import can_view_run
from ..sockets import socket_server
from .feed import after_map, begin_snapshot
from .fragments import catch_up
from .revocation import admit, unwatch, watch


def connect(auth: Any = None) -> None:
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("login required")
    # its login and the runs it joins are checked again while it stays (revocation.py)
    admit(request.sid,  # type: ignore[attr-defined]  # set by Flask-SocketIO
          current_user._get_current_object(), can_view_run)


def _run_id(data: Any) -> int | None:
    try:
        return parse_int(data["run"], "run", minimum=1)  # a BadParameter is a ValueError
    except (KeyError, TypeError, ValueError):
        return None


def join(data: Any = None) -> dict[str, Any]:
    """Join the room of run ``data["run"]`` when the user may see the run.

    With ``after`` (session id → the sequence number the page shows; empty when every
    row it shows is final) the answer also holds what the page missed before it joined
    (:func:`fragments.catch_up`) and whether the run finished, read after joining:
    everything stored later arrives as events. ``statuses``: every session's badge too.
    """
    run_id = _run_id(data)
    begin_snapshot()  # never the write lock (SQLite) for a lookup
    run = db.session.get(Run, run_id) if run_id is not None else None
    if run is None or not current_user.is_authenticated or not can_view_run(current_user, run):
        return {"ok": False, "error": "no such run, or not yours to see"}
    try:
        after = after_map(data.get("after") or {})
    except (TypeError, ValueError):
        return {"ok": False, "error": "after: expected session ids and sequence numbers"}
    if not watch(request.sid, run.id):  # type: ignore[attr-defined]  # set by Flask-SocketIO
        return {"ok": False, "error": "this connection watches too many runs already"}
    join_room(current_app.extensions["minke"].keys.run_room(run.id))
    if "after" not in data and not data.get("statuses"):
        return {"ok": True}
    begin_snapshot()  # a snapshot taken after joining: what it lacks arrives as events
    run = db.session.get(Run, run.id)
    assert run is not None  # found just above (catch_up would fail on None)
    return {"ok": True, **catch_up(run, after, statuses=bool(data.get("statuses")))}


def leave(data: Any = None) -> dict[str, Any]:
    run_id = _run_id(data)
    if run_id is not None:
        leave_room(current_app.extensions["minke"].keys.run_room(run_id))
        unwatch(request.sid, run_id)  # type: ignore[attr-defined]  # set by Flask-SocketIO
    return {"ok": True}


def register() -> None:
    """Add the handlers to the Socket.IO server the app factory just created.

    Called after ``socket_server.init_app``: every app (the tests make many) gets
    a new server, which starts without handlers.
    """
    socket_server.on_event("connect", connect)
    socket_server.on_event("join", join)
    socket_server.on_event("leave", leave)
