"""Alembic environment: run by every ``flask --app wsgi db …`` command.

The revisions live in our ``versions/`` and in the user's directories of
``MINKE_MIGRATION_DIRS`` (webapp/migrations.py sets ``version_locations``);
new revisions are shaped to the directory they go to. Apply everything with
``flask --app wsgi db upgrade heads``.
"""

import logging
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from flask import current_app

from webapp.migrations import shaping_hook

config = context.config
# keep the app's loggers: fileConfig would silence every logger that exists already
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url",
    target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%"),
)


def run_migrations_offline():
    """Emit SQL for ``--sql``: no database connection."""
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run the migrations on a connection of the app's engine."""
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", shaping_hook(config, context.script))
    with target_db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_db.metadata,
                          **conf_args)
        with _sqlite_foreign_keys_off(connection):
            with context.begin_transaction():
                context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_off(connection):
    """SQLite: foreign keys off while migrating, checked after. A batch operation rebuilds
    a table (copy, drop, rename); with foreign keys on, dropping a parent table deletes its
    children's rows (ON DELETE CASCADE). The pragma works only outside a transaction.
    Rows that had lost their parent before (a database once written with foreign keys off)
    are no reason to stop: only rows the migration left without one are."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection  # autocommit (webapp/database.py)
    before = set(raw.execute("PRAGMA foreign_key_check").fetchall())
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = set(raw.execute("PRAGMA foreign_key_check").fetchall()) - before
        if broken:
            raise RuntimeError("the migration left rows whose parent is gone "
                               f"(table, rowid, parent, key): {sorted(broken)[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
