from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Host, Run

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def index():
    hosts = db.session.scalars(sa.select(Host).order_by(Host.name).limit(500)).all()
    runs = sa.select(Run).order_by(Run.id.desc()).limit(20)
    if not current_user.has_permissions(["minke.view_all_runs"]):
        runs = runs.where(Run.user_id == current_user.id)
    return render_template("web/index.html", hosts=hosts, runs=db.session.scalars(runs).all())


@bp.get("/runs/<int:run_id>")
@login_required
def run_detail(run_id: int):
    run = db.get_or_404(Run, run_id)
    if run.user_id != current_user.id and not current_user.has_permissions(
        ["minke.view_all_runs"]
    ):
        abort(403)
    return render_template("web/run.html", run=run)
