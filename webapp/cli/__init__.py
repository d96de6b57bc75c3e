"""The ``flask minke …`` command group."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext


@click.group("minke", cls=AppGroup)
@with_appcontext
def minke() -> None:
    """Manage hosts, users and sessions; run sessions; start workers."""
    import sqlalchemy as sa

    from ..commands.sync import sync_sessions

    try:
        sync_sessions()  # the commands defined in the browser are sessions too
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        # a database not migrated yet has no commands; a command that needs the database
        # reports its own error
        click.echo(f"Commands defined in the browser not loaded: {exc.orig}", err=True)


def init_app(app: Flask) -> None:
    from . import accounts, history, hosts, maintenance, runs, worker  # noqa: F401  (register commands)

    app.cli.add_command(minke)


def fail_usage(message: str) -> None:
    """Print ``message`` and exit with status 2 (a usage error)."""
    raise click.UsageError(message)
