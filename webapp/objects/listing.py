"""Object lists as queries: filter, sort, paginate, and each row's latest session.

A page costs the same number of queries whatever its size: one count, one
query for the page's rows with their latest session (joined through
``latest_session``, one row per object), plus one per eager-loaded relationship.

For a user limited to their own runs (``Filters.runs_of``, from
:func:`webapp.permissions.statuses_of`) the statuses, the status filter and its
counts are those of each object's latest session *of theirs*, read from
``minke_session`` through its (user, object) index: nothing of other users' runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ..extensions import db
from ..inputs import choice_param, int_param
from ..kit import Page, contains, page_number
from ..models import Host, HostGroup, LatestSession, MinkeSession
from ..models.hosts import host_group_members
from ..status import BADGES, badge_condition, badge_key
from .specs import ListSpec

PAGE_SIZES = (10, 25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


def page_args(args: Mapping[str, str]) -> dict[str, int]:
    """``number`` and ``size`` for :func:`list_page` from the ``page`` and ``size``
    arguments (one of :data:`PAGE_SIZES`).

    :raises BadParameter: for a malformed or out-of-range value.
    """
    size = choice_param(args, "size", [str(size) for size in PAGE_SIZES],
                        str(DEFAULT_PAGE_SIZE))
    return {"number": int_param(args, "page", 1), "size": int(size)}


@dataclass(frozen=True)
class Filters:
    """What narrows a list: search text, host group, disabled flag, latest status."""

    q: str = ""
    group: int | None = None
    disabled: str = ""
    """``""`` all, ``"no"`` enabled only, ``"yes"`` disabled only."""
    status: str = ""
    """A badge key (``"error"``, ``"none"`` for never run…) or ``""`` for any."""
    runs_of: int | None = None
    """Whose sessions the statuses are: ``None`` every user's, else this user's only
    (:func:`webapp.permissions.statuses_of`). Never read from the arguments."""

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, runs_of: int | None) -> Filters:
        """Read filters from query or form arguments, refusing values that make no sense (400);
        ``runs_of`` is the viewer's (:func:`webapp.permissions.statuses_of`)."""
        return cls(q=args.get("q", "").strip()[:200],
                   group=int_param(args, "group"),
                   disabled=choice_param(args, "disabled", ("yes", "no")),
                   status=choice_param(args, "status", BADGES), runs_of=runs_of)

    def as_args(self) -> dict[str, Any]:
        """The filters as the query arguments that reproduce them (empty ones left out)."""
        args = {"q": self.q, "group": str(self.group or ""), "disabled": self.disabled,
                "status": self.status}
        return {k: v for k, v in args.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.as_args())


@dataclass(frozen=True)
class Order:
    """Sorting: a column key and a direction."""

    key: str
    descending: bool = False

    @classmethod
    def from_args(cls, spec: ListSpec, args: Mapping[str, str]) -> Order:
        key = args.get("sort", "")
        column = spec.column(key)
        if column is None or column.sort is None:
            key = spec.columns[0].key
        return cls(key, choice_param(args, "dir", ("asc", "desc")) == "desc")

    def toggled(self, key: str) -> Order:
        """The order a click on column ``key``'s header asks for."""
        return Order(key, not self.descending if key == self.key else False)


@dataclass(frozen=True)
class Row:
    """One object of a page with what the list shows beside it."""

    obj: Any
    extra: Mapping[str, Any]
    run_id: int | None
    """The run of the latest session (``None``: never run)."""
    proc_status: str | None
    session_status: str | None

    @property
    def label(self) -> str:
        """How the object is named (its ``minke_label``, else its name)."""
        return str(getattr(self.obj, "minke_label", None) or getattr(self.obj, "name", self.obj))

    @property
    def badge(self) -> str:
        return badge_key(self.proc_status, self.session_status)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.extra[name]
        except KeyError:
            raise AttributeError(name) from None


def matching_ids(spec: ListSpec, filters: Filters) -> sa.Select:
    """``SELECT id`` of the objects the filters let through.

    The latest status is a correlated ``EXISTS``: a page sorted by an indexed
    column walks that index and stops at its last row.
    """
    query = sa.select(spec.model.id).where(*_conditions(spec, filters))
    if filters.status and spec.has_status:
        query = query.where(_latest_status_is(spec, filters.status) if filters.runs_of is None
                            else _own_status_is(spec, filters.status, filters.runs_of))
    return query


def _conditions(spec: ListSpec, filters: Filters) -> list[Any]:
    """The filters but the latest status, as conditions on the model."""
    conditions = []
    if filters.q and spec.search:
        conditions.append(search(spec.search, filters.q))
    if filters.group is not None:
        conditions.append(_in_group(spec, filters.group))
    if filters.disabled:
        conditions.append(_disabled_is(spec, filters.disabled == "yes"))
    return conditions


