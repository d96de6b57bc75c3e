"""Schedules as operations, for the page, the CLI and the API: make, change, pause,
resume, delete. Each checks what it is given and the owner's rights, changes the
database session and writes the audit entry; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from sessions import REGISTRY, Session, UnknownSession
from sessions.secrets import session_secret_fields

from ..audit import log_action
from ..engine.dispatch import DispatchError, validate_data
from ..extensions import db
from ..models import Schedule, User, utcnow
from ..models.schedules import MISSED_POLICIES, OVERLAP_POLICIES
from ..permissions import schedule_refusal
from ..references import SelectionError, select_objects
from .calendar import Timing, TimingError

TARGET_KEYS = ("hosts", "groups", "refs", "model", "where")
"""A target's parts, as :func:`webapp.references.select_objects` takes them."""


class ScheduleError(ValueError):
    """A schedule cannot be made or changed as asked; ``fields`` holds each bad field's
    errors. Nothing was changed."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class ScheduleRefused(ScheduleError):
    """The owner may not schedule this session on these objects."""


@dataclass
class ScheduleSpec:
    """What a schedule is made of, as the form, the CLI and the API give it."""

    name: str
    session: str
    target: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    interval: int | str | None = None
    timezone: str = "UTC"
    missed: str = "run_once"
    overlap: str = "skip"


def clean_target(target: Mapping[str, Any]) -> dict[str, Any]:
    """A target with only its known parts, lists of text and a model name or None.

    :raises ScheduleError: for unknown keys or values of the wrong kind.
    """
    unknown = sorted(set(target) - set(TARGET_KEYS))
    if unknown:
        raise ScheduleError(f"unknown target key {', '.join(unknown)}: use "
                            f"{', '.join(TARGET_KEYS)}", {"target": ["unknown key"]})
    clean: dict[str, Any] = {}
    for key in ("hosts", "groups", "refs", "where"):
        values = target.get(key) or []
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ScheduleError(f"target {key}: a list of text", {key: ["a list of text"]})
        clean[key] = [v.strip() for v in values if v.strip()]
    model = target.get("model")
    if model is not None and not isinstance(model, str):
        raise ScheduleError("target model: a model's name", {"model": ["a model's name"]})
    clean["model"] = (model or "").strip() or None
    if not any(clean[key] for key in TARGET_KEYS):
        raise ScheduleError("name the objects: hosts, host groups, objects (MODEL:ID) or a "
                            "model with conditions", {"target": ["no objects named"]})
    return clean


def resolve_target(target: Mapping[str, Any], session_cls: type[Session]) -> list[Any]:
    """The objects ``target`` names now (a group's or a filter's current members).

    :raises SelectionError: for an unknown name, model or field, or nothing matching.
    """
    return select_objects(hosts=target.get("hosts") or [], groups=target.get("groups") or [],
                          refs=target.get("refs") or [], model=target.get("model"),
                          where=target.get("where") or [],
                          work_on=session_cls.work_on_names())


def target_models(target: Mapping[str, Any]) -> set[str]:
    """The names of the models whose objects ``target`` names."""
    models = {ref.partition(":")[0] for ref in target.get("refs") or []}
    if target.get("hosts") or target.get("groups"):
        models.add("Host")
    if target.get("model"):
        models.add(target["model"])
    return models


def describe_target(target: Mapping[str, Any]) -> str:
    """The target in words: ``hosts web1, web2; group db; Site where host=demo1``."""
    parts = []
    if target.get("hosts"):
        parts.append("hosts " + ", ".join(target["hosts"]))
    if target.get("groups"):
        parts.append("hosts of group " + ", ".join(target["groups"]))
    if target.get("refs"):
        parts.append(", ".join(target["refs"]))
    if target.get("model"):
        where = target.get("where") or []
        parts.append(f"{target['model']}" + (f" where {' and '.join(where)}" if where
                                             else " (all)"))
    return "; ".join(parts)


def schedulable_session(name: str) -> type[Session]:
    """The session ``name``, when a schedule may run it.

    :raises ScheduleError: for an unknown session, or one that asks for secrets
        (``ask_secrets``, secret form fields): nobody is there to type them at a firing.
    """
    try:
        session_cls = REGISTRY.get(name)
    except UnknownSession:
        raise ScheduleError(f"unknown session {name!r}", {"session": ["unknown session"]}) \
            from None
    asked = list(session_cls.ask_secrets) + sorted(session_secret_fields(session_cls))
    if asked:
        raise ScheduleError(
            f"{name} cannot be scheduled: it asks for secrets ({', '.join(asked)}), which are "
            "never stored and nobody is there to type them when it fires",
            {"session": ["asks for secrets"]})
    return session_cls


def check_spec(spec: ScheduleSpec, owner: User) -> tuple[type[Session], Timing, dict, dict]:
    """Check everything of ``spec`` and that ``owner`` may run it now; return the session,
    its timing, the clean target and the validated form data.

    :raises ScheduleError: naming each problem; :raises ScheduleRefused: for the rights.
    """
    errors: dict[str, list[str]] = {}
    name = (spec.name or "").strip()
    if not name or len(name) > 120:
        errors["name"] = ["a name of 1 to 120 characters"]
    if spec.missed not in MISSED_POLICIES:
        errors["missed"] = [f"one of {', '.join(MISSED_POLICIES)}"]
    if spec.overlap not in OVERLAP_POLICIES:
        errors["overlap"] = [f"one of {', '.join(OVERLAP_POLICIES)}"]
    try:
        timing = Timing.parse(cron=spec.cron, interval=spec.interval, timezone=spec.timezone)
    except TimingError as exc:
        errors[exc.field] = [str(exc)]
    if errors:
        raise ScheduleError("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors)
    session_cls = schedulable_session(spec.session)
    target = clean_target(spec.target)
    try:
        objects = resolve_target(target, session_cls)
    except SelectionError as exc:
        raise ScheduleError(str(exc), {"target": [str(exc)]}) from None
    models: set[Any] = {type(obj) for obj in objects} or set(session_cls.work_on_names())
    reason = schedule_refusal(owner, session_cls, models)
    if reason is not None:
        raise ScheduleRefused(f"cannot schedule {spec.session}: {reason}")
    plain = (str, int, float, bool)
    wrong = sorted(str(k) for k, v in spec.data.items() if not isinstance(v, plain))
    if wrong:
        raise ScheduleError(f"data {', '.join(wrong)}: a value is text, a number or true/false",
                            {"data": ["text, numbers or true/false"]})
    try:
        data = validate_data(session_cls, spec.data)
    except DispatchError as exc:
        raise ScheduleError(str(exc), {"data": [str(exc)]}) from None
    return session_cls, timing, target, data


def create_schedule(spec: ScheduleSpec, owner: User) -> Schedule:
    """Make a schedule of ``owner``, enabled, its first firing the next due time.

    :raises ScheduleError: bad input, a name taken; :raises ScheduleRefused: no rights.
    """
    session_cls, timing, target, data = check_spec(spec, owner)
    name = spec.name.strip()
    if db.session.scalar(sa.select(Schedule.id).where(Schedule.name == name)) is not None:
        raise ScheduleError(f"a schedule named {name!r} exists", {"name": ["name taken"]})
    schedule = Schedule(name=name, session_name=session_cls.__name__, target=target, data=data,
                        cron=timing.cron, interval=timing.interval, timezone=timing.timezone,
                        owner=owner, enabled=True, missed=spec.missed, overlap=spec.overlap,
                        next_due_at=timing.next_after(utcnow()))
    db.session.add(schedule)
    db.session.flush()
    log_action("schedule.create", f"schedule {name}", summary(schedule))
    return schedule


def update_schedule(schedule: Schedule, spec: ScheduleSpec) -> Schedule:
    """Change a schedule (its owner stays; their rights are checked again). A new timing
    starts from now."""
    owner = schedule.owner
    if owner is None:
        raise ScheduleRefused("its owner was deleted: make a new schedule")
    session_cls, timing, target, data = check_spec(spec, owner)
    name = spec.name.strip()
    taken = db.session.scalar(sa.select(Schedule.id).where(Schedule.name == name,
                                                           Schedule.id != schedule.id))
    if taken is not None:
        raise ScheduleError(f"a schedule named {name!r} exists", {"name": ["name taken"]})
    retimed = (timing.cron, timing.interval, timing.timezone) != (
        schedule.cron, schedule.interval, schedule.timezone)
    schedule.name, schedule.session_name = name, session_cls.__name__
    schedule.target, schedule.data = target, data
    schedule.cron, schedule.interval, schedule.timezone = (timing.cron, timing.interval,
                                                           timing.timezone)
    schedule.missed, schedule.overlap = spec.missed, spec.overlap
    if retimed:
        schedule.next_due_at = timing.next_after(utcnow())
    log_action("schedule.update", f"schedule {name}", summary(schedule))
    return schedule


def timing_of(schedule: Schedule) -> Timing:
    return Timing(schedule.cron, schedule.interval, schedule.timezone)


def pause_schedule(schedule: Schedule, reason: str, *, user: Any = None) -> None:
    """Pause ``schedule`` with ``reason`` (shown on it); ``user``: who, by default the
    request's (a firing passes ``None``: the scheduler)."""
    schedule.enabled = False
    schedule.paused_reason = reason[:300]
    kwargs = {} if user is None else {"user": user}
    log_action("schedule.pause", f"schedule {schedule.name}", {"reason": reason}, **kwargs)


