"""The test suite never touches the database a user points DATABASE_URL at."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_suite_leaves_the_users_database_alone(tmp_path):
    users_db = tmp_path / "users.db"
    with sqlite3.connect(users_db) as connection:
        connection.execute("CREATE TABLE user (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO user (name) VALUES ('precious')")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{users_db}"}
    env.pop("TEST_DATABASE_URL", None)

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_smoke.py::test_login_page_renders"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(users_db) as connection:
        assert connection.execute("SELECT name FROM user").fetchall() == [("precious",)]
