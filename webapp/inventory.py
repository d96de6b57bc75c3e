"""Hosts and host groups: validate, add, change and import them.

The CLI and the dashboard's admin pages call these functions. They change
``db.session`` and never commit: the caller commits once. Every function
validates all its input before it changes the session, so after an
:class:`InventoryError` nothing has been added or changed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
import yaml

from .audit import record
from .engine.ssh.config import ConfigError, check_config
from .extensions import db
from .models import Host, HostGroup

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
"""Names of hosts and groups: a letter or digit, then up to 79 of ``A-Za-z0-9._-``."""

HOST_FIELDS = (
    "name",
    "hostname",
    "port",
    "username",
    "groups",
    "comment",
    "verbose_name",
    "config",
)
"""The fields of a host in an import file (CSV columns); ``name`` and ``hostname`` are required."""

_MAX_LENGTH = {"hostname": 255, "username": 80, "verbose_name": 200, "disabled_reason": 300}


class InventoryError(ValueError):
    """Host or group data that cannot be stored; the message says what is wrong and where."""


class HostRow(NamedTuple):
    """One host of an import file: its line number and fields, or why it is unreadable."""

    line: int
    fields: Any
    error: str | None = None


@dataclass
class ImportResult:
    """What :func:`import_hosts` did: the names of the hosts it added and updated."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def validate_name(name: Any, what: str = "host") -> str:
    """Return ``name`` stripped; :raises InventoryError: unless it matches :data:`NAME_PATTERN`."""
    text = "" if name is None else str(name).strip()
    if not NAME_PATTERN.match(text):
        raise InventoryError(
            f"invalid {what} name {text!r}: use 1-80 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return text


def validate_hostname(hostname: Any) -> str:
    """Return the stripped host name or IP address.

    :raises InventoryError: when empty or holding whitespace or control characters
        (a newline would end up in SSH and log lines).
    """
    text = _text("hostname", hostname)
    if not text:
        raise InventoryError("hostname must not be empty")
    _refuse_blanks("hostname", text)
    return text


def _refuse_blanks(name: str, text: str) -> str:
    """``text``; :raises InventoryError: when it holds whitespace or control characters."""
    bad = next((ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] in "CZ"), None)
    if bad is not None:
        raise InventoryError(f"{name} {text!r} must not contain whitespace or control "
                             f"characters (found {bad!r})")
    return text


def validate_port(port: Any) -> int | None:
    """``None`` or ``""`` → ``None`` (the SSH default), else an integer from 1 to 65535."""
    if port is None or str(port).strip() == "":
        return None
    try:
        number = int(str(port).strip()) if not isinstance(port, bool | float) else None
    except ValueError:
        number = None
    if number is None or not 1 <= number <= 65535:
        raise InventoryError(f"invalid port {port!r}: use a number from 1 to 65535")
    return number


def parse_config(config: Any) -> dict[str, Any]:
    """Return ``config`` as a checked connection config: a mapping, or a JSON or YAML
    object in a string. Text starting with ``{`` or ``[`` is JSON, never YAML (which
    would read ``{"user": "x",}`` too).

    ``None`` and ``""`` give ``{}``. Example: ``parse_config('{"user": "deploy"}')``.

    :raises InventoryError: for unparsable text, anything but an object, values
        JSON cannot store, or a config fabric cannot use (the message names the key,
        see :func:`webapp.engine.ssh.config.check_config`).
    """
    if config is None or (isinstance(config, str) and not config.strip()):
        return {}
    value = config
    if isinstance(config, str) and config.lstrip()[:1] in ("{", "["):
        try:
            value = json.loads(config)
        except ValueError as exc:
            raise InventoryError(f"config is not valid JSON: {exc}") from None
    elif isinstance(config, str):
        try:
            value = yaml.safe_load(config)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a number of 4300+ digits
            reason = str(exc).splitlines()[0]
            raise InventoryError(f"config is neither JSON nor YAML: {reason}") from None
    if not isinstance(value, Mapping):
        raise InventoryError(
            f'config must be a JSON object such as {{"user": "deploy"}}, not {value!r}'
        )
    try:  # a round trip turns what the JSON column would choke on (YAML dates) into an error
        plain = json.loads(json.dumps(dict(value)))
    except (TypeError, ValueError) as exc:
        raise InventoryError(f"config cannot be stored as JSON: {exc}") from None
    try:
        return check_config(plain)
    except ConfigError as exc:
        raise InventoryError(str(exc)) from None


