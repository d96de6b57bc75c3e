"""Open sockets lose what their user may no longer have: the login, or a run's room.

A socket is admitted once (webapp/runs/live.py ``connect``) and then only
receives: without this, it would stream a run after its user logged out, was
disabled or lost the permission to see the run. Each web process therefore
checks its own open sockets

- at once when told to through Redis (webapp/auth/logins.py publishes on
  :attr:`Keys.logins_channel <webapp.engine.keys.Keys.logins_channel>` after a
  logout, an ended login, a disable, a password reset or a role change), and
- every :data:`CHECK_SECONDS` whatever was announced (a notice published while
  Redis was away is lost: the periodic check makes that a few seconds' delay).

A socket whose login has ended is told why (:data:`ACCESS_EVENT`) and
disconnected; one watching a run its user may no longer see leaves the run's
room and is told so. What each socket watches is kept in its Socket.IO session
(:func:`admit`, :func:`watch`), bounded by :data:`MAX_RUNS_PER_SOCKET`. A run's
room is left when the check the join made (``may_view``, given by
webapp/runs/live.py) says no now.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from redis import RedisError

from ..auth.logins import live_logins
from ..database import begin_read_only
from ..extensions import db
from ..models import Run, User
from ..sockets import socket_server

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
"""Every socket's login and rooms are checked at least this often (the issue asks for an
end within 10 s; a Redis notice makes it immediate)."""

ACCESS_EVENT = "access"
"""Sent to a socket that loses something: ``{"reason", "message"}``, plus ``"run"`` when it
only loses that run's room."""

MAX_RUNS_PER_SOCKET = 16
"""A page watches one run; this bounds what one socket may make this process remember."""

NAMESPACE = "/"

MESSAGES = {
    "logout": "You logged out: live updates stopped. Log in again to follow this run.",
    "revoked": "You were logged out (your login was ended): live updates stopped.",
    "password": "You were logged out (your password was reset): live updates stopped.",
    "disabled": "You were logged out (your account was disabled): live updates stopped.",
    "ended": "You were logged out: live updates stopped. Log in again to follow this run.",
    "forbidden": "You may no longer see this run: live updates stopped.",
}


MayView = Callable[[User, Run], bool]


def admit(sid: str, user: User, may_view: MayView) -> None:
    """Remember the login socket ``sid`` was admitted with, and start this process's
    checks if they do not run yet.

    :param may_view: whether a user may see a run: the check every join makes, made
        again on the runs each socket watches.
    """
    socket_server.server.save_session(sid, {"user": user.id, "login": user.login_id, "runs": []},
                                 namespace=NAMESPACE)
    _guard(may_view).start()


def watch(sid: str, run_id: int) -> bool:
    """Note that socket ``sid`` joins run ``run_id``'s room; False when it watches too many."""
    with socket_server.server.session(sid, namespace=NAMESPACE) as state:
        runs = state.setdefault("runs", [])
        if run_id in runs:
            return True
        if len(runs) >= MAX_RUNS_PER_SOCKET:
            return False
        runs.append(run_id)
    return True


def unwatch(sid: str, run_id: int) -> None:
    with socket_server.server.session(sid, namespace=NAMESPACE) as state:
        if run_id in state.get("runs", ()):
            state["runs"].remove(run_id)


def _guard(may_view: MayView) -> SocketGuard:
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # current_app is a proxy
    guard = app.extensions.get("minke_socket_guard")
    if guard is None:
        guard = app.extensions.setdefault("minke_socket_guard", SocketGuard(app, may_view))
    return guard


