"""The API's notification calls: your channels, their deliveries, your subscriptions
(the operations the notifications page and ``minke notify`` call)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from ..extensions import db
from ..inputs import int_param
from ..kit import page_of, utc_iso
from ..models import Delivery, NotificationChannel, Subscription
from ..notifications.subscriptions import (
    NotFound,
    NotificationError,
    channel_health,
    channel_of,
    create_channel,
    delete_channel,
    deliveries_query,
    subscribe,
    unsubscribe,
    user_channels,
    user_subscriptions,
)
from .errors import ApiError
from .views import bp

CHANNEL_KEYS = {"kind", "name", "target"}
SUBSCRIPTION_KEYS = {"channel", "scope", "session", "schedule", "events", "only_changed"}


def _user() -> Any:
    return current_user._get_current_object()


def _body(keys: set[str]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, f"expected a JSON object with {', '.join(sorted(keys))}")
    unknown = sorted(set(body) - keys)
    if unknown:
        raise ApiError(400, f"unknown key {', '.join(unknown)}: expected "
                            f"{', '.join(sorted(keys))}")
    return body


def delivery_doc(row: Delivery) -> dict[str, Any]:
    return {"id": row.id, "run": row.run_id, "event": row.event, "attempt": row.attempt,
            "status": row.status, "status_code": row.status_code, "answer": row.answer,
            "error": row.error, "at": utc_iso(row.created_at),
            "next_attempt_at": utc_iso(row.next_attempt_at)}


def channel_doc(row: NotificationChannel, last: Delivery | None) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "name": row.name, "target": row.target,
            "created_at": utc_iso(row.created_at),
            "last_delivery": delivery_doc(last) if last is not None else None}


def subscription_doc(row: Subscription) -> dict[str, Any]:
    return {"id": row.id, "channel": row.channel_id, "scope": row.scope,
            "session": row.session_name, "schedule": row.schedule_id, "events": row.events,
            "only_changed": row.only_changed, "created_at": utc_iso(row.created_at)}


@bp.route("/channels", methods=["GET", "POST"])
def channels():
    """Your notification channels, each with its latest delivery attempt (GET); add one
    (POST: a webhook's signing key is in the answer, and only there)."""
    if request.method == "POST":
        return add_channel()
    rows = user_channels(_user())
    health = channel_health(row.id for row in rows)
    return jsonify(channels=[channel_doc(row, health.get(row.id)) for row in rows])


def add_channel() -> Any:
    body = _body(CHANNEL_KEYS)
    try:
        row, secret = create_channel(_user(), body.get("kind"), body.get("name"),
                                     body.get("target"))
    except NotificationError as exc:
        raise ApiError(400, str(exc), {exc.field: [str(exc)]}) from None
    db.session.commit()
    return jsonify({**channel_doc(row, None), "secret": secret}), 201


@bp.delete("/channels/<int:channel_id>")
def remove_channel(channel_id: int):
    """Remove one of your channels with its subscriptions and deliveries."""
    try:
        delete_channel(_user(), channel_id)
    except NotFound:
        raise ApiError(404, f"no channel {channel_id}") from None
    db.session.commit()
    return "", 204


@bp.get("/channels/<int:channel_id>/deliveries")
def deliveries(channel_id: int):
    """A page of the channel's delivery attempts, newest first."""
    number = int_param(request.args, "page", 1)
    try:
        row = channel_of(_user(), channel_id)
    except NotFound:
        raise ApiError(404, f"no channel {channel_id}") from None
    page = page_of(deliveries_query(row), number, 50)
    return jsonify(deliveries=[delivery_doc(item) for item in page.rows], page=page.number,
                   pages=page.pages, total=page.total)


@bp.route("/subscriptions", methods=["GET", "POST"])
def subscriptions():
    """Your subscriptions (GET); subscribe to events of a session's runs, a schedule's, or
    your own (POST)."""
    if request.method == "POST":
        return add_subscription()
    return jsonify(subscriptions=[subscription_doc(row) for row in user_subscriptions(_user())])


def add_subscription() -> Any:
    body = _body(SUBSCRIPTION_KEYS)
    try:
        row = subscribe(_user(), channel_id=body.get("channel"), scope=body.get("scope"),
                        events=body.get("events"), session=body.get("session"),
                        schedule_id=body.get("schedule"),
                        only_changed=body.get("only_changed", False))
    except NotificationError as exc:
        field = {"schedule_id": "schedule"}.get(exc.field, exc.field)
        raise ApiError(400, str(exc), {field: [str(exc)]}) from None
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    db.session.commit()
    return jsonify(subscription_doc(row)), 201


@bp.delete("/subscriptions/<int:subscription_id>")
def remove_subscription(subscription_id: int):
    """Remove one of your subscriptions."""
    try:
        unsubscribe(_user(), subscription_id)
    except NotFound:
        raise ApiError(404, f"no subscription {subscription_id}") from None
    db.session.commit()
    return "", 204