def parse_group_names(groups: Any) -> list[str]:
    """Group names from a list, or from a string separated by ``;`` or whitespace."""
    if groups is None:
        return []
    items = re.split(r"[;\s]+", groups) if isinstance(groups, str) else groups
    if isinstance(items, Mapping) or not isinstance(items, Iterable):
        raise InventoryError(f"groups must be a list of group names, not {groups!r}")
    return list(dict.fromkeys(validate_name(item, "group") for item in items if str(item).strip()))


def _text(name: str, value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > _MAX_LENGTH.get(name, len(text)):
        raise InventoryError(f"{name} is longer than {_MAX_LENGTH[name]} characters")
    return text


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "name": validate_name,
    "hostname": validate_hostname,
    "port": validate_port,
    "username": lambda value: _refuse_blanks("username", _text("username", value)) or None,
    "groups": parse_group_names,
    "comment": lambda value: _text("comment", value),
    "verbose_name": lambda value: _text("verbose_name", value),
    "config": parse_config,
    # not in files: set by the admin pages or `host disable` (see set_disabled)
    "disabled": bool,
    "disabled_reason": lambda value: _text("disabled_reason", value),
}


def _host_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the fields given (absent ones stay absent)."""
    unknown = sorted(str(key) for key in fields if key not in _CONVERTERS)
    if unknown:
        known = ", ".join(HOST_FIELDS)
        raise InventoryError(f"unknown field {', '.join(unknown)} (known: {known})")
    return {key: _CONVERTERS[key](value) for key, value in fields.items()}


def _by_name(model: type[Host] | type[HostGroup], name: str) -> Any:
    return db.session.scalar(sa.select(model).where(model.name == name))


def get_host(name: str) -> Host:
    """The host named ``name``; :raises InventoryError: when there is none."""
    if (host := _by_name(Host, name)) is None:
        raise InventoryError(f"no host named {name!r}")
    return host


def get_group(name: str) -> HostGroup:
    """The group named ``name``; :raises InventoryError: when there is none."""
    if (group := _by_name(HostGroup, name)) is None:
        raise InventoryError(f"no host group named {name!r}")
    return group


def list_hosts(group: str | None = None) -> list[Host]:
    """All hosts by name, or those in ``group``; :raises InventoryError: for an unknown group."""
    query = sa.select(Host).order_by(Host.name)
    if group is not None:
        query = query.where(Host.groups.contains(get_group(group)))
    return list(db.session.scalars(query))


def list_groups() -> list[HostGroup]:
    return list(db.session.scalars(sa.select(HostGroup).order_by(HostGroup.name)))


def missing_groups(names: Iterable[str]) -> list[str]:
    """Those of ``names`` no group has yet: adding a host in them creates them."""
    return [name for name in dict.fromkeys(names) if _by_name(HostGroup, name) is None]


def add_host(name: str, hostname: str, **fields: Any) -> Host:
    """Add a host; the groups named in ``groups`` that do not exist are created.

    Example::

        add_host("web1", "10.0.0.5", port=2222, groups=["web"], config={"user": "deploy"})

    :param fields: ``port``, ``username``, ``groups`` (names), ``comment``,
        ``verbose_name``, ``config`` (a dict or a JSON/YAML object string), ``disabled``.
    :raises InventoryError: for invalid values or a name another host has.
    """
    values = _host_values({"name": name, "hostname": hostname, **fields})
    if _by_name(Host, values["name"]) is not None:
        raise InventoryError(f"a host named {values['name']!r} already exists")
    host = Host(verbose_name="", comment="", config={}, disabled=False, disabled_reason="")
    _apply(host, values)
    db.session.add(host)
    record("host.create", f"host {host.name}", values)
    return host


def update_host(host: Host, **fields: Any) -> Host:
    """Change the fields given (those of :func:`add_host`, and ``name``, ``hostname``).

    :raises InventoryError: for invalid values or a name another host has.
    """
    values = _host_values(fields)
    if values.get("name", host.name) != host.name and _by_name(Host, values["name"]) is not None:
        raise InventoryError(f"a host named {values['name']!r} already exists")
    record("host.update", f"host {host.name}", values)
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
        group = _by_name(HostGroup, name)
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
    record("host.delete", f"host {name}")


def add_group(name: str, *, comment: str = "", config: Any = None) -> HostGroup:
    """Add a host group; its hosts inherit its ``config`` (a dict or JSON/YAML object string).

    :raises InventoryError: for an invalid name or config, or a name another group has.
    """
    group = HostGroup(
        name=validate_name(name, "group"),
        comment=_text("comment", comment),
        config=parse_config(config),
    )
    if _by_name(HostGroup, group.name) is not None:
        raise InventoryError(f"a host group named {group.name!r} already exists")
    db.session.add(group)
    record("group.create", f"group {group.name}",
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
        if values["name"] != group.name and _by_name(HostGroup, values["name"]) is not None:
            raise InventoryError(f"a host group named {values['name']!r} already exists")
    if comment is not None:
        values["comment"] = _text("comment", comment)
    if config is not None:
        values["config"] = parse_config(config)
    record("group.update", f"group {group.name}", values)
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
    record("group.delete", f"group {name}", {"hosts": hosts})


def import_hosts(rows: Iterable[HostRow | Mapping[str, Any]]) -> ImportResult:
    """Add or update (by name) the host of every row; change nothing if any row is bad.

    A row is a :class:`HostRow` from :func:`load_host_file`, or a plain mapping
    (reported as ``row 1``, ``row 2``…). ``name`` and ``hostname`` are required;
    an existing host keeps the fields a row leaves out. Missing groups are created.

    :raises InventoryError: listing every bad row with its line number.
    """
    errors: list[str] = []
    checked: dict[str, dict[str, Any]] = {}
    where_seen: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        where = f"line {row.line}" if isinstance(row, HostRow) else f"row {number}"
        try:
            values = _row_values(row if isinstance(row, HostRow) else HostRow(number, row))
            if values["name"] in where_seen:
                earlier = where_seen[values["name"]]
                raise InventoryError(f"host {values['name']!r} is already on {earlier}")
        except InventoryError as exc:
            errors.append(f"{where}: {exc}")
            continue
        where_seen[values["name"]] = where
        checked[values["name"]] = values
    if errors:
        raise InventoryError("\n  ".join(["nothing imported; fix these rows:", *errors]))
    result = ImportResult()
    for name, values in checked.items():
        host = _by_name(Host, name)
        if host is None:
            add_host(**values)
            result.added.append(name)
        else:
            update_host(host, **values)
            result.updated.append(name)
    return result


def _row_values(row: HostRow) -> dict[str, Any]:
    if row.error:
        raise InventoryError(row.error)
    if not isinstance(row.fields, Mapping):
        raise InventoryError(f"expected a mapping of host fields, not {row.fields!r}")
    missing = [key for key in ("name", "hostname") if key not in row.fields]
    if missing:
        raise InventoryError(f"{' and '.join(missing)} missing")
    if "disabled" in row.fields or "disabled_reason" in row.fields:
        raise InventoryError("disabled cannot be imported: use `minke host disable`")
    return _host_values(row.fields)


def load_host_file(path: str | Path) -> list[HostRow]:
    """Read the host rows of a ``.csv``, ``.yaml`` or ``.yml`` file for :func:`import_hosts`.

    CSV starts with a header naming columns of :data:`HOST_FIELDS`; ``groups``
    are separated by ``;`` or spaces and ``config`` is a JSON object. YAML is a
    list of mappings with the same keys, ``groups`` a list and ``config`` a mapping.

    :raises InventoryError: for an unreadable file, another extension or a bad layout.
    """
    path = Path(path)
    _file_kind(path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InventoryError(f"cannot read {path}: {exc}") from None
    return parse_host_file(data, path.name)


def parse_host_file(data: bytes | str, filename: str) -> list[HostRow]:
    """The host rows of a file's content (an upload, say), read as :func:`load_host_file`
    reads the file: ``filename``'s extension says which layout it has.

    :raises InventoryError: for another extension, bytes that are not UTF-8, or a bad layout.
    """
    kind = _file_kind(filename)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InventoryError(f"cannot read {filename}: not UTF-8 text ({exc})") from None
    data = data.removeprefix("\ufeff")
    return _csv_rows(data, filename) if kind == ".csv" else _yaml_rows(data, filename)


def _file_kind(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise InventoryError(f"{Path(filename).name}: not a .csv, .yaml or .yml file")
    return suffix


def _csv_rows(text: str, filename: str) -> list[HostRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        header = [column.strip().lower() for column in next(reader, [])]
        columns = set(header)
        if not {"name", "hostname"} <= columns <= set(HOST_FIELDS) or len(columns) < len(header):
            raise InventoryError(
                f"{filename}: the first line must name the columns, each once, from "
                f"{','.join(HOST_FIELDS)} (name and hostname required); it is {','.join(header)!r}"
            )
        end = reader.line_num
        for values in reader:
            line, end = end + 1, reader.line_num  # a quoted value may span lines
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                rows.append(HostRow(line, None, f"{len(values)} values for {len(header)} columns"))
            else:
                rows.append(HostRow(line, dict(zip(header, values, strict=True))))
    except csv.Error as exc:
        raise InventoryError(f"{filename} line {reader.line_num}: {exc}") from None
    return rows


def _yaml_rows(text: str, filename: str) -> list[HostRow]:
    loader = yaml.SafeLoader(text)
    try:  # compose first: the nodes know the line each host starts on
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise InventoryError(f"{filename}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, list):
        raise InventoryError(f"{filename}: expected a list of hosts, each a mapping of fields")
    return [
        HostRow(item_node.start_mark.line + 1, item)
        for item_node, item in zip(node.value, data, strict=True)
    ]


def parse_secret_names(names: Any) -> list[str]:
    """The secret names of a host group's ``ask_secrets`` (a list, or text separated by
    commas or blanks), in :data:`sessions.secrets.SECRET_KINDS` order.

    :raises InventoryError: for a name that is no secret kind.
    """
    from sessions.secrets import SECRET_KINDS, describe_kinds, unknown_secrets

    if names is None:
        return []
    items = re.split(r"[,;\s]+", names) if isinstance(names, str) else list(names)
    items = [str(item).strip() for item in items if str(item).strip()]
    unknown = unknown_secrets(items)
    if unknown:
        raise InventoryError(f"unknown secret {', '.join(unknown)} (known: {describe_kinds()})")
    return [name for name in SECRET_KINDS if name in items]


def set_group_secrets(group: HostGroup, names: Any) -> HostGroup:
    """Set the secrets ``group`` asks for before a run on its hosts (names only: the values
    are asked for each run and never stored); see :func:`parse_secret_names`.

    :raises InventoryError: for an unknown name.
    """
    asked = parse_secret_names(names)
    if asked != list(group.ask_secrets or []):
        # "ask_secrets" would be hidden by the audit log's secret-name rule: these are names
        record("group.update", f"group {group.name}", {"asks_for": asked})
        group.ask_secrets = asked
    return group
