"""The schedule form of the Schedules page."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..models import MINKE_MODELS, Schedule
from ..models.schedules import MISSED_POLICIES, OVERLAP_POLICIES
from .calendar import MAX_INTERVAL
from .operations import ScheduleSpec, parse_pairs


def _words(text: str | None) -> list[str]:
    return [word for word in (text or "").replace(",", " ").split() if word]


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class ScheduleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    session = SelectField("Session", validators=[DataRequired()],
                          description="Sessions that ask for secrets cannot be scheduled: "
                                      "nobody is there to type them when it fires.")
    hosts = StringField("Hosts", validators=[Length(max=2000)],
                        description="Host names, separated by spaces or commas.")
    groups = StringField("Host groups", validators=[Length(max=2000)],
                         description="Their enabled hosts at each firing: new hosts join in.")
    refs = StringField("Objects", validators=[Length(max=2000)],
                       description="MODEL:ID of single objects, e.g. Site:3.")
    model = SelectField("Objects of model", validators=[Optional()],
                        description="All its objects matching the conditions, at each firing.")
    where = TextAreaField("Conditions", validators=[Length(max=2000)],
                          description="One FIELD=VALUE per line, e.g. host=demo1.")
    form_data = TextAreaField("Form data", validators=[Length(max=5000)],
                         description="The session's form fields, one KEY=VALUE per line.")
    cron = StringField("Cron expression", validators=[Length(max=120)],
                       description="minute hour day month weekday, e.g. 0 3 * * 1-5; "
                                   "or @hourly, @daily…")
    interval = IntegerField("Or every (seconds)",
                            validators=[Optional(), NumberRange(1, MAX_INTERVAL)])
    timezone = StringField("Time zone", default="UTC", validators=[Length(max=64)],
                           description="Of the cron expression, e.g. Europe/Berlin.")
    missed = SelectField("Missed firings (no scheduler ran)", default="run_once",
                         choices=[SelectChoice(k, text) for k, text in MISSED_POLICIES.items()])
    overlap = SelectField("While the previous run goes on", default="skip",
                          choices=[SelectChoice(k, text) for k, text in OVERLAP_POLICIES.items()])

    def set_choices(self, sessions: list[tuple[str, str]]) -> None:
        self.session.choices = [SelectChoice(name, label) for name, label in sessions]
        self.model.choices = [SelectChoice("", "(none)")] + [
            SelectChoice(name) for name in sorted(MINKE_MODELS)]

    def fill(self, schedule: Schedule) -> None:
        """Show ``schedule`` in the form (for editing)."""
        target: dict[str, Any] = schedule.target
        self.name.data, self.session.data = schedule.name, schedule.session_name
        self.hosts.data = " ".join(target.get("hosts") or [])
        self.groups.data = " ".join(target.get("groups") or [])
        self.refs.data = " ".join(target.get("refs") or [])
        self.model.data = target.get("model") or ""
        self.where.data = "\n".join(target.get("where") or [])
        self.form_data.data = "\n".join(f"{k}={v}" for k, v in schedule.data.items())
        self.cron.data, self.interval.data = schedule.cron, schedule.interval
        self.timezone.data = schedule.timezone
        self.missed.data, self.overlap.data = schedule.missed, schedule.overlap

    def spec(self) -> ScheduleSpec:
        """The schedule the form describes. :raises ScheduleError: for bad form data lines."""
        return ScheduleSpec(
            name=self.name.data or "", session=self.session.data or "",
            target={"hosts": _words(self.hosts.data), "groups": _words(self.groups.data),
                    "refs": _words(self.refs.data), "model": self.model.data or None,
                    "where": _lines(self.where.data)},
            data=parse_pairs(_lines(self.form_data.data), "data"),
            cron=self.cron.data, interval=self.interval.data, timezone=self.timezone.data or "UTC",
            missed=self.missed.data or "", overlap=self.overlap.data or "")


class ActionForm(FlaskForm):
    """Only the CSRF token: pause, resume, run now, delete."""
