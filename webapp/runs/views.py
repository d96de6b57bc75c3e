"""The run page."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Run
from .access import can_view_run

bp = Blueprint("runs", __name__, url_prefix="/runs")


def _visible_run(run_id: int) -> Run:
    run = db.get_or_404(Run, run_id)
    if not can_view_run(current_user, run):
        abort(403)
    return run


@bp.get("/<int:run_id>")
@login_required
def detail(run_id: int):
    run = _visible_run(run_id)
    return render_template("runs/detail.html", run=run)
