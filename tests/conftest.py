"""Fixtures: a fresh app on a migrated database, its clients, and (from tests.services)
real Redis, sshd and rq workers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from webapp import create_app
from webapp.extensions import db
from webapp.models import Base, Role, User

pytest_plugins = ["tests.services", "tests.web_services"]

SAMPLE_SESSION_MODULES = "tests.sample_sessions,tests.secret_sessions,scripts.demo_sites"  # + Site


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``TEST_DATABASE_URL`` when set (PostgreSQL), else an SQLite file for this test run.

    Never ``DATABASE_URL``: that is the user's database, and the tests drop every table.
    """
    return os.environ.get("TEST_DATABASE_URL") or (
        "sqlite:///" + str(tmp_path_factory.mktemp("db") / "minke-test.db")
    )


@pytest.fixture(scope="session")
def app_config(database_url: str, redis_url: str, tmp_path_factory) -> dict:
    """The configuration every test app (and every worker subprocess) uses."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "MINKE_SESSION_MODULES": SAMPLE_SESSION_MODULES,
        "MINKE_MIGRATION_DIRS": "scripts/demo_sites_migrations",
        "MINKE_QUEUE": f"minke-test-{os.getpid()}",  # concurrent test runs never share jobs
        "MINKE_CONNECT_TIMEOUT": 5,
    }


@pytest.fixture(scope="session")
def _schema(app_config: dict) -> None:
    """Bring the database to the newest migration once per test run, from scratch."""
    from flask_migrate import upgrade

    app = create_app(app_config)
    with app.app_context():
        with db.engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade(revision="heads")
        db.engine.dispose()


@pytest.fixture
def app(app_config: dict, _schema: None, redis_flush: None) -> Iterator[Flask]:
    """A fresh app on the migrated test database; every table is emptied afterwards."""
    app = create_app(app_config)
    with app.app_context():
        yield app
        app.extensions["minke"].close()
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name != "minke_installation":  # the database's identity stays
                    connection.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def client(app: Flask):
    """A test client whose every request runs in its own application context, as on a
    server (tests.web_client.IsolatedClient)."""
    from tests.web_client import isolated_client

    return isolated_client(app)


@pytest.fixture
def admin(make_user) -> User:
    """The user ``ada`` (password ``pw``) holding ``minke.admin``."""
    return make_user("ada", "minke.admin")


class _CliRunner(FlaskCliRunner):
    """Ends the transaction a command left open (it shares the test's app context): on
    SQLite an open transaction holds the write lock and would block every worker."""

    def invoke(self, *args, **kwargs):
        try:
            return super().invoke(*args, **kwargs)
        finally:
            db.session.rollback()


@pytest.fixture
def runner(app: Flask):
    return _CliRunner(app)


@pytest.fixture
def make_user(app: Flask):
    """``make_user(name, *permissions, password="pw")``: a user with one role holding them."""

    def make(name: str, *permissions: str, password: str = "pw") -> User:
        role = Role(name=f"{name}-role", permissions=list(permissions))
        user = User(name=name, roles=[role])
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def execute_run(app: Flask):
    """``execute_run(session_name, objects, data=None, user=None, concurrency=10) -> Run``.

    Dispatches like the CLI and the web do, then executes the run's jobs in
    this process (real SSH, real database and Redis; no worker subprocess),
    and returns the run with everything it stored.
    """
    from sessions import REGISTRY
    from webapp.engine.dispatch import prepare_run, validate_data
    from webapp.engine.worker.execute import execute_job
    from webapp.models import Run

    def execute(session_name: str, objects, data=None, user=None, concurrency: int = 10) -> Run:
        session_cls = REGISTRY.get(session_name)
        run, plan = prepare_run(session_cls, list(objects), user=user, origin="cli",
                                data=validate_data(session_cls, data), concurrency=concurrency,
                                threads=concurrency)
        run_id = run.id
        db.session.commit()
        for job in plan:
            execute_job(app, run_id, job.units, job.threads)
        db.session.expire_all()
        return db.session.get(Run, run_id)

    return execute
