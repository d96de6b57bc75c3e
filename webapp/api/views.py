"""The JSON API at /api/v1, for scripts and CI pipelines (token authentication).

Each endpoint calls what the pages and the CLI call: the permission policy
(webapp/permissions.py), the object lists, ``start_run``, the run page's feed,
``stop_run`` and the exports. ``openapi.yaml`` beside this module documents them.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_login import current_user

from ..audit import log_action
from ..changes import CHANGED_VALUES
from ..engine.stops import RunFinished, stop_run
from ..extensions import db
from ..history import export
from ..inputs import choice_param, int_param, parse_int
from ..models import MINKE_MODELS, MinkeSession, Run
from ..objects.listing import Filters, Order, list_page, page_args
from ..objects.specs import list_specs
from ..output_diff import session_diff
from ..permissions import (
    VIEW_HOSTS,
    can_list,
    can_stop_run,
    can_view_run,
    runnable_sessions,
    statuses_of,
)
from ..runs.feed import begin_snapshot, load_changes, parse_after
from ..runs.queued import queue_note
from .auth import authenticate
from .documents import changes_doc, objects_doc, run_doc, run_session_ids, session_doc
from .errors import URL_PREFIX, ApiError
from .requests import start_api_run
from .schema import openapi_document

bp = Blueprint("api", __name__, url_prefix=URL_PREFIX)
bp.before_request(authenticate)
bp.register_error_handler(ApiError, ApiError.response)



def _run(run_id: int) -> Run:
    """The run, when the user may see it; 404 otherwise (another user's run is not
    told apart from a missing one)."""
    run = db.session.get(Run, run_id)
    if run is None or not can_view_run(current_user, run):
        raise ApiError(404, f"no run {run_id}")
    return run


def _user():
    return current_user._get_current_object()


def run_links(run_id: int) -> dict[str, str]:
    return {
        "run": url_for("api.run", run_id=run_id, _external=True),
        "events": url_for("api.events", run_id=run_id, _external=True),
        "stop": url_for("api.stop", run_id=run_id, _external=True),
        "export_json": url_for("api.export_json", run_id=run_id, _external=True),
        "export_csv": url_for("api.export_csv", run_id=run_id, _external=True),
        "page": url_for("runs.detail", run_id=run_id, _external=True),
    }


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3 description, with this installation's models and sessions."""
    return jsonify(openapi_document())


@bp.get("/sessions")
def sessions():
    """The sessions the user may run (on ``model`` when given), with their form fields."""
    model = request.args.get("model") or None
    if model is not None and model not in MINKE_MODELS:
        raise ApiError(400, f"unknown model {model!r}: {', '.join(sorted(MINKE_MODELS))}")
    return jsonify(sessions=[session_doc(cls) for cls in runnable_sessions(_user(), model)])


@bp.get("/objects/<model>")
def objects(model: str):
    """A page of a model's objects, filtered as the object list filters them."""
    spec = list_specs().get(model.lower())
    if spec is None:
        raise ApiError(404, f"no object list {model!r}: use one of "
                            f"{', '.join(s.model_name for s in list_specs().values())}")
    if not can_list(current_user, spec.model):
        raise ApiError(403, f"{current_user.name} may not list objects ({VIEW_HOSTS})")
    args = request.args.to_dict()
    args.setdefault("q", args.get("search", ""))
    page = list_page(spec, Filters.from_args(args, runs_of=statuses_of(current_user)),
                     Order.from_args(spec, args),
                     **page_args(args))
    return jsonify(objects_doc(spec, page))


@bp.post("/runs")
def start():
    """Start a run; 201 with its id and where to follow it."""
    run = start_api_run(current_app.extensions["minke"], _user(), request.get_json(silent=True))
    links = run_links(run.id)
    return jsonify(id=run.id, session=run.session_name, urls=links), 201, {
        "Location": links["run"]}


