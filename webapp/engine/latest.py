"""Each object's latest session, kept in ``latest_session`` as runs store sessions.

Object lists show and filter by the latest session's status; reading it from
this table is an indexed join, where ``max(id)`` over every session of every
object grows with the history (100,000 hosts with three runs each: 170-750 ms).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import LatestSession, MinkeSession

_INSERTS: dict[str, Callable[[Any], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert, "postgresql": postgresql.insert}
_COLUMNS = ("object_type", "object_id", "session_id", "proc_status", "session_status")


def mark_latest(sessions: Iterable[Mapping[str, Any]]) -> None:
    """Make each session its object's latest one.

    ``sessions``: mappings with ``object_type``, ``object_id``, ``session_id``,
    ``proc_status`` and ``session_status``, as just stored. A newer session
    (larger id) stored by a concurrent run is kept: the row only moves forward.
    Later status changes reach the row through the database's trigger.
    Changes ``db.session``; the caller commits.
    """
    rows = [{name: row.get(name) for name in _COLUMNS} for row in sessions]
    if not rows:
        return
    insert = _INSERTS[db.session.get_bind().dialect.name](LatestSession)
    table = LatestSession.__table__
    db.session.execute(insert.on_conflict_do_update(
        index_elements=[table.c.object_type, table.c.object_id],
        set_={name: insert.excluded[name] for name in _COLUMNS[2:]},
        where=insert.excluded.session_id > table.c.session_id,
    ), rows)


def refresh_latest() -> int:
    """Add the rows missing for objects that have sessions (after sessions were deleted:
    the row of a deleted session goes with it, and an older session becomes the latest).
    Changes ``db.session``; the caller commits.

    :returns: the number of rows added.
    """
    ms, ls = MinkeSession, LatestSession
    newest = (sa.select(sa.func.max(ms.id).label("id"))
              .where(~sa.exists().where(ls.object_type == ms.object_type,
                                        ls.object_id == ms.object_id))
              .group_by(ms.object_type, ms.object_id).subquery())
    missing = sa.select(ms.object_type, ms.object_id, ms.id, ms.proc_status,
                        ms.session_status).join(newest, newest.c.id == ms.id)
    result = cast("sa.CursorResult[Any]",
                  db.session.execute(sa.insert(ls).from_select(list(_COLUMNS), missing)))
    return result.rowcount or 0
