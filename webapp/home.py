"""The dashboard's home: the object lists the user may open with their counts, and the
user's recent runs. It sits above the features it shows (objects, history)."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_login import current_user, login_required

from .accounts import admin_names
from .history.queries import recent_runs
from .models.auth import VIEW_HOSTS
from .objects.listing import Filters, count_matching
from .objects.specs import list_specs
from .permissions import can_list

bp = Blueprint("home", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/")
@login_required
def home():
    specs = [spec for spec in list_specs().values() if can_list(current_user, spec.model)]
    return render_template("home.html",
                           counts=[(spec, count_matching(spec, Filters())) for spec in specs],
                           runs=recent_runs(current_user), view_hosts=VIEW_HOSTS,
                           admins=[] if specs else admin_names())
