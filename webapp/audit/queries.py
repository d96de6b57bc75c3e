"""Reading the audit log: filters, pages and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..kit import Page, inert, page_of, parse_date
from ..models import AuditEntry

PAGE_SIZE = 50
CSV_BATCH = 1000
CSV_COLUMNS = ("id", "time_utc", "user", "origin", "address", "action", "target", "details")


@dataclass(frozen=True)
class AuditFilters:
    """What narrows the log: a user name, an action (or its kind: ``run`` for ``run.*``),
    and a time range (dates, UTC, both included)."""

    user: str = ""
    action: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        return cls(user=args.get("user", "").strip()[:80],
                   action=args.get("action", "").strip()[:40],
                   since=parse_date(args.get("since", "")),
                   until=parse_date(args.get("until", "")))

    def as_args(self) -> dict[str, str]:
        args = {"user": self.user, "action": self.action,
                "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else ""}
        return {key: value for key, value in args.items() if value}



def filtered(filters: AuditFilters) -> sa.Select:
    """``SELECT audit_entry`` matching ``filters``, newest first."""
    query = sa.select(AuditEntry)
    if filters.user:
        query = query.where(AuditEntry.user_name == filters.user)
    if filters.action:
        if "." in filters.action:
            query = query.where(AuditEntry.action == filters.action)
        else:
            query = query.where(AuditEntry.action.startswith(filters.action + ".",
                                                             autoescape=True))
    if filters.since:
        query = query.where(AuditEntry.created_at >= dt.datetime.combine(filters.since,
                                                                         dt.time()))
    if filters.until:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time())
        query = query.where(AuditEntry.created_at < end)
    return query.order_by(AuditEntry.id.desc())


def audit_page(filters: AuditFilters, *, number: int = 1,
               size: int = PAGE_SIZE) -> Page[AuditEntry]:
    """A page of the matching entries, newest first."""
    return page_of(filtered(filters), number, size)


def actions() -> list[str]:
    """Every action the log holds, for the filter."""
    return list(db.session.scalars(sa.select(AuditEntry.action).distinct()
                                   .order_by(AuditEntry.action)))


def user_names() -> list[str]:
    """Every user name the log holds, for the filter."""
    return [name for name in db.session.scalars(
        sa.select(AuditEntry.user_name).distinct().order_by(AuditEntry.user_name)) if name]


def audit_csv(filters: AuditFilters) -> str:
    """The matching entries as CSV, newest first; cells inert for spreadsheets.

    Read in batches by id, so that the session never holds every entry at once."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    last_id = None
    while True:
        query = filtered(filters).limit(CSV_BATCH)
        if last_id is not None:
            query = query.where(AuditEntry.id < last_id)
        entries = list(db.session.scalars(query))
        for entry in entries:
            writer.writerow([inert(cell) for cell in (
                entry.id, entry.created_at.isoformat(sep=" ", timespec="seconds"),
                entry.user_name, entry.origin, entry.address or "", entry.action, entry.target,
                json.dumps(entry.details, sort_keys=True))])
        for entry in entries:  # read only: the session need not keep them
            db.session.expunge(entry)
        if len(entries) < CSV_BATCH:
            return out.getvalue()
        last_id = entries[-1].id
