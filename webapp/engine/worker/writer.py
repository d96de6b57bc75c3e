"""One thread per job that stores what sessions report, in batches, then publishes it.

Session threads never write to the database: they put operations on a
bounded queue. The output those operations carry is bounded by size too
(``OUTPUT_IN_FLIGHT`` characters queued or in the batch being written): a
fast command blocks its reader thread, and so its SSH channel, until the
writer has stored what came before, however slow the database. The
writer applies every operation waiting in one transaction, commits, and only
then publishes the events, so anything a browser or the CLI sees is stored.
Live output is coalesced to one event per session per ``flush_interval``
(or sooner, before another event of the session, to keep its events in
sequence order), carrying the pieces of both streams; each piece keeps at
most its newest ``LIVE_OUTPUT_LIMIT`` characters. The full output is in the
stored chunks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask

from sessions.status import ProcStatus

from ...changes import mark_changes
from ...extensions import db
from ...models import Message, MinkeSession, OutputChunk, StoredResult
from .. import events
from ..events import Publisher
from ..progress import UNFINISHED

logger = logging.getLogger(__name__)

LIVE_OUTPUT_LIMIT = 64 * 1024  # characters of output one live event carries at most
BATCH_LIMIT = 500
BATCH_WINDOW = 0.02  # seconds the writer waits for more operations before it writes a batch
# output characters handed to the writer and not yet stored, at most (one chunk may exceed it)
OUTPUT_IN_FLIGHT = 8 * 1024 * 1024


@dataclass
class SessionStarted:
    session_id: int
    seq: int
    start_time: Any
    worker_id: str | None


@dataclass
class StatusChanged:
    session_id: int
    seq: int
    proc_status: str


@dataclass
class MessageAdded:
    session_id: int
    seq: int
    level: str
    kind: str
    payload: dict[str, Any]
    about_run: int | None = None  # another run the message names (see Message.about_run)


@dataclass
class CommandStarted:
    session_id: int
    seq: int
    command: str
    pty: bool
    token: str | None = None


@dataclass
class OutputAppended:
    session_id: int
    seq: int
    command_seq: int
    stream: str
    data: str


@dataclass
class CommandFinished:
    session_id: int
    seq: int
    command_seq: int
    values: dict[str, Any]


@dataclass
class SessionFinished:
    session_id: int
    seq: int
    proc_status: str
    session_status: str | None
    end_time: Any
    object_update: tuple[type[Any], int, dict[str, Any]] | None = None
    note_seq: int | None = None  # for the message saying the object_update failed


@dataclass
class _Piece:
    """Output of one stream of one command, in a live event."""

    command_seq: int
    stream: str
    first_seq: int
    seq: int
    data: str = ""
    omitted: int = 0  # characters left out at the start (the piece keeps the newest)

    def add(self, seq: int, data: str) -> None:
        self.seq = seq
        data = self.data + data
        if len(data) > LIVE_OUTPUT_LIMIT:
            self.omitted += len(data) - LIVE_OUTPUT_LIMIT
            data = data[-LIVE_OUTPUT_LIMIT:]
        self.data = data


@dataclass
class _LiveOutput:
    """The output of one session since its last live event: pieces in sequence order."""

    pieces: list[_Piece] = field(default_factory=list)

    def add(self, op: OutputAppended) -> None:
        last = self.pieces[-1] if self.pieces else None
        if last is None or (last.command_seq, last.stream) != (op.command_seq, op.stream):
            last = _Piece(op.command_seq, op.stream, op.seq, op.seq)
            self.pieces.append(last)
        last.add(op.seq, op.data)

    def event(self, session_id: int) -> dict[str, Any]:
        return events.output_event(session_id, [vars(piece) for piece in self.pieces])


class _Stop:
    """Put last on the queue: the writer stores what came before it, then ends."""


class _OutputBudget:
    """Characters of output handed to the writer and not yet stored; ``take`` waits for room."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._room = threading.Condition()

    def take(self, size: int) -> None:
        with self._room:
            # an empty budget admits any chunk, so that one bigger than the limit cannot hang
            self._room.wait_for(lambda: self._used == 0 or self._used + size <= self._limit)
            self._used += size

    def give_back(self, size: int) -> None:
        if size:
            with self._room:
                self._used -= size
                self._room.notify_all()


