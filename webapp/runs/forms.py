"""The stop form (its CSRF token also guards the page's JSON posts)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField
from wtforms.validators import NumberRange, Optional

from ..inputs import MAX_ID


class StopForm(FlaskForm):
    """Stop a run, or one of its sessions; ``kill`` interrupts running commands at once."""

    session = IntegerField("Session", validators=[Optional(), NumberRange(1, MAX_ID)],
                           widget=HiddenField.widget)
    kill = BooleanField("Interrupt running commands now")
