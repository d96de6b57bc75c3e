"""Database set-up: SQLite pragmas that make several writer processes safe."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask

from .extensions import db
from .greenlets import gevent_patched

BUSY_TIMEOUT_MS = 30000  # how long a transaction waits for SQLite's write lock


def init_app(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _make_sqlite_concurrent(engine)


def begin_read_only() -> None:
    """Start the session's next transaction as a read-only one, unless one is open.

    On SQLite it begins with a plain (deferred) ``BEGIN``, which never holds
    the write lock, so it may stay open while this process waits on something
    else. End it before writing. On PostgreSQL it changes nothing.
    """
    if not db.session().in_transaction():
        db.session.connection(execution_options={"minke_read_only": True})


@contextmanager
def read_only() -> Iterator[None]:
    """Read in a read-only transaction (:func:`begin_read_only`) that ends with the block,
    error or not: a reader cannot leave it open. Inside a transaction already open it
    reads in that one and leaves it to its owner.

    Example::

        with read_only():
            run = db.session.get(Run, run_id)
            print(run.finished_at)
    """
    owned = not db.session().in_transaction()
    begin_read_only()
    try:
        yield
    finally:
        if owned:
            db.session.rollback()


def _make_sqlite_concurrent(engine: sa.Engine) -> None:
    """WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    A deferred transaction that reads and then writes fails with SQLITE_BUSY
    at once when another process writes; taking the write lock at BEGIN lets
    the busy timeout do its work (NOTES.md). A process with threads (a worker)
    lets them in one write transaction at a time through :class:`WriteGate`.
    """

    cooperative = gevent_patched()
    gate = None if cooperative else WriteGate()

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # a transaction that will only read (``minke_read_only``) must not hold the write lock
        read_only = connection.get_execution_options().get("minke_read_only")
        if read_only:
            connection.exec_driver_sql("BEGIN")
        elif cooperative:
            _begin_immediate_cooperatively(connection.connection.driver_connection)
        else:
            assert gate is not None  # made above when not cooperative
            gate.enter(connection.info)
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                gate.leave(connection.info)
                raise

    if gate is not None:
        def _on_end(connection) -> None:
            if not connection.invalidated:  # else its pool record let go ("invalidate")
                gate.leave(connection.info)

        sa.event.listen(engine, "commit", _on_end)
        sa.event.listen(engine, "rollback", _on_end)

        # a connection given back to the pool, closed or invalidated in a transaction
        @sa.event.listens_for(engine.pool, "reset")
        def _on_reset(_dbapi_connection, record, _reset_state) -> None:
            gate.leave(record.info)

        @sa.event.listens_for(engine.pool, "checkin")
        def _on_checkin(_dbapi_connection, record) -> None:
            if record is not None:
                gate.leave(record.info)

        @sa.event.listens_for(engine.pool, "invalidate")
        def _on_invalidate(_dbapi_connection, record, _exception) -> None:
            gate.leave(record.info)


class WriteGate:
    """One SQLite write transaction at a time among a process's threads, the others
    waiting on a lock rather than in SQLite's busy handler.

    SQLite's busy handler sleeps between tries, longer the longer it has
    waited (up to 100 ms), and whichever thread tries first when the lock is
    free gets it: with a worker's dozens of writer threads (one per job) a
    transaction could wait seconds while others came and went (bench/team.py:
    a one-host run's result stored 0.4-1.9 s after it ended, with 3 long runs
    writing). Waiting here, a thread is woken as soon as the one before it
    commits; only the gate's holder meets other processes' writers in SQLite.
    The gate is held from ``BEGIN IMMEDIATE`` to the commit or rollback (or the
    connection's return to the pool), and given up after the busy timeout, as
    SQLite's own wait is ("database is locked").
    """

    KEY = "minke_write_gate"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def enter(self, info: dict) -> None:
        if info.get(self.KEY):  # this connection holds it already
            return
        if not self._lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE", None,
                sqlite3.OperationalError("database is locked (by another thread of this "
                                         "process)"))
        info[self.KEY] = True

    def leave(self, info: dict) -> None:
        if info.pop(self.KEY, False):
            self._lock.release()


def _begin_immediate_cooperatively(dbapi_connection: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` that waits for the write lock in ``time.sleep``, not in SQLite.

    In a gevent web process (scripts/webserver.py) SQLite's own busy wait is a
    C call that holds the whole process, every page and open WebSocket, for as
    long as a worker's transaction keeps the lock (the worker writes results
    every few tens of milliseconds during a run). Trying without a busy
    timeout and sleeping between tries (gevent's sleep) lets the rest run.
    PostgreSQL needs nothing of the kind: psycopg 3 waits cooperatively in a
    process gevent has patched.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
    finally:  # the transaction's other statements wait as usual (with the lock held, rarely)
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