def search(columns: Sequence[Any], text: str) -> Any:
    """Any of ``columns`` contains ``text`` (see :func:`contains`).

    On PostgreSQL the columns are searched as one text (:func:`search_text`),
    which one trigram index answers; SQLite runs one ``LIKE`` per column
    (30 % faster than over their concatenation, and it has no such index).
    """
    if db.session.get_bind().dialect.name == "sqlite":
        return sa.or_(*(contains(column, text) for column in columns))
    return contains(search_text(columns), text)


def search_text(columns: Sequence[Any]) -> Any:
    """The searched columns as one text (``coalesce(a, '') || ' ' || coalesce(b, '')``).

    PostgreSQL answers a substring search over it from one trigram index on
    exactly this expression (the host list's: migration ``4c8e1f2a7b90``): 1-6 ms
    over 100,000 hosts, where the ``OR`` of four ``ILIKE`` conditions is a
    sequential scan of 130 ms. A search text holding a blank may match across
    two columns there.
    """
    parts = [sa.func.coalesce(column, sa.literal_column("''")) for column in columns]
    text: sa.ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        text = text.op("||")(sa.literal_column("' '")).op("||")(part)
    return text





def _disabled_is(spec: ListSpec, wanted: bool) -> Any:
    """The object is (not) disabled: its own flag, else its host's."""
    own = getattr(spec.model, "disabled", None)
    if own is not None:
        return own if wanted else sa.not_(own)
    if not spec.host_path:
        return sa.true()
    flag = Host.disabled if wanted else sa.not_(Host.disabled)
    return spec.model.id.in_(sa.select(spec.model.id).join(*spec.host_path).where(flag))


def _in_group(spec: ListSpec, group_id: int) -> Any:
    members = sa.select(host_group_members.c.host_id).where(
        host_group_members.c.group_id == group_id)
    if spec.model is HostGroup:
        return HostGroup.id == group_id
    if spec.model is Host:
        return Host.id.in_(members)
    if not spec.host_path:
        return sa.false()
    return spec.model.id.in_(
        sa.select(spec.model.id).join(*spec.host_path).where(Host.id.in_(members)))


def _latest(spec: ListSpec) -> Any:
    """``latest_session`` rows of the listed objects, joined on the model's id."""
    ls = LatestSession
    return sa.and_(ls.object_type == spec.model_name, ls.object_id == spec.model.id)


def _latest_status_is(spec: ListSpec, key: str) -> Any:
    # NOT EXISTS, not NOT IN: PostgreSQL cannot turn NOT IN into an anti-join (NULLs)
    if key == "none":
        return ~sa.exists().where(_latest(spec))
    return sa.exists().where(_latest(spec), badge_condition(key, LatestSession))


def _own_latest_id(spec: ListSpec, user_id: int) -> Any:
    """The id of the object's latest session of user ``user_id`` (correlated to the
    model's row): the index on (user, object type, object id, id) answers it."""
    mine = aliased(MinkeSession)
    return (sa.select(sa.func.max(mine.id))
            .where(mine.user_id == user_id, mine.object_type == spec.model_name,
                   mine.object_id == spec.model.id)
            .correlate(spec.model).scalar_subquery())


def _own_with_status(spec: ListSpec, key: str, user_id: int) -> sa.Select:
    """``SELECT object_id`` of the objects whose latest session of user ``user_id`` has
    badge ``key`` (not ``"none"``): the user's sessions with that status that no newer
    session of theirs on the same object follows. Both steps walk the (user, object
    type, object id, id) index, so the cost follows the user's sessions, not the
    objects or everybody's history (a join on ``max(id)`` per object let PostgreSQL
    scan every session of that status: 90 ms for 10,000 own sessions)."""
    mine, newer = aliased(MinkeSession), aliased(MinkeSession)
    return (sa.select(mine.object_id)
            .where(mine.user_id == user_id, mine.object_type == spec.model_name,
                   badge_condition(key, mine),
                   ~sa.exists().where(newer.user_id == user_id,
                                      newer.object_type == spec.model_name,
                                      newer.object_id == mine.object_id,
                                      newer.id > mine.id)))


def _own_status_is(spec: ListSpec, key: str, user_id: int) -> Any:
    """The object's latest session of the user has badge ``key``: a set of ids computed
    once from the user's sessions (a correlated lookup per object walked 100,000 hosts
    for a rare status: 390 ms on SQLite)."""
    if key == "none":
        mine = aliased(MinkeSession)
        return spec.model.id.not_in(sa.select(mine.object_id).where(
            mine.user_id == user_id, mine.object_type == spec.model_name))
    return spec.model.id.in_(_own_with_status(spec, key, user_id))


