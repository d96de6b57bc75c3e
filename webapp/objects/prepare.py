"""The page between choosing a session and running it: the session's form and the objects."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from wtforms import Form, PasswordField
from wtforms.validators import InputRequired

from sessions import Session
from sessions.secrets import SECRET_KINDS, session_secret_fields

from ..engine.secrets import SecretsNeeded, secrets_needed
from ..models import Run
from .selection import CONFIRM_LIMIT, Selection, count_targets, resolve, target_model
from .specs import ListSpec

SESSION_FORM_PREFIX = "s"
"""Prefix of the session form's field names, keeping them apart from the page's own."""

SECRETS_FORM_PREFIX = "secret"
"""Prefix of the asked secrets' field names (``secret-sudo_password``)."""


def session_form(session_cls: type[Session], formdata: Any = None,
                 data: dict[str, Any] | None = None) -> Form | None:
    """The session's form (plain WTForms) bound to posted ``formdata`` or prefilled with
    ``data``; ``None`` when the session has no form."""
    form_cls = session_cls.get_form()
    if form_cls is None:
        return None
    return form_cls(formdata=formdata, data=data, prefix=SESSION_FORM_PREFIX)


def secrets_form(needed: SecretsNeeded, formdata: Any = None) -> Form | None:
    """A form with a password input for each secret in ``needed`` (each required), bound
    to posted ``formdata``; ``None`` when nothing is asked for. Its ``data`` is what
    ``start_run`` takes as ``secrets``. Inputs are never filled in again."""
    if not needed:
        return None
    fields = {}
    for name in needed.names:
        kind = SECRET_KINDS[name]
        fields[name] = PasswordField(
            kind.label, validators=[InputRequired(f"Type the {kind.label}.")],
            description=f"Asked by {' and '.join(needed.asked_by[name])}. {kind.help}",
            render_kw={"autocomplete": "off"})
    return type("SecretsForm", (Form,), fields)(formdata=formdata, prefix=SECRETS_FORM_PREFIX)


def render_prepare(spec: ListSpec, session_cls: type[Session], selection: Selection,
                   form: Form | None, *, rerun_of: Run | None = None,
                   secrets: Form | None = None, skip_busy: bool | None = None) -> str:
    """The form and confirmation page; it posts back to the list's run endpoint.

    ``secrets``: the bound :func:`secrets_form`; by default the one the selection needs.
    ``skip_busy``: the "skip busy hosts" box ticked (default: as the re-run run had it).
    """
    if skip_busy is None:
        skip_busy = bool(rerun_of and rerun_of.skip_busy)
    target = target_model(spec)
    if secrets is None:
        secrets = secrets_form(secrets_needed(session_cls, resolve(spec, selection)))
    return render_template(
        "objects/prepare.html", spec=spec, session_cls=session_cls, selection=selection,
        form=form, secrets=secrets, secret_fields=session_secret_fields(session_cls),
        objects=resolve(spec, selection, limit=CONFIRM_LIMIT),
        total=count_targets(spec, selection), rerun_of=rerun_of, skip_busy=skip_busy,
        target_title="hosts" if target is not spec.model else spec.title,
        action=url_for("objects.run", slug=spec.slug),
        back=url_for("objects.object_list", slug=spec.slug, **selection.filters.as_args()))
