"""Identical output gathered, as ClusterShell's ``clubak -b`` does: one block per distinct
output with the names of the objects that printed it folded into ranges (``web[01-05,07]``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from sessions.messages import BaseMessage

from ..changes import CHANGED, change_condition
from ..extensions import db
from ..models import Message, MinkeSession, StoredResult
from ..status import badge_key
from .ansi import strip_ansi

COMPARED_CHARS = 256 * 1024  # output of one session compared (and shown) at most
_NAME = re.compile(r"^(.*?)(\d+)(\D*)$")


def fold(names: Iterable[str]) -> str:
    """Names folded into ranges, ClusterShell style: ``web01 web02 web03 db1`` →
    ``db1,web[01-03]``.

    Names fold when they differ only in their last number and that number has
    the same width (``web9``/``web10`` stay apart); unfolding gives the names back.
    """
    series: dict[tuple[str, str, int], set[int]] = {}
    plain: set[str] = set()
    for name in names:
        match = _NAME.match(name)
        if match is None:
            plain.add(name)
            continue
        prefix, digits, suffix = match.groups()
        series.setdefault((prefix, suffix, len(digits)), set()).add(int(digits))
    parts = sorted(plain)
    for (prefix, suffix, width), numbers in sorted(series.items()):
        ranges = _ranges(sorted(numbers))
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            parts.append(f"{prefix}{ranges[0][0]:0{width}d}{suffix}")
            continue
        text = ",".join(f"{a:0{width}d}" if a == b else f"{a:0{width}d}-{b:0{width}d}"
                        for a, b in ranges)
        parts.append(f"{prefix}[{text}]{suffix}")
    return ",".join(sorted(parts))


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges


@dataclass
class OutputGroup:
    """Sessions whose output is the same."""

    text: str
    truncated: bool = False
    labels: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)  # sessions per change mark

    @property
    def names(self) -> str:
        return fold(self.labels)


@dataclass
class Grouping:
    groups: list[OutputGroup]  # the biggest first: the others are the odd ones
    pending: list[str]  # labels of sessions not finished yet
    pending_statuses: dict[str, int]


def group_output(run_id: int, *, changed_only: bool = False) -> Grouping:
    """The finished sessions of a run grouped by their output (with ``changed_only``,
    those whose output changed since the previous run: webapp/changes.py).

    A session's output is its commands' stdout and stderr in order (their
    first :data:`COMPARED_CHARS` characters, colours aside), or the text of
    its messages when it ran no command.
    """
    query = (sa.select(MinkeSession.id, MinkeSession.object_label, MinkeSession.proc_status,
                       MinkeSession.session_status, MinkeSession.change)
             .where(MinkeSession.run_id == run_id).order_by(MinkeSession.id))
    if changed_only:
        query = query.where(change_condition(CHANGED))
    sessions = db.session.execute(query).all()
    ids = sa.select(MinkeSession.id).where(MinkeSession.run_id == run_id)
    commands: dict[int, list[str]] = {}
    for session_id, stdout, stderr in db.session.execute(
            sa.select(StoredResult.session_id, sa.func.substr(StoredResult.stdout, 1,
                                                               COMPARED_CHARS),
                      sa.func.substr(StoredResult.stderr, 1, COMPARED_CHARS))
            .where(StoredResult.session_id.in_(ids)).order_by(StoredResult.seq)):
        commands.setdefault(session_id, []).extend([stdout, stderr])
    messages: dict[int, list[str]] = {}
    for session_id, kind, payload in db.session.execute(
            sa.select(Message.session_id, Message.kind, Message.payload)
            .where(Message.session_id.in_(ids)).order_by(Message.seq)):
        messages.setdefault(session_id, []).append(BaseMessage.render(kind, payload) + "\n")
    groups: dict[str, OutputGroup] = {}
    pending: list[str] = []
    pending_statuses: dict[str, int] = {}
    for row in sessions:
        key = badge_key(row.proc_status, row.session_status)
        if key in ("queued", "running", "stopping"):
            pending.append(row.object_label)
            pending_statuses[key] = pending_statuses.get(key, 0) + 1
            continue
        text = strip_ansi("".join(commands.get(row.id) or messages.get(row.id, [])))
        truncated = len(text) > COMPARED_CHARS
        text = text[:COMPARED_CHARS]
        digest = hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()
        group = groups.setdefault(digest, OutputGroup(text, truncated))
        group.labels.append(row.object_label)
        group.statuses[key] = group.statuses.get(key, 0) + 1
        if row.change:
            group.changes[row.change] = group.changes.get(row.change, 0) + 1
    ordered = sorted(groups.values(), key=lambda g: (-len(g.labels), g.labels[0]))
    return Grouping(ordered, pending, pending_statuses)
