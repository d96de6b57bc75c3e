"""``minke runs`` and ``show``: past runs, as the dashboard's history shows them."""

from __future__ import annotations

import datetime as dt
import json

import click
import sqlalchemy as sa

from sessions.messages import BaseMessage

from ..changes import CHANGED, run_change_counts
from ..database import read_only
from ..extensions import db
from ..history.queries import RUN_STATES, RunFilters, run_page
from ..inputs import MAX_ID
from ..kit import utc_iso
from ..models import Run, User
from ..output_diff import SessionDiff, session_diff
from ..reports import session_report
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
                 "origin": row.run.origin,
                 "schedule": row.run.schedule.name if row.run.schedule else None,
                 "objects": row.total,
                 "created_at": utc_iso(row.run.created_at),
                 "finished_at": utc_iso(row.run.finished_at),
                 "outcomes": dict(sorted(row.counts.items()))} for row in rows]
        shown = [[row.run.id, row.run.session_name, _started_by(row.run),
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


def _started_by(run: Run) -> str:
    """The run's user, and its schedule when one started it: ``olga (schedule nightly)``."""
    return run.user_name + (f" ({run.origin_label})" if run.origin == "schedule" else "")


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@click.command("show")
@click.argument("run_id", type=click.IntRange(0, MAX_ID))
@click.option("--json", "as_json", is_flag=True, help="The same document as `run --json`.")
@click.option("--changed", is_flag=True,
              help="Only the objects whose output changed since the previous run.")
@click.option("--diff", "with_diff", is_flag=True,
              help="With each object its stdout's unified diff against the previous run.")
def show_command(run_id: int, as_json: bool, changed: bool, with_diff: bool) -> None:
    """Show run RUN_ID: each session's outcome, change mark and messages (stored output:
    `minke output`)."""
    with read_only():
        run = db.session.get(Run, run_id)
        if run is None:
            fail_usage(f"no run {run_id}")
        sessions = [s for s in run.sessions if not changed or s.change == CHANGED]
        if as_json:
            reports = [session_report(session) for session in sessions]
            if with_diff:
                for report, session in zip(reports, sessions, strict=True):
                    report["diff"] = session_diff(session).as_document()
            click.echo(json.dumps(reports, indent=2))
            return
        click.echo(f"run #{run.id}: {run.session_name} by {_started_by(run)}, "
                   f"started {run.created_at:%Y-%m-%d %H:%M:%S}")
        for session in sessions:
            shown = badge_key(session.proc_status, session.session_status)
            mark = f" [{session.change}]" if session.change else ""
            click.echo(click.style(f"{session.object_label}: {shown}",
                                   fg=TERMINAL_COLOURS.get(shown), bold=True)
                       + mark + f"  (session {session.id})")
            for message in session.messages:
                text = BaseMessage.render(message.kind, message.payload)
                colour = {"warning": "yellow", "error": "red"}.get(message.level)
                for line in text.splitlines() or [""]:
                    click.echo(click.style(f"  {line}", fg=colour))
            if with_diff:
                print_diff(session_diff(session))
        if changed and not sessions:
            click.echo("No object's output changed since the previous run.")
        print_summary(run)


def print_diff(diff: SessionDiff) -> None:
    """A session's commands against its previous run's, with the diffs, indented."""
    if diff.previous_run_id is None:
        click.echo("  nothing to compare with: no earlier completed run here")
        return
    click.echo(f"  compared with run #{diff.previous_run_id}:")
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for command in diff.commands:
        line = command.command if command.command is not None else command.previous_command
        click.echo(f"  $ {line} — {command.mark}")
        for text in command.lines:
            colour = None if text.startswith(("+++", "---")) else colours.get(text[:1])
            click.echo(click.style(f"    {text}", fg=colour))
        if command.cut:
            click.echo("    (cut: only the start of a long output is compared)")


def print_summary(run: Run) -> None:
    """``since the previous run: 1 changed, 2 unchanged`` once some object has a previous
    run to compare with, then the verdict, always the last line: ``run #N finished: 3 success,
    1 failed`` (or ``… running:`` while it runs)."""
    changes = run_change_counts(run.id)
    if changes.get("changed") or changes.get("unchanged"):
        click.echo("since the previous run: "
                   + ", ".join(f"{n} {key}" for key, n in changes.items() if n))
    counts: dict[str, int] = {}
    for session in run.sessions:
        key = badge_key(session.proc_status, session.session_status)
        counts[key] = counts.get(key, 0) + 1
    parts = [click.style(f"{n} {k}", fg=TERMINAL_COLOURS.get(k)) for k, n in sorted(counts.items())]
    state = "finished" if run.finished_at else "running"
    click.echo(f"run #{run.id} {state}: " + ", ".join(parts))
