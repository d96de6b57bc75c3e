"""The run page: a run's sessions live, their output, stopping."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from ..engine.events import set_message_renderer
    from . import live
    from .ansi import ansi_to_html
    from .fragments import message_html
    from .groups import fold
    from .holders import visible_run
    from .views import bp

    app.jinja_env.filters["ansi"] = ansi_to_html
    app.jinja_env.filters["duration"] = format_duration
    app.jinja_env.filters["fold"] = fold
    app.jinja_env.globals["visible_run"] = visible_run  # a busy host's holder, per viewer
    app.register_blueprint(bp)
    live.register()
    set_message_renderer(message_html)  # live messages as the page renders them


def format_duration(seconds: float | None) -> str:
    """``0.42`` → ``0.4 s``, ``75`` → ``1 min 15 s``, ``None`` → ``""``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"
