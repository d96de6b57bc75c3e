"""Past runs, one object's sessions, running a run again, exporting a run's results."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from sessions import REGISTRY

from ..audit import log_action
from ..engine.dispatch import DispatchError, PermissionDenied
from ..errors import refuse
from ..extensions import db
from ..inputs import int_param
from ..models import MINKE_MODELS, Run
from ..models.auth import VIEW_ALL_RUNS
from ..objects.prepare import render_prepare, session_form
from ..permissions import can_list, can_view_run, sees_all_runs
from . import export
from .queries import (
    RUN_STATES,
    RunFilters,
    object_sessions,
    run_page,
    users_with_runs,
)
from .rerun import RerunError, plan_rerun, start_rerun

bp = Blueprint("history", __name__, url_prefix="/history")


def _visible_run(run_id: int, loader=None) -> Run:
    run = loader(run_id) if loader else db.session.get(Run, run_id)
    if run is None:
        abort(404)
    if not can_view_run(current_user, run):
        refuse(f"see run #{run.id}: it is another user's", VIEW_ALL_RUNS)
    return run


@bp.get("/")
@login_required
def runs():
    filters = RunFilters.from_args(request.args)
    page = run_page(current_user, filters, number=int_param(request.args, "page", 1))
    all_runs = sees_all_runs(current_user)
    return render_template(
        "history/runs.html", page=page, filters=filters, states=RUN_STATES,
        session_names=[cls.__name__ for cls in sorted(REGISTRY, key=lambda c: str(c.verbose_name))],
        users=users_with_runs() if all_runs else [], all_runs=all_runs,
        page_url=lambda n: url_for(".runs", **filters.as_args(), page=n))


@bp.get("/objects/<model>/<int:object_id>")
@login_required
def object_history(model: str, object_id: int):
    model_cls = MINKE_MODELS.get(model)
    if model_cls is None:
        abort(404)
    obj = db.session.get(model_cls, object_id)
    page = object_sessions(current_user, model, object_id,
                           number=int_param(request.args, "page", 1))
    if (obj is None or not can_list(current_user, model_cls)) and not page.total:
        abort(404)  # an object the user may not list is named only by sessions of theirs
    return render_template(
        "history/object.html", model=model, obj=obj, object_id=object_id, page=page,
        label=obj.minke_label if obj is not None else page.rows[0].object_label,
        page_url=lambda n: url_for(".object_history", model=model, object_id=object_id, page=n))


@bp.post("/runs/<int:run_id>/rerun")
@login_required
def rerun(run_id: int):
    run = _visible_run(run_id)
    try:
        plan = plan_rerun(run, user=current_user,
                          only_unsuccessful=request.form.get("only") == "unsuccessful")
        if plan.needs_form:
            form = session_form(plan.session_cls, data=run.data)
            return render_prepare(plan.spec, plan.session_cls, plan.selection, form,
                                  rerun_of=run)
        new_run = start_rerun(current_app.extensions["minke"], plan,
                              user=current_user._get_current_object())
    except PermissionDenied as exc:
        refuse(f"run the session of run #{run.id} again", *exc.permissions)
    except (RerunError, DispatchError) as exc:
        flash(f"Run #{run.id} cannot run again: {exc}", "error")
        return redirect(url_for(".runs"))
    return redirect(url_for("runs.detail", run_id=new_run.id))


@bp.get("/runs/<int:run_id>.csv")
@login_required
def export_csv(run_id: int):
    run = _visible_run(run_id, export.load_run)
    body = export.run_csv(run)
    log_action("run.export", f"run #{run_id}", {"format": "csv"}, commit=True)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="minke-run-{run_id}.csv"'})


@bp.get("/runs/<int:run_id>.json")
@login_required
def export_json(run_id: int):
    run = _visible_run(run_id, export.load_run)
    response = jsonify(export.run_json(run))
    log_action("run.export", f"run #{run_id}", {"format": "json"}, commit=True)
    response.headers["Content-Disposition"] = f'attachment; filename="minke-run-{run_id}.json"'
    return response