def resume_schedule(schedule: Schedule) -> None:
    """Enable ``schedule`` again, its owner's rights checked now; the firings of the
    pause are not made up: the next one is the next due time from now.

    :raises ScheduleRefused: when the owner may not run it any more.
    """
    session_cls = schedulable_session(schedule.session_name)
    reason = schedule_refusal(schedule.owner, session_cls, target_models(schedule.target))
    if reason is not None:
        raise ScheduleRefused(f"cannot resume {schedule.name}: {reason}")
    schedule.enabled, schedule.paused_reason = True, None
    schedule.next_due_at = timing_of(schedule).next_after(utcnow())
    log_action("schedule.resume", f"schedule {schedule.name}", {})


def delete_schedule(schedule: Schedule) -> None:
    """Delete ``schedule`` and its firings; its runs stay (their origin names it no more)."""
    log_action("schedule.delete", f"schedule {schedule.name}", summary(schedule))
    db.session.delete(schedule)


def summary(schedule: Schedule) -> dict[str, Any]:
    """What the audit log keeps of a schedule."""
    return {"session": schedule.session_name, "target": schedule.target, "data": schedule.data,
            "when": schedule.when, "owner": schedule.owner_name, "missed": schedule.missed,
            "overlap": schedule.overlap}


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as a mapping.

    :raises ScheduleError: for a line without ``=``.
    """
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ScheduleError(f"{what} expects KEY=VALUE, not {pair!r}", {what: ["KEY=VALUE"]})
        data[key.strip()] = value.strip()
    return data
