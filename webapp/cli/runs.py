"""``minke run``, ``stop`` and ``output``: dispatch, follow live, stop, read output."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError
from rq import Worker

from sessions import REGISTRY, UnknownSession
from sessions.messages import BaseMessage

from ..database import read_only
from ..engine import events
from ..engine.dispatch import (
    DispatchError,
    EnqueueError,
    MissingSecrets,
    start_run,
    validate_data,
)
from ..engine.stops import RunFinished, stop_run
from ..engine.worker.reaper import reap_dead_workers
from ..extensions import db
from ..inputs import MAX_CONCURRENCY, MAX_ID
from ..models import MinkeSession, Run, StoredResult, User
from ..output import iter_output, tail
from ..references import SelectionError, select_objects
from ..reports import run_report, run_succeeded
from ..runs.queued import queue_note
from ..status import TERMINAL_COLOURS, badge_key
from .common import fail_usage
from .history import print_summary
from .secrets import ask_secrets, read_secrets

POLL_SECONDS = 2.0
MAX_BACKOFF = 5.0  # seconds between tries while Redis does not answer


def _parse_data(pairs: tuple[str, ...]) -> dict[str, str]:
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail_usage(f"--data expects key=value, not {pair!r}")
        data[key] = value
    return data


def _objects(session_cls, host_names, group_names, object_refs, model_name, conditions) -> list:
    """The objects the options name (webapp.references); a usage error when there are none."""
    if not (host_names or group_names or object_refs or model_name or conditions):
        fail_usage("name at least one --host, --group, --object or --objects")
    try:
        return select_objects(hosts=host_names, groups=group_names, refs=object_refs,
                              model=model_name, where=conditions,
                              work_on=session_cls.work_on_names())
    except SelectionError as exc:
        fail_usage(f"{session_cls.__name__}: {exc}")


@click.command("run")
@click.argument("session")
@click.option("--host", "hosts", multiple=True, help="Host name (repeatable).")
@click.option("--group", "groups", multiple=True, help="All enabled hosts of a group.")
@click.option("--object", "object_refs", multiple=True,
              help="MODEL:ID of an object of any minke model, e.g. Site:3 (repeatable).")
@click.option("--objects", "model_name", metavar="MODEL",
              help="All objects of a minke model matching every --where, e.g. Site.")
@click.option("--where", "conditions", multiple=True, metavar="FIELD=VALUE",
              help="With --objects: a field equal to a value; host=NAME is the object's host "
                   "(repeatable, all must hold).")
@click.option("--data", "pairs", multiple=True, help="Form field as key=value (repeatable).")
@click.option("--secret", "secret_names", multiple=True, metavar="NAME",
              help="Read secret NAME from standard input, one line per --secret in the order "
                   "given: a secret the run asks for (ssh_key_passphrase, ssh_password, "
                   "sudo_password) or a secret form field. Never stored.")
@click.option("--secret-env", "secret_envs", multiple=True, metavar="NAME=VAR",
              help="Take secret NAME from the environment variable VAR (repeatable).")
@click.option("--user", "user_name", help="Run as this user (checks their permissions).")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY),
              help="Hosts worked on at once.")
@click.option("--skip-busy", is_flag=True,
              help="Cancel the objects of hosts another run holds instead of waiting for them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document at the end.")
@click.option("--no-wait", is_flag=True, help="Print the run id and return at once.")
def run_command(session, hosts, groups, object_refs, pairs, user_name, concurrency, as_json,
                no_wait, model_name, conditions, secret_names, secret_envs, skip_busy):
    """Run SESSION on hosts or objects through the workers and show results as they arrive.

    Secrets the session or a host group asks for, and secret form fields, come
    from --secret (standard input), --secret-env or, on a terminal, a prompt
    that does not echo; they are never stored, and a missing one queues nothing.

    An object whose host another run holds waits for it; with --skip-busy it is
    canceled instead. While every worker slot is busy the run is queued: its place
    and the runs ahead are shown (on standard error) until it starts.

    Exit status: 0 when every session ended success or warning, 1 otherwise,
    2 for a usage error (nothing is queued then).
    """
    state = current_app.extensions["minke"]
    try:
        session_cls = REGISTRY.get(session)
    except UnknownSession as exc:
        fail_usage(f"{exc}; see `minke sessions`")
    user = None
    if user_name:
        user = db.session.scalar(sa.select(User).where(User.name == user_name))
        if user is None:
            fail_usage(f"unknown user: {user_name}")
    objects = _objects(session_cls, hosts, groups, object_refs, model_name, conditions)
    data = _parse_data(pairs)
    fields, asked = ask_secrets(session_cls, objects, data,
                                read_secrets(secret_names, secret_envs))
    try:
        run = start_run(state, session_cls, objects, user=user, origin="cli",
                        data=validate_data(session_cls, {**data, **fields}),
                        concurrency=concurrency, secrets=asked, skip_busy=skip_busy)
    except EnqueueError as exc:
        raise click.ClickException(str(exc)) from None
    except MissingSecrets as exc:
        db.session.rollback()
        fail_usage(f"{exc}; give it with --secret NAME (a line of standard input) or "
                   "--secret-env NAME=VARIABLE, or run on a terminal to be asked")
    except DispatchError as exc:
        db.session.rollback()
        fail_usage(str(exc))
    run_id = run.id
    db.session.rollback()  # hold no transaction while following the run
    if no_wait:
        click.echo(run_id)
        return
    if not as_json:
        n = len(objects)
        click.echo(f"run #{run_id}: {session_cls.verbose_name} ({session_cls.__name__}) on "
                   f"{n} object{'' if n == 1 else 's'}")
    _follow(state, run_id, live=not as_json, viewer=user)
    with read_only():
        run = db.session.get(Run, run_id)
        assert run is not None  # stored above; runs are deleted only by a cleanup of old ones
        if as_json:
            click.echo(json.dumps(run_report(run), indent=2))
        else:
            print_summary(run)
        succeeded = run_succeeded(run)
    sys.exit(0 if succeeded else 1)


def _follow(state, run_id: int, *, live: bool, viewer: User | None = None) -> None:
    """Print events of the run until it is finished.

    Waits on the run's event stream with no transaction open; every
    ``POLL_SECONDS`` it also reads the stored run (read-only, in case the
    ``run.finished`` event was trimmed away) and reaps dead workers. The
    sessions' labels are read once, and each batch of events is printed with
    one write: a run of many hosts must not cost a query or a write per line.
    While the run is queued its place is shown (what ``viewer`` may see of it).
    """
    last_id, warned, outage = "0", False, 0.0
    labels = _labels(run_id) if live else {}
    _show_queue(state, run_id, viewer)
    next_poll = time.monotonic() + POLL_SECONDS
    while True:
        try:
            last_id, batch = events.read_events(state.redis, state.keys, run_id, last_id,
                                                block_ms=500)
            if outage:
                click.echo("Redis answers again", err=True)
                outage = 0.0
        except RedisError as exc:  # Redis restarting: wait for it, with the database's word
            if not outage:
                click.echo(f"waiting: Redis does not answer ({exc}); retrying", err=True)
            outage = min(MAX_BACKOFF, max(0.5, outage * 2))
            time.sleep(outage)
            batch, next_poll = [], min(next_poll, time.monotonic())
        lines: list[str] = []
        finished = False
        for event in batch:
            if event["event"] == events.RUN_FINISHED:
                finished = True
                break
            if event["event"] == events.RUN_QUEUE and event.get("position") is not None:
                _show_queue(state, run_id, viewer)
            if live:
                lines += _event_lines(event, labels)
        if lines:
            click.echo("\n".join(lines))
        if finished:
            return
        if time.monotonic() >= next_poll:
            next_poll = time.monotonic() + POLL_SECONDS
            with read_only():
                finished_at = db.session.scalar(sa.select(Run.finished_at)
                                                .where(Run.id == run_id))
            if finished_at:
                return
            if outage:
                continue
            try:
                reap_dead_workers(state)
                idle = not warned and not Worker.all(queue=state.queue)
            except RedisError:  # noticed and waited for by the next read
                continue
            if idle:
                warned = True
                click.echo("waiting: no worker is running — start one with "
                           "`minke worker`", err=True)

def _show_queue(state, run_id: int, viewer: User | None) -> None:
    """Print the run's place in the queue (standard error), if it is queued."""
    try:
        note = queue_note(state, run_id, viewer)
    except RedisError:  # the follow loop reports Redis being away
        return
    finally:
        db.session.rollback()
    if note is not None:
        click.echo(f"run #{run_id} {note['text']}", err=True)


