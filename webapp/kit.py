"""The lists' and exports' kit: what every list, filter and export of the dashboard shares:
a page of rows, a page number kept in range, LIKE search, date filters, safe CSV cells,
one timestamp format.

Features (objects, history, audit, the API) import these; none imports another's helpers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from .extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, how many rows match in all, its number and size."""

    rows: list[T]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def first_index(self) -> int:
        """The 1-based position of the page's first row (0 when nothing matches)."""
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.size)


def page_number(number: int, total: int, size: int) -> int:
    """``number`` moved into 1 … the last page of ``total`` rows (a page past the end shows
    the last one)."""
    return min(max(1, number), max(1, math.ceil(total / size)))


def count_of(query: sa.Select[Any]) -> int:
    """How many rows ``query`` gives (its ordering dropped)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        query.order_by(None).subquery())) or 0


def page_of(query: sa.Select[Any], number: int, size: int) -> Page[Any]:
    """Page ``number`` (kept in range) of the objects ``query`` selects, in its order."""
    total = count_of(query)
    number = page_number(number, total, size)
    rows = list(db.session.scalars(query.limit(size).offset((number - 1) * size)))
    return Page(rows, total, number, size)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts a spreadsheet runs as a formula (OWASP "CSV injection")."""


def contains(column: Any, text: str) -> Any:
    """``column`` contains ``text``, ignoring case; ``%`` and ``_`` are matched literally.

    SQLite's ``LIKE`` already ignores (ASCII) case and is four times faster
    than ``lower(column) LIKE`` over 100,000 rows; elsewhere ``ILIKE``.
    """
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if db.session.get_bind().dialect.name == "sqlite":
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def utc_iso(value: dt.datetime | None) -> str | None:
    """A stored time (naive, UTC) as every document and event gives it: ISO 8601 with "Z"."""
    return value.isoformat() + "Z" if value is not None else None


def parse_date(text: str) -> dt.date | None:
    """A date filter's ``YYYY-MM-DD`` as a date; ``None`` when empty or malformed."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def inert(value: Any) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: formula starts get a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
