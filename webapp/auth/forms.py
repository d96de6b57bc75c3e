from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired


class LoginForm(FlaskForm):
    name = StringField("User", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
