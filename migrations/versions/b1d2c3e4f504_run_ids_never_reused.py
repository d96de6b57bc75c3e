"""run, session and command result ids are never used again (SQLite)

SQLite gives a new row the highest id + 1, so a cleanup that deleted the newest runs made
the next run take an id that had been used: links in the audit log, notifications and
bookmarks to the deleted run led to the new one, and a page opened on it could be shown the
deleted run's events still kept in Redis. ``AUTOINCREMENT`` never hands out an id twice; it
can only be given to a table when it is made, so the three tables are rebuilt (rows, indexes
and the latest-session trigger kept). PostgreSQL's sequences never go back: nothing to do.

Revision ID: b1d2c3e4f504
Revises: b1d2c3e4f503
Create Date: 2026-12-06 21:00:00
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b1d2c3e4f504"
down_revision = "b1d2c3e4f503"
branch_labels = None
depends_on = None

TABLES = ("run", "minke_session", "command_result")
TRIGGER = ("CREATE TRIGGER tr_latest_session_status AFTER UPDATE OF proc_status, "
           "session_status ON minke_session BEGIN "
           "UPDATE latest_session SET proc_status = NEW.proc_status, "
           "session_status = NEW.session_status WHERE session_id = NEW.id; END")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # the trigger goes with its table; env.py turned foreign keys off for the rebuild (a
    # dropped parent table would otherwise take its children's rows with it)
    op.execute("DROP TRIGGER IF EXISTS tr_latest_session_status")
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
    op.execute(TRIGGER)
    # upgrading, the rows copied set sqlite_sequence to the highest id kept: ids go on after it


def upgrade():
    _rebuild(autoincrement=True)


def downgrade():
    _rebuild(autoincrement=False)
