"""The engine's session record: what a running session reports goes to the writer."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import sqlalchemy as sa

from sessions.messages import BaseMessage
from sessions.results import CommandResult
from sessions.status import ProcStatus

from ...models import utcnow
from ..ssh.interrupt import CodeGuard
from ..ssh.runner import MinkeRemote
from . import writer as ops
from .writer import ResultWriter


class EngineRecord:
    """Implements :class:`sessions.SessionRecord` and the runner's output sink."""

    def __init__(
        self, session_id: int, load_object: Callable[[], Any] | None, session_data: dict[str, Any],
        writer: ResultWriter, *, memory_limit: int, chunk_size: int, flush_interval: float,
    ) -> None:
        self.session_id = session_id
        self._load_object = load_object
        self._minkeobj: Any = None
        self.session_data = dict(session_data or {})
        self.session_status: str | None = None
        self.memory_limit = memory_limit
        self._writer = writer
        self._chunk_size = chunk_size
        self._interval = flush_interval
        self._lock = threading.Lock()  # state shared with the stop listener and readers
        self._emit_lock = threading.RLock()  # sequence numbers: taken and queued in order
        self._seq = 0
        self._stop_level = 0
        self._done = False
        self._runner: MinkeRemote | None = None
        self._command_seq: int | None = None
        self._buffers: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._buffered = {"stdout": 0, "stderr": 0}
        self._bytes = {"stdout": 0, "stderr": 0}
        # the whole stdout hashed as it streams (webapp/changes.py): memory stays bounded
        self._stdout_hash = hashlib.sha256()
        self._last_flush = time.monotonic()
        self.killed = False
        self.code = CodeGuard()

    @property
    def minkeobj(self) -> Any:
        """The session's object, loaded when the session first asks for it."""
        if self._load_object is not None:
            self._minkeobj, self._load_object = self._load_object(), None
        return self._minkeobj

    def _emit(self, make: Callable[[int], Any]) -> int:
        """Queue ``make(seq)`` with the next sequence number; return that number.

        Taking the number and queueing happen under one lock, so that every
        thread reporting for this session (its own, the runner's readers, the
        output ticker, the stop listener) queues in sequence order. The queue
        is bounded: a put may wait for the writer, which never takes this lock.
        """
        with self._emit_lock:
            seq = self._next_seq()
            self._writer.put(make(seq))
        return seq

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    # -- life cycle (called by the executor) ---------------------------------------------

    def started(self, worker_id: str | None) -> None:
        self._emit(lambda seq: ops.SessionStarted(self.session_id, seq, utcnow(), worker_id))
        self._writer.watch(self)

    def finish(self, proc_status: ProcStatus) -> None:
        """Close an interrupted command, store the final state and the object's changes."""
        if self._command_seq is not None:
            self._close_command(None, exited=None)
        self._writer.unwatch(self)
        # a stopped session's changes to its object are not stored
        changes = None if proc_status is ProcStatus.STOPPED else _object_changes(self._minkeobj)
        with self._emit_lock:
            with self._lock:
                self._done = True
            # a sequence number for the writer's message should the changes not be storable
            note_seq = self._next_seq() if changes else None
            self._emit(lambda seq: ops.SessionFinished(
                self.session_id, seq, proc_status.value, self.session_status, utcnow(),
                changes, note_seq,
            ))

    # -- SessionRecord --------------------------------------------------------------------

    @property
    def stop_level(self) -> int:
        return self._stop_level

    def request_stop(self) -> int:
        return self.apply_stop(min(2, self._stop_level + 1))

    def apply_stop(self, level: int) -> int:
        """Raise the stop level to ``level``: 1 stops softly, 2 kills the running command."""
        with self._emit_lock:  # so that no "stopping" can follow the session's end
            with self._lock:
                if level <= self._stop_level or self._done:  # a stop after the end: nothing
                    return self._stop_level
                old, self._stop_level = self._stop_level, level
                runner = self._runner
            if old == 0:
                self._emit(lambda seq: ops.StatusChanged(self.session_id, seq,
                                                         ProcStatus.STOPPING.value))
        if level >= 2:
            if runner is not None:
                self.killed = True
                runner.kill_remote()
            self.code.interrupt_soon()
        return level

    def stop_message(self) -> str:
        """Why the session ended ``stopped``."""
        if self._stop_level < 2:
            return "stopped on request: the session ended once its running command returned"
        how = [what for what, done in (("its remote command was killed", self.killed),
                                       ("its Python code was interrupted", self.code.interrupted))
               if done]
        return "killed on request" + (f": {' and '.join(how)}" if how else "")

    def add_message(self, message: BaseMessage, *, about_run: int | None = None) -> None:
        """Store ``message``; ``about_run``: another run it names (a lock's holder), shown
        only to viewers who may see that run."""
        self._emit(lambda seq: ops.MessageAdded(
            self.session_id, seq, message.level.value, message.kind, message.payload,
            about_run))

    def add_result(self, result: Any) -> CommandResult:
        """The stored form of ``result``: the runner stored it when the command ended."""
        return CommandResult.from_fabric(result)

    # -- output sink (called by the runner's reader threads) ------------------------------

    def command_started(self, runner: MinkeRemote, command: str) -> None:
        with self._lock:
            self._runner = runner
        self._bytes = {"stdout": 0, "stderr": 0}
        self._stdout_hash = hashlib.sha256()
        self._command_seq = self._emit(
            lambda seq: ops.CommandStarted(self.session_id, seq, command, runner.using_pty,
                                           runner.minke_token))
        if self._stop_level >= 2:  # a kill that came while the command was being started
            self.killed = True
            runner.kill_remote()

    def command_finished(self, runner: MinkeRemote, result: CommandResult) -> None:
        result.seq = self._close_command(result, exited=result.exited)

    def output(self, stream: str, text: str) -> None:
        with self._lock:
            self._buffers[stream].append(text)
            self._buffered[stream] += len(text)
            data = text.encode("utf-8", "replace")
            self._bytes[stream] += len(data)
            if stream == "stdout":
                self._stdout_hash.update(data)
            full = self._buffered[stream] >= self._chunk_size
        if full:
            self.flush_output(force=True)

    def flush_output(self, *, force: bool) -> None:
        """Hand buffered output to the writer (when forced, full, or older than the interval)."""
        with self._emit_lock:
            with self._lock:
                if not force and time.monotonic() - self._last_flush < self._interval:
                    return
                command_seq = self._command_seq
                pieces = []
                for stream, buffer in self._buffers.items():
                    if buffer:
                        pieces.append((stream, "".join(buffer)))
                        self._buffers[stream] = []
                        self._buffered[stream] = 0
                self._last_flush = time.monotonic()
            if command_seq is None:
                return
            for stream, data in pieces:  # make(seq): OutputAppended(session_id, seq, …)
                self._emit(partial(ops.OutputAppended, self.session_id, command_seq=command_seq,
                                   stream=stream, data=data))

    def _close_command(self, stored: CommandResult | None, *, exited: int | None) -> int:
        self.flush_output(force=True)
        command_seq = self._command_seq
        with self._lock:
            self._runner = None
        self._command_seq = None
        if command_seq is None:  # the runner never started (e.g. a connection error)
            return 0
        values = stored.as_dict() if stored is not None else {
            "stdout": "", "stderr": "", "exit_code": exited, "status": "error", "truncated": False,
        }
        values.pop("pty", None)
        values.pop("command", None)  # stored when the command started
        values["stdout_bytes"] = self._bytes["stdout"]
        values["stderr_bytes"] = self._bytes["stderr"]
        values["stdout_sha256"] = self._stdout_hash.hexdigest()
        self._emit(lambda seq: ops.CommandFinished(self.session_id, seq, command_seq, values))
        return command_seq


def _object_changes(obj: Any) -> tuple[type[Any], int, dict[str, Any]] | None:
    """The changed column values of a mapped object, to store at the session's end."""
    if obj is None:
        return None
    try:
        state = sa.inspect(obj)
    except sa.exc.NoInspectionAvailable:
        return None
    changes = {
        attr.key: attr.value
        for attr in state.attrs
        if attr.key in state.mapper.columns and attr.history.has_changes()
    }
    return (type(obj), obj.id, changes) if changes else None
