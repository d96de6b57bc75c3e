"""Dispatch: turn a session class and a set of objects into a stored run and queued jobs.

:func:`start_run` is the one way a run starts, from the CLI, the web pages
and the API alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from rq import Queue
from werkzeug.datastructures import MultiDict
from wtforms import Form

from sessions import Session
from sessions.secrets import describe_kinds, split, unknown_secrets
from sessions.status import ProcStatus

from ..audit import log_action
from ..commands.classes import confirmed_data
from ..database import begin_read_only
from ..extensions import db
from ..models import Message, MinkeSession, Run, User, utcnow
from ..permissions import missing_permissions, run_refusal
from . import secrets as sealing
from .latest import mark_latest
from .notify import STARTED, announce
from .progress import fail_sessions

if TYPE_CHECKING:
    from .clients import EngineClients

JOB_FUNCTION = "webapp.engine.worker.jobs.run_job"
"""What a run's jobs call, by name: the run contract does not import the worker floor."""


class DispatchError(ValueError):
    """The run cannot be dispatched as asked (bad data, wrong objects); nothing was stored."""

    fields: dict[str, list[str]] = {}
    """For invalid form data: each bad field's errors."""


class PermissionDenied(DispatchError):
    """The user lacks a permission the session requires: ``permissions``, those missing."""

    def __init__(self, reason: str, permissions: list[str] | None = None) -> None:
        super().__init__(reason)
        self.permissions = permissions or []


class MissingSecrets(DispatchError):
    """A secret the session or a targeted host's group asks for was not given; nothing
    was stored."""

    missing: list[str] = []
    """The names of the missing secrets."""


class EnqueueError(DispatchError):
    """The run was stored but its jobs could not be queued; its sessions were failed."""


@dataclass(frozen=True)
class PlannedJob:
    """One RQ job of a run: the units (session ids one thread works through) and threads."""

    units: list[list[int]]
    threads: int
    hosts: tuple[int | None, ...] = ()
    """The hosts of its units (whose secrets the job carries)."""


def form_data(form: Form) -> dict[str, Any]:
    """The data of a validated form as a run stores it (JSON values; no CSRF token)."""
    data = {name: value for name, value in form.data.items() if name != "csrf_token"}
    return cast("dict[str, Any]", json.loads(json.dumps(data, default=str)))


