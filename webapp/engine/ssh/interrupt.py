"""Interrupting a session's own Python code, for a kill that no remote command can end.

A kill closes the running remote command; a session busy in Python
(``while True: time.sleep(1)``) or one that swallows what ends it would go
on regardless. :class:`CodeGuard` knows the thread running a session's code
and, once a kill was asked for, raises :class:`~sessions.SessionStopped` in
that thread (an asynchronous exception) until the code has left, at most
for ``GIVE_UP_SECONDS``. The engine's own code after the session is never
hit: leaving clears a pending exception under the same lock.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from sessions.errors import SessionStopped

logger = logging.getLogger(__name__)

FIRST_DELAY = 0.5  # seconds a killed session gets to end by itself (its remote command killed)
REPEAT_DELAY = 0.5
GIVE_UP_SECONDS = 60.0


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> int:
    return cast(int, ctypes.pythonapi.PyThreadState_SetAsyncExc(  # restype c_int: an int
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None))


class CodeGuard:
    """The thread running one session's code, and interrupting it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self._interrupting = False
        self.interrupted = False  # an exception was raised in the session's code

    @contextmanager
    def running(self) -> Iterator[None]:
        """Run the session's code in this block (in the calling thread)."""
        with self._lock:
            self._thread_id = threading.get_ident()
        try:
            yield
        finally:
            while True:
                try:
                    self._leave()
                    break
                except SessionStopped:  # a kill's interruption arriving as the code ends
                    self.interrupted = True

    def _leave(self) -> None:
        with self._lock:
            thread_id, self._thread_id = self._thread_id, None
            if thread_id is not None:
                _set_async_exc(thread_id, None)  # drop one raised but not yet delivered

    def interrupt_soon(self) -> None:
        """Raise SessionStopped in the session's code from ``FIRST_DELAY`` on, until it left."""
        with self._lock:
            if self._interrupting or self._thread_id is None:
                return
            self._interrupting = True
        threading.Thread(target=self._interrupt, name="minke-interrupt", daemon=True).start()

    def _interrupt(self) -> None:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        time.sleep(FIRST_DELAY)
        while time.monotonic() < deadline:
            with self._lock:
                if self._thread_id is None:
                    return
                _set_async_exc(self._thread_id, SessionStopped)
                self.interrupted = True
            time.sleep(REPEAT_DELAY)
        logger.error("a killed session's code did not end within %s s", GIVE_UP_SECONDS)
