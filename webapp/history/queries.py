"""Past runs and sessions as queries: who may see what, filters, pages, counts per status."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from sessions import REGISTRY
from sessions.registry import UnknownSession

from ..extensions import db
from ..inputs import int_param
from ..kit import Page, contains, page_of, parse_date
from ..models import MinkeSession, Run, User
from ..permissions import sees_all_runs
from ..status import UNSUCCESSFUL, badge_key, unsuccessful_condition

PAGE_SIZE = 50

RUN_STATES = {
    "running": "running",
    "finished": "finished",
    "succeeded": "finished, all succeeded",
    "unsuccessful": "with failures",
}
"""Run status filter values and their labels."""


def session_title(name: str) -> str:
    """A session's verbose name for pages (its class name when no longer registered)."""
    try:
        return str(REGISTRY.get(name).verbose_name or name)
    except UnknownSession:
        return name


def visible_runs(user: User | None) -> sa.Select:
    """``SELECT run`` of the runs ``user`` may see: their own, or all with ``view_all_runs``
    (``None``: the command line, which sees all)."""
    query = sa.select(Run)
    if sees_all_runs(user):
        return query
    assert user is not None  # sees_all_runs() is true for None
    return query.where(Run.user_id == user.id)


def visible_sessions(user: User) -> sa.Select:
    query = sa.select(MinkeSession)
    return query if sees_all_runs(user) else query.where(MinkeSession.user_id == user.id)


def unsuccessful(session: MinkeSession) -> bool:
    """The session did not complete with success or warning."""
    return badge_key(session.proc_status, session.session_status) in UNSUCCESSFUL


@dataclass(frozen=True)
class RunFilters:
    user: int | None = None
    session: str = ""
    status: str = ""
    object: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> RunFilters:
        status = args.get("status", "")
        return cls(user=int_param(args, "user"),
                   session=args.get("session", "").strip()[:200],
                   status=status if status in RUN_STATES else "",
                   object=args.get("object", "").strip()[:200],
                   since=parse_date(args.get("since", "")),
                   until=parse_date(args.get("until", "")))

    def as_args(self) -> dict[str, str]:
        args = {"user": str(self.user or ""), "session": self.session, "status": self.status,
                "object": self.object, "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else ""}
        return {k: v for k, v in args.items() if v}





def filtered_runs(user: User | None, filters: RunFilters) -> sa.Select:
    query = visible_runs(user)
    ms = MinkeSession
    if filters.user is not None:
        query = query.where(Run.user_id == filters.user)
    if filters.session:
        query = query.where(Run.session_name == filters.session)
    if filters.since:
        query = query.where(Run.created_at >= dt.datetime.combine(filters.since, dt.time()))
    if filters.until:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time())
        query = query.where(Run.created_at < end)
    if filters.object:
        query = query.where(sa.exists().where(ms.run_id == Run.id,
                                              contains(ms.object_label, filters.object)))
    if filters.status == "running":
        query = query.where(Run.finished_at.is_(None))
    elif filters.status == "finished":
        query = query.where(Run.finished_at.is_not(None))
    elif filters.status == "succeeded":
        query = query.where(Run.finished_at.is_not(None),
                            ~sa.exists().where(ms.run_id == Run.id, unsuccessful_condition()))
    elif filters.status == "unsuccessful":
        query = query.where(sa.exists().where(ms.run_id == Run.id, unsuccessful_condition()))
    return query


@dataclass(frozen=True)
class RunRow:
    run: Run
    counts: Counter
    """Sessions per badge key."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def run_page(user: User | None, filters: RunFilters, *, number: int = 1,
             size: int = PAGE_SIZE) -> Page[RunRow]:
    """A page of runs, newest first, with their sessions counted per status (3 queries)."""
    page = page_of(filtered_runs(user, filters).order_by(Run.id.desc()), number, size)
    counts = status_counts([run.id for run in page.rows])
    return Page([RunRow(run, counts.get(run.id, Counter())) for run in page.rows],
                page.total, page.number, page.size)


def status_counts(run_ids: list[int]) -> dict[int, Counter]:
    """Sessions per badge key for each run, in one query."""
    if not run_ids:
        return {}
    ms = MinkeSession
    result: dict[int, Counter] = {}
    for run_id, proc, outcome, n in db.session.execute(
            sa.select(ms.run_id, ms.proc_status, ms.session_status, sa.func.count())
            .where(ms.run_id.in_(run_ids))
            .group_by(ms.run_id, ms.proc_status, ms.session_status)):
        result.setdefault(run_id, Counter())[badge_key(proc, outcome)] += n
    return result


def recent_runs(user: User, limit: int = 10) -> list[RunRow]:
    return run_page(user, RunFilters(), size=limit).rows


def object_sessions(user: User, object_type: str, object_id: int, *, number: int = 1,
                    size: int = PAGE_SIZE) -> Page[MinkeSession]:
    """A page of one object's sessions the user may see, newest first, and their count."""
    query = visible_sessions(user).where(MinkeSession.object_type == object_type,
                                         MinkeSession.object_id == object_id)
    return page_of(query.order_by(MinkeSession.id.desc()), number, size)


def users_with_runs() -> list[User]:
    """Users for the history's user filter."""
    return list(db.session.scalars(sa.select(User).order_by(User.name)))
