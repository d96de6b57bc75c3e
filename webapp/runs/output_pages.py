"""One command's stored output read page by page, newest first, for the output view."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import MinkeSession, OutputChunk, StoredResult

PAGE_CHARS = 64 * 1024
STREAMS = ("stdout", "stderr")


@dataclass
class OutputPage:
    """Consecutive output of one stream: ``text`` starts at chunk ``first_seq``."""

    text: str
    first_seq: int | None  # pass as ``before`` for the page before this one
    more: bool  # earlier output exists


def command_of_run(run_id: int, command_id: int) -> StoredResult | None:
    """The command ``command_id`` if one of the run's sessions ran it."""
    return db.session.scalar(
        sa.select(StoredResult).join(MinkeSession, MinkeSession.id == StoredResult.session_id)
        .where(StoredResult.id == command_id, MinkeSession.run_id == run_id))


def command_id_of(run_id: int, session_id: int, seq: int) -> int | None:
    """The id of the command with sequence number ``seq`` of session ``session_id`` of the
    run."""
    return db.session.scalar(
        sa.select(StoredResult.id).join(MinkeSession, MinkeSession.id == StoredResult.session_id)
        .where(StoredResult.session_id == session_id, StoredResult.seq == seq,
               MinkeSession.run_id == run_id))


def output_page(command_id: int, stream: str, *, before: int | None = None,
                size: int = PAGE_CHARS) -> OutputPage:
    """The last ``size`` or more characters of ``stream`` before chunk ``before`` (the
    tail when ``None``), in whole chunks, read from the end without touching the rest."""
    query = (sa.select(OutputChunk.seq, OutputChunk.data)
             .where(OutputChunk.command_id == command_id, OutputChunk.stream == stream)
             .order_by(OutputChunk.seq.desc())
             .execution_options(yield_per=4))
    if before is not None:
        query = query.where(OutputChunk.seq < before)
    pieces: list[str] = []
    first_seq = None
    have = 0
    more = False
    with db.session.execute(query) as result:
        for seq, data in result:
            if have >= size:
                more = True
                break
            pieces.append(data)
            first_seq = seq
            have += len(data)
    return OutputPage("".join(reversed(pieces)), first_seq, more)
