"""The API's schedule calls: list, make, change, pause, resume, run now, delete (the
operations the Schedules page and ``minke schedule`` call)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask_login import current_user

from ..extensions import db
from ..kit import utc_iso
from ..models import Schedule, ScheduleFiring, utcnow
from ..models.auth import SCHEDULE
from ..permissions import can_schedule
from ..schedules.firing import run_now
from ..schedules.operations import (
    ScheduleError,
    ScheduleRefused,
    ScheduleSpec,
    create_schedule,
    delete_schedule,
    pause_schedule,
    resume_schedule,
    timing_of,
    update_schedule,
)
from ..schedules.queries import recent_firings, visible_schedule, visible_schedules
from .errors import ApiError
from .views import bp

KEYS = {"name", "session", "objects", "data", "cron", "interval", "timezone", "missed",
        "overlap"}
UPCOMING = 5


def _user() -> Any:
    if not can_schedule(current_user):
        raise ApiError(403, f"{current_user.name} may not make schedules ({SCHEDULE})")
    return current_user._get_current_object()


def _schedule(schedule_id: int) -> Schedule:
    schedule = visible_schedule(_user(), schedule_id)
    if schedule is None:
        raise ApiError(404, f"no schedule {schedule_id}")
    return schedule


def firing_doc(firing: ScheduleFiring) -> dict[str, Any]:
    return {"due_at": utc_iso(firing.due_at), "fired_at": utc_iso(firing.fired_at),
            "outcome": firing.outcome, "note": firing.note, "run": firing.run_id}


def schedule_doc(schedule: Schedule, *, firings: bool = False) -> dict[str, Any]:
    """A schedule, its next firings and (``firings``) its recent ones."""
    upcoming = timing_of(schedule).following(utcnow(), UPCOMING) if schedule.enabled else []
    doc = {
        "id": schedule.id, "name": schedule.name, "session": schedule.session_name,
        "objects": schedule.target, "data": schedule.data, "cron": schedule.cron,
        "interval": schedule.interval, "timezone": schedule.timezone,
        "owner": schedule.owner_name, "enabled": schedule.enabled,
        "paused_reason": schedule.paused_reason, "missed": schedule.missed,
        "overlap": schedule.overlap, "note": schedule.note,
        "next": [utc_iso(when) for when in upcoming],
        "url": url_for("api.schedule", schedule_id=schedule.id, _external=True),
    }
    if firings:
        doc["firings"] = [firing_doc(f) for f in recent_firings(schedule.id)]
    return doc


def _spec() -> ScheduleSpec:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, f"expected a JSON object with {', '.join(sorted(KEYS))}")
    unknown = sorted(set(body) - KEYS)
    if unknown:
        raise ApiError(400, f"unknown key {', '.join(unknown)}: expected "
                            f"{', '.join(sorted(KEYS))}")
    types = {"name": str, "session": str, "objects": dict, "data": dict, "cron": str,
             "timezone": str, "missed": str, "overlap": str}
    wrong = {key: [f"expected {kind.__name__}"] for key, kind in types.items()
             if body.get(key) is not None and not isinstance(body[key], kind)}
    interval = body.get("interval")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)):
        wrong["interval"] = ["expected a whole number of seconds"]
    if wrong:
        raise ApiError(400, "; ".join(f"{k}: {v[0]}" for k, v in wrong.items()), wrong)
    return ScheduleSpec(name=body.get("name") or "", session=body.get("session") or "",
                        target=body.get("objects") or {}, data=body.get("data") or {},
                        cron=body.get("cron"), interval=interval,
                        timezone=body.get("timezone") or "UTC",
                        missed=body.get("missed") or "run_once",
                        overlap=body.get("overlap") or "skip")


def _saved(make) -> Schedule:
    try:
        schedule = make()
        db.session.commit()
    except ScheduleRefused as exc:
        db.session.rollback()
        raise ApiError(403, str(exc)) from None
    except ScheduleError as exc:
        db.session.rollback()
        raise ApiError(400, str(exc), exc.fields) from None
    return schedule


@bp.route("/schedules", methods=["GET", "POST"])
def schedules():
    """GET: the schedules you may see (your own, all of them as an admin). POST: make a
    schedule owned by you; 201 with it."""
    user = _user()
    if request.method == "GET":
        return jsonify(schedules=[schedule_doc(s) for s in visible_schedules(user)])
    spec = _spec()
    made = _saved(lambda: create_schedule(spec, user))
    doc = schedule_doc(made)
    return jsonify(doc), 201, {"Location": doc["url"]}


@bp.route("/schedules/<int:schedule_id>", methods=["GET", "PUT", "DELETE"])
def schedule(schedule_id: int):
    """GET: a schedule, its next five firings and its recent ones. PUT: change it (all of
    it, as when making it). DELETE: delete it; its runs stay."""
    found = _schedule(schedule_id)
    if request.method == "GET":
        return jsonify(schedule_doc(found, firings=True))
    if request.method == "DELETE":
        delete_schedule(found)
        db.session.commit()
        return "", 204
    spec = _spec()
    return jsonify(schedule_doc(_saved(lambda: update_schedule(found, spec))))


@bp.post("/schedules/<int:schedule_id>/pause")
def pause(schedule_id: int):
    """Pause a schedule."""
    found = _schedule(schedule_id)
    pause_schedule(found, f"paused by {current_user.name}")
    db.session.commit()
    return jsonify(schedule_doc(found))


@bp.post("/schedules/<int:schedule_id>/resume")
def resume(schedule_id: int):
    """Resume a schedule (its owner's rights checked now); 403 when they may not run it."""
    found = _schedule(schedule_id)

    def resume_it() -> Schedule:
        resume_schedule(found)
        return found

    return jsonify(schedule_doc(_saved(resume_it)))


@bp.post("/schedules/<int:schedule_id>/run-now")
def fire(schedule_id: int):
    """Fire a schedule now, as its owner; what the firing did (``run``: the run started)."""
    found = _schedule(schedule_id)
    fired = run_now(current_app.extensions["minke"], found, user=_user())
    return jsonify(outcome=fired.outcome, note=fired.note, run=fired.run_id,
                   due_at=utc_iso(fired.due_at))