def validate_data(session_cls: type[Session], data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``data`` with the session's form; return the cleaned form data.

    :raises DispatchError: listing every invalid or unknown field.
    """
    data = dict(data or {})
    form_cls = session_cls.get_form()
    if form_cls is None:
        if data:
            raise DispatchError(f"{session_cls.__name__} has no form: it takes no data "
                                f"(got {', '.join(sorted(data))})")
        return {}
    form = form_cls(formdata=MultiDict(data))
    unknown = sorted(set(data) - set(form._fields))
    errors = [f"{name}: unknown field" for name in unknown]
    if not form.validate():
        errors += [f"{name}: {'; '.join(errs)}" for name, errs in form.errors.items()]
    if errors:
        error = DispatchError(f"invalid data for {session_cls.__name__}: " + ", ".join(errors))
        error.fields = {**dict.fromkeys(unknown, ["unknown field"]), **form.errors}
        raise error
    return form_data(form)


def start_run(
    state: EngineClients, session_cls: type[Session], objects: Sequence[Any], *,
    user: User | None, data: Mapping[str, Any] | None = None, origin: str = "web",
    concurrency: int | None = None, secrets: Mapping[str, str] | None = None,
    skip_busy: bool = False, with_run: Callable[[Run], None] | None = None,
) -> Run:
    """Start a run: check, store the run and its sessions, plan and queue its jobs. Commits.

    ``data`` is validated form data (:func:`validate_data`, :func:`form_data`);
    the values of its secret fields (password fields and the session's
    ``secret_fields``) are sealed into the jobs and never stored. ``secrets``
    are the asked secrets by name (:func:`.secrets.secrets_needed`); each job
    carries, sealed, those its own hosts need, and nothing of them is stored.
    ``skip_busy``: cancel the sessions of hosts another run holds instead of
    waiting for them (stored on the run: a re-run keeps it).
    ``with_run``: called with the stored run before the commit, to store what belongs
    with it in the same transaction (a schedule's firing: both or neither).
    The session's next transaction is a read-only one holding the returned
    run, so a caller that goes on to wait (the CLI) blocks no writer.

    :raises PermissionDenied: when ``user`` may not run the session, or not on objects
        they may not list (nothing stored).
    :raises MissingSecrets: when a secret the run asks for is missing (nothing stored).
    :raises DispatchError: for no objects or an object the session does not work on, or
        an unknown secret name (nothing stored).
    :raises EnqueueError: when Redis refused the jobs (the sessions were failed with the reason).
    """
    config = state.config
    threads = config["MINKE_WORKER_THREADS"]
    stored, secret = split(session_cls.get_form(), dict(data or {}),
                           session_cls.secret_fields)
    check_permission(session_cls, user, objects)  # before telling which secrets are missing
    needed = check_secrets(session_cls, objects, secrets)
    run, plan = prepare_run(session_cls, objects, user=user, data=stored, origin=origin,
                            concurrency=concurrency or config["MINKE_CONCURRENCY"],
                            threads=threads)
    run.skip_busy = skip_busy
    run_id, description = run.id, f"run #{run.id} {run.session_name}"
    log_action("run.start", f"run #{run_id}", run_details(run, objects), user=user)
    if with_run is not None:
        with_run(run)
    db.session.commit()
    jobs = [
        Queue.prepare_data(JOB_FUNCTION, args=(run_id, job.units, job.threads, sealing.seal(
                               config["SECRET_KEY"],
                               sealing.job_payload(secret, secrets or {}, needed, job.hosts))),
                           job_id=state.keys.job_id(run_id, index),
                           timeout=config["MINKE_JOB_TIMEOUT"], result_ttl=3600,
                           failure_ttl=7 * 24 * 3600, description=f"{description} part {index + 1}")
        for index, job in enumerate(plan)
    ]
    try:
        if jobs:
            state.queue.enqueue_many(jobs)
    except Exception as exc:  # the run is stored: end its sessions rather than leave them waiting
        rows = db.session.scalars(sa.select(MinkeSession).where(
            MinkeSession.run_id == run_id,
            MinkeSession.proc_status == ProcStatus.INITIALIZED.value)).all()
        fail_sessions(rows, f"could not queue the run: {exc}", state)
        raise EnqueueError(f"run #{run_id} could not be queued: {exc}") from exc
    announce(run_id, STARTED, state)  # notifications: a job of their own
    begin_read_only()
    return cast(Run, db.session.get(Run, run_id))  # stored and committed above


def check_secrets(session_cls: type[Session], objects: Sequence[Any],
                  given: Mapping[str, Any] | None) -> sealing.SecretsNeeded:
    """The secrets the run asks for (:func:`.secrets.secrets_needed`), all in ``given``.

    :raises MissingSecrets: naming each missing one and who asks for it.
    :raises DispatchError: for a name that is no secret, or a value that is no text.
    """
    given = dict(given or {})
    unknown = unknown_secrets(given)
    if unknown:
        raise DispatchError(f"unknown secret {', '.join(unknown)} (known: {describe_kinds()})")
    wrong = sorted(name for name, value in given.items() if not isinstance(value, str))
    if wrong:
        raise DispatchError(f"secret {', '.join(wrong)}: expected text")
    needed = sealing.secrets_needed(session_cls, objects)
    missing = sealing.missing_secrets(needed, given)
    if missing:
        error = MissingSecrets("missing secret: " + "; ".join(needed.describe(name)
                                                              for name in missing))
        error.missing = missing
        error.fields = {name: ["required"] for name in missing}
        raise error
    return needed


def run_details(run: Run, objects: Sequence[Any], *, labels: int = 20) -> dict[str, Any]:
    """What the audit log keeps of a started run: its session, inputs (never a secret:
    ``run.data`` holds none) and objects (the first ``labels`` of them by name)."""
    return {"session": run.session_name, "origin": run.origin, "data": run.data,
            "object_type": run.object_type, "objects": len(objects),
            "labels": [str(obj.minke_label) for obj in objects[:labels]]}


def check_permission(session_cls: type[Session], user: User | None,
                     objects: Sequence[Any]) -> None:
    """:raises PermissionDenied: when ``user`` may not run the session, or not on
    ``objects`` because they may not list their model (:func:`webapp.permissions.run_refusal`;
    ``None``: the CLI without ``--user``, which may)."""
    models = {type(obj) for obj in objects}
    reason = run_refusal(user, session_cls, models)
    if reason is not None:
        raise PermissionDenied(reason, missing_permissions(user, session_cls, models))


def prepare_run(
    session_cls: type[Session], objects: Sequence[Any], *, user: User | None,
    data: Mapping[str, Any], concurrency: int, threads: int, origin: str,
) -> tuple[Run, list[PlannedJob]]:
    """Store a run and one ``initialized`` session per object, and plan its jobs.

    Part of :func:`start_run`; the caller commits. Objects whose host is
    missing or disabled get a ``canceled`` session with a message saying why.

    :raises PermissionDenied: when ``user`` may not run the session on these objects.
    :raises DispatchError: for no objects or an object the session does not work on.
    """
    check_permission(session_cls, user, objects)
    if not objects:
        raise DispatchError("no objects to run the session on")
    names = session_cls.work_on_names()
    wrong = sorted({type(obj).__name__ for obj in objects} - set(names))
    if wrong:
        raise DispatchError(f"{session_cls.__name__} does not work on {', '.join(wrong)} "
                            f"(only on {', '.join(names)})")
    run = Run(user_id=user.id if user else None, session_name=session_cls.__name__,
              object_type=type(objects[0]).__name__, data=confirmed_data(session_cls, data),
              concurrency=concurrency, origin=origin)
    db.session.add(run)
    db.session.flush()
    rows, skipped = [], {}
    for index, obj in enumerate(objects):
        host = obj.get_host()
        reason = ("it has no host" if host is None
                  else f"its host is disabled: {host.disabled_reason or 'no reason given'}"
                  if host.disabled else None)
        rows.append({
            "run_id": run.id, "user_id": run.user_id, "session_name": run.session_name,
            "object_type": type(obj).__name__, "object_id": obj.id, "object_label": obj.minke_label,
            "host_id": host.id if host is not None else None, "session_data": run.data,
            "proc_status": (ProcStatus.CANCELED if reason else ProcStatus.INITIALIZED).value,
            "end_time": utcnow() if reason else None,
        })
        if reason:
            skipped[index] = reason
    ids = db.session.scalars(
        sa.insert(MinkeSession).returning(MinkeSession.id, sort_by_parameter_order=True), rows
    ).all()
    mark_latest({**row, "session_id": sid} for sid, row in zip(ids, rows, strict=True))
    if skipped:
        db.session.execute(sa.insert(Message), [
            {"session_id": ids[i], "seq": 1, "level": "error", "kind": "text",
             "payload": {"text": f"not run: {reason}"}} for i, reason in skipped.items()])
    runnable = [(sid, row["host_id"]) for sid, row in zip(ids, rows, strict=True)
                if row["proc_status"] == ProcStatus.INITIALIZED.value]
    plan = plan_jobs(runnable, parallel_per_host=session_cls.parrallel_per_host,
                     concurrency=concurrency, threads=threads)
    run.job_count = len(plan)
    return run, plan


def plan_jobs(
    sessions: Sequence[tuple[int, int | None]], *, parallel_per_host: bool, concurrency: int,
    threads: int,
) -> list[PlannedJob]:
    """Split sessions into jobs.

    A unit is the sessions one thread works through in order: all of one
    host's, or a single one with ``parallel_per_host``. Jobs are as many as
    needed to reach ``concurrency`` with ``threads`` threads each.
    """
    units: dict[Any, list[int]] = {}
    for session_id, host_id in sessions:
        units.setdefault(session_id if parallel_per_host else host_id, []).append(session_id)
    unit_list = list(units.values())
    if not unit_list:
        return []
    concurrency = max(1, concurrency)
    job_count = min(len(unit_list), math.ceil(concurrency / max(1, threads)))
    per_job = math.ceil(concurrency / job_count)
    jobs = [unit_list[i::job_count] for i in range(job_count)]
    host_of = dict(sessions)
    return [PlannedJob(units, max(1, min(threads, per_job, len(units))),
                       tuple(dict.fromkeys(host_of[unit[0]] for unit in units)))
            for units in jobs]
