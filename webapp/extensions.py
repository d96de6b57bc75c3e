"""Flask extensions, created unbound; the app factory binds them.

Flask-Migrate's (webapp/migrations.py) and Flask-SocketIO's (webapp/sockets) live
with the code that serves them: the ``minke`` command builds an app without them,
and their imports were half of its start-up.
"""

from __future__ import annotations

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from .models.base import Base

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()

