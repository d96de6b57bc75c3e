"""The forms of the command pages; the rules are the domain's (definitions.py), which
reports a refused value on the field it belongs to."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from sessions.forms import normalise_newlines

PLACEHOLDER_HELP = ("Placeholders as in Python sessions: {hostname}, {root}… are filled from "
                    "the object's fields and shell-quoted where they stand; other braces "
                    "(awk '{print $1}', ${HOME}) stay as written.")


class MultipleCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes (the forms macro renders it as a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    """Only the CSRF token: the delete buttons."""


class CommandForm(FlaskForm):
    label = StringField("Label", validators=[DataRequired(), Length(max=256)],
                        description="The name in the session select.")
    description = TextAreaField("Description", render_kw={"rows": 2},
                                description="Shown as the session's tooltip.")
    cmd = TextAreaField("Command", validators=[DataRequired()], filters=[normalise_newlines],
                        render_kw={"rows": 6, "spellcheck": "false", "class": "command-text"},
                        description=PLACEHOLDER_HELP)
    models = MultipleCheckboxField("Works on", coerce=str)
    active = BooleanField("Active (offered in the session select)", default=True)


class GroupForm(FlaskForm):
    label = StringField("Label", validators=[DataRequired(), Length(max=256)],
                        description="The name in the session select.")
    description = TextAreaField("Description", render_kw={"rows": 2},
                                description="Shown as the session's tooltip.")
    models = MultipleCheckboxField("Works on", coerce=str)
    commands = MultipleCheckboxField("Commands", coerce=int)
    as_options = BooleanField("As options: the operator chooses one command in the run's form "
                              "(otherwise they run one after another, stopping at an error)")
    active = BooleanField("Active (offered in the session select)", default=True)

    def ordered_commands(self, formdata: Mapping[str, str]) -> tuple[int, ...]:
        """The ticked commands by their position inputs (``position-<id>``); ties and
        empty positions keep the list's order."""
        chosen = list(self.commands.data or [])

        def position(command_id: int) -> float:
            value = (formdata.get(f"position-{command_id}") or "").strip()
            return float(value) if value.lstrip("-").isdigit() else float("inf")

        return tuple(sorted(chosen, key=lambda command_id: (position(command_id),
                                                            chosen.index(command_id))))
