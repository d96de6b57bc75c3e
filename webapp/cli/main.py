"""The ``minke`` console command (pyproject.toml): ``flask --app wsgi minke`` without Flask's
CLI, on an app built for commands (:func:`webapp.create_app` with ``serve=False``)."""

from __future__ import annotations

import gc
import os
import sys

import click
from flask.cli import ScriptInfo

from sessions.discovery import SessionModuleError

from . import minke


def _command_app():
    from webapp import create_app

    return create_app(serve=False)


def main() -> None:
    # no garbage collection while the command's modules load (a tenth of the start-up): the
    # group turns it back on (:func:`webapp.cli.minke`)
    gc.disable()
    # session modules next to wsgi.py import as they do under `flask --app wsgi` (which puts
    # the current directory first); a console script starts with only its own directory
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        minke.main(prog_name="minke", obj=ScriptInfo(create_app=_command_app))
    except SessionModuleError as exc:  # MINKE_SESSION_MODULES names what cannot be imported
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
