"""Minke for Flask: the web application and its engine."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None, *, serve: bool = True) -> Flask:
    """Build the application: defaults, then ``MINKE_*`` environment, then ``config``.

    :param serve: ``False`` builds what the ``minke`` command needs (configuration,
        database, engine, commands) without pages, API, Socket.IO and migrations, whose
        imports were most of its start-up (bench/cli.py).
    """
    from . import cli, database, engine
    from .config import DEV_SECRET_KEY, Config, env_overrides, instance_secret_key

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_object(Config)
    app.config.update(env_overrides())
    app.config.update(config or {})
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
            app.instance_path, "minke.db"
        )
    if app.config["SECRET_KEY"] == DEV_SECRET_KEY and not (app.debug or app.testing):
        # never the development key outside debugging and tests: one of this installation
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)

    if serve:
        _serve(app)
    else:
        database.init_app(app)
        engine.init_app(app)
    cli.init_app(app)
    return app


def _serve(app: Flask) -> None:
    from . import (
        admin,
        api,
        audit,
        auth,
        commands,
        database,
        engine,
        errors,
        history,
        home,
        inputs,
        migrations,
        notifications,
        objects,
        profile,
        runs,
        schedules,
        security,
        sockets,
    )
    from .extensions import csrf

    inputs.init_app(app)  # before any route: <int:...> is range-checked everywhere
    security.init_app(app)
    errors.register(app)
    database.init_app(app)
    migrations.init_app(app)
    csrf.init_app(app)
    auth.init_app(app)
    engine.init_app(app)
    sockets.init_app(app)
    runs.init_app(app)
    home.init_app(app)
    objects.init_app(app)
    history.init_app(app)
    schedules.init_app(app)
    audit.init_app(app)
    admin.init_app(app)
    commands.init_app(app)
    profile.init_app(app)
    notifications.init_app(app)
    api.init_app(app)
