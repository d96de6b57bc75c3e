"""The notification page's forms (CSRF and parsing; the checks are the operations')."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from .channels import KINDS
from .events import EVENT_TEXT, EVENTS
from .subscriptions import SCOPES


class MultipleCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes (the forms macro renders it as a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ChannelForm(FlaskForm):
    kind = SelectField("Kind", choices=[SelectChoice(k, text) for k, text in KINDS.items()])
    name = StringField("Name", description="How you tell it apart, e.g. “on-call mail”.")
    target = StringField("Address or URL",
                         description="An email address; or the URL of your webhook, or of a "
                                     "Slack or Mattermost incoming webhook.")


class SubscriptionForm(FlaskForm):
    channel = SelectField("Channel", coerce=int, validate_choice=False)
    scope = SelectField("Runs", choices=[SelectChoice(k, text) for k, text in SCOPES.items()])
    session = SelectField("Session (for runs of a session)", validate_choice=False)
    schedule = SelectField("Schedule (for runs of a schedule)", validate_choice=False)
    events = MultipleCheckboxField("When", choices=[SelectChoice(e, EVENT_TEXT[e]) for e in EVENTS],
                                   default=["failed"])
    only_changed = BooleanField("Only when some output changed since the object's previous "
                                "run (ended runs only)")


class ActionForm(FlaskForm):
    """Only the CSRF token."""
