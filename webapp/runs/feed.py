"""What the run page shows of a run's sessions, read from one consistent snapshot.

Everything a session stores (messages, commands, output chunks) carries the
session's sequence number, and per session the writer commits in sequence
order. So a snapshot of a session holds exactly the rows up to its highest
stored number, its *watermark*: a page that rendered a snapshot applies live
events above the watermark, and fetches :func:`load_changes` after it when
it missed some (a reconnect, a gap in the numbers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from sessions.status import ProcStatus

from ..changes import CHANGED, change_condition, run_change_counts
from ..extensions import db
from ..inputs import parse_int
from ..models import Host, Message, MinkeSession, OutputChunk, StoredResult
from ..status import COUNTED, badge_key

PREVIEW_CHARS = 4000  # output of one command shown on the run page when it opens
CHANGES_CHARS = 64 * 1024  # output of one command sent to a page catching up
RECENT_CHUNKS = 8  # the newest chunks of a command read for its tail
PAGE_ROWS = 200  # rows of a run page; bigger runs have pages
_ID_BATCH = 5000  # ids per IN (...) list


@dataclass
class OutputPiece:
    """Output of one stream of one command, in sequence order."""

    command_seq: int
    stream: str
    first_seq: int
    seq: int
    data: str
    omitted: bool = False  # earlier output of the command is not included

    def as_event(self) -> dict[str, Any]:
        """The shape of a piece in a live ``session.output`` event."""
        return {"command_seq": self.command_seq, "stream": self.stream,
                "first_seq": self.first_seq, "seq": self.seq, "data": self.data,
                "omitted": int(self.omitted)}


@dataclass
class CommandView:
    id: int
    session_id: int
    seq: int
    command: str
    exit_code: int | None
    status: str
    truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    output: list[OutputPiece] = field(default_factory=list)


@dataclass
class MessageView:
    session_id: int
    seq: int
    level: str
    kind: str
    payload: dict[str, Any]
    about_run: int | None = None  # another run it names: shown only to whom may see it


@dataclass
class SessionView:
    """One row of the run page: a session, its state and what it stored."""

    id: int
    object_label: str
    object_type: str
    host_name: str | None
    proc_status: str
    session_status: str | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    change: str | None = None  # changed / unchanged / new (webapp/changes.py), once completed
    seq: int = 0  # the watermark: the highest sequence number of what is shown
    messages: list[MessageView] = field(default_factory=list)
    commands: list[CommandView] = field(default_factory=list)

    @property
    def status_key(self) -> str:
        """The row's badge: the outcome once completed, else the life-cycle state."""
        return badge_key(self.proc_status, self.session_status)

    @property
    def is_final(self) -> bool:
        return ProcStatus(self.proc_status).is_final

    @property
    def duration(self) -> float | None:
        if self.start_time is None:
            return None
        end = self.end_time or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return max(0.0, (end - self.start_time).total_seconds())


_KEY_INDEX = {key: index for index, key in enumerate(COUNTED)}


def begin_snapshot() -> None:
    """End the request's transaction; the next reads see one state of the database.

    SQLite: a deferred ``BEGIN`` (never the write lock; WAL reads a snapshot).
    PostgreSQL: ``REPEATABLE READ``, whose statements all see one snapshot.
    """
    db.session.rollback()
    options: dict[str, Any] = {"minke_read_only": True}
    if db.session.get_bind().dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    db.session.connection(execution_options=options)


@dataclass
class RunPage:
    """One page of a run's rows, with what the page shows of the whole run."""

    sessions: list[SessionView]  # the rows of this page, with their details
    counts: dict[str, int]  # sessions of the whole run per badge
    statuses: dict[str, list]  # the whole run: {"ids": [...], "keys": [index in COUNTED]}
    total: int  # sessions of the run
    matching: int  # sessions the filter lets through (all: ``total``)
    number: int  # this page, from 1
    pages: int
    status: str | None  # the filter: one of COUNTED, or every row
    changed: bool = False  # the filter: only sessions whose output changed
    changes: dict[str, int] = field(default_factory=dict)  # sessions of the run per mark

    @property
    def first_row(self) -> int:
        return (self.number - 1) * PAGE_ROWS + 1 if self.matching else 0

    @property
    def last_row(self) -> int:
        return min(self.matching, self.number * PAGE_ROWS)


