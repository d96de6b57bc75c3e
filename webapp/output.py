"""Reading a command's stored output: all of it in order, or its tail, without loading the rest."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from .extensions import db
from .models import OutputChunk


def iter_output(command_id: int, stream: str = "stdout") -> Iterator[str]:
    """The chunks of one stream of a command, in order, streamed from the database."""
    query = (sa.select(OutputChunk.data)
             .where(OutputChunk.command_id == command_id, OutputChunk.stream == stream)
             .order_by(OutputChunk.seq)
             .execution_options(yield_per=16))
    result = db.session.scalars(query)
    try:
        yield from result
    finally:  # a reader that stops early must not leave PostgreSQL's server cursor open
        result.close()


def tail(command_id: int, stream: str = "stdout", size: int = 64 * 1024) -> str:
    """The last ``size`` characters of a stream, reading chunks from the end."""
    query = (sa.select(OutputChunk.data)
             .where(OutputChunk.command_id == command_id, OutputChunk.stream == stream)
             .order_by(OutputChunk.seq.desc())
             .execution_options(yield_per=4))
    pieces: list[str] = []
    have = 0
    with db.session.scalars(query) as result:
        for data in result:
            pieces.append(data)
            have += len(data)
            if have >= size:
                break
    text = "".join(reversed(pieces))
    return text[-size:] if size else ""
