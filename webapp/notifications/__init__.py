"""Notifications: a user's channels (email, signed webhooks, Slack/Mattermost), what they
subscribed to, and the jobs that deliver (docs/notifications.md)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .views import bp

    app.register_blueprint(bp)
