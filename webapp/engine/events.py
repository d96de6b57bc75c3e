"""The one outlet for live events: Redis stream (CLI, catch-up) and Socket.IO room (browsers).

Every event is a plain dict with ``event`` (one of the names below), ``run``
and, for session events, ``session`` and the session's sequence number
``seq``. Browsers get them batched as one Socket.IO ``events`` message (a
list) in the room ``keys.run_room(run_id)``; the CLI reads the run's Redis stream.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

from redis import Redis

from ..kit import utc_iso
from ..status import badge_key
from .emits import RoomEmitter
from .keys import Keys

logger = logging.getLogger(__name__)

SESSION_STATUS = "session.status"
SESSION_MESSAGE = "session.message"
SESSION_COMMAND = "session.command"
SESSION_OUTPUT = "session.output"
RUN_FINISHED = "run.finished"
RUN_QUEUE = "run.queue"  # a queued run moved up (``position``; None: it started)

SOCKETIO_EVENT = "events"
SOCKETIO_CHANNEL = "flask-socketio"  # Flask-SocketIO's default message-queue channel
STREAM_TTL = 24 * 3600


# -- the events, built here only --------------------------------------------------------


def status_event(session_id: int, seq: int, proc_status: str, session_status: str | None,
                 *, start_time: Any = None, end_time: Any = None) -> dict[str, Any]:
    """A session's proc status (and session status) changed; ``status`` is the badge it
    shows now (:mod:`webapp.status`), as the run page's catch-up gives it."""
    outcome = str(session_status) if session_status else None
    event = {"event": SESSION_STATUS, "session": session_id, "seq": seq,
             "proc_status": str(proc_status), "session_status": outcome,
             "status": badge_key(str(proc_status), outcome)}
    for name, value in (("start_time", start_time), ("end_time", end_time)):
        if value is not None:
            event[name] = utc_iso(value)
    return event


MessageRenderer = Callable[[dict[str, Any]], str | None]
_message_renderers: list[MessageRenderer] = []  # at most one: see set_message_renderer


def set_message_renderer(render: MessageRenderer) -> None:
    """Have every message event of this process carry ``html``: ``render(event)``.

    The web app registers the run page's own message macro when it is created
    (webapp/runs), so that a browser inserts a live message exactly as the
    page renders a stored one, without asking the server. A process-wide hook,
    like a Jinja filter: every app of a process renders with the same templates.
    ``render`` returns ``None`` where it cannot render (no app context); the
    event then has no ``html`` and the page fetches the message.
    """
    _message_renderers[:] = [render]


def message_event(session_id: int, seq: int, level: str, kind: str,
                  payload: dict[str, Any]) -> dict[str, Any]:
    """A session added a message; ``html`` is the run page's rendering of it (escaped)."""
    event = {"event": SESSION_MESSAGE, "session": session_id, "seq": seq, "level": str(level),
             "kind": kind, "payload": payload}
    for render in _message_renderers:
        html = render(event)
        if html is not None:
            event["html"] = html
    return event


def command_event(session_id: int, seq: int, *, status: str, exit_code: int | None = None,
                  command: str | None = None, command_seq: int | None = None) -> dict[str, Any]:
    """A command started (``command``; its own ``seq``) or ended (``command_seq`` names it)."""
    event: dict[str, Any] = {"event": SESSION_COMMAND, "session": session_id, "seq": seq,
                             "exit_code": exit_code, "status": str(status)}
    if command is not None:
        event["command"] = command
    if command_seq is not None:
        event["command_seq"] = command_seq
    return event


def output_event(session_id: int, pieces: list[dict[str, Any]]) -> dict[str, Any]:
    """Output of a session's commands: pieces (command_seq, stream, first_seq, seq, data,
    omitted) in sequence order."""
    return {"event": SESSION_OUTPUT, "session": session_id, "first_seq": pieces[0]["first_seq"],
            "seq": pieces[-1]["seq"], "pieces": pieces}


class Publisher:
    """Publishes events of runs; one per process, shared by its threads."""

    def __init__(self, redis: Redis, keys: Keys, redis_url: str, *, maxlen: int = 20000,
                 emit_interval: float = 0.0) -> None:
        self._redis = redis
        self._keys = keys
        self._maxlen = maxlen
        import socketio  # here: a process that only reads events (the CLI) never loads it

        self._emitter = socketio.RedisManager(
            redis_url, channel=SOCKETIO_CHANNEL, write_only=True
        )
        # browsers get a run's events merged per emit_interval (webapp/engine/emits.py)
        self._rooms = RoomEmitter(self._emit, emit_interval)

    def publish(self, run_id: int, event: str, payload: dict[str, Any]) -> None:
        """Publish one event of run ``run_id``."""
        self.publish_many(run_id, [{"event": event, **payload}])

    def publish_many(self, run_id: int, events: Iterable[dict[str, Any]]) -> None:
        """Publish events (dicts with an ``event`` key) of one run, in order, at once.

        The batch is one entry of the run's stream (one ``XADD``, however many
        events) and goes into the run's next Socket.IO message (:class:`RoomEmitter`);
        ``run.finished`` sends that message at once.
        """
        batch = [{"run": run_id, **event} for event in events]
        if not batch:
            return
        stream = self._keys.run_events(run_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(stream, {"e": json.dumps(batch, default=str)}, maxlen=self._maxlen,
                  approximate=True)
        pipe.expire(stream, STREAM_TTL)
        pipe.execute()
        self._rooms.add(run_id, batch, now=batch[-1]["event"] == RUN_FINISHED)

    def _emit(self, run_id: int, batch: list[dict[str, Any]]) -> None:
        self._emitter.emit(SOCKETIO_EVENT, batch, namespace="/", room=self._keys.run_room(run_id))


def read_events(
    redis: Redis, keys: Keys, run_id: int, last_id: str = "0", *, block_ms: int | None = 1000
) -> tuple[str, list[dict[str, Any]]]:
    """Events of run ``run_id`` after stream id ``last_id``; waits up to ``block_ms``
    (``None``: not at all).

    :returns: the id to pass next time, and the events.
    """
    _last, entries = read_batches(redis, keys, run_id, last_id, block_ms=block_ms)
    return _last, [event for _entry_id, batch in entries for event in batch]


def read_batches(
    redis: Redis, keys: Keys, run_id: int, last_id: str = "0", *, block_ms: int | None = 1000
) -> tuple[str, list[tuple[str, list[dict[str, Any]]]]]:
    """Like :func:`read_events`, keeping each published batch with its stream id."""
    # redis-py's hint covers RESP3's dict too; this client's RESP2 reply: [stream, entries]
    answer = cast("list[tuple[bytes, list[tuple[bytes | str, dict[bytes, bytes]]]]] | None",
                  redis.xread({keys.run_events(run_id): last_id}, block=block_ms, count=1000))
    entries: list[tuple[str, list[dict[str, Any]]]] = []
    for _stream, items in answer or ():
        for entry_id, fields in items:
            last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            entries.append((last_id, json.loads(fields[b"e"])))
    return last_id, entries
