"""The admin pages' forms. Field rules are the domain's (webapp/accounts.py, webapp/inventory/):
a validator here calls the domain function that checks the value, so a page and the CLI
refuse the same input with the same message."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    Field,
    PasswordField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from sessions.secrets import SECRET_KINDS

from .. import inventory


class MultipleCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes (the forms macro renders it as a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _domain(check: Callable[[Any], Any]) -> Callable[[FlaskForm, Field], None]:
    """A validator that runs the inventory's own check of the value."""

    def validate(_form: FlaskForm, field: Field) -> None:
        try:
            check(field.data)
        except inventory.InventoryError as exc:
            raise ValidationError(str(exc)) from None

    return validate


def config_text(config: dict[str, Any]) -> str:
    """A stored config as the text the form shows (JSON, indented; empty for none)."""
    return json.dumps(config, indent=2, sort_keys=True) if config else ""


CONFIG_HELP = ('A JSON or YAML object, e.g. {"connect_kwargs": {"key_filename": '
               '"/etc/minke/id_ed25519"}} or run.pty: true; checked on saving.')

_PASSWORD = {"autocomplete": "new-password"}


class ActionForm(FlaskForm):
    """Only the CSRF token: the buttons that enable, delete or test something."""


class NewUserForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=80)],
                       render_kw={"autocomplete": "off"})
    password = PasswordField("Password", validators=[DataRequired()], render_kw=_PASSWORD)
    confirm = PasswordField("Password again", render_kw=_PASSWORD, validators=[
        EqualTo("password", message="The two passwords differ.")])
    roles = MultipleCheckboxField("Roles", coerce=str)


class UserRolesForm(FlaskForm):
    roles = MultipleCheckboxField("Roles", coerce=str)


class PasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired()], render_kw=_PASSWORD)
    confirm = PasswordField("New password again", render_kw=_PASSWORD, validators=[
        EqualTo("password", message="The two passwords differ.")])


class RoleForm(FlaskForm):
    name = StringField("Role name", validators=[DataRequired(), Length(max=80)])
    description = StringField("Description", validators=[Length(max=300)],
                              description="What the role is for, shown in the role list.")
    permissions = MultipleCheckboxField("Permissions", coerce=str)


class HostForm(FlaskForm):
    name = StringField("Name", validators=[_domain(inventory.validate_name)],
                       description="Letters, digits, '.', '_' and '-'.")
    verbose_name = StringField("Display name", validators=[Length(max=200)],
                               description="Shown instead of the name when set.")
    hostname = StringField("Host name or IP address",
                           validators=[_domain(inventory.validate_hostname)])
    port = StringField("SSH port", validators=[_domain(inventory.validate_port)],
                       description="1-65535; the SSH default (or the config's port) when empty.")
    username = StringField("User", validators=[Length(max=80)],
                           description="The user to log in as; the config's user when empty.")
    groups = StringField("Groups", validators=[_domain(inventory.parse_group_names)],
                         description="Group names separated by spaces or ';'; missing groups "
                                     "are created.")
    comment = TextAreaField("Comment", render_kw={"rows": 2})
    config = TextAreaField("SSH configuration", description=CONFIG_HELP,
                           validators=[_domain(inventory.parse_config)],
                           render_kw={"rows": 6, "spellcheck": "false", "class": "code"})

    def values(self) -> dict[str, Any]:
        """The fields as :func:`webapp.inventory.add_host` takes them."""
        return {name: getattr(self, name).data for name in inventory.HOST_FIELDS}


class DisableHostForm(FlaskForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=300)],
                         description="Shown in the lists and in the sessions not run on it.")


class HostKeyForm(FlaskForm):
    fingerprint = StringField("Expected fingerprint", validators=[Optional(), Length(max=100)],
                              description="SHA256:… as a failed session or the host's admin "
                                          "reported it; the key is refused if it differs. "
                                          "Leave empty to accept the key the host presents.")


class ImportForm(FlaskForm):
    file = FileField("Host file (.csv, .yaml or .yml)",
                     validators=[FileRequired("Choose a file to import.")])


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[_domain(lambda v: inventory.validate_name(v, "group"))],
                       description="Letters, digits, '.', '_' and '-'.")
    comment = TextAreaField("Comment", render_kw={"rows": 2})
    config = TextAreaField("SSH configuration its hosts inherit", description=CONFIG_HELP,
                           validators=[_domain(inventory.parse_config)],
                           render_kw={"rows": 6, "spellcheck": "false", "class": "code"})
    ask_secrets = MultipleCheckboxField(
        "Secrets asked before a run on its hosts",
        choices=[SelectChoice(kind.name, kind.label) for kind in SECRET_KINDS.values()],
        description="Typed by whoever starts a run that works on a host of the group, used "
                    "for those hosts' connections only, never stored.")
