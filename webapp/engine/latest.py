"""Each object's latest session, kept in ``latest_session`` as runs store sessions.

Object lists show and filter by the latest session's status; reading it from
this table is an indexed join, where ``max(id)`` over every session of every
object grows with the history (100,000 hosts with three runs each: 170-750 ms).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import LatestSession, MinkeSession

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def mark_latest(sessions: Iterable[tuple[str, int, int]]) -> None:
    """Make each ``(object_type, object_id, session_id)`` its object's latest session.

    A newer session (larger id) stored by a concurrent run is kept: the row is
    only ever moved forward. Changes ``db.session``; the caller commits.
    """
    rows = [{"object_type": kind, "object_id": oid, "session_id": sid}
            for kind, oid, sid in sessions]
    if not rows:
        return
    insert = _INSERTS[db.session.get_bind().dialect.name](LatestSession)
    table = LatestSession.__table__
    db.session.execute(insert.on_conflict_do_update(
        index_elements=[table.c.object_type, table.c.object_id],
        set_={"session_id": insert.excluded.session_id},
        where=insert.excluded.session_id > table.c.session_id,
    ), rows)


def refresh_latest() -> int:
    """Add the rows missing for objects that have sessions (after sessions were deleted:
    the row of a deleted session goes with it, and an older session becomes the latest).
    Changes ``db.session``; the caller commits.

    :returns: the number of rows added.
    """
    ms, ls = MinkeSession, LatestSession
    missing = (sa.select(ms.object_type, ms.object_id, sa.func.max(ms.id))
               .where(~sa.exists().where(ls.object_type == ms.object_type,
                                         ls.object_id == ms.object_id))
               .group_by(ms.object_type, ms.object_id))
    result = db.session.execute(
        sa.insert(ls).from_select(["object_type", "object_id", "session_id"], missing))
    return result.rowcount or 0
