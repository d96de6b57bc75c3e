"""The Schedules page: list, make, change, pause, resume, run now, delete; the next
firings of a cron expression or interval as the form is typed (``preview``)."""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from ..errors import refuse
from ..extensions import db
from ..kit import utc_iso
from ..models import Schedule, utcnow
from ..models.auth import SCHEDULE
from ..models.schedules import MISSED_POLICIES, OVERLAP_POLICIES
from ..permissions import can_schedule
from .calendar import Timing, TimingError, zone
from .firing import run_now
from .forms import ActionForm, ScheduleForm
from .operations import (
    ScheduleError,
    create_schedule,
    delete_schedule,
    describe_target,
    pause_schedule,
    resume_schedule,
    timing_of,
    update_schedule,
)
from .queries import recent_firings, schedulable_sessions, visible_schedule, visible_schedules

bp = Blueprint("schedules", __name__, url_prefix="/schedules")

PREVIEW_COUNT = 5
FIELDS = {"target": "hosts", "data": "form_data"}
"""Where the form shows the errors of a schedule's parts that have no field of that name."""


@bp.before_request
@login_required
def _guard():
    if not can_schedule(current_user):
        refuse("open the schedules", SCHEDULE)


@bp.context_processor
def _page() -> dict:
    return {"nav_current": "schedules", "missed_policies": MISSED_POLICIES,
            "overlap_policies": OVERLAP_POLICIES}


def _user():
    return current_user._get_current_object()


def _schedule(schedule_id: int) -> Schedule:
    schedule = visible_schedule(current_user, schedule_id)
    if schedule is None:
        abort(404)
    return schedule


def _form(schedule: Schedule | None = None) -> ScheduleForm:
    form = ScheduleForm()
    form.set_choices([(cls.__name__, str(cls.verbose_name or cls.__name__))
                      for cls in schedulable_sessions(current_user)])
    if schedule is not None and request.method == "GET":
        form.fill(schedule)
    return form


def _render_form(form: ScheduleForm, schedule: Schedule | None = None, status: int = 200):
    return render_template("schedules/edit.html", form=form, schedule=schedule), status


def _save(form: ScheduleForm, schedule: Schedule | None):
    if not form.validate_on_submit():
        return _render_form(form, schedule, 400 if request.method == "POST" else 200)
    try:
        spec = form.spec()
        saved = (update_schedule(schedule, spec) if schedule is not None
                 else create_schedule(spec, _user()))
        db.session.commit()
    except ScheduleError as exc:
        db.session.rollback()
        for name, errors in exc.fields.items():
            field = getattr(form, FIELDS.get(name, name), None)
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors) + errors
        flash(str(exc), "error")
        return _render_form(form, schedule, 400)
    flash(f"Schedule {saved.name} saved; next firing {utc_iso(saved.next_due_at)}.", "success")
    return redirect(url_for(".detail", schedule_id=saved.id))


@bp.get("/")
def index():
    return render_template("schedules/index.html", schedules=visible_schedules(current_user),
                           describe_target=describe_target, action_form=ActionForm())


@bp.route("/new", methods=["GET", "POST"])
def new():
    return _save(_form(), None)


@bp.get("/<int:schedule_id>")
def detail(schedule_id: int):
    schedule = _schedule(schedule_id)
    upcoming = (timing_of(schedule).following(utcnow(), PREVIEW_COUNT)
                if schedule.enabled else [])
    return render_template("schedules/detail.html", schedule=schedule, upcoming=upcoming,
                           firings=recent_firings(schedule.id), action_form=ActionForm(),
                           target=describe_target(schedule.target),
                           local=lambda when: _local(when, schedule.timezone))


@bp.route("/<int:schedule_id>/edit", methods=["GET", "POST"])
def edit(schedule_id: int):
    schedule = _schedule(schedule_id)
    return _save(_form(schedule), schedule)


def _action(schedule_id: int) -> Schedule:
    schedule = _schedule(schedule_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return schedule


@bp.post("/<int:schedule_id>/pause")
def pause(schedule_id: int):
    schedule = _action(schedule_id)
    pause_schedule(schedule, f"paused by {current_user.name}")
    db.session.commit()
    flash(f"Schedule {schedule.name} paused.", "success")
    return redirect(url_for(".detail", schedule_id=schedule_id))


@bp.post("/<int:schedule_id>/resume")
def resume(schedule_id: int):
    schedule = _action(schedule_id)
    try:
        resume_schedule(schedule)
        db.session.commit()
    except ScheduleError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"Schedule {schedule.name} resumed; next firing "
              f"{utc_iso(schedule.next_due_at)}.", "success")
    return redirect(url_for(".detail", schedule_id=schedule_id))


@bp.post("/<int:schedule_id>/run-now")
def fire_now(schedule_id: int):
    schedule = _action(schedule_id)
    fired = run_now(current_app.extensions["minke"], schedule, user=_user())
    if fired.run_id is not None:
        return redirect(url_for("runs.detail", run_id=fired.run_id))
    flash(f"Schedule {schedule.name} did not start a run: {fired.outcome}, {fired.note}",
          "error")
    return redirect(url_for(".detail", schedule_id=schedule_id))


@bp.post("/<int:schedule_id>/delete")
def delete(schedule_id: int):
    schedule = _action(schedule_id)
    name = schedule.name
    delete_schedule(schedule)
    db.session.commit()
    flash(f"Schedule {name} deleted; its runs stay in the history.", "success")
    return redirect(url_for(".index"))


@bp.get("/preview")
def preview():
    """The next firings of ``cron`` or ``interval`` in ``timezone``, as JSON (400 with
    ``error`` for a timing that cannot be used)."""
    args = request.args
    try:
        timing = Timing.parse(cron=args.get("cron", "")[:200],
                              interval=args.get("interval", "")[:20],
                              timezone=args.get("timezone", "")[:64])
        times = timing.following(utcnow(), PREVIEW_COUNT)
    except TimingError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(times=[{"utc": utc_iso(when), "local": _local(when, timing.timezone)}
                          for when in times], timezone=timing.timezone)


def _local(when: dt.datetime, timezone: str) -> str:
    """``when`` (naive UTC) on the wall clock of ``timezone``: ``2026-12-07 03:00 CET``."""
    return when.replace(tzinfo=dt.UTC).astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")
