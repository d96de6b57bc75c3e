"""Forms that ship with the framework (plain WTForms: the web app adds CSRF)."""

from __future__ import annotations

from wtforms import Form, TextAreaField
from wtforms.validators import DataRequired


def normalise_newlines(text: str | None) -> str | None:
    """``\r\n`` and ``\r`` (as a browser's textarea sends them) become ``\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if text else text


class CommandForm(Form):
    """One text field, ``cmd``: the shell command a :class:`CommandFormSession` runs."""

    cmd = TextAreaField("Command", validators=[DataRequired()], filters=[normalise_newlines],
                        description="Command to execute. Use with care!")