def _labels(run_id: int) -> dict[int, str]:
    """The object label of every session of the run, by session id (one read)."""
    with read_only():
        rows = db.session.execute(sa.select(MinkeSession.id, MinkeSession.object_label)
                                  .where(MinkeSession.run_id == run_id))
        return {session_id: label or "?" for session_id, label in rows}


def _event_lines(event: dict, labels: Mapping[Any, str]) -> list[str]:
    """The lines (styled) that show ``event``; none for events the CLI does not show."""
    kind = event["event"]
    label = labels.get(event.get("session"), "?")
    if kind == events.SESSION_STATUS and event["proc_status"] != "running":
        shown = badge_key(event["proc_status"], event.get("session_status"))
        return [click.style(f"{label}: {shown}", fg=TERMINAL_COLOURS.get(shown), bold=True)]
    if kind == events.SESSION_MESSAGE:
        text = BaseMessage.render(event["kind"], event["payload"])
        colour = {"warning": "yellow", "error": "red"}.get(event["level"])
        return [click.style(f"{label} | {line}", fg=colour) for line in text.splitlines() or [""]]
    return []


@click.command("stop")
@click.argument("run_id", type=click.IntRange(0, MAX_ID))
@click.option("--kill", is_flag=True, help="Interrupt running commands at once.")
@click.option("--session", "session_id", type=click.IntRange(0, MAX_ID),
              help="Stop only this session of the run.")
