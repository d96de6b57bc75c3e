"""What the user picked in a list, and which objects a session will run on.

A selection is either the ticked rows (``ids``) or "all N matching" the list's
filters (``all``). On the confirmation page every object is listed with a
ticked box (``keep``); the boxes listed there (``shown``) and left unticked are
left out. A selection of host groups runs on the hosts of those groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from sessions import REGISTRY, Session
from sessions.registry import group_name

from .. import permissions
from ..extensions import db
from ..inputs import parse_int
from ..models import Host, HostGroup
from ..models.hosts import host_group_members
from .listing import Filters, matching_ids
from .specs import ListModel, ListSpec

CONFIRM_LIMIT = 1000
"""Objects listed (each with a box to untick) on the confirmation page at most."""


class SessionNotAllowed(LookupError):
    """The session does not work on the list's model, or the user may not run it: then
    ``session`` is its class and ``permissions`` those the user lacks."""

    def __init__(self, name: str | None, session: type[Session] | None = None,
                 permissions: list[str] | None = None) -> None:
        super().__init__(name)
        self.session = session
        self.permissions = permissions or []


@dataclass(frozen=True)
class Selection:
    ids: tuple[int, ...] = ()
    all_matching: bool = False
    filters: Filters = Filters()
    excluded: frozenset[int] = field(default=frozenset())

    @classmethod
    def from_form(cls, form: MultiDict, *, runs_of: int | None) -> Selection:
        """Read a selection from a list's or the confirmation page's posted form
        (``runs_of``: whose statuses a status filter means, see :class:`Filters`)."""
        shown, keep = _ints(form, "shown"), _ints(form, "keep")
        return cls(ids=tuple(dict.fromkeys(_ints(form, "ids"))),
                   all_matching=form.get("all") == "1",
                   filters=Filters.from_args(form, runs_of=runs_of),
                   excluded=frozenset(shown) - frozenset(keep))

    @property
    def empty(self) -> bool:
        return not self.ids and not self.all_matching

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The form fields that carry this selection (without exclusions) to the next page."""
        if self.all_matching:
            return [("all", "1"), *self.filters.as_args().items()]
        return [("ids", str(i)) for i in self.ids]


def _ints(form: MultiDict, name: str) -> list[int]:
    """The ids a form posts as ``name``; a 400 for one that cannot be an id."""
    return [parse_int(value, name, minimum=1) for value in form.getlist(name)]


def target_model(spec: ListSpec) -> ListModel:
    """The model sessions started from this list run on: hosts for a list of groups."""
    return Host if spec.model is HostGroup else spec.model


def _target_ids(spec: ListSpec, selection: Selection) -> Any:
    chosen = (matching_ids(spec, selection.filters) if selection.all_matching
              else sa.select(spec.model.id).where(spec.model.id.in_(selection.ids)))
    if spec.model is HostGroup:
        chosen = (sa.select(host_group_members.c.host_id)
                  .where(host_group_members.c.group_id.in_(chosen)))
    return chosen


def _targets(spec: ListSpec, selection: Selection) -> sa.Select:
    model = target_model(spec)
    query = sa.select(model).where(model.id.in_(_target_ids(spec, selection)))
    if selection.excluded:
        query = query.where(model.id.not_in(sorted(selection.excluded)))
    return query


def count_targets(spec: ListSpec, selection: Selection) -> int:
    query = _targets(spec, selection).with_only_columns(sa.func.count()).order_by(None)
    return db.session.scalar(query) or 0


def resolve(spec: ListSpec, selection: Selection, *, limit: int | None = None) -> list[Any]:
    """The objects the selection stands for, ordered by id (at most ``limit``), with the
    way to their hosts loaded (a fixed number of queries however many there are)."""
    model = target_model(spec)
    query = _targets(spec, selection).order_by(model.id)
    if model is spec.model and spec.host_path:
        query = query.options(*spec.eager)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def runnable_sessions(user: Any, spec: ListSpec) -> list[type[Session]]:
    """Sessions that work on the list's (target) model and that ``user`` may run."""
    if spec.run_model is None:
        return []
    return permissions.runnable_sessions(user, spec.run_model)


def grouped_sessions(sessions: Iterable[type[Session]]) -> list[tuple[str | None, list]]:
    """Sessions as ``(group label, sessions)`` for ``<optgroup>``\\s: ungrouped ones first,
    then the groups by name; sessions by their verbose name within each."""
    groups: dict[str | None, list[type[Session]]] = {}
    for cls in sessions:
        groups.setdefault(group_name(cls), []).append(cls)
    return [(label, sorted(members, key=lambda c: str(c.verbose_name).lower()))
            for label, members in sorted(groups.items(), key=lambda kv: (kv[0] is not None,
                                                                          kv[0] or ""))]


def choose_session(user: Any, spec: ListSpec, name: str | None) -> type[Session]:
    """The session named ``name``, when the user may start it from this list.

    :raises SessionNotAllowed: for a session that is unknown, does not work on
        the list's model, or needs a permission the user lacks.
    """
    for cls in runnable_sessions(user, spec):
        if cls.__name__ == name:
            return cls
    for cls in REGISTRY.for_model(spec.run_model) if spec.run_model is not None else ():
        if cls.__name__ == name:
            raise SessionNotAllowed(name, cls, permissions.missing_permissions(
                user, cls, [spec.run_model]))
    raise SessionNotAllowed(name)
