"""Importing hosts from CSV or YAML files: every row checked before any is stored."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from ..models import Host
from .fields import HOST_FIELDS, InventoryError, host_values
from .hosts import add_host, update_host
from .lookup import by_name


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
        host = by_name(Host, name)
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
    return host_values(row.fields)


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
