"""The run page, what it fetches to catch up, the output views and stopping."""

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
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from ..changes import CHANGE_TEXTS, CHANGED_VALUES, CHANGES
from ..engine.stops import RunFinished, stop_run
from ..errors import refuse
from ..extensions import db
from ..inputs import choice_param, int_param
from ..models import MinkeSession, Run
from ..models.auth import STOP_ALL_RUNS, VIEW_ALL_RUNS
from ..output import iter_output
from ..output_diff import session_diff
from ..permissions import can_stop_run, can_view_run
from ..status import COUNTED, run_counts
from .ansi import ansi_to_html
from .feed import after_map, begin_snapshot, load_run_page, parse_after
from .forms import StopForm
from .fragments import PLACEHOLDER_COMMAND, badges, catch_up
from .groups import group_output
from .output_pages import STREAMS, command_id_of, command_of_run, output_page
from .queued import queue_note

bp = Blueprint("runs", __name__, url_prefix="/runs")


def _visible_run(run_id: int) -> Run:
    run = db.get_or_404(Run, run_id)
    if not can_view_run(current_user, run):
        refuse(f"see run #{run.id}: it is another user's", VIEW_ALL_RUNS)
    return run


def _changed_only() -> bool:
    """The filter "only objects whose output changed": ``changed=1`` (``0`` or none:
    every object; anything else is a 400)."""
    return choice_param(request.args, "changed", CHANGED_VALUES) in ("1", "true")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/<int:run_id>")
@login_required
def detail(run_id: int):
    """The run's rows, a page at a time (``page``), optionally of one badge (``status``)
    and only those whose output changed since the previous run (``changed=1``)."""
    status = request.args.get("status") or None
    if status not in COUNTED:
        status = None
    begin_snapshot()
    run = _visible_run(run_id)
    page = load_run_page(run.id, status=status, number=int_param(request.args, "page", 1),
                         changed=_changed_only())
    queue = (queue_note(current_app.extensions["minke"], run.id, current_user)
             if page.counts["queued"] and not run.finished_at else None)
    return render_template("runs/detail.html", run=run, page=page, status_keys=COUNTED,
                           change_keys=CHANGES,
                           can_stop=can_stop_run(current_user, run), badges=badges(),
                           placeholder_command=PLACEHOLDER_COMMAND, queue=queue)


@bp.get("/<int:run_id>/queue")
@login_required
def queue(run_id: int):
    """The run's place in the queue (``{"queue": null}`` when it is not queued), as the
    viewer may see it: the runs ahead they may not see are only counted."""
    run = _visible_run(run_id)
    db.session.rollback()  # no transaction held while Redis answers
    return jsonify(queue=queue_note(current_app.extensions["minke"], run.id, current_user))


@bp.route("/<int:run_id>/events", methods=["GET", "POST"])
@login_required
def events(run_id: int):
    """What sessions stored after the sequence numbers a page has: ``?after=12:5,13:0``
    or, for many sessions, a POSTed ``{"after": {"12": 5, "13": 0}}``."""
    try:
        if request.method == "POST":
            body = request.get_json(silent=True) or {}
            after = after_map(body.get("after", {}) if isinstance(body, dict) else None)
        else:
            after = parse_after(request.args.get("after", ""))
    except (TypeError, ValueError):
        return jsonify(error="after: expected session:seq pairs"), 400
    begin_snapshot()
    run = _visible_run(run_id)
    return jsonify(catch_up(run, after, summary=True))


@bp.get("/<int:run_id>/sessions/<int:session_id>/commands/<int:seq>")
@login_required
def command_output(run_id: int, session_id: int, seq: int):
    """A command named by its session and sequence number (what a page knows of a command
    that started live): its output view."""
    begin_snapshot()
    run = _visible_run(run_id)
    command_id = command_id_of(run.id, session_id, seq) or abort(404)
    stream = request.args.get("stream", "stdout")
    return redirect(url_for(".output", run_id=run.id, command_id=command_id, stream=stream))


@bp.get("/<int:run_id>/grouped")
@login_required
def grouped(run_id: int):
    begin_snapshot()
    run = _visible_run(run_id)
    template = "runs/_groups.html" if request.args.get("fragment") else "runs/grouped.html"
    changed = _changed_only()
    return render_template(template, run=run, grouping=group_output(run.id, changed_only=changed),
                           counts=run_counts(run.id), status_keys=COUNTED, changed=changed)