def stop_command(run_id: int, kill: bool, session_id: int | None) -> None:
    """Stop run RUN_ID: once softly (running commands finish), twice or --kill at once."""
    run = db.session.get(Run, run_id)
    if run is None:
        fail_usage(f"no run {run_id}")
    if session_id is not None and db.session.get(MinkeSession, session_id) not in run.sessions:
        fail_usage(f"run {run_id} has no session {session_id}")
    try:
        level = stop_run(current_app.extensions["minke"], run, session_id=session_id, kill=kill)
    except RunFinished as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"run #{run_id}: {'kill' if level > 1 else 'stop'} requested")


def _command_number(_ctx, _param, value: int) -> int:
    if value == 0:
        raise click.BadParameter("commands count from 1 (the first) or from -1 (the last)")
    return value


@click.command("output")
@click.argument("session_id", type=click.IntRange(0, MAX_ID))
@click.option("--command", "index", type=click.IntRange(-MAX_ID, MAX_ID), default=1,
              show_default=True,
              callback=_command_number,
              help="Which command of the session: 1 = the first, -1 = the last, -2 …")
@click.option("--stream", type=click.Choice(["stdout", "stderr"]), default="stdout",
              show_default=True)
@click.option("--tail", "tail_size", type=click.IntRange(min=1),
              help="Only the last N characters (N ≥ 1).")
@click.option("-o", "--output", "target", type=click.File("w"), default="-",
              help="Write to this file instead of standard output.")
def output_command(session_id: int, index: int, stream: str, tail_size: int | None, target):
    """Print (or save) the full output of a session's command, streamed from storage."""
    order = StoredResult.seq if index > 0 else StoredResult.seq.desc()
    command = db.session.scalars(
        sa.select(StoredResult).where(StoredResult.session_id == session_id)
        .order_by(order).offset(abs(index) - 1).limit(1)).first()
    if command is None:
        fail_usage(f"session {session_id} has no command {index}")
    if tail_size is not None:
        target.write(tail(command.id, stream, tail_size))
        return
    for chunk in iter_output(command.id, stream):
        target.write(chunk)
