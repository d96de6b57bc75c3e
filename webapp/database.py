"""Database set-up: SQLite pragmas that make several writer processes safe."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from .extensions import db


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

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # a transaction that will only read (``minke_read_only``) must not hold the write lock
        read_only = connection.get_execution_options().get("minke_read_only")
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
