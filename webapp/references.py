"""Choosing the objects a run works on: hosts and host groups by name, any minke model's
objects by id (``Site:3``) or by a filter on its fields (``--objects Site --where host=web1``).

Example::

    objects = select_objects(refs=["Site:3"], model="Site", where=["host=web1", "name=shop"])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from .extensions import db
from .inputs import MAX_ID
from .models import MINKE_MODELS, Host, HostGroup, MinkeModel

HOST_FIELD = "host"
"""``host=NAME`` in a filter: objects whose host (through ``HOST_LOOKUP``) is named NAME."""

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class SelectionError(ValueError):
    """The objects asked for cannot be selected (an unknown name, model, id or field)."""


class NoSuchObjects(SelectionError):
    """Well asked, but nothing of that name or id exists (the API answers 404)."""


def select_objects(
    *, hosts: Sequence[str] = (), groups: Iterable[str] = (), refs: Iterable[str] = (),
    model: str | None = None, where: Iterable[str] = (), work_on: Sequence[str] | None = None,
) -> list[MinkeModel]:
    """The objects named, in the order given, each once.

    :param hosts: host names.
    :param groups: host group names: their enabled hosts.
    :param refs: ``MODEL:ID`` references to objects of any minke model.
    :param model: a minke model's name: all its objects matching ``where``.
    :param where: ``FIELD=VALUE`` conditions on ``model``, all of which must hold:
        a column equal to the value, or ``host=NAME`` (see :data:`HOST_FIELD`).
    :param work_on: the models the session works on, to refuse others early.
    :raises SelectionError: naming what is unknown or not allowed.
    """
    where = list(where)
    if where and model is None:
        raise SelectionError("--where needs --objects MODEL: the model the conditions are on")
    if work_on is not None and (hosts or groups) and "Host" not in work_on:
        raise SelectionError(f"the session works on {', '.join(work_on)}, not on hosts: "
                             "use --objects MODEL or --object MODEL:ID")
    objects: list[MinkeModel] = []
    objects += _hosts(hosts)
    for name in groups:
        objects += _group_hosts(name)
    objects += [_by_ref(ref) for ref in refs]
    if model is not None:
        model_cls = get_model(model)
        if work_on is not None and model not in work_on:
            raise SelectionError(f"the session works on {', '.join(work_on)}, not on {model}")
        found = db.session.scalars(filter_query(model_cls, where)).all()
        if not found:
            raise NoSuchObjects(f"no {model} matches {' and '.join(where)}" if where
                                else f"there is no {model}")
        objects += found
    return _unique(objects)


def get_model(name: str) -> type[MinkeModel]:
    """The minke model named ``name``.

    :raises SelectionError: when there is none.
    """
    model = MINKE_MODELS.get(name)
    if model is None:
        raise SelectionError(f"unknown model {name!r}: the minke models are "
                             f"{', '.join(sorted(MINKE_MODELS))}")
    return model


def filter_query(model: type[MinkeModel], where: Iterable[str]) -> sa.Select:
    """``SELECT`` of ``model``'s objects matching every ``FIELD=VALUE`` in ``where``, by id.

    A field is a column (the value converted to its type) or ``host``, the
    object's host's name through ``HOST_LOOKUP`` (when the model has no column
    of that name).

    :raises SelectionError: for a condition without ``=``, an unknown field or
        a value of the wrong type.
    """
    query = sa.select(model)
    columns = sa.inspect(model).columns
    for condition in where:
        field, sep, value = condition.partition("=")
        field = field.strip()
        if not sep or not field:
            raise SelectionError(f"--where expects FIELD=VALUE, not {condition!r}")
        if field in columns:
            column = columns[field]
            query = query.where(column == _convert(column, value, field))
        elif field == HOST_FIELD:
            query = _where_host(query, model, value)
        else:
            fields = [*columns.keys(), *([HOST_FIELD] if model.HOST_LOOKUP else [])]
            raise SelectionError(f"{model.__name__} has no field {field!r}; "
                                 f"filter on {', '.join(fields)}")
    return query.order_by(*sa.inspect(model).primary_key)


def _where_host(query: sa.Select, model: type[MinkeModel], name: str) -> sa.Select:
    """Join along ``HOST_LOOKUP`` to the host and compare its name."""
    path = [part for part in model.HOST_LOOKUP.split(".") if part]
    if not path:
        raise SelectionError(f"{model.__name__} is a host itself: filter on name={name}")
    current: Any = model
    for part in path:
        attribute: Any = getattr(current, part, None)
        prop = getattr(attribute, "property", None)
        target = getattr(prop, "mapper", None)
        if target is None:
            raise SelectionError(f"{model.__name__}.HOST_LOOKUP {model.HOST_LOOKUP!r}: "
                                 f"{part!r} is no relationship")
        step = aliased(target.class_)
        query = query.join(attribute.of_type(step))
        current = step
    return query.where(current.name == name)


def _convert(column: sa.Column, value: str, field: str) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = str
    try:
        if python_type is bool:
            if value.lower() not in _TRUE | _FALSE:
                raise ValueError(value)
            return value.lower() in _TRUE
        if python_type in (int, float, Decimal):
            return python_type(value)
    except (ValueError, ArithmeticError):
        wanted = {bool: "true or false", int: "an integer"}.get(python_type, "a number")
        raise SelectionError(f"{field}={value!r}: {field} is {wanted}") from None
    if python_type is not str:
        raise SelectionError(f"cannot filter on {field}: its values are "
                             f"{python_type.__name__}, not text or numbers")
    return value


def _hosts(names: Sequence[str]) -> list[Host]:
    if not names:
        return []
    hosts = db.session.scalars(sa.select(Host).where(Host.name.in_(names))).all()
    by_name = {host.name: host for host in hosts}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise NoSuchObjects(f"unknown host: {', '.join(missing)}")
    return [by_name[name] for name in names]


def _group_hosts(name: str) -> list[Host]:
    group = db.session.scalar(sa.select(HostGroup).where(HostGroup.name == name))
    if group is None:
        raise NoSuchObjects(f"unknown host group: {name}")
    return [host for host in group.hosts if not host.disabled]


def _by_ref(ref: str) -> MinkeModel:
    model_name, _, ident = ref.partition(":")
    if model_name not in MINKE_MODELS or not (ident.isascii() and ident.isdigit()):
        raise SelectionError(f"--object expects MODEL:ID with a minke model "
                             f"({', '.join(sorted(MINKE_MODELS))}), not {ref!r}")
    number = int(ident) if len(ident) <= len(str(MAX_ID)) else MAX_ID + 1
    obj = db.session.get(MINKE_MODELS[model_name], number) if number <= MAX_ID else None
    if obj is None:
        raise NoSuchObjects(f"no {model_name} with id {ident}")
    return obj


def _unique(objects: list[MinkeModel]) -> list[MinkeModel]:
    seen: set[tuple[str, Any]] = set()
    unique = []
    for obj in objects:
        key = (type(obj).__name__, obj.id)
        if key not in seen:
            seen.add(key)
            unique.append(obj)
    return unique
