"""The ``minke`` console command (pyproject.toml): ``flask --app wsgi minke`` without Flask's
CLI, on an app built for commands (:func:`webapp.create_app` with ``serve=False``)."""

from __future__ import annotations

import gc

from flask.cli import ScriptInfo

from . import minke


def _command_app():
    from webapp import create_app

    return create_app(serve=False)


def main() -> None:
    # no garbage collection while the command's modules load (a tenth of the start-up): the
    # group turns it back on (:func:`webapp.cli.minke`)
    gc.disable()
    minke.main(prog_name="minke", obj=ScriptInfo(create_app=_command_app))