def load_run_page(run_id: int, *, status: str | None = None, number: int = 1,
                  changed: bool = False) -> RunPage:
    """Page ``number`` of the run's rows in id order (``PAGE_ROWS`` a page), only those
    showing badge ``status`` when given (and, with ``changed``, whose output changed since
    the previous run), each with its messages, commands and output tail; the counts and
    every session's badge over the whole run.

    Big runs are paged so that a browser lays out a few hundred rows, not 10,000.
    """
    badges = _run_badges(run_id)
    counts = dict.fromkeys(COUNTED, 0)
    for _session_id, key in badges:
        counts[key] += 1
    matching = [sid for sid, key in badges if status is None or key == status]
    if changed:
        changed_ids = set(db.session.scalars(sa.select(MinkeSession.id).where(
            MinkeSession.run_id == run_id, change_condition(CHANGED))))
        matching = [sid for sid in matching if sid in changed_ids]
    pages = max(1, -(-len(matching) // PAGE_ROWS))
    number = min(max(1, number), pages)
    shown = matching[(number - 1) * PAGE_ROWS:number * PAGE_ROWS]
    views: dict[int, SessionView] = {}
    if shown:
        views = _sessions(sa.select(*_SESSION_COLUMNS).where(MinkeSession.id.in_(shown)))
        in_run = len(shown) == len(badges)  # the whole run: one subquery instead of the ids
        _fill(views, sa.select(MinkeSession.id).where(MinkeSession.run_id == run_id)
              if in_run else shown, {}, PREVIEW_CHARS)
    return RunPage(list(views.values()), counts, _compact(badges), len(badges), len(matching),
                   number, pages, status, changed, run_change_counts(run_id))


def session_statuses(run_id: int) -> dict[str, list]:
    """Every session's badge: ``{"ids": [...], "keys": [index in COUNTED]}``."""
    return _compact(_run_badges(run_id))


def _run_badges(run_id: int) -> list[tuple[int, str]]:
    """Every session's badge in id order (Core rows: 10,000 sessions in a few ms)."""
    found: dict[tuple[str, str | None], str] = {}
    badges = []
    for session_id, proc, outcome in db.session.connection().execute(
            sa.select(MinkeSession.id, MinkeSession.proc_status, MinkeSession.session_status)
            .where(MinkeSession.run_id == run_id).order_by(MinkeSession.id)):
        key = found.get((proc, outcome))
        if key is None:
            key = found[proc, outcome] = badge_key(proc, outcome)
        badges.append((session_id, key))
    return badges


def _compact(badges: list[tuple[int, str]]) -> dict[str, list]:
    """Badges as two arrays, small in a page even for 10,000 sessions."""
    return {"ids": [sid for sid, _key in badges], "keys": [_KEY_INDEX[key] for _sid, key in badges]}


def load_changes(run_id: int, after: Mapping[int, int]) -> list[SessionView]:
    """The sessions of ``after`` (id → sequence number) that belong to the run, each with
    its current state and what it stored after that number.

    A command that started before the number is included again when it is
    the session's latest (its exit code may have come after).
    """
    ids = list(after)
    views: dict[int, SessionView] = {}
    for batch in _batches(ids):
        views.update(_sessions(sa.select(*_SESSION_COLUMNS).where(
            MinkeSession.run_id == run_id, MinkeSession.id.in_(batch))))
    for view in views.values():
        view.seq = after[view.id]
    if views:
        _fill(views, list(views), after, CHANGES_CHARS)
    return list(views.values())


_SESSION_COLUMNS = (MinkeSession.id, MinkeSession.object_label, MinkeSession.object_type,
                    Host.name.label("host_name"), MinkeSession.proc_status,
                    MinkeSession.session_status, MinkeSession.start_time, MinkeSession.end_time,
                    MinkeSession.change)


def _sessions(query: sa.Select) -> dict[int, SessionView]:
    query = query.outerjoin(Host, Host.id == MinkeSession.host_id).order_by(MinkeSession.id)
    return {row.id: SessionView(*row) for row in db.session.execute(query)}


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _ID_BATCH):
        yield ids[start:start + _ID_BATCH]


def _in_sessions(column: Any, sessions: sa.Select | list[int]) -> Iterable[Any]:
    """``column IN (…)`` for a subquery, or one condition per batch of a list of ids."""
    if isinstance(sessions, sa.Select):
        yield column.in_(sessions)
    else:
        for batch in _batches(sessions):
            yield column.in_(batch)


def _fill(views: dict[int, SessionView], sessions: sa.Select | list[int],
          after: Mapping[int, int], budget: int) -> None:
    """Add messages, commands and output tails above ``after`` (default 0) to ``views``."""
    low = min((after.get(sid, 0) for sid in views), default=0)
    for condition in _in_sessions(Message.session_id, sessions):
        for row in db.session.execute(
                sa.select(Message.session_id, Message.seq, Message.level, Message.kind,
                          Message.payload, Message.about_run)
                .where(condition, Message.seq > low).order_by(Message.seq)):
            view = views[row.session_id]
            if row.seq > after.get(row.session_id, 0):
                view.messages.append(MessageView(*row))
                view.seq = max(view.seq, row.seq)
    commands = _commands(views, sessions, after, low)
    _output_tails(views, commands, after, low, budget)


def _commands(views: dict[int, SessionView], sessions: sa.Select | list[int],
              after: Mapping[int, int], low: int) -> dict[int, CommandView]:
    columns = (StoredResult.id, StoredResult.session_id, StoredResult.seq,
               StoredResult.command, StoredResult.exit_code, StoredResult.status,
               StoredResult.truncated, StoredResult.stdout_bytes, StoredResult.stderr_bytes)
    rows: list[sa.Row] = []
    latest: dict[int, tuple[int, int]] = {}  # session → (command id, seq)
    for condition in _in_sessions(StoredResult.session_id, sessions):
        rows += db.session.execute(sa.select(*columns).where(condition, StoredResult.seq > low))
        if after:  # each session's latest command at or below its number (it may have ended)
            for command_id, session_id, seq in db.session.execute(
                    sa.select(StoredResult.id, StoredResult.session_id, StoredResult.seq)
                    .where(condition, StoredResult.seq <= max(after.values()))):
                if seq <= after[session_id] and seq > latest.get(session_id, (0, 0))[1]:
                    latest[session_id] = (command_id, seq)
    again = [command_id for command_id, seq in latest.values() if seq <= low]
    for batch in _batches(again):
        rows += db.session.execute(sa.select(*columns).where(StoredResult.id.in_(batch)))
    commands: dict[int, CommandView] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        if row.seq <= after.get(row.session_id, 0) and latest.get(row.session_id,
                                                                   (0,))[0] != row.id:
            continue
        command = CommandView(*row)
        commands[command.id] = command
        view = views[command.session_id]
        view.commands.append(command)
        view.seq = max(view.seq, command.seq)
    return commands


def _output_tails(views: dict[int, SessionView], commands: dict[int, CommandView],
                  after: Mapping[int, int], low: int, budget: int) -> None:
    """The newest output of each command (above the session's number), up to ``budget``
    characters, as pieces in sequence order; the session's watermark takes its numbers."""
    chunks: dict[int, list[Any]] = {}
    for batch in _batches(list(commands)):
        for row in db.session.execute(
                sa.select(OutputChunk.id, OutputChunk.command_id, OutputChunk.stream,
                          OutputChunk.seq)
                .where(OutputChunk.command_id.in_(batch), OutputChunk.seq > low)):
            command = commands[row.command_id]
            if row.seq > after.get(command.session_id, 0):
                chunks.setdefault(row.command_id, []).append(row)
    wanted: dict[int, tuple[Any, bool]] = {}
    for command_id, rows in chunks.items():
        rows.sort(key=lambda r: r.seq)
        recent = rows[-RECENT_CHUNKS:]
        for index, row in enumerate(recent):
            wanted[row.id] = (row, index == 0 and len(rows) > len(recent))
        view = views[commands[command_id].session_id]
        view.seq = max(view.seq, rows[-1].seq)
    texts: dict[int, tuple[int, str]] = {}
    length = sa.func.length(OutputChunk.data)
    tail = sa.case((length > budget, sa.func.substr(OutputChunk.data, length - budget + 1)),
                   else_=OutputChunk.data)
    for batch in _batches(list(wanted)):
        for chunk_id, size, text in db.session.execute(
                sa.select(OutputChunk.id, length, tail).where(OutputChunk.id.in_(batch))):
            texts[chunk_id] = (size, text)
    for command_id, rows in chunks.items():
        command = commands[command_id]
        picked = [(wanted[r.id][0], *texts[r.id]) for r in rows if r.id in wanted]
        command.output = _tail_pieces(command.seq, picked, budget,
                                      omitted=wanted[picked[0][0].id][1])


def _tail_pieces(command_seq: int, chunks: list[tuple[Any, int, str]], budget: int, *,
                 omitted: bool) -> list[OutputPiece]:
    """The last ``budget`` characters of chunks (row, full size, tail text), newest last,
    joined into pieces of consecutive chunks of one stream."""
    kept: list[tuple[Any, str]] = []
    left = budget
    for row, size, text in reversed(chunks):
        if left <= 0:
            omitted = True
            break
        if size > left:
            text, omitted = text[-left:], True
        kept.append((row, text))
        left -= size
    pieces: list[OutputPiece] = []
    for row, text in reversed(kept):
        last = pieces[-1] if pieces else None
        if last is not None and last.stream == row.stream:
            last.data += text
            last.seq = row.seq
        else:
            pieces.append(OutputPiece(command_seq, row.stream, row.seq, row.seq, text))
    if pieces:
        pieces[0].omitted = omitted
    return pieces


def parse_after(text: str) -> dict[int, int]:
    """``"12:5,13:0"`` → ``{12: 5, 13: 0}``.

    :raises ValueError: for anything else (:func:`after_map`).
    """
    if not text:
        return {}
    pairs = [item.split(":") for item in text.split(",")]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("after: expected SESSION:SEQ pairs separated by commas")
    return after_map(dict(pairs))


def after_map(after: Any) -> dict[int, int]:
    """A JSON object of session ids to sequence numbers (what a page has) as ints.

    :raises ValueError: for anything else; ids and numbers beyond the database's
        integers included (a :class:`~webapp.inputs.BadParameter` naming ``after``).
    """
    if not isinstance(after, Mapping):
        raise ValueError("after: expected an object of session ids to sequence numbers")
    return {parse_int(sid, "after"): parse_int(seq, "after") for sid, seq in after.items()}
