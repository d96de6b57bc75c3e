"""Your notifications: channels (shown once: a webhook's signing key), subscriptions, and
each channel's deliveries."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from sessions import REGISTRY

from ..extensions import db
from ..inputs import int_param
from ..kit import page_of
from .channels import KINDS, SIGNATURE_HEADER
from .events import EVENT_TEXT
from .forms import ActionForm, ChannelForm, SubscriptionForm
from .subscriptions import (
    NotFound,
    NotificationError,
    channel_health,
    channel_of,
    create_channel,
    delete_channel,
    deliveries_query,
    describe,
    renew_secret,
    subscribe,
    unsubscribe,
    user_channels,
    user_subscriptions,
    visible_schedules,
)

bp = Blueprint("notifications", __name__, url_prefix="/profile/notifications")
DELIVERIES_PER_PAGE = 50


def _user() -> Any:
    return current_user._get_current_object()


def _render(channel_form: ChannelForm | None = None,
            subscription_form: SubscriptionForm | None = None, *, secret: str | None = None,
            status: int = 200):
    user = _user()
    channels = user_channels(user)
    subscription_form = subscription_form or SubscriptionForm(formdata=None)
    subscription_form.channel.choices = [SelectChoice(c.id, f"{c.name} ({KINDS[c.kind]})")
                                         for c in channels]
    subscription_form.session.choices = [SelectChoice("", "—")] + [
        SelectChoice(c.__name__, c.__name__) for c in REGISTRY]
    subscription_form.schedule.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(s.id), f"{s.name} (#{s.id})") for s in visible_schedules(user)]
    return render_template(
        "notifications/index.html", channels=channels, kinds=KINDS,
        health=channel_health(c.id for c in channels), subscriptions=user_subscriptions(user),
        describe=describe, event_text=EVENT_TEXT,
        channel_form=channel_form or ChannelForm(formdata=None),
        subscription_form=subscription_form, action_form=ActionForm(), secret=secret,
        signature_header=SIGNATURE_HEADER), status


def _number(text: str | None) -> int | None:
    """A schedule's id from the form (``None`` for none).

    :raises NotificationError: for anything but a number.
    """
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 10:
        raise NotificationError("choose one of the schedules", "schedule_id")
    return int(text)


@bp.get("/")
@login_required
def index():
    return _render()


@bp.post("/channels")
@login_required
def create():
    form = ChannelForm()
    if not form.validate():
        return _render(form, status=400)
    try:
        _channel, secret = create_channel(_user(), form.kind.data, form.name.data,
                                          form.target.data)
    except NotificationError as exc:
        getattr(form, exc.field, form.name).errors = [str(exc)]
        return _render(form, status=400)
    db.session.commit()
    if secret is None:
        flash(f"Channel “{form.name.data.strip()}” added.", "success")
        return redirect(url_for(".index"))
    # rendered, not redirected: the key must not travel in the (signed, readable) session
    return _render(secret=secret)


@bp.get("/channels/<int:channel_id>")
@login_required
def channel(channel_id: int, secret: str | None = None):
    try:
        row = channel_of(_user(), channel_id)
    except NotFound:
        abort(404)
    page = page_of(deliveries_query(row), int_param(request.args, "page", 1),
                   DELIVERIES_PER_PAGE)
    return render_template("notifications/channel.html", channel=row, kinds=KINDS, page=page,
                           event_text=EVENT_TEXT, action_form=ActionForm(), secret=secret,
                           signature_header=SIGNATURE_HEADER,
                           page_url=lambda n: url_for(".channel", channel_id=channel_id, page=n))


@bp.post("/channels/<int:channel_id>/secret")
@login_required
def new_secret(channel_id: int):
    if not ActionForm().validate():
        abort(400)
    try:
        secret = renew_secret(_user(), channel_id)
    except NotFound:
        abort(404)
    db.session.commit()
    return channel(channel_id, secret)


@bp.post("/channels/<int:channel_id>/delete")
@login_required
def delete(channel_id: int):
    if not ActionForm().validate():
        abort(400)
    try:
        row = delete_channel(_user(), channel_id)
    except NotFound:
        abort(404)
    db.session.commit()
    flash(f"Channel “{row.name}” deleted with its subscriptions.", "success")
    return redirect(url_for(".index"))


@bp.post("/subscriptions")
@login_required
def add_subscription():
    form = SubscriptionForm()
    if not form.validate():
        return _render(subscription_form=form, status=400)
    try:
        subscribe(_user(), channel_id=form.channel.data, scope=form.scope.data,
                  events=form.events.data or [], session=form.session.data or None,
                  schedule_id=_number(form.schedule.data),
                  only_changed=bool(form.only_changed.data))
    except NotificationError as exc:
        field = {"schedule_id": "schedule"}.get(exc.field, exc.field)
        getattr(form, field, form.scope).errors = [str(exc)]
        return _render(subscription_form=form, status=400)
    except NotFound:
        form.channel.errors = ["choose one of your channels (add one first)"]
        return _render(subscription_form=form, status=400)
    db.session.commit()
    flash("Subscribed.", "success")
    return redirect(url_for(".index"))


@bp.post("/subscriptions/<int:subscription_id>/delete")
@login_required
def delete_subscription(subscription_id: int):
    if not ActionForm().validate():
        abort(400)
    try:
        unsubscribe(_user(), subscription_id)
    except NotFound:
        abort(404)
    db.session.commit()
    flash("Unsubscribed.", "success")
    return redirect(url_for(".index"))
