"""What the ``minke`` commands share: usage errors and plain tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

import click
import sqlalchemy as sa

from webapp.extensions import db


def fail_usage(message: str) -> NoReturn:
    """Print ``message`` and exit with status 2 (a usage error)."""
    raise click.UsageError(message)


@contextmanager
def usage_errors() -> Iterator[None]:
    """Turn our domain errors into a usage error (exit 2) after undoing the session's changes."""
    from webapp.accounts import AccountError
    from webapp.inventory import InventoryError

    try:
        yield
    except (InventoryError, AccountError) as exc:
        db.session.rollback()
        fail_usage(str(exc))
    except sa.exc.IntegrityError as exc:  # another process added the same name meanwhile
        db.session.rollback()
        fail_usage(f"the database refused the change: {exc.orig}")


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print ``rows`` as left-aligned columns under ``headers``."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
