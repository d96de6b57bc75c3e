"""Host groups: look up, list, add, change and remove them, and the secrets they ask for."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..audit import log_action
from ..extensions import db
from ..models import HostGroup
from .fields import InventoryError, parse_config, parse_secret_names, text_field, validate_name
from .lookup import by_name, get_group


def list_groups() -> list[HostGroup]:
    return list(db.session.scalars(sa.select(HostGroup).order_by(HostGroup.name)))


def add_group(name: str, *, comment: str = "", config: Any = None) -> HostGroup:
    """Add a host group; its hosts inherit its ``config`` (a dict or JSON/YAML object string).

    :raises InventoryError: for an invalid name or config, or a name another group has.
    """
    group = HostGroup(
        name=validate_name(name, "group"),
        comment=text_field("comment", comment),
        config=parse_config(config),
    )
    if by_name(HostGroup, group.name) is not None:
        raise InventoryError(f"a host group named {group.name!r} already exists")
    db.session.add(group)
    log_action("group.create", f"group {group.name}",
           {"comment": group.comment, "config": group.config})
    return group


def update_group(group: HostGroup, *, name: str | None = None, comment: str | None = None,
                 config: Any = None) -> HostGroup:
    """Change the fields given of ``group`` (``config`` as for :func:`add_group`; ``None``
    leaves a field as it is).

    :raises InventoryError: for an invalid name or config, or a name another group has.
    """
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = validate_name(name, "group")
        if values["name"] != group.name and by_name(HostGroup, values["name"]) is not None:
            raise InventoryError(f"a host group named {values['name']!r} already exists")
    if comment is not None:
        values["comment"] = text_field("comment", comment)
    if config is not None:
        values["config"] = parse_config(config)
    log_action("group.update", f"group {group.name}", values)
    for key, value in values.items():
        setattr(group, key, value)
    return group


def remove_group(name: str) -> None:
    """Delete the host group named ``name``; its hosts stay, outside the group.

    :raises InventoryError: when there is none.
    """
    group = get_group(name)
    hosts = [host.name for host in group.hosts]
    db.session.delete(group)
    log_action("group.delete", f"group {name}", {"hosts": hosts})


def set_group_secrets(group: HostGroup, names: Any) -> HostGroup:
    """Set the secrets ``group`` asks for before a run on its hosts (names only: the values
    are asked for each run and never stored); see :func:`parse_secret_names`.

    :raises InventoryError: for an unknown name.
    """
    asked = parse_secret_names(names)
    if asked != list(group.ask_secrets or []):
        # "ask_secrets" would be hidden by the audit log's secret-name rule: these are names
        log_action("group.update", f"group {group.name}", {"asks_for": asked})
        group.ask_secrets = asked
    return group
