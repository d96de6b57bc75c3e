"""The page between choosing a session and running it: the session's form and the objects."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from wtforms import Form

from sessions import Session

from ..models import Run
from .selection import CONFIRM_LIMIT, Selection, count_targets, resolve, target_model
from .specs import ListSpec

SESSION_FORM_PREFIX = "s"
"""Prefix of the session form's field names, keeping them apart from the page's own."""


def session_form(session_cls: type[Session], formdata: Any = None,
                 data: dict[str, Any] | None = None) -> Form | None:
    """The session's form (plain WTForms) bound to posted ``formdata`` or prefilled with
    ``data``; ``None`` when the session has no form."""
    form_cls = session_cls.get_form()
    if form_cls is None:
        return None
    return form_cls(formdata=formdata, data=data, prefix=SESSION_FORM_PREFIX)


def render_prepare(spec: ListSpec, session_cls: type[Session], selection: Selection,
                   form: Form | None, *, rerun_of: Run | None = None) -> str:
    """The form and confirmation page; it posts back to the list's run endpoint."""
    target = target_model(spec)
    return render_template(
        "objects/prepare.html", spec=spec, session_cls=session_cls, selection=selection,
        form=form, objects=resolve(spec, selection, limit=CONFIRM_LIMIT),
        total=count_targets(spec, selection), rerun_of=rerun_of,
        target_title="hosts" if target is not spec.model else spec.title,
        action=url_for("objects.run", slug=spec.slug),
        back=url_for("objects.object_list", slug=spec.slug, **selection.filters.as_args()))