class ResultWriter:
    """Stores and publishes the operations of one run's sessions in this process."""

    def __init__(
        self, app: Flask, publisher: Publisher, run_id: int, *, flush_interval: float,
        maxsize: int = 256,
    ) -> None:
        self._app = app
        self._publisher = publisher
        self._run_id = run_id
        self._interval = flush_interval
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._budget = _OutputBudget(OUTPUT_IN_FLIGHT)
        self._command_ids: dict[tuple[int, int], int] = {}
        self._live: dict[int, _LiveOutput] = {}
        self._last_emit: dict[int, float] = {}
        self._watched: set[Any] = set()
        self._watch_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"minke-writer-{run_id}",
                                        daemon=True)
        # flushes output a command printed and then went quiet; a thread of its own because
        # a flush puts on the bounded queue, which the writer itself must never wait for
        self._ticker = threading.Thread(target=self._tick, name=f"minke-ticker-{run_id}",
                                        daemon=True)
        self._closing = threading.Event()
        self.failure: BaseException | None = None

    def start(self) -> ResultWriter:
        self._thread.start()
        self._ticker.start()
        return self

    def put(self, op: Any) -> None:
        if isinstance(op, OutputAppended):
            self._budget.take(len(op.data))
        self._queue.put(op)

    def watch(self, record: Any) -> None:
        """Ask ``record.flush_output()`` every tick while it is watched."""
        with self._watch_lock:
            self._watched.add(record)

    def unwatch(self, record: Any) -> None:
        with self._watch_lock:
            self._watched.discard(record)

    def close(self) -> None:
        """Write everything still queued, publish it, and stop the threads."""
        self._closing.set()
        self._ticker.join()
        self._queue.put(_Stop())
        self._thread.join()

    def _tick(self) -> None:
        while not self._closing.wait(self._interval):
            with self._watch_lock:
                watched = list(self._watched)
            for record in watched:
                record.flush_output(force=False)

    def _loop(self) -> None:
        with self._app.app_context():
            while True:
                try:
                    first = self._queue.get(timeout=self._interval)
                except queue.Empty:
                    first = None
                batch = [] if first is None else [first]
                chars = _output_chars(first)
                # gather what arrives within BATCH_WINDOW: under load one transaction and one
                # publication carry many sessions' reports instead of one each; at most half
                # the output budget, so that readers fill the other half while this is written
                deadline = time.monotonic() + BATCH_WINDOW
                while (batch and len(batch) < BATCH_LIMIT and chars < OUTPUT_IN_FLIGHT // 2
                       and not isinstance(batch[-1], _Stop)):
                    try:
                        batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                    except queue.Empty:
                        break
                    chars += _output_chars(batch[-1])
                stop = any(isinstance(op, _Stop) for op in batch)
                ops = [op for op in batch if not isinstance(op, _Stop)]
                try:
                    self._write(ops, final=stop)
                finally:  # stored (or failed for good): their output leaves memory
                    self._budget.give_back(chars)
                if stop:
                    db.session.remove()
                    return

    def _write(self, ops: list[Any], *, final: bool) -> None:
        out: list[dict[str, Any]] = []
        if ops:
            rows = _Rows()
            try:
                for op in ops:
                    self._apply(op, rows, out)
                self._store(rows)
                db.session.commit()
            except Exception as exc:  # a failed batch must not kill the thread: record it
                db.session.rollback()
                self.failure = exc
                logger.exception("storing results of run %s failed", self._run_id)
                return
        now = time.monotonic()
        for session_id in list(self._live):
            if final or now - self._last_emit.get(session_id, 0) >= self._interval:
                out.append(self._live.pop(session_id).event(session_id))
                self._last_emit[session_id] = now
        if out:
            try:
                self._publisher.publish_many(self._run_id, out)
            except Exception:  # stored all the same: pages and the CLI catch up from storage
                logger.exception("publishing events of run %s failed", self._run_id)

    def _flush_live(self, session_id: int, out: list[dict[str, Any]]) -> None:
        live = self._live.pop(session_id, None)
        if live is not None:
            out.append(live.event(session_id))
            self._last_emit[session_id] = time.monotonic()

    def _apply(self, op: Any, rows: _Rows, out: list[dict[str, Any]]) -> None:
        """Collect the rows of ``op`` and append its events to ``out``, in order."""
        sid = op.session_id
        if isinstance(op, OutputAppended):
            self._collect_output(op, rows, out)
            return
        self._flush_live(sid, out)
        if isinstance(op, SessionStarted):
            rows.started.append({"id": sid, "proc_status": ProcStatus.RUNNING.value,
                                 "start_time": op.start_time, "worker_id": op.worker_id})
            out.append(events.status_event(sid, op.seq, ProcStatus.RUNNING, None,
                                           start_time=op.start_time))
        elif isinstance(op, StatusChanged):
            rows.status.append({"id": sid, "proc_status": op.proc_status})
            out.append(events.status_event(sid, op.seq, op.proc_status, None))
        elif isinstance(op, MessageAdded):
            rows.messages.append({"session_id": sid, "seq": op.seq, "level": op.level,
                                  "kind": op.kind, "payload": op.payload,
                                  "about_run": op.about_run})
            event = events.message_event(sid, op.seq, op.level, op.kind, op.payload)
            if op.about_run is not None:  # its HTML depends on the viewer: pages fetch it
                event.pop("html", None)
            out.append(event)
        elif isinstance(op, CommandStarted):
            rows.commands.append(((sid, op.seq), {
                "session_id": sid, "seq": op.seq, "command": op.command, "pty": op.pty,
                "token": op.token, "status": "running"}))
            out.append(events.command_event(sid, op.seq, command=op.command, status="running"))
        elif isinstance(op, CommandFinished):
            rows.command_results.append(((sid, op.command_seq), op.values))
            out.append(events.command_event(sid, op.seq, command_seq=op.command_seq,
                                            exit_code=op.values["exit_code"],
                                            status=op.values["status"]))
        elif isinstance(op, SessionFinished):
            session_status = op.session_status
            # rare (a session changed its object): stored at once, in a savepoint of its own
            if op.object_update and not self._update_object(op, rows, out):
                session_status = "error"
            rows.finished.append({"id": sid, "proc_status": op.proc_status,
                                  "session_status": session_status, "end_time": op.end_time})
            event = events.status_event(sid, op.seq, op.proc_status, session_status,
                                        end_time=op.end_time)
            rows.finished_events[sid] = event  # its change mark is added once stored
            out.append(event)
        else:
            raise TypeError(f"unknown operation {op!r}")

    def _store(self, rows: _Rows) -> None:
        """Write the collected rows, each kind with one statement, in dependency order."""
        if rows.commands:
            ids = db.session.scalars(
                sa.insert(StoredResult).returning(StoredResult.id, sort_by_parameter_order=True),
                [row for _key, row in rows.commands]).all()
            self._command_ids.update(zip((key for key, _row in rows.commands), ids, strict=True))
        if rows.chunks:
            db.session.execute(sa.insert(OutputChunk), [
                {**row, "command_id": self._command_ids[key]} for key, row in rows.chunks])
        if rows.messages:
            db.session.execute(sa.insert(Message), rows.messages)
        if rows.command_results:
            db.session.execute(sa.update(StoredResult), [
                {**values, "id": self._command_ids.pop(key)}
                for key, values in rows.command_results])
        for session_rows in (rows.started, rows.status, rows.finished):
            if session_rows:
                _update_unfinished(session_rows)
        if rows.finished:
            self._mark_changes(rows)

    def _mark_changes(self, rows: _Rows) -> None:
        """Mark the completed sessions changed / unchanged / new (webapp/changes.py); their
        status events carry the mark. A failure costs the marks, not the batch's results."""
        try:
            with db.session.begin_nested():
                marks = mark_changes(row["id"] for row in rows.finished)
        except sa.exc.SQLAlchemyError:
            logger.exception("comparing the output of run %s with its previous run failed",
                             self._run_id)
            return
        for sid, mark in marks.items():
            rows.finished_events[sid]["change"] = mark

    def _update_object(self, op: SessionFinished, rows: _Rows,
                       out: list[dict[str, Any]]) -> bool:
        """Store the changes the session made to its object; on a database error (a
        ``None`` for a NOT NULL column, a value too long) add an error message instead."""
        assert op.object_update is not None  # the caller checked it
        model, pk, values = op.object_update
        try:
            with db.session.begin_nested():
                db.session.execute(sa.update(model).where(model.id == pk).values(**values))
        except sa.exc.DBAPIError as exc:
            fields = ", ".join(f"{k}={v!r}" for k, v in values.items())
            note_seq = cast(int, op.note_seq)  # set whenever object_update is
            self._apply(MessageAdded(op.session_id, note_seq, "error", "text", {
                "text": f"the changes to {model.__name__} #{pk} ({fields}) were not stored: "
                        f"{exc.orig}"}), rows, out)
            return False
        return True

    def _collect_output(self, op: OutputAppended, rows: _Rows,
                        out: list[dict[str, Any]]) -> None:
        rows.chunks.append(((op.session_id, op.command_seq),
                            {"stream": op.stream, "seq": op.seq, "data": op.data}))
        self._live.setdefault(op.session_id, _LiveOutput()).add(op)


def _output_chars(op: Any) -> int:
    return len(op.data) if isinstance(op, OutputAppended) else 0


@dataclass
class _Rows:
    """What one batch writes, by kind; commands are keyed by (session id, command seq)."""

    commands: list[tuple[tuple[int, int], dict[str, Any]]] = field(default_factory=list)
    chunks: list[tuple[tuple[int, int], dict[str, Any]]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    command_results: list[tuple[tuple[int, int], dict[str, Any]]] = field(default_factory=list)
    started: list[dict[str, Any]] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    finished_events: dict[int, dict[str, Any]] = field(default_factory=dict)


def _update_unfinished(rows: list[dict[str, Any]]) -> None:
    """Update sessions by id, each only while unfinished: a final state, once stored (say by
    a reaper that failed the session), never changes."""
    columns = [name for name in rows[0] if name != "id"]
    # Core: the writer's session holds no such objects
    table = cast(sa.Table, MinkeSession.__table__)
    db.session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"),  # no IN (…): executemany cannot expand it
               sa.or_(*(table.c.proc_status == status for status in UNFINISHED)))
        .values({name: sa.bindparam(f"b_{name}") for name in columns}),
        [{f"b_{name}": value for name, value in row.items()} for row in rows])
