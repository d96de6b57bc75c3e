"""The ``minke`` command group: ``minke …`` (the console command) or ``flask --app wsgi minke …``.

Each command's module is imported when that command runs (or ``--help`` lists
them all), so a command pays only for its own imports: ``minke sessions``
needs neither SSH nor the worker (bench/cli.py measures the start-up).
"""

from __future__ import annotations

import gc
import importlib

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

# command name → "module:attribute" in this package
COMMANDS = {
    "create-permissions": "accounts:create_permissions",
    "user": "accounts:user_cli",
    "role": "accounts:role_cli",
    "sessions": "accounts:list_sessions",
    "host": "hosts:host_cli",
    "group": "hosts:group_cli",
    "run": "runs:run_command",
    "stop": "runs:stop_command",
    "output": "runs:output_command",
    "runs": "history:runs_command",
    "show": "history:show_command",
    "cleanup": "maintenance:cleanup_command",
    "worker": "worker:worker_command",
    "notify": "notify:notify_cli",
    "schedule": "schedules:schedule_cli",
    "scheduler": "schedules:scheduler_command",
}


class LazyGroup(AppGroup):
    """A group whose commands are imported from :data:`COMMANDS` when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group("minke", cls=LazyGroup)
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
    # what was loaded so far lives as long as the process: out of the collector's way (also
    # at exit), and collection back on for the command (the console command turned it off)
    gc.freeze()
    gc.enable()


def init_app(app: Flask) -> None:
    app.cli.add_command(minke)
