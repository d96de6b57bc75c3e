"""``minke schedule add|list|show|pause|resume|delete|run-now`` and ``minke scheduler``."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app

from ..database import read_only
from ..extensions import db
from ..kit import utc_iso
from ..models import Schedule, User, utcnow
from ..models.schedules import MISSED_POLICIES, OVERLAP_POLICIES
from ..schedules.firing import Fired, run_now
from ..schedules.operations import (
    ScheduleError,
    ScheduleSpec,
    create_schedule,
    delete_schedule,
    describe_target,
    parse_pairs,
    pause_schedule,
    resume_schedule,
    timing_of,
)
from ..schedules.queries import schedule_named
from ..schedules.ticker import run_scheduler
from .common import echo_table, fail_usage


@contextmanager
def _schedule_errors() -> Iterator[None]:
    try:
        yield
    except ScheduleError as exc:
        db.session.rollback()
        fail_usage(str(exc))


def _schedule(name: str) -> Schedule:
    schedule = schedule_named(name)
    if schedule is None:
        fail_usage(f"unknown schedule: {name}")
    return schedule


def schedule_doc(schedule: Schedule) -> dict[str, Any]:
    """A schedule as ``list --json`` prints it."""
    return {"name": schedule.name, "session": schedule.session_name,
            "objects": describe_target(schedule.target), "data": schedule.data,
            "cron": schedule.cron, "interval": schedule.interval,
            "timezone": schedule.timezone, "owner": schedule.owner_name,
            "enabled": schedule.enabled, "paused_reason": schedule.paused_reason,
            "missed": schedule.missed, "overlap": schedule.overlap,
            "next_due_at": utc_iso(schedule.next_due_at) if schedule.enabled else None,
            "note": schedule.note}


@click.group("schedule")
def schedule_cli() -> None:
    """Schedules: run a session at set times as its owner (`minke scheduler` fires them)."""


@schedule_cli.command("add")
@click.argument("name")
@click.argument("session")
@click.option("--owner", "owner_name", required=True,
              help="The user it runs as (their rights are checked at every firing).")
@click.option("--host", "hosts", multiple=True, help="Host name (repeatable).")
@click.option("--group", "groups", multiple=True,
              help="The enabled hosts of a group at each firing (repeatable).")
@click.option("--object", "refs", multiple=True, help="MODEL:ID (repeatable).")
@click.option("--objects", "model", metavar="MODEL",
              help="The objects of a model matching every --where at each firing.")
@click.option("--where", "where", multiple=True, metavar="FIELD=VALUE",
              help="With --objects: a condition (repeatable; host=NAME is the object's host).")
@click.option("--data", "pairs", multiple=True, help="Form field as key=value (repeatable).")
@click.option("--cron", help="Cron expression, e.g. '0 3 * * 1-5' (a sixth field: seconds).")
@click.option("--every", "interval", type=click.IntRange(1),
              help="Or: an interval in seconds.")
@click.option("--tz", "timezone", default="UTC", show_default=True,
              help="Time zone of the cron expression, e.g. Europe/Berlin.")
@click.option("--missed", type=click.Choice(list(MISSED_POLICIES)), default="run_once",
              show_default=True, help="Firings missed while no scheduler ran.")
@click.option("--overlap", type=click.Choice(list(OVERLAP_POLICIES)), default="skip",
              show_default=True, help="A firing while the previous run still goes on.")
def add_command(name, session, owner_name, hosts, groups, refs, model, where, pairs, cron,
                interval, timezone, missed, overlap):
    """Add schedule NAME running SESSION, as --owner, at --cron or --every."""
    owner = db.session.scalar(sa.select(User).where(User.name == owner_name))
    if owner is None:
        fail_usage(f"unknown user: {owner_name}")
    with _schedule_errors():
        spec = ScheduleSpec(
            name=name, session=session, data=parse_pairs(pairs, "data"),
            target={"hosts": list(hosts), "groups": list(groups), "refs": list(refs),
                    "model": model, "where": list(where)},
            cron=cron, interval=interval, timezone=timezone, missed=missed, overlap=overlap)
        schedule = create_schedule(spec, owner)
        db.session.commit()
    click.echo(f"Schedule {schedule.name}: {schedule.when}, next at "
               f"{utc_iso(schedule.next_due_at)}")


@schedule_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(as_json: bool) -> None:
    """List the schedules: times, owner, state and next firing."""
    with read_only():
        schedules = db.session.scalars(sa.select(Schedule).order_by(Schedule.name)).all()
        docs = [schedule_doc(s) for s in schedules]
    if as_json:
        click.echo(json.dumps(docs, indent=2))
        return
    if not docs:
        click.echo("No schedules.")
        return
    echo_table(["NAME", "SESSION", "WHEN", "OWNER", "STATE", "NEXT"], [
        [s.name, s.session_name, s.when, s.owner_name,
         "enabled" if s.enabled else f"paused: {s.paused_reason or ''}",
         utc_iso(s.next_due_at) if s.enabled else "-"] for s in schedules])


@schedule_cli.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Show schedule NAME and its next five firings."""
    with read_only():
        schedule = _schedule(name)
        doc = schedule_doc(schedule)
        upcoming = timing_of(schedule).following(utcnow(), 5) if schedule.enabled else []
    for key, value in doc.items():
        click.echo(f"{key}: {'' if value is None else value}")
    for when in upcoming:
        click.echo(f"  next: {utc_iso(when)}")


