"""A web process's share of the live events: fewer, bigger messages for big audiences.

Workers send a run's events as at most one message per
``MINKE_LIVE_EVENT_INTERVAL`` (webapp/engine/emits.py); this process sends each
message to each of its viewers of the run as one WebSocket frame, so its work is
messages × viewers, and other users' pages wait behind the frames queued when
they arrive (bench/team.py: beside 1,000 viewers of one run at 20 messages a
second, list pages answered in 0.35-0.45 s p95). Here the messages of a run
are merged once more, in order, with an interval that grows with this process's
audience of the run: at most ``MINKE_LIVE_FRAMES_PER_SECOND`` frames a second
per run. Up to a few hundred viewers that changes nothing (their interval is
below the workers'); a thousand get a message every quarter second at the
default. A run's last events leave at once.
"""

from __future__ import annotations

from typing import Any

import socketio

from ..engine.emits import RoomEmitter
from ..engine.events import RUN_FINISHED, SOCKETIO_CHANNEL, SOCKETIO_EVENT


class AudienceRedisManager(socketio.RedisManager):
    """Flask-SocketIO's Redis message queue, merging live events per run by audience."""

    def __init__(self, url: str, *, frames_per_second: float) -> None:
        super().__init__(url, channel=SOCKETIO_CHANNEL)
        self._frames_per_second = frames_per_second
        self._merger = RoomEmitter(self._deliver, self._interval_of)

    def _interval_of(self, room: tuple[str, str]) -> float:
        namespace, name = room
        if self._frames_per_second <= 0:
            return 0.0
        viewers = len(self.rooms.get(namespace, {}).get(name, ()))
        return viewers / self._frames_per_second

    def _handle_emit(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        mergeable = (message.get("event") == SOCKETIO_EVENT and message.get("room")
                     and not message.get("callback") and not message.get("skip_sid")
                     and not message.get("binary") and isinstance(data, list) and len(data) == 1
                     and isinstance(data[0], list) and data[0])
        if not mergeable:
            super()._handle_emit(message)
            return
        events = data[0]
        self._merger.add((message.get("namespace") or "/", message["room"]), events,
                         now=events[-1].get("event") == RUN_FINISHED)

    def _deliver(self, room: tuple[str, str], events: list[dict[str, Any]]) -> None:
        namespace, name = room
        super()._handle_emit({"method": "emit", "event": SOCKETIO_EVENT, "data": [events],
                              "namespace": namespace, "room": name})
