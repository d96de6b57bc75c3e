"""Object lists and starting a run on the objects picked in a list."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..engine.dispatch import DispatchError, PermissionDenied, form_data, start_run
from ..engine.secrets import secrets_needed
from ..errors import refuse
from ..models.auth import VIEW_HOSTS
from ..permissions import can_list, statuses_of
from .listing import (
    PAGE_SIZES,
    Filters,
    Order,
    host_groups,
    list_args,
    list_page,
    page_args,
)
from .prepare import render_prepare, secrets_form, session_form
from .selection import (
    Selection,
    SessionNotAllowed,
    choose_session,
    grouped_sessions,
    resolve,
    runnable_sessions,
)
from .specs import ListSpec, list_specs

bp = Blueprint("objects", __name__)



def _spec(slug: str) -> ListSpec:
    spec = list_specs().get(slug)
    if spec is None:
        abort(404)
    if not can_list(current_user, spec.model):
        refuse(f"see the list of {spec.title.lower()}", VIEW_HOSTS)
    return spec


@bp.get("/objects/<slug>/")
@login_required
def object_list(slug: str):
    spec = _spec(slug)
    filters = Filters.from_args(request.args, runs_of=statuses_of(current_user))
    order = Order.from_args(spec, request.args)
    page = list_page(spec, filters, order, **page_args(request.args))
    args = partial(list_args, filters, order, page.size)
    return render_template(
        "objects/list.html", spec=spec, page=page, filters=filters, order=order,
        page_sizes=PAGE_SIZES, list_args=args,
        page_url=lambda n: url_for(".object_list", slug=slug, **args(page=n)),
        groups=host_groups() if spec.can_filter_group else [],
        chosen=request.args.get("session"),  # kept when a run was refused (nothing ticked)
        sessions=grouped_sessions(runnable_sessions(current_user, spec)))


@bp.post("/objects/<slug>/run")
@login_required
def run(slug: str):
    spec = _spec(slug)
    if not request.form.get("session"):
        flash("Choose a session to run.", "error")
        return redirect(url_for(".object_list", slug=slug))
    try:
        session_cls = choose_session(current_user, spec, request.form.get("session"))
    except SessionNotAllowed as exc:
        if exc.session is None:
            abort(400, f"There is no session {request.form.get('session')!r} for "
                       f"{spec.title.lower()}.")
        refuse(f"run the session “{exc.session.verbose_name}”", *exc.permissions)
    selection = Selection.from_form(request.form, runs_of=statuses_of(current_user))
    if selection.empty:
        flash("Tick the objects to run the session on, or select all matching ones.", "error")
        return redirect(url_for(".object_list", slug=slug, session=session_cls.__name__,
                                **selection.filters.as_args()))
    submitted = request.form.get("step") == "run"
    form = session_form(session_cls, request.form if submitted else None)
    objects = resolve(spec, selection)  # their hosts' groups may ask for secrets
    asked = secrets_form(secrets_needed(session_cls, objects), request.form if submitted else None)
    needs_page = (form is not None or asked is not None or session_cls.confirm
                  or selection.all_matching or spec.run_model != spec.model_name)
    # every part validated (no short cut), so that the page shows all their errors at once
    valid = submitted and all([part.validate() for part in (form, asked) if part is not None])
    skip_busy = bool(request.form.get("skip_busy"))
    if needs_page and not valid:
        return (render_prepare(spec, session_cls, selection, form, secrets=asked,
                               skip_busy=skip_busy if submitted else None),
                400 if submitted else 200)
    if not objects:
        flash("None of the chosen objects is left to run the session on.", "error")
        return redirect(url_for(".object_list", slug=slug))
    try:
        run = start_run(current_app.extensions["minke"], session_cls, objects,
                        user=current_user._get_current_object(),
                        data=form_data(form) if form is not None else None,
                        secrets=asked.data if asked is not None else None,
                        skip_busy=skip_busy)
    except PermissionDenied as exc:
        refuse(f"run the session “{session_cls.verbose_name}” on these objects", *exc.permissions)
    except DispatchError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".object_list", slug=slug))
    return redirect(url_for("runs.detail", run_id=run.id))
