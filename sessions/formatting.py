"""Filling a command's ``{placeholders}`` safely."""

from __future__ import annotations

import shlex
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import CommandFormatError

_FORMATTER = string.Formatter()


class _Lookup(Mapping):
    """Form data first, then the public attributes of the object (fetched when first needed)."""

    def __init__(self, data: Mapping[str, Any], get_obj: Callable[[], Any]) -> None:
        self._data = data
        self._get_obj = get_obj

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        obj = self._get_obj()
        if obj is not None and not key.startswith("_") and hasattr(obj, key):
            return getattr(obj, key)
        raise KeyError(key)

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def format_command(
    cmd: str, data: Mapping[str, Any], get_obj: Callable[[], Any], *, raw: Iterable[str] = ()
) -> str:
    """Fill ``{name}`` placeholders from ``data``, then from the attributes of the object
    ``get_obj()`` returns (called only for a placeholder that is not in ``data``).

    Every inserted value is shell-quoted with :func:`shlex.quote` unless its
    placeholder's first name is in ``raw``. Format specs and conversions
    (``{size:>5}``, ``{name!r}``) and attribute access (``{server.name}``)
    work as in :meth:`str.format`; ``{{`` and ``}}`` are literal braces.

    :raises CommandFormatError: for a placeholder that names nothing, or a
        positional ``{}``.
    """
    lookup = _Lookup(data, get_obj)
    raw = frozenset(raw)
    parts: list[str] = []
    try:
        parsed = list(_FORMATTER.parse(cmd))
    except ValueError as exc:
        raise CommandFormatError(f"cannot parse command {cmd!r}: {exc}") from None
    for literal, field_name, spec, conversion in parsed:
        parts.append(literal)
        if field_name is None:
            continue
        if not field_name or field_name.isdigit():
            raise CommandFormatError(f"command {cmd!r} uses a positional placeholder; name it")
        try:
            value, first = _FORMATTER.get_field(field_name, (), lookup)
        except (KeyError, AttributeError, IndexError) as exc:
            raise CommandFormatError(
                f"command {cmd!r}: placeholder {{{field_name}}} is neither a form field "
                f"nor a field of the object ({exc!r})"
            ) from None
        text = _FORMATTER.format_field(_FORMATTER.convert_field(value, conversion), spec or "")
        parts.append(text if first in raw else shlex.quote(text))
    return "".join(parts)
