"""A session's stdout against its previous session's, command by command, as unified diffs
in bounded memory (the run page's diff on click, ``minke show --diff``).

Commands are paired in order (the first with the first…). Pairs whose stdout hashes
are equal are not read at all; the others are read from their stored chunks up to
:data:`READ_LIMIT` characters each (at most :data:`LINE_LIMIT` lines each), compared
line by line (:func:`diff_lines`: :data:`DIFF_WINDOW` lines past what both share at
their start and end), and a diff shows at most :data:`DIFF_LINES` lines. Whatever was
cut says so. Only :data:`DIFFED_COMMANDS` commands of a session are read.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .changes import previous_session_id
from .extensions import db
from .models import MinkeSession, StoredResult
from .output import iter_output

READ_LIMIT = 1024 * 1024  # characters of one command's stdout read to diff
LINE_LIMIT = 20000  # lines of one command's stdout compared
DIFF_LINES = 2000  # lines of one diff kept
DIFF_WINDOW = 3000  # lines of each output compared, past the lines both start and end with
DIFFED_COMMANDS = 10  # commands of one session read and diffed, at most
CONTEXT = 3  # unchanged lines around each change
_HUNK = re.compile(r"([-+])(\d+)")


@dataclass
class CommandDiff:
    """One command of the session beside the previous session's command at its place."""

    index: int  # from 1
    command: str | None  # ``None``: the session ran fewer commands than the previous one
    previous_command: str | None  # ``None``: the previous session ran fewer
    mark: str  # "unchanged", "changed", "added", "removed" or "not compared"
    lines: list[str] = field(default_factory=list)  # the unified diff, without newlines
    cut: bool = False  # an output or the diff was longer than the limits: not all shown
    command_id: int | None = None
    previous_command_id: int | None = None


@dataclass
class SessionDiff:
    session_id: int
    change: str | None  # the session's mark (webapp/changes.py)
    previous_session_id: int | None
    previous_run_id: int | None
    commands: list[CommandDiff]
    hidden: bool = False  # the previous run is one the viewer may not see: no commands

    def hide(self) -> None:
        """Keep the previous run's output from a viewer who may not see that run."""
        self.hidden = True
        self.commands = []

    def as_document(self) -> dict[str, Any]:
        """As JSON (the API, the run page's click): remote text is data, which pages put
        into the DOM as text, never as HTML."""
        return {
            "session": self.session_id,
            "change": self.change,
            "previous": None if self.previous_session_id is None else {
                "session": self.previous_session_id, "run": self.previous_run_id,
                "hidden": self.hidden},
            "commands": [{"index": c.index, "command": c.command,
                          "previous_command": c.previous_command, "mark": c.mark,
                          "diff": c.lines, "cut": c.cut} for c in self.commands],
        }


def _read(command_id: int | None) -> tuple[list[str], bool]:
    """The first lines of a command's stdout (bounded) and whether it was cut."""
    if command_id is None:
        return [], False
    pieces: list[str] = []
    have = 0
    cut = False
    chunks = iter_output(command_id, "stdout")
    try:
        for data in chunks:
            if have + len(data) > READ_LIMIT:
                pieces.append(data[:READ_LIMIT - have])
                cut = True
                break
            pieces.append(data)
            have += len(data)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    lines = "".join(pieces).splitlines()
    if len(lines) > LINE_LIMIT:
        lines, cut = lines[:LINE_LIMIT], True
    return lines, cut


def diff_lines(old: list[str], new: list[str], *, old_name: str,
               new_name: str) -> tuple[list[str], bool]:
    """A unified diff of two lists of lines, at most :data:`DIFF_LINES` lines of it, and
    whether it was cut.

    The lines both share at their start and end are set aside first (in linear time);
    of what lies between, :data:`DIFF_WINDOW` lines each are compared: difflib's time
    grows with the square of the lines where lines repeat (20,000 lines of a few hundred
    distinct ones: 70 s; 3,000: 0.3 s, measured).
    """
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    first = max(0, start - CONTEXT)  # the diff keeps its context lines
    old_part = old[first:len(old) - max(0, end - CONTEXT)]
    new_part = new[first:len(new) - max(0, end - CONTEXT)]
    cut = max(len(old_part), len(new_part)) > DIFF_WINDOW
    diff = difflib.unified_diff(old_part[:DIFF_WINDOW], new_part[:DIFF_WINDOW],
                                fromfile=old_name, tofile=new_name, lineterm="", n=CONTEXT)
    lines = [_shift(line, first) for line in itertools.islice(diff, DIFF_LINES + 1)]
    return lines[:DIFF_LINES], cut or len(lines) > DIFF_LINES


def _shift(line: str, offset: int) -> str:
    """A hunk header of a diff of lines from ``offset`` on, numbered in the whole output."""
    if not offset or not line.startswith("@@"):
        return line
    return _HUNK.sub(lambda m: f"{m[1]}{int(m[2]) + offset}", line)


def _commands(session_id: int | None) -> list[StoredResult]:
    if session_id is None:
        return []
    return list(db.session.scalars(sa.select(StoredResult)
                                   .where(StoredResult.session_id == session_id)
                                   .order_by(StoredResult.seq)))


def session_diff(session: MinkeSession) -> SessionDiff:
    """``session``'s commands against its previous session's, with diffs of those whose
    stdout differs."""
    previous_id = previous_session_id(session.id)
    previous = db.session.get(MinkeSession, previous_id) if previous_id else None
    pairs = itertools.zip_longest(_commands(session.id), _commands(previous_id))
    commands: list[CommandDiff] = []
    read = 0
    for index, (new, old) in enumerate(pairs, start=1):
        item = CommandDiff(index, new.command if new else None, old.command if old else None,
                           "changed", command_id=new.id if new else None,
                           previous_command_id=old.id if old else None)
        commands.append(item)
        if previous is None:
            item.mark = "not compared"
            continue
        if new is not None and old is not None and new.stdout_sha256 is not None \
                and new.stdout_sha256 == old.stdout_sha256:
            item.mark = "unchanged" if new.command == old.command else "changed"
            continue
        item.mark = "added" if old is None else "removed" if new is None else "changed"
        if read >= DIFFED_COMMANDS:
            item.cut = True
            continue
        read += 1
        old_lines, old_cut = _read(item.previous_command_id)
        new_lines, new_cut = _read(item.command_id)
        item.lines, diff_cut = diff_lines(
            old_lines, new_lines,
            old_name=f"run #{previous.run_id}: {old.command if old else '(no command)'}",
            new_name=f"run #{session.run_id}: {new.command if new else '(no command)'}")
        item.cut = old_cut or new_cut or diff_cut
    return SessionDiff(session.id, session.change, previous_id,
                       previous.run_id if previous else None, commands)