class SocketGuard:
    """This process's checks of its open sockets (one per app, started on the first
    admitted socket, in a Socket.IO background task: a thread or a greenlet, whatever
    the server model)."""

    def __init__(self, app: Flask, may_view: MayView) -> None:
        self.app = app
        self.may_view = may_view
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        with self._lock:
            if not self._started:
                socket_server.start_background_task(self._run)
                self._started = True

    def _run(self) -> None:
        due = time.monotonic() + CHECK_SECONDS
        pubsub = None
        while True:
            wait = max(0.0, due - time.monotonic())
            message = None
            try:
                if pubsub is None:
                    pubsub = self._subscribe()
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
            except RedisError as exc:  # the periodic checks go on; subscribe again later
                log.warning("socket checks: no notices from Redis (%s); checking every %s s",
                            exc, CHECK_SECONDS)
                pubsub = None
                socket_server.sleep(wait)
            if message is not None and message.get("type") == "message":
                self._check_safely(_users(message["data"]))
            if time.monotonic() >= due:
                self._check_safely(None)
                due = time.monotonic() + CHECK_SECONDS

    def _subscribe(self) -> Any:
        with self.app.app_context():
            state = self.app.extensions["minke"]
            channel = state.keys.logins_channel
        pubsub = state.redis.pubsub()
        pubsub.subscribe(channel)
        return pubsub

    def _check_safely(self, users: dict[int, str] | None) -> None:
        try:
            self.check(users)
        except Exception:  # the loop must outlive a failed check (a database restart, say):
            # the next one runs within CHECK_SECONDS
            log.exception("checking the open sockets failed")

    def check(self, users: dict[int, str] | None = None) -> None:
        """Check the sockets of ``users`` (user id → why they are checked; ``None``: every
        socket of this process): end those whose login ended, take them out of the rooms
        of runs their user may no longer see."""
        sockets = []
        for sid, _eio_sid in socket_server.server.manager.get_participants(NAMESPACE, None):
            try:
                state = socket_server.server.get_session(sid, namespace=NAMESPACE)
            except KeyError:  # disconnected meanwhile
                continue
            if "login" in state and (users is None or state["user"] in users):
                sockets.append((sid, state))
        if not sockets:
            return
        with self.app.app_context():
            begin_read_only()
            live = live_logins({state["login"]: state["user"] for _sid, state in sockets})
            run_ids = {run_id for _sid, state in sockets for run_id in state["runs"]}
            runs = {run.id: run for run in db.session.scalars(
                sa.select(Run).where(Run.id.in_(sorted(run_ids))))} if run_ids else {}
            keys = self.app.extensions["minke"].keys
            for sid, state in sockets:
                user = live.get(state["login"])
                if user is None:
                    reason = (users or {}).get(state["user"], "ended")
                    self._end(sid, reason if reason in MESSAGES else "ended")
                    continue
                for run_id in list(state["runs"]):
                    run = runs.get(run_id)
                    if run is None or not self.may_view(user, run):
                        self._leave(sid, run_id, keys.run_room(run_id))
            db.session.rollback()

    def _end(self, sid: str, reason: str) -> None:
        server = socket_server.server
        log.info("socket %s: login ended (%s): disconnecting", sid, reason)
        # both through this process only: the event must leave before the disconnect
        server.emit(ACCESS_EVENT, {"reason": reason, "message": MESSAGES[reason]}, to=sid,
                    namespace=NAMESPACE, ignore_queue=True)
        server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

    def _leave(self, sid: str, run_id: int, room: str) -> None:
        server = socket_server.server
        log.info("socket %s: may no longer see run #%s: leaving its room", sid, run_id)
        server.leave_room(sid, room, namespace=NAMESPACE)
        try:
            unwatch(sid, run_id)
        except KeyError:  # disconnected meanwhile: nothing left to tell
            return
        server.emit(ACCESS_EVENT, {"reason": "forbidden", "run": run_id,
                                   "message": MESSAGES["forbidden"]},
                    to=sid, namespace=NAMESPACE, ignore_queue=True)


def _users(data: bytes | str) -> dict[int, str] | None:
    """The users a notice names (id → why), ``None`` for everybody (or an unreadable one)."""
    try:
        named = json.loads(data)["users"]
        return None if named is None else {int(uid): str(why) for uid, why in named.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("socket checks: unreadable notice %r: checking every socket", data)
        return None
