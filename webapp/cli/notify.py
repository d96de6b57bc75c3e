"""``minke notify``: a user's notification channels and subscriptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlalchemy as sa

from webapp.extensions import db

from .common import echo_table, fail_usage

EVENT_CHOICES = ("started", "succeeded", "failed", "stopped", "slow")


def _user(name: str) -> Any:
    from webapp.models import User

    user = db.session.scalar(sa.select(User).where(User.name == name))
    if user is None:
        fail_usage(f"unknown user: {name}")
    return user


@contextmanager
def _errors() -> Iterator[None]:
    from webapp.notifications.subscriptions import NotFound, NotificationError

    try:
        yield
    except (NotificationError, NotFound) as exc:
        db.session.rollback()
        fail_usage(str(exc))


@click.group("notify")
def notify_cli() -> None:
    """A user's notification channels and subscriptions (docs/notifications.md)."""


@notify_cli.command("channels")
@click.argument("user_name", metavar="USER")
def list_channels(user_name: str) -> None:
    """List USER's channels and how their last delivery went."""
    from webapp.notifications.subscriptions import channel_health, user_channels

    channels = user_channels(_user(user_name))
    health = channel_health(c.id for c in channels)
    echo_table(("ID", "KIND", "NAME", "ADDRESS", "LAST DELIVERY"), [
        (c.id, c.kind, c.name, c.target,
         f"{health[c.id].status} {health[c.id].error}".strip() if c.id in health else "-")
        for c in channels])


@notify_cli.command("add-channel")
@click.argument("user_name", metavar="USER")
@click.argument("kind", type=click.Choice(["email", "webhook", "slack"]))
@click.argument("name")
@click.argument("target", metavar="ADDRESS_OR_URL")
def add_channel(user_name: str, kind: str, name: str, target: str) -> None:
    """Add a channel of USER's: an email address, a webhook URL (its signing key is printed
    once) or a Slack/Mattermost incoming-webhook URL."""
    from webapp.notifications.subscriptions import create_channel

    with _errors():
        channel, secret = create_channel(_user(user_name), kind, name, target)
    db.session.commit()
    click.echo(f"Channel {channel.id} added.")
    if secret:
        click.echo(f"Signing key (shown only now): {secret}")


@notify_cli.command("remove-channel")
@click.argument("user_name", metavar="USER")
@click.argument("channel_id", type=click.IntRange(1, 2**31 - 1))
def remove_channel(user_name: str, channel_id: int) -> None:
    """Remove one of USER's channels with its subscriptions."""
    from webapp.notifications.subscriptions import delete_channel

    with _errors():
        delete_channel(_user(user_name), channel_id)
    db.session.commit()
    click.echo(f"Channel {channel_id} removed.")


@notify_cli.command("subscriptions")
@click.argument("user_name", metavar="USER")
def list_subscriptions(user_name: str) -> None:
    """List USER's subscriptions."""
    from webapp.notifications.subscriptions import describe, user_subscriptions

    echo_table(("ID", "RUNS", "WHEN", "ONLY CHANGED", "CHANNEL"), [
        (row.id, describe(row), ",".join(row.events), "yes" if row.only_changed else "no",
         f"{row.channel_id} {row.channel.name}")
        for row in user_subscriptions(_user(user_name))])


@notify_cli.command("subscribe")
@click.argument("user_name", metavar="USER")
@click.option("--channel", "channel_id", type=click.IntRange(1, 2**31 - 1), required=True,
              help="One of USER's channels (minke notify channels USER).")
@click.option("--session", help="Runs of this session.")
@click.option("--schedule", "schedule_name", metavar="NAME",
              help="Runs this schedule started (its name, as minke schedule list shows it).")
@click.option("--mine", is_flag=True, help="USER's own runs.")
@click.option("--on", "events", type=click.Choice(EVENT_CHOICES), multiple=True,
              required=True, help="An event to hear of (repeat for more).")
@click.option("--only-changed", is_flag=True,
              help="Only when some object's output changed since its previous run.")
def subscribe_command(user_name: str, channel_id: int, session: str | None,
                      schedule_name: str | None, mine: bool, events: tuple[str, ...],
                      only_changed: bool) -> None:
    """Subscribe USER to some runs' events: exactly one of --session, --schedule, --mine."""
    from webapp.notifications.subscriptions import subscribe
    from webapp.schedules.queries import schedule_named

    scopes = [name for name, given in (("session", session), ("schedule", schedule_name),
                                       ("mine", mine)) if given]
    if len(scopes) != 1:
        fail_usage("give exactly one of --session, --schedule, --mine")
    schedule_id = None
    if schedule_name is not None:
        schedule = schedule_named(schedule_name)
        if schedule is None:
            fail_usage(f"unknown schedule: {schedule_name}")
        schedule_id = schedule.id
    with _errors():
        row = subscribe(_user(user_name), channel_id=channel_id, scope=scopes[0],
                        events=list(events), session=session, schedule_id=schedule_id,
                        only_changed=only_changed)
    db.session.commit()
    click.echo(f"Subscription {row.id} added.")


@notify_cli.command("unsubscribe")
@click.argument("user_name", metavar="USER")
@click.argument("subscription_id", type=click.IntRange(1, 2**31 - 1))
def unsubscribe_command(user_name: str, subscription_id: int) -> None:
    """Remove one of USER's subscriptions."""
    from webapp.notifications.subscriptions import unsubscribe

    with _errors():
        unsubscribe(_user(user_name), subscription_id)
    db.session.commit()
    click.echo(f"Subscription {subscription_id} removed.")
