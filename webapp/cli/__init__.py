"""The ``flask minke …`` command group."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

minke = AppGroup("minke", help="Manage hosts, users and sessions; run sessions; start workers.")


def init_app(app: Flask) -> None:
    from . import accounts, history, hosts, maintenance, runs, worker  # noqa: F401  (register commands)

    app.cli.add_command(minke)


def fail_usage(message: str) -> None:
    """Print ``message`` and exit with status 2 (a usage error)."""
    raise click.UsageError(message)