@bp.get("/runs/<int:run_id>")
def run(run_id: int):
    """The run and (a page of) its sessions' states."""
    begin_snapshot()
    found = _run(run_id)
    changed = choice_param(request.args, "changed", CHANGED_VALUES) in ("true", "1")
    doc = run_doc(found, page=int_param(request.args, "page", 1), changed=changed)
    db.session.rollback()  # no transaction held while Redis answers
    # queued: its place and the runs ahead that this user may see (others counted)
    doc["queue"] = (queue_note(current_app.extensions["minke"], run_id, _user())
                    if doc["counts"].get("queued") and not doc["finished"] else None)
    return jsonify({**doc, "urls": run_links(run_id)})


@bp.get("/runs/<int:run_id>/sessions/<int:session_id>/changes")
def session_changes(run_id: int, session_id: int):
    """The session's stdout against the same session's previous run on the same object,
    command by command, as unified diffs (the previous run's output only for a caller who
    may see that run)."""
    begin_snapshot()
    found = _run(run_id)
    session = db.session.get(MinkeSession, session_id)
    if session is None or session.run_id != found.id:
        raise ApiError(404, f"run #{found.id} has no session #{session_id}")
    diff = session_diff(session)
    previous = db.session.get(Run, diff.previous_run_id) if diff.previous_run_id else None
    if previous is not None and not can_view_run(_user(), previous):
        diff.hide()
    return jsonify(diff.as_document())


@bp.get("/runs/<int:run_id>/events")
def events(run_id: int):
    """What the run's sessions stored after ``after=SESSION:SEQ,...`` (sessions not named:
    everything), each session with its state; ``after`` in the answer is the next to ask."""
    try:
        known = parse_after(request.args.get("after", ""))
    except ValueError:
        raise ApiError(400, "after: expected SESSION:SEQ pairs separated by commas") from None
    begin_snapshot()
    found = _run(run_id)
    after = dict.fromkeys(run_session_ids(found.id), 0)
    after.update((sid, seq) for sid, seq in known.items() if sid in after)
    views = load_changes(found.id, after)
    return jsonify(
        run=found.id, finished=found.finished_at is not None,
        sessions=[changes_doc(view) for view in views],
        after=",".join(f"{view.id}:{view.seq}" for view in views))


@bp.post("/runs/<int:run_id>/stop")
def stop(run_id: int):
    """Stop the run (or one ``session``): softly, or at once with ``kill``."""
    found = _run(run_id)
    if not can_stop_run(current_user, found):
        raise ApiError(403, f"{current_user.name} may not stop run {run_id}")
    # no body is {}; a body must be a JSON object (``null`` is not)
    body = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(body, dict) or not isinstance(body.get("kill", False), bool):
        raise ApiError(400, 'expected {"kill": true|false, "session": id (optional)}')
    unknown = sorted(set(body) - {"kill", "session"})
    if unknown:
        raise ApiError(400, f"unknown key {', '.join(unknown)}: expected kill and session")
    session_id = body.get("session")
    if "session" in body:  # null included: the document says an id or nothing
        session = db.session.get(MinkeSession, parse_int(session_id, "session", minimum=1))
        if session is None or session.run_id != run_id:
            raise ApiError(404, f"run {run_id} has no session {session_id}")
    try:
        level = stop_run(current_app.extensions["minke"], found, session_id=session_id,
                         kill=body.get("kill", False))
    except RunFinished as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(run=run_id, session=session_id, level=level,
                   stop="kill" if level > 1 else "soft")


@bp.get("/runs/<int:run_id>/export.json")
def export_json(run_id: int):
    """The run's results, as the history's JSON export."""
    found = export.load_run(run_id)
    if found is None or not can_view_run(current_user, found):
        raise ApiError(404, f"no run {run_id}")
    document = export.run_json(found)
    log_action("run.export", f"run #{run_id}", {"format": "json"}, commit=True)
    return jsonify(document)


@bp.get("/runs/<int:run_id>/export.csv")
def export_csv(run_id: int):
    """The run's results, as the history's CSV export."""
    found = export.load_run(run_id)
    if found is None or not can_view_run(current_user, found):
        raise ApiError(404, f"no run {run_id}")
    body = export.run_csv(found)
    log_action("run.export", f"run #{run_id}", {"format": "csv"}, commit=True)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="minke-run-{run_id}.csv"'})
