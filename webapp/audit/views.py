"""The audit log page and its CSV export (admins only); there is no way to change an entry."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for

from ..guards import admins_only
from ..inputs import int_param
from .queries import AuditFilters, actions, audit_csv, audit_page, user_names

bp = admins_only(Blueprint("audit", __name__, url_prefix="/audit"))


@bp.get("/")
def entries():
    filters = AuditFilters.from_args(request.args)
    page = audit_page(filters, number=int_param(request.args, "page", 1))
    known = actions()
    return render_template(
        "audit/entries.html", page=page, filters=filters, actions=known,
        kinds=sorted({action.partition(".")[0] for action in known}),
        users=user_names(),
        page_url=lambda n: url_for(".entries", **filters.as_args(), page=n))


@bp.get("/audit.csv")
def export_csv():
    filters = AuditFilters.from_args(request.args)
    return Response(audit_csv(filters), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="minke-audit.csv"'})
