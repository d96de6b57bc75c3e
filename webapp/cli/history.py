"""``minke runs`` and ``show``: past runs, as the dashboard's history shows them."""

from __future__ import annotations

import datetime as dt
import json

import click
import sqlalchemy as sa

from sessions.messages import BaseMessage

from ..database import read_only
from ..extensions import db
from ..history.queries import RUN_STATES, RunFilters, run_page
from ..inputs import MAX_ID
from ..kit import utc_iso
from ..models import Run, User
from ..reports import run_report
from ..status import TERMINAL_COLOURS, badge_key
from .common import echo_table, fail_usage


@click.command("runs")
@click.option("--user", "user_name", help="Only runs of this user.")
@click.option("--session", help="Only runs of this session (class name).")
@click.option("--status", type=click.Choice(list(RUN_STATES)), help="Only runs in this state.")
@click.option("--object", "object_text", help="Only runs on an object whose name contains this.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Started on or after (date).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Started on or before (date).")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs_command(user_name, session, status, object_text, since, until, limit, as_json):
    """List recent runs, newest first, with their sessions counted by outcome."""
    with read_only():
        user_id = None
        if user_name:
            user_id = db.session.scalar(sa.select(User.id).where(User.name == user_name))
            if user_id is None:
                fail_usage(f"unknown user: {user_name}")
        filters = RunFilters(user=user_id, session=session or "", status=status or "",
                             object=object_text or "", since=_date(since), until=_date(until))
        rows = run_page(None, filters, size=limit).rows
        runs = [{"id": row.run.id, "session": row.run.session_name, "user": row.run.user_name,
                 "origin": row.run.origin, "objects": row.total,
                 "created_at": utc_iso(row.run.created_at),
                 "finished_at": utc_iso(row.run.finished_at),
                 "outcomes": dict(sorted(row.counts.items()))} for row in rows]
        shown = [[row.run.id, row.run.session_name, row.run.user_name,
                  f"{row.run.created_at:%Y-%m-%d %H:%M:%S}",
                  f"{row.run.finished_at:%Y-%m-%d %H:%M:%S}" if row.run.finished_at
                  else "running",
                  ", ".join(f"{n} {k}" for k, n in sorted(row.counts.items()))] for row in rows]
    if as_json:
        click.echo(json.dumps(runs, indent=2))
        return
    if not runs:
        click.echo("No runs.")
        return
    echo_table(["RUN", "SESSION", "USER", "STARTED", "FINISHED", "OUTCOMES"], shown)


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@click.command("show")
@click.argument("run_id", type=click.IntRange(0, MAX_ID))
@click.option("--json", "as_json", is_flag=True, help="The same document as `run --json`.")
def show_command(run_id: int, as_json: bool) -> None:
    """Show run RUN_ID: each session's outcome and messages (stored output: `minke output`)."""
    with read_only():
        run = db.session.get(Run, run_id)
        if run is None:
            fail_usage(f"no run {run_id}")
        if as_json:
            click.echo(json.dumps(run_report(run), indent=2))
        else:
            click.echo(f"run #{run.id}: {run.session_name} by {run.user_name}, "
                       f"started {run.created_at:%Y-%m-%d %H:%M:%S}")
            for session in run.sessions:
                shown = badge_key(session.proc_status, session.session_status)
                click.echo(click.style(f"{session.object_label}: {shown}",
                                       fg=TERMINAL_COLOURS.get(shown), bold=True)
                           + f"  (session {session.id})")
                for message in session.messages:
                    text = BaseMessage.render(message.kind, message.payload)
                    colour = {"warning": "yellow", "error": "red"}.get(message.level)
                    for line in text.splitlines() or [""]:
                        click.echo(click.style(f"  {line}", fg=colour))
            print_summary(run)


def print_summary(run: Run) -> None:
    """``run #N finished: 3 success, 1 failed`` (or ``… running:`` while it runs)."""
    counts: dict[str, int] = {}
    for session in run.sessions:
        key = badge_key(session.proc_status, session.session_status)
        counts[key] = counts.get(key, 0) + 1
    parts = [click.style(f"{n} {k}", fg=TERMINAL_COLOURS.get(k)) for k, n in sorted(counts.items())]
    state = "finished" if run.finished_at else "running"
    click.echo(f"run #{run.id} {state}: " + ", ".join(parts))
