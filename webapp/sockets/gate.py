"""The door of the Socket.IO endpoint: logged-in users only, a bounded number each.

A WSGI middleware in front of Flask-SocketIO sees every request to
``/socket.io/`` (long-polling and WebSocket, whatever the query) before
Engine.IO does, so a refused one is answered before it is upgraded, has an
Engine.IO session or holds anything but the request itself:

- **401** without a login: the login is the pages' own (Flask-Login's user
  loading from the session or remember-me cookie), so whatever ends a page
  login ends the socket login too.
- **429** when a new connection would exceed ``MINKE_SOCKET_USER_LIMIT`` open
  connections of that user or ``MINKE_SOCKET_ADDRESS_LIMIT`` of that client
  address (``MINKE_TRUSTED_PROXIES`` applies); 0 turns a limit off. The counts
  are this process's: with several web processes a user may hold that many in
  each.

A connection that has not sent Socket.IO's ``connect`` packet within
``MINKE_SOCKET_CONNECT_TIMEOUT`` seconds is closed; one whose client stops
answering pings is closed by Engine.IO (:data:`webapp.sockets.PING_TIMEOUT`).
A WebSocket let in writes whole frames (:mod:`webapp.sockets.wire`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flask import Flask
from flask_login import current_user
from flask_socketio import SocketIO

from ..security import behind_proxies
from .wire import whole_frames

logger = logging.getLogger(__name__)

TICKET = "minke.socket_ticket"  # the environ key that carries a new connection's ticket
SWEEP_INTERVAL = 1.0  # seconds between looks for connections that never sent `connect`

StartResponse = Callable[..., Any]


@dataclass(eq=False)
class Ticket:
    """One open (or opening) connection, counted against its user and address."""

    user_id: int
    address: str
    opened: float
    eio_sid: str | None = None
    connected: bool = False  # the client sent Socket.IO's connect packet
    released: bool = False


class LimitReached(Exception):
    """A new connection would exceed a limit; the message says which."""


class ConnectionCounts:
    """Open connections of this process by user and by address, under the limits."""

    def __init__(self, *, per_user: int, per_address: int) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self._lock = threading.Lock()
        self._users: Counter[int] = Counter()
        self._addresses: Counter[str] = Counter()
        self._by_sid: dict[str, Ticket] = {}

    def reserve(self, user_id: int, address: str) -> Ticket:
        """Count a new connection; :raises LimitReached: when it would exceed a limit."""
        with self._lock:
            if self.per_user and self._users[user_id] >= self.per_user:
                raise LimitReached(f"too many open connections of this user "
                                   f"({self.per_user}): close some run pages")
            if self.per_address and self._addresses[address] >= self.per_address:
                raise LimitReached(f"too many open connections from this address "
                                   f"({self.per_address})")
            self._users[user_id] += 1
            self._addresses[address] += 1
            return Ticket(user_id, address, time.monotonic())

    def bind(self, ticket: Ticket, eio_sid: str) -> None:
        """The Engine.IO session ``eio_sid`` now holds ``ticket``."""
        with self._lock:
            if not ticket.released:
                ticket.eio_sid = eio_sid
                self._by_sid[eio_sid] = ticket

    def release(self, ticket: Ticket) -> None:
        """The connection closed (or never opened); a second release is a no-op."""
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            if ticket.eio_sid is not None:
                self._by_sid.pop(ticket.eio_sid, None)
            key: Any  # a user id for the users' counter, an address for the addresses'
            for counter, key in ((self._users, ticket.user_id),
                                 (self._addresses, ticket.address)):
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

    def release_sid(self, eio_sid: str) -> None:
        with self._lock:
            ticket = self._by_sid.get(eio_sid)
        if ticket is not None:
            self.release(ticket)

    def unconnected(self) -> list[Ticket]:
        """Bound tickets whose client has not been seen connected yet."""
        with self._lock:
            return [t for t in self._by_sid.values() if not t.connected]


class SocketGate:
    """WSGI middleware: requests to the Socket.IO path pass only with a login, new
    connections only under the limits; other requests go straight to ``wsgi_app``."""

    def __init__(self, app: Flask, socket_server: SocketIO, wsgi_app: Any) -> None:
        self._app = app
        self._server = socket_server
        self._next = wsgi_app
        path = socket_server.server_options.get("socketio_path", "socket.io").strip("/")
        self._prefix = f"/{path}/"
        config = app.config
        self.counts = ConnectionCounts(per_user=int(config["MINKE_SOCKET_USER_LIMIT"] or 0),
                                       per_address=int(config["MINKE_SOCKET_ADDRESS_LIMIT"] or 0))
        self._connect_timeout = float(config["MINKE_SOCKET_CONNECT_TIMEOUT"])
        self._door = behind_proxies(app, self._enter)  # the client's own address
        self._sweeper_started = False
        self._sweeper_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") or "").startswith(self._prefix):
            return self._door(environ, start_response)
        return self._next(environ, start_response)

    def _enter(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        user_id = self._user_id(environ)
        if user_id is None:
            return _refuse(start_response, "401 UNAUTHORIZED", "login required")
        if (environ.get("HTTP_UPGRADE") or "").lower() == "websocket":
            whole_frames(environ)
        query = parse_qs(environ.get("QUERY_STRING") or "")
        if "sid" in query:  # a request of an open Engine.IO session: counted when it opened
            return self._next(environ, start_response)
        try:
            ticket = self.counts.reserve(user_id, environ.get("REMOTE_ADDR") or "unknown")
        except LimitReached as refused:
            return _refuse(start_response, "429 TOO MANY REQUESTS", str(refused))
        self._start_sweeper()
        environ[TICKET] = ticket
        try:
            return self._next(environ, start_response)
        finally:
            # a WebSocket opened directly is served inside this call: it has ended now. A
            # polling handshake that Engine.IO refused (a bad query) was never bound.
            if ticket.eio_sid is None or query.get("transport") == ["websocket"]:
                self.counts.release(ticket)

    def _user_id(self, environ: dict[str, Any]) -> int | None:
        """The id of the user logged in by the request's cookies, as a page would load it."""
        with self._app.request_context(environ):
            user = current_user._get_current_object()
            if not user.is_authenticated:
                return None
            return int(user.id)

    # -- Engine.IO's events: a connection opens and closes

    def on_engineio_open(self, eio_sid: str, environ: dict[str, Any]) -> None:
        ticket = environ.get(TICKET)
        if ticket is not None:
            self.counts.bind(ticket, eio_sid)

    def on_engineio_close(self, eio_sid: str) -> None:
        self.counts.release_sid(eio_sid)

    # -- connections that never say `connect`

    def _start_sweeper(self) -> None:
        # started by the first connection: in the serving process (gunicorn forks after the
        # app is created), in its concurrency model
        if self._sweeper_started:
            return
        with self._sweeper_lock:
            if not self._sweeper_started:
                self._sweeper_started = True
                self._server.start_background_task(self._sweep_forever)

    def _sweep_forever(self) -> None:
        while True:
            self._server.sleep(SWEEP_INTERVAL)
            try:
                self.sweep()
            except Exception:  # the next sweep tries again; a dead sweeper would leave them
                logger.exception("closing idle Socket.IO connections failed")

    def sweep(self) -> int:
        """Close connections older than the connect timeout whose client never sent
        Socket.IO's ``connect``; how many were closed."""
        server = self._server.server
        now = time.monotonic()
        closed = 0
        for ticket in self.counts.unconnected():
            if server.manager.sid_from_eio_sid(ticket.eio_sid, "/") is not None:
                ticket.connected = True
            elif now - ticket.opened > self._connect_timeout:
                logger.info("closing Socket.IO connection %s: no connect within %s s",
                            ticket.eio_sid, self._connect_timeout)
                server.eio.disconnect(ticket.eio_sid)
                self.counts.release(ticket)
                closed += 1
        return closed


def _refuse(start_response: StartResponse, status: str, reason: str) -> list[bytes]:
    body = json.dumps({"error": reason}).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), ("Connection", "close")])
    return [body]


def install(app: Flask, socket_server: SocketIO) -> SocketGate:
    """Put a :class:`SocketGate` in front of the app (after ``socket_server.init_app``, which
    created the server and wrapped the app) and have Engine.IO tell it of every connection
    that opens and closes."""
    gate = SocketGate(app, socket_server, app.wsgi_app)
    app.wsgi_app = gate  # type: ignore[method-assign]
    eio = socket_server.server.eio
    open_handler, close_handler = eio.handlers["connect"], eio.handlers["disconnect"]

    def on_open(eio_sid: str, environ: dict[str, Any]) -> Any:
        gate.on_engineio_open(eio_sid, environ)
        return open_handler(eio_sid, environ)

    def on_close(eio_sid: str, *args: Any) -> Any:
        gate.on_engineio_close(eio_sid)
        return close_handler(eio_sid, *args)

    eio.on("connect", on_open)
    eio.on("disconnect", on_close)
    app.extensions["minke_socket_gate"] = gate
    return gate