@bp.get("/<int:run_id>/sessions/<int:session_id>/changes")
@login_required
def changes(run_id: int, session_id: int):
    """The session's stdout against its previous run's on the same object, command by
    command, as unified diffs (JSON for the run page's click, else a page). The previous
    run's output is shown only to who may see that run."""
    begin_snapshot()
    run = _visible_run(run_id)
    session = db.session.get(MinkeSession, session_id)
    if session is None or session.run_id != run.id:
        abort(404)
    diff = session_diff(session)
    previous_run = db.session.get(Run, diff.previous_run_id) if diff.previous_run_id else None
    if previous_run is not None and not can_view_run(current_user, previous_run):
        diff.hide()
    if _wants_json():
        return jsonify(diff.as_document())
    return render_template("runs/changes.html", run=run, session=session, diff=diff,
                           change_texts=CHANGE_TEXTS)


@bp.get("/<int:run_id>/output/<int:command_id>")
@login_required
def output(run_id: int, command_id: int):
    """One stream of a command: its tail, with earlier pages fetched on demand."""
    stream = request.args.get("stream", "stdout")
    if stream not in STREAMS:
        abort(404)
    begin_snapshot()
    run = _visible_run(run_id)
    command = command_of_run(run.id, command_id) or abort(404)
    page = output_page(command.id, stream)
    return render_template("runs/output.html", run=run, command=command, stream=stream,
                           page=page, session=db.session.get(MinkeSession, command.session_id))


@bp.get("/<int:run_id>/output/<int:command_id>/page")
@login_required
def output_earlier(run_id: int, command_id: int):
    """The page of output before chunk ``before``, as escaped HTML."""
    stream = request.args.get("stream", "stdout")
    before = int_param(request.args, "before", minimum=0)
    if stream not in STREAMS or before is None:
        abort(400)
    begin_snapshot()
    run = _visible_run(run_id)
    command = command_of_run(run.id, command_id) or abort(404)
    page = output_page(command.id, stream, before=before)
    return jsonify(html=str(ansi_to_html(page.text)), first_seq=page.first_seq, more=page.more)


@bp.get("/<int:run_id>/output/<int:command_id>/download")
@login_required
def output_download(run_id: int, command_id: int):
    """The whole stream as a text file, streamed from the database chunk by chunk."""
    stream = request.args.get("stream", "stdout")
    if stream not in STREAMS:
        abort(404)
    begin_snapshot()  # never the write lock while a slow client downloads
    run = _visible_run(run_id)
    command = command_of_run(run.id, command_id) or abort(404)
    name = f"run{run.id}-session{command.session_id}-command{command.seq}-{stream}.txt"
    return Response(stream_with_context(iter_output(command.id, stream)),
                    mimetype="text/plain",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/<int:run_id>/stop", methods=["GET", "POST"])
@login_required
def stop(run_id: int):
    """Stop the run or one session (``session``): softly, or at once with ``kill``.

    GET asks for confirmation (the page's own button asks in a dialog and posts).
    """
    run = _visible_run(run_id)
    if not can_stop_run(current_user, run):
        refuse(f"stop run #{run.id}: it is another user's", STOP_ALL_RUNS)
    form = StopForm()
    if request.method == "GET":
        form.session.data = int_param(request.args, "session")
    elif not form.validate():  # before the lookup: the session id is then in range
        abort(400)
    session = None
    if form.session.data is not None:
        session = db.session.get(MinkeSession, form.session.data)
        if session is None or session.run_id != run.id:
            abort(404)
    if request.method == "GET":
        return render_template("runs/stop.html", run=run, form=form, session=session)
    try:
        level = stop_run(current_app.extensions["minke"], run, session_id=form.session.data,
                         kill=form.kill.data)
    except RunFinished as exc:
        if _wants_json():
            return jsonify(error=str(exc)), 409
        flash(f"Nothing to stop: {exc}.", "error")
        return redirect(url_for(".detail", run_id=run.id))
    if _wants_json():
        return jsonify(level=level)
    what = f"{session.object_label}" if session else f"run #{run.id}"
    flash(f"Stopping {what}: " + ("running commands are interrupted." if level > 1 else
                                  "running commands finish, nothing new starts."), "info")
    return redirect(url_for(".detail", run_id=run.id))
