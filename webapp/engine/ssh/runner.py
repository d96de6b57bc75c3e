"""fabric's remote runner, made streamable, memory-bounded and killable.

The engine installs :class:`MinkeRemote` as ``runners.remote`` of every
connection and sets ``connection.minke_sink`` to the record of the session
using it. Every command's start, output (as it arrives: stored in chunks and
published live) and result are handed to the sink, also for commands a
session runs through ``self.c`` directly; only ``sink.memory_limit`` characters per stream are kept
in the result. invoke's own loop re-joins the whole buffer for every chunk
read, which is quadratic on large outputs.
"""

from __future__ import annotations

import codecs
import logging
import re
import shlex
import threading
import uuid
from typing import Any, Protocol

from fabric.runners import Remote

from sessions.errors import SessionStopped
from sessions.results import CommandResult

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "MINKE_COMMAND_TOKEN"
PTY_GRACE_SECONDS = 1.0
KILL_TIMEOUT = 5.0  # seconds the kill over a second channel may take
WAIT_CHECK_SECONDS = 0.1  # how often wait() looks for a reader thread that died


class ConnectionLost(ConnectionError):
    """The connection to the host went away while a command ran."""


class OutputSink(Protocol):
    memory_limit: int
    stop_level: int

    def command_started(self, runner: MinkeRemote, command: str) -> None: ...

    def output(self, stream: str, text: str) -> None: ...

    def command_finished(self, runner: MinkeRemote, result: Any) -> None: ...


class MinkeRemote(Remote):
    """A :class:`fabric.runners.Remote` that streams output to the connection's sink."""

    read_chunk_size = 64 * 1024

    def start(self, command: str, shell: str, env: dict[str, Any],
              timeout: int | None = None) -> None:
        self.minke_token = uuid.uuid4().hex
        self.minke_truncated = False
        if self._sink is not None and self._sink.stop_level:
            # also for commands a session runs through self.c directly
            raise SessionStopped("stopped before the command started")
        # every process of the command inherits the token, so a kill (also one from another
        # process, for a dead worker's commands) can find them all
        env = {**(env or {}), TOKEN_VARIABLE: self.minke_token}
        if self.inline_env:  # fabric writes `export K=V && …` unquoted: quote the values
            env = {key: shlex.quote(str(value)) for key, value in env.items()}
        super().start(command, shell, env, timeout)
        sink = self._sink
        if sink is not None:
            sink.command_started(self, command)

    def generate_result(self, **kwargs: Any) -> CommandResult:
        # called for every command that ran to its end, before invoke raises for a
        # failure or timeout: the sink stores it whoever ran it (Session.run or self.c.run),
        # and both get the same type of result
        result = CommandResult(connection=self.context, truncated=self.minke_truncated, **kwargs)
        sink = self._sink
        if sink is not None:
            sink.command_finished(self, result)
            if sink.stop_level:  # the session ends with the command it was running
                raise SessionStopped("stopped after the command returned")
        if result.exited == -1 and not self.timed_out:
            # no exit status, and we ended nothing (a stop or a timeout): the connection
            # or the server's end of it went away
            raise ConnectionLost(f"connection lost while running {result.command!r}: "
                                 "no exit status came back")
        return result

    def wait(self) -> None:
        # block on the channel's exit-status event: invoke polls every 10 ms, which with
        # fifty commands at once keeps fifty threads waking up for nothing
        while not self.channel.status_event.wait(WAIT_CHECK_SECONDS):
            if self.process_is_finished or self.has_dead_threads:
                break

    @property
    def _sink(self) -> OutputSink | None:
        return getattr(self.context, "minke_sink", None)

    def _handle_output(self, buffer_: list[str], hide: bool, output: Any, reader: Any) -> None:
        sink = self._sink
        if sink is None:
            super()._handle_output(buffer_, hide, output, reader)
            return
        stream = "stdout" if reader == self.read_proc_stdout else "stderr"
        decoder = codecs.getincrementaldecoder(self.encoding or "utf-8")("replace")
        room = sink.memory_limit
        while True:
            data = reader(self.read_chunk_size)
            text = decoder.decode(data or b"", final=not data)
            if text:
                sink.output(stream, text)
                if room > 0:
                    buffer_.append(text[:room])
                    room -= len(text)
                if room < 0:
                    self.minke_truncated = True
                if self.watchers:
                    self.respond(buffer_)
            if not data:
                break

    def kill(self) -> None:
        # invoke calls it when a command times out (``timeout=``, ``timeouts.command``): the
        # remote processes must end with it, not only our end of the channel
        self.kill_remote()

    def kill_remote(self) -> None:
        """Interrupt the remote command at once and make ``run`` return.

        With a pty: Ctrl-C, then (if it still runs after a second) close the
        channel. Without one: kill every remote process carrying this
        command's token over a second channel, then close the channel. Returns
        at once: the kill goes on in a thread of its own, so that killing many
        sessions takes as long as killing one.
        """
        channel = getattr(self, "channel", None)
        if channel is None or channel.closed:
            return
        if self.using_pty:
            channel.send("\x03")
            threading.Timer(PTY_GRACE_SECONDS, self._close_if_running).start()
            return
        threading.Thread(target=self._kill_and_close, name="minke-kill", daemon=True).start()

    def _close_if_running(self) -> None:
        channel = self.channel
        if not channel.closed and not channel.exit_status_ready():
            channel.close()

    def _kill_and_close(self) -> None:
        try:
            self._kill_by_token()
        except Exception:  # the channel is closed below all the same: the spec's disconnect
            logger.warning("killing the remote processes of command %s failed",
                           self.minke_token, exc_info=True)
        finally:
            self.channel.close()

    def _kill_by_token(self) -> None:
        transport = self.context.transport
        if transport is None or not transport.is_active():
            return
        kill_by_token(transport, self.minke_token)


def kill_by_token(transport: Any, token: str) -> None:
    """Kill every process on the host carrying ``token`` (a command's and its children),
    over a channel of its own on ``transport``.

    The command's children carry it in their environment; its shell, which
    got the variable through fabric's ``export … &&`` prefix, in its command
    line. The script spells the token in two halves, so that its own shell
    matches neither; it runs twice, for a child forked while the first kill ran.
    """
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise ValueError(f"not a command token: {token!r}")
    # ${t} in braces: the hex that follows would otherwise lengthen the variable's name,
    # leave an empty pattern, and kill every process of the user
    head, tail = token[:16], token[16:]
    script = (f"t={TOKEN_VARIABLE}={head}; for i in 1 2; do "
              f"grep -lzF \"${{t}}{tail}\" /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null "
              "| cut -d/ -f3 | sort -u | xargs -r kill -KILL 2>/dev/null; done; true")
    channel = transport.open_session(timeout=KILL_TIMEOUT)
    try:
        channel.settimeout(KILL_TIMEOUT)
        channel.exec_command(script)
        channel.recv_exit_status()
    finally:
        channel.close()
