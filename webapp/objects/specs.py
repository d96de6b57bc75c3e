"""What each object list shows: its columns, search fields and the sessions it starts.

One :class:`ListSpec` per list: hosts, host groups and every other minke model
(the user's own, such as a ``Site``), whose columns are read from its table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import defer, selectinload

from ..models import MINKE_MODELS, Host, HostGroup, MinkeModel
from ..models.hosts import host_group_members

Cell = Callable[[Any], Any]
ListModel = type[MinkeModel] | type[HostGroup]
"""The model of a list: a minke model (hosts among them) or host groups."""

@dataclass(frozen=True)
class Column:
    """A column of a list: its header, how a row shows it and what sorting by it orders by."""

    key: str
    label: str
    value: Cell
    sort: Any = None
    """SQL expression to order by; ``None``: the column cannot be sorted."""


@dataclass(frozen=True)
class ListSpec:
    """One object list."""

    slug: str
    model: ListModel
    title: str
    columns: tuple[Column, ...]
    search: tuple[Any, ...]
    """Text columns the search box matches (case-insensitive substring)."""
    run_model: str | None
    """The model whose sessions the list starts (``None``: no session select)."""
    host_path: tuple[Any, ...] = ()
    """Relationship attributes leading from the model to its :class:`Host`."""
    extra: tuple[Any, ...] = ()
    """Labelled SQL expressions loaded with each row (e.g. a host count)."""
    eager: tuple[Any, ...] = field(default=())
    """Loader options so that a page loads in a fixed number of queries."""
    has_status: bool = True
    """Whether rows show their latest session's status."""

    @property
    def model_name(self) -> str:
        return self.model.__name__

    @property
    def can_filter_disabled(self) -> bool:
        """Whether the model, or the host it lives on, has a ``disabled`` flag."""
        return hasattr(self.model, "disabled") or bool(self.host_path)

    @property
    def can_filter_group(self) -> bool:
        """Whether objects belong to host groups (through their host)."""
        return self.model is Host or bool(self.host_path)

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


def _address(host: Host) -> str:
    user = f"{host.username}@" if host.username else ""
    port = f":{host.port}" if host.port else ""
    return f"{user}{host.hostname}{port}"


def _host_spec() -> ListSpec:
    return ListSpec(
        slug="host", model=Host, title="Hosts", run_model="Host",
        columns=(
            Column("name", "Name", lambda r: r.obj.name, Host.name),
            Column("address", "Address", lambda r: _address(r.obj), Host.hostname),
            Column("groups", "Groups", lambda r: ", ".join(g.name for g in r.obj.groups)),
            Column("comment", "Comment", lambda r: r.obj.comment, Host.comment),
            Column("created", "Added", lambda r: r.obj.created_at.strftime("%Y-%m-%d"),
                   Host.created_at),
        ),
        search=(Host.name, Host.hostname, Host.verbose_name, Host.comment),
        # the list shows no JSON configuration and no host key: they are not loaded
        eager=(selectinload(Host.groups).load_only(HostGroup.name),
               defer(Host.config), defer(Host.host_key)),
    )


def _group_spec() -> ListSpec:
    host_count = (sa.select(sa.func.count())
                  .where(host_group_members.c.group_id == HostGroup.id)
                  .correlate(HostGroup).scalar_subquery())
    return ListSpec(
        slug="hostgroup", model=HostGroup, title="Host groups", run_model="Host",
        columns=(
            Column("name", "Name", lambda r: r.obj.name, HostGroup.name),
            Column("hosts", "Hosts", lambda r: r.host_count, host_count),
            Column("comment", "Comment", lambda r: r.obj.comment, HostGroup.comment),
        ),
        search=(HostGroup.name, HostGroup.comment),
        extra=(host_count.label("host_count"),),
        has_status=False,
    )


def _host_path(model: type[MinkeModel]) -> tuple[Any, ...]:
    """Relationship attributes along ``model.HOST_LOOKUP`` (``"server.host"``)."""
    path, current = [], model
    for name in filter(None, model.HOST_LOOKUP.split(".")):
        attr = getattr(current, name)
        path.append(attr)
        current = attr.property.mapper.class_
    return tuple(path)


def _value(name: str) -> Cell:
    def value(row: Any) -> Any:
        found = getattr(row.obj, name)
        return "" if found is None else found

    return value


def _model_spec(model: type[MinkeModel]) -> ListSpec:
    """A list of a user model: every plain column of its table, and its host."""
    table_columns = [c for c in sa.inspect(model).columns
                     if not c.primary_key and not c.foreign_keys
                     and not isinstance(c.type, sa.JSON)]
    columns = [Column(c.key, c.key.replace("_", " ").capitalize(), _value(c.key),
                      getattr(model, c.key)) for c in table_columns]
    path = _host_path(model)
    if path:
        columns.append(Column("host", "Host", lambda row: _host_name(row.obj)))
    search = tuple(getattr(model, c.key) for c in table_columns
                   if isinstance(c.type, sa.String | sa.Text))
    eager: tuple[Any, ...] = ()
    if path:
        loader = selectinload(path[0])
        for attr in path[1:]:
            loader = loader.selectinload(attr)
        eager = (loader,)
    return ListSpec(slug=model.__name__.lower(), model=model, title=_plural(model.__name__),
                    columns=tuple(columns), search=search, run_model=model.__name__,
                    host_path=path, eager=eager)


def _host_name(obj: Any) -> str:
    host = obj.get_host()
    return host.name if host is not None else ""


def _plural(name: str) -> str:
    words = "".join(f" {ch}" if ch.isupper() else ch for ch in name).strip()
    return words + ("es" if words.endswith("s") else "s")


def list_specs() -> dict[str, ListSpec]:
    """Every object list by its URL slug: hosts, host groups, then the other minke models."""
    specs = [_host_spec(), _group_spec()]
    specs += [_model_spec(model) for name, model in sorted(MINKE_MODELS.items())
              if model is not Host]
    return {spec.slug: spec for spec in specs}