def _count_own(spec: ListSpec, filters: Filters, user_id: int) -> int:
    """:func:`count_matching` by the status of the user's own latest sessions."""
    query = (sa.select(sa.func.count()).select_from(spec.model)
             .where(*_conditions(spec, filters),
                    _own_status_is(spec, filters.status, user_id)))
    return db.session.scalar(query) or 0


def count_matching(spec: ListSpec, filters: Filters) -> int:
    """How many objects the filters let through.

    By latest status, the count starts from ``latest_session``'s status index
    (a join, ~15 ms for 70,000 of 100,000 hosts on SQLite, where ``EXISTS``
    per object takes 40 ms). "Never run" is, on SQLite, all objects less those
    with a row (15 ms; its ``NOT EXISTS`` takes 35 ms); PostgreSQL's anti-join
    is faster than that subtraction (45 ms against 75 ms).
    """
    model, conditions = spec.model, _conditions(spec, filters)
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if filters.status and spec.has_status and filters.runs_of is not None:
        return _count_own(spec, filters, filters.runs_of)
    if filters.status == "none" and spec.has_status and not sqlite:
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(matching_ids(spec, filters).subquery())) or 0
    if not (filters.status and spec.has_status):
        query = sa.select(sa.func.count()).select_from(model).where(*conditions)
        return db.session.scalar(query) or 0
    joined = (sa.select(sa.func.count()).select_from(model).join(LatestSession, _latest(spec))
              .where(*conditions))
    if filters.status != "none":
        return db.session.scalar(joined.where(badge_condition(filters.status,
                                                               LatestSession))) or 0
    every = sa.select(sa.func.count()).select_from(model).where(*conditions)
    return db.session.scalar(sa.select(every.scalar_subquery() - joined.scalar_subquery())) or 0


def list_page(spec: ListSpec, filters: Filters, order: Order, *, number: int = 1,
              size: int = DEFAULT_PAGE_SIZE) -> Page[Row]:
    """One page of the list, each row with its latest session's statuses.

    Two queries whatever the filters: the count, and the page's rows with an
    indexed sort and ``LIMIT``. The latest status is an indexed column of
    ``latest_session``, so counting 70,000 matches of 100,000 hosts costs
    ~20 ms on SQLite where a ``count(*) OVER ()`` in the page query, which
    materialises every match, cost 60-90 ms.
    """
    size = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
    total = count_matching(spec, filters)
    number = page_number(number, total, size)
    return Page(_rows(spec, filters, order, number, size), total, number, size)


def _rows(spec: ListSpec, filters: Filters, order: Order, number: int,
          size: int) -> list[Row]:
    """The rows of one page."""
    model, ms = spec.model, MinkeSession
    column = spec.column(order.key)
    assert column is not None  # Order.from_args chose one of the spec's keys
    sort = column.sort
    ordering = (sort.desc() if order.descending else sort.asc(),
                model.id.desc() if order.descending else model.id.asc())
    page_ids = (matching_ids(spec, filters).order_by(*ordering).limit(size)
                .offset((number - 1) * size).subquery())
    query = (sa.select(model, *spec.extra).join(page_ids, model.id == page_ids.c.id)
             .order_by(*ordering).options(*spec.eager))
    if spec.has_status and filters.runs_of is not None:
        query = (query.add_columns(ms.run_id, ms.proc_status, ms.session_status)
                 .outerjoin(ms, ms.id == _own_latest_id(spec, filters.runs_of)))
    elif spec.has_status:
        ls = LatestSession
        query = (query.add_columns(ms.run_id, ms.proc_status, ms.session_status)
                 .outerjoin(ls, sa.and_(ls.object_type == spec.model_name,
                                        ls.object_id == model.id))
                 .outerjoin(ms, ms.id == ls.session_id))
    else:
        query = query.add_columns(sa.null(), sa.null(), sa.null())
    rows = []
    for obj, *values in db.session.execute(query):
        extra = {expr.name: value for expr, value in zip(spec.extra, values, strict=False)}
        run_id, proc, outcome = values[len(spec.extra):]
        rows.append(Row(obj, extra, run_id, proc, outcome))
    return rows


def host_groups() -> list[HostGroup]:
    """Every host group, for the group filter."""
    return list(db.session.scalars(sa.select(HostGroup).order_by(HostGroup.name)))


def list_args(filters: Filters, order: Order, size: int, **changes: Any) -> dict[str, Any]:
    """Query arguments of the list with ``changes`` (page, sort…) applied, for links."""
    args: dict[str, Any] = {**filters.as_args(), "sort": order.key,
                            "dir": "desc" if order.descending else "asc", "size": size}
    args.update(changes)
    return {k: v for k, v in args.items() if v not in ("", None)}
