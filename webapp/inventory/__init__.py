"""Hosts and host groups: validate, add, change and import them.

The CLI and the dashboard's admin pages call these functions. They change
``db.session`` and never commit: the caller commits once. Every function
validates all its input before it changes the session, so after an
:class:`InventoryError` nothing has been added or changed.

By concept: :mod:`.fields` (checking values), :mod:`.lookup` (by name),
:mod:`.hosts`, :mod:`.groups`, :mod:`.files` (imports). Callers use the names
below, from this package.
"""

from .fields import (
    HOST_FIELDS,
    NAME_PATTERN,
    InventoryError,
    parse_config,
    parse_group_names,
    parse_secret_names,
    validate_hostname,
    validate_name,
    validate_port,
)
from .files import HostRow, ImportResult, import_hosts, load_host_file, parse_host_file
from .groups import add_group, list_groups, remove_group, set_group_secrets, update_group
from .hosts import add_host, list_hosts, remove_host, set_disabled, update_host
from .lookup import get_group, get_host, missing_groups

__all__ = [
    "HOST_FIELDS", "NAME_PATTERN", "HostRow", "ImportResult", "InventoryError", "add_group",
    "add_host", "get_group", "get_host", "import_hosts", "list_groups", "list_hosts",
    "load_host_file", "missing_groups", "parse_config", "parse_group_names",
    "parse_host_file", "parse_secret_names", "remove_group", "remove_host", "set_disabled",
    "set_group_secrets", "update_group", "update_host", "validate_hostname", "validate_name",
    "validate_port",
]
