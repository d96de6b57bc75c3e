"""The stop form (its CSRF token also guards the page's JSON posts)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField
from wtforms.validators import Optional


class StopForm(FlaskForm):
    """Stop a run, or one of its sessions; ``kill`` interrupts running commands at once."""

    session = IntegerField("Session", validators=[Optional()], widget=HiddenField.widget)
    kill = BooleanField("Interrupt running commands now")
