"""SQLite with many writer threads in one process (a worker's jobs): they take turns through
the process's write gate (webapp/database.py), and no way out of a transaction keeps it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from webapp import database

pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                reason="SQLite only (the PostgreSQL pass sets TEST_DATABASE_URL)")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gate.db'}",
                              pool_size=20, max_overflow=20)
    database._make_sqlite_concurrent(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    yield engine
    engine.dispose()


def count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one()


def start_write(engine: sa.Engine) -> threading.Event:
    """Another thread's write; the event is set once it has committed."""
    done = threading.Event()

    def write() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t (who) VALUES ('other')")
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done


def writes_soon(engine: sa.Engine, seconds: float = 2.0) -> bool:
    """Whether another thread can commit a write within ``seconds``."""
    return start_write(engine).wait(seconds)


def test_twenty_threads_writing_at_once_all_commit(engine):
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(50):
                with Session(engine) as session, session.begin():
                    session.execute(sa.text("INSERT INTO t (who) VALUES (:w)"), {"w": name})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert count(engine) == 20 * 50


def test_a_session_closed_in_the_middle_of_a_write_lets_the_others_write(engine):
    session = Session(engine)
    session.execute(sa.text("INSERT INTO t (who) VALUES ('left open')"))
    waiting = start_write(engine)
    assert not waiting.wait(0.5)  # it holds the write transaction: the others wait
    session.close()  # no commit: rolled back, the connection back in the pool
    assert writes_soon(engine)
    assert waiting.wait(10)  # the gate is not first come, first served: either may go first
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT who FROM t").scalars().all() == [
            "other", "other"]  # the waiting thread's and the last one's


def test_a_failed_statement_and_its_rollback_let_the_others_write(engine):
    with pytest.raises(sa.exc.OperationalError), engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
    assert writes_soon(engine)


def test_an_invalidated_connection_lets_the_others_write(engine):
    session = Session(engine)
    session.execute(sa.text("INSERT INTO t (who) VALUES ('lost')"))
    session.connection().invalidate()  # as after a broken connection
    session.close()
    assert writes_soon(engine)


def test_a_write_waiting_longer_than_the_busy_timeout_fails_as_sqlite_would(
        engine, monkeypatch):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 300)
    holder = Session(engine)
    holder.execute(sa.text("INSERT INTO t (who) VALUES ('holder')"))
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError, match="database is locked"), \
            engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO t (who) VALUES ('late')")
    assert 0.25 < time.monotonic() - started < 5
    holder.commit()
    holder.close()
    assert writes_soon(engine)
