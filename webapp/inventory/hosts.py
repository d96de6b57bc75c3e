"""Hosts: look up, list, add, change, disable and remove them (never committed here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from ..audit import log_action
from ..extensions import db
from ..models import Host, HostGroup
from .fields import InventoryError, host_values
from .lookup import by_name, get_group, get_host


def list_hosts(group: str | None = None) -> list[Host]:
    """All hosts by name, or those in ``group``; :raises InventoryError: for an unknown group."""
    query = sa.select(Host).order_by(Host.name)
    if group is not None:
        query = query.where(Host.groups.contains(get_group(group)))
    return list(db.session.scalars(query))




def add_host(name: str, hostname: str, **fields: Any) -> Host:
    """Add a host; the groups named in ``groups`` that do not exist are created.

    Example::

        add_host("web1", "10.0.0.5", port=2222, groups=["web"], config={"user": "deploy"})

    :param fields: ``port``, ``username``, ``groups`` (names), ``comment``,
        ``verbose_name``, ``config`` (a dict or a JSON/YAML object string), ``disabled``.
    :raises InventoryError: for invalid values or a name another host has.
    """
    values = host_values({"name": name, "hostname": hostname, **fields})
    if by_name(Host, values["name"]) is not None:
        raise InventoryError(f"a host named {values['name']!r} already exists")
    host = Host(verbose_name="", comment="", config={}, disabled=False, disabled_reason="")
    _apply(host, values)
    db.session.add(host)
    log_action("host.create", f"host {host.name}", values)
    return host


def update_host(host: Host, **fields: Any) -> Host:
    """Change the fields given (those of :func:`add_host`, and ``name``, ``hostname``).

    :raises InventoryError: for invalid values or a name another host has.
    """
    values = host_values(fields)
    if values.get("name", host.name) != host.name and by_name(Host, values["name"]) is not None:
        raise InventoryError(f"a host named {values['name']!r} already exists")
    log_action("host.update", f"host {host.name}", values)
    _apply(host, values)
    return host


def _apply(host: Host, values: Mapping[str, Any]) -> None:
    values = dict(values)
    if "groups" in values:  # look up first: no autoflush between the assignments
        values["groups"] = _groups(values["groups"])
    for key, value in values.items():
        setattr(host, key, value)


def _groups(names: Iterable[str]) -> list[HostGroup]:
    """The groups named ``names``, creating the missing ones."""
    groups = []
    for name in names:
        group = by_name(HostGroup, name)
        if group is None:
            group = HostGroup(name=name, comment="", config={})
            db.session.add(group)
        groups.append(group)
    return groups


def set_disabled(host: Host, disabled: bool, reason: str = "") -> Host:
    """Disable ``host`` (sessions are no longer run on it) with a ``reason`` shown in the
    lists and in the skipped sessions' message, or enable it again (the reason is cleared).

    :raises InventoryError: for a reason longer than 300 characters.
    """
    return update_host(host, disabled=disabled, disabled_reason=reason if disabled else "")


def remove_host(name: str) -> None:
    """Delete the host named ``name``; :raises InventoryError: when there is none."""
    db.session.delete(get_host(name))
    log_action("host.delete", f"host {name}")
