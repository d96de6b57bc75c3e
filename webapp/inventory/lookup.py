"""Finding hosts and groups by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..models import Host, HostGroup
from .fields import InventoryError


def by_name(model: type[Host] | type[HostGroup], name: str) -> Any:
    return db.session.scalar(sa.select(model).where(model.name == name))

def get_host(name: str) -> Host:
    """The host named ``name``; :raises InventoryError: when there is none."""
    if (host := by_name(Host, name)) is None:
        raise InventoryError(f"no host named {name!r}")
    return host

def get_group(name: str) -> HostGroup:
    """The group named ``name``; :raises InventoryError: when there is none."""
    if (group := by_name(HostGroup, name)) is None:
        raise InventoryError(f"no host group named {name!r}")
    return group

def missing_groups(names: Iterable[str]) -> list[str]:
    """Those of ``names`` no group has yet: adding a host in them creates them."""
    return [name for name in dict.fromkeys(names) if by_name(HostGroup, name) is None]
