"""Numbers and names from outside, checked at the edge: ids in URLs, page numbers, sizes,
filters and sequence numbers in query strings, forms, JSON bodies and socket messages.

A database cannot take every integer a client may send: SQLite overflows at 2**63 and
PostgreSQL's ``integer`` columns at 2**31. So every id and count is checked for range
before it reaches a query:

- in URLs, ``<int:...>`` everywhere is :class:`IdConverter` (:func:`init_app`): 0 to
  :data:`MAX_ID`, anything larger is no such thing (404), as a missing row is;
- in query strings, forms and JSON, :func:`int_param`, :func:`choice_param` and
  :func:`parse_int` raise :class:`BadParameter`: a 400 naming the parameter, which the
  API answers as ``{"error": ..., "fields": {NAME: [message]}}`` (webapp/api/errors.py)
  and the pages as Flask's 400 page with the message.

An empty value is the default (a form's "any" choice sends one); a malformed or
out-of-range one is refused rather than ignored, so a script learns of its mistake.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, overload

from flask import Flask
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1
"""The largest id or count accepted: PostgreSQL's ``integer``."""

MAX_CONCURRENCY = 1000
"""The most hosts a run may ask to work on at once (more than any worker pool here offers)."""

_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,9})")
"""How a number is written: no sign but a minus, no leading zeros or spaces, no more digits
than :data:`MAX_ID` has (so ``int()`` never meets a 5000-digit string). The OpenAPI
document's patterns say the same."""


class BadParameter(BadRequest, ValueError):
    """A query, form or body value that is malformed or out of range (400); a
    ``ValueError`` too, for parsers whose callers expect one.

    :param name: the parameter, as the client sent it (``page``, ``objects.ids``).
    :param message: what was expected.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.fields = {name: [message]}


class IdConverter(IntegerConverter):
    """``<int:...>`` of every route: digits from 0 to :data:`MAX_ID`; larger ones do not
    match, so the route answers 404 like for an id that names nothing."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def init_app(app: Flask) -> None:
    """Make ``<int:...>`` the range-checked :class:`IdConverter`; call before any route is
    registered (rules bind their converter when they are added)."""
    app.url_map.converters["int"] = IdConverter


def _range_text(minimum: int, maximum: int) -> str:
    return f"expected a whole number from {minimum} to {maximum}"


def parse_int(value: Any, name: str, *, minimum: int = 0, maximum: int = MAX_ID,
              text: bool = True) -> int:
    """``value`` (a JSON number, or with ``text`` its digits) as an int from ``minimum``
    to ``maximum``.

    :raises BadParameter: for anything else: booleans, fractions, a plus sign, leading
        zeros, spaces and digits beyond what the range needs included.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text and isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise BadParameter(name, _range_text(minimum, maximum))
    if not minimum <= number <= maximum:
        raise BadParameter(name, _range_text(minimum, maximum))
    return number


@overload
def int_param(args: Mapping[str, Any], name: str, default: int, *,
              minimum: int = 1, maximum: int = MAX_ID) -> int: ...


@overload
def int_param(args: Mapping[str, Any], name: str, default: None = None, *,
              minimum: int = 1, maximum: int = MAX_ID) -> int | None: ...


def int_param(args: Mapping[str, Any], name: str, default: int | None = None, *,
              minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    """Query or form value ``name`` as an int in range; ``default`` when absent or empty.

    :raises BadParameter: when it is given but malformed or out of range.
    """
    value = args.get(name)
    if value is None or value == "":
        return default
    return parse_int(value, name, minimum=minimum, maximum=maximum)


def choice_param(args: Mapping[str, Any], name: str, choices: Collection[str],
                 default: str = "") -> str:
    """Query or form value ``name``, one of ``choices``; ``default`` when absent or empty.

    :raises BadParameter: for any other value, naming the choices.
    """
    value = args.get(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise BadParameter(name, "expected one of " + ", ".join(sorted(choices)))
    return value


def id_list(value: Any, name: str) -> list[int]:
    """A JSON list of ids (each 1 to :data:`MAX_ID`).

    :raises BadParameter: for anything else.
    """
    if not isinstance(value, list):
        raise BadParameter(name, "expected a list of ids")
    return [parse_int(item, name, minimum=1, text=False) for item in value]
