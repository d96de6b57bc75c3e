"""The installation's id: one row in its database, created on first use if missing."""

from __future__ import annotations

import uuid
from typing import cast

import sqlalchemy as sa

from ..extensions import db
from ..models import Installation


def installation_id() -> str:
    """The id of the installation whose database this app uses.

    Reads (or, in a database that has none yet, creates) the one
    ``minke_installation`` row in a transaction of its own.
    """
    engine = db.engine
    with engine.connect() as connection:
        connection = connection.execution_options(minke_read_only=True)
        found = connection.scalar(sa.select(Installation.uuid).where(Installation.id == 1))
    if found:
        return found
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(Installation).values(id=1, uuid=uuid.uuid4().hex))
    except sa.exc.IntegrityError:  # another process created it first: take theirs
        pass
    with engine.connect() as connection:  # the row exists now: ours or the other process's
        return cast(str, connection.scalar(
            sa.select(Installation.uuid).where(Installation.id == 1)))
