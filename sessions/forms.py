"""Forms that ship with the framework (plain WTForms: the web app adds CSRF)."""

from __future__ import annotations

from wtforms import Form, TextAreaField
from wtforms.validators import DataRequired


class CommandForm(Form):
    """One text field, ``cmd``: the shell command a :class:`CommandFormSession` runs."""

    cmd = TextAreaField("Command", validators=[DataRequired()])