@schedule_cli.command("pause")
@click.argument("name")
@click.option("--reason", default="paused on the command line", show_default=True)
def pause_command(name: str, reason: str) -> None:
    """Pause schedule NAME (no firing until it is resumed)."""
    pause_schedule(_schedule(name), reason)
    db.session.commit()
    click.echo(f"Schedule {name} paused.")


@schedule_cli.command("resume")
@click.argument("name")
def resume_command(name: str) -> None:
    """Resume schedule NAME: its next firing is the next due time from now."""
    with _schedule_errors():
        schedule = _schedule(name)
        resume_schedule(schedule)
        db.session.commit()
    click.echo(f"Schedule {name} resumed; next at {utc_iso(schedule.next_due_at)}.")


@schedule_cli.command("delete")
@click.argument("name")
def delete_command(name: str) -> None:
    """Delete schedule NAME (its runs stay)."""
    delete_schedule(_schedule(name))
    db.session.commit()
    click.echo(f"Schedule {name} deleted.")


@schedule_cli.command("run-now")
@click.argument("name")
def run_now_command(name: str) -> None:
    """Fire schedule NAME now, as its owner, outside its times; print the run id."""
    fired = run_now(current_app.extensions["minke"], _schedule(name), user=None)
    _echo_fired(fired)
    if fired.run_id is None:
        raise SystemExit(1)
    click.echo(fired.run_id)


def _echo_fired(fired: Fired) -> None:
    click.echo(f"{utc_iso(utcnow())} schedule {fired.schedule} (due {utc_iso(fired.due_at)}): "
               f"{fired.outcome}" + (f" run #{fired.run_id}" if fired.run_id else "")
               + (f" — {fired.note}" if fired.note else ""), err=True)


@click.command("scheduler")
@click.option("--tick", type=click.FloatRange(0.1, 3600),
              help="Seconds between looks at the due schedules (default: MINKE_SCHEDULER_TICK).")
@click.option("--verbose", is_flag=True, help="Log every firing.")
def scheduler_command(tick: float | None, verbose: bool) -> None:
    """Fire due schedules until stopped (SIGTERM, Ctrl-C). Run several for failover:
    each due time starts one run, whichever scheduler claims it."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a proxy
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    db.session.remove()  # the command group's transaction: the loop opens its own
    click.echo(f"Minke scheduler: every {tick or app.config['MINKE_SCHEDULER_TICK']} s")
    run_scheduler(app, stop, tick=tick, report=_echo_fired)
