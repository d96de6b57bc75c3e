"""Database set-up: SQLite pragmas that make several writer processes safe."""

from __future__ import annotations

import sqlite3
import time

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


def _make_sqlite_concurrent(engine: sa.Engine) -> None:
    """WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    A deferred transaction that reads and then writes fails with SQLITE_BUSY
    at once when another process writes; taking the write lock at BEGIN lets
    the busy timeout do its work (NOTES.md).
    """

    cooperative = gevent_patched()

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
            connection.exec_driver_sql("BEGIN IMMEDIATE")


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

