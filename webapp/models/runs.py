"""Runs, the sessions they consist of, and everything a session stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sessions.messages import BaseMessage
from sessions.status import FINAL_PROC_STATES, ProcStatus

from .auth import User
from .base import Base, utcnow
from .hosts import Host
from .schedules import Schedule

_CASCADE: dict[str, Any] = {"cascade": "all, delete-orphan", "passive_deletes": True}


class Run(Base):
    """One dispatch of a session class over a set of objects."""

    __tablename__ = "run"
    # ids are never used again (SQLite would reuse the highest after a cleanup deleted it):
    # audit entries, notifications, bookmarks and the run's Redis keys name runs by id
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    session_name: Mapped[str] = mapped_column(sa.String(200), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(80))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    concurrency: Mapped[int] = mapped_column(default=50)
    job_count: Mapped[int] = mapped_column(default=0)
    origin: Mapped[str] = mapped_column(sa.String(20), default="web")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    skip_busy: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    """Cancel the sessions of hosts another run holds instead of waiting for them."""
    schedule_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("schedule.id", ondelete="SET NULL"), index=True)
    """The schedule that started the run (``origin == "schedule"``)."""

    user: Mapped[User | None] = relationship(lazy="joined")
    schedule: Mapped[Schedule | None] = relationship(lazy="joined")
    sessions: Mapped[list[MinkeSession]] = relationship(
        back_populates="run", order_by="MinkeSession.id", **_CASCADE
    )

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.session_name}>"

    @property
    def user_name(self) -> str:
        return self.user.name if self.user else "(command line)"

    @property
    def origin_label(self) -> str:
        """Where the run was started: ``web``, ``cli``, ``api``… or ``schedule NAME``."""
        if self.origin != "schedule":
            return self.origin
        return f"schedule {self.schedule.name if self.schedule else '(deleted)'}"


class MinkeSession(Base):
    """One session class working on one object, within a run."""

    __tablename__ = "minke_session"
    __table_args__ = (
        sa.Index("ix_minke_session_object", "object_type", "object_id"),
        # each user's latest session of an object: the statuses own-runs users see
        sa.Index("ix_minke_session_user_object", "user_id", "object_type", "object_id", "id"),
        {"sqlite_autoincrement": True},  # ids never used again, as a run's (events name them)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("run.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    session_name: Mapped[str] = mapped_column(sa.String(200))
    object_type: Mapped[str] = mapped_column(sa.String(80))
    object_id: Mapped[int] = mapped_column()
    object_label: Mapped[str] = mapped_column(sa.String(255), default="")
    host_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("host.id", ondelete="SET NULL"), index=True
    )
    proc_status: Mapped[str] = mapped_column(
        sa.String(20), default=ProcStatus.INITIALIZED.value, index=True
    )
    session_status: Mapped[str | None] = mapped_column(sa.String(20))
    session_data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    worker_id: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    start_time: Mapped[dt.datetime | None] = mapped_column()
    end_time: Mapped[dt.datetime | None] = mapped_column()
    change: Mapped[str | None] = mapped_column(sa.String(10))
    """Its output against the same session's previous run on the object: ``changed``,
    ``unchanged`` or ``new``, set when it completes (:mod:`webapp.changes`)."""

    run: Mapped[Run] = relationship(back_populates="sessions")
    host: Mapped[Host | None] = relationship(lazy="joined")
    commands: Mapped[list[StoredResult]] = relationship(
        order_by="StoredResult.seq", back_populates="session", **_CASCADE
    )
    messages: Mapped[list[Message]] = relationship(order_by="Message.seq", **_CASCADE)

    def __repr__(self) -> str:
        return f"<MinkeSession {self.id} {self.session_name} on {self.object_label}>"

    @property
    def is_final(self) -> bool:
        return ProcStatus(self.proc_status) in FINAL_PROC_STATES


class LatestSession(Base):
    """The newest session of each object and its statuses, as object lists show and
    filter them.

    One row per (object_type, object_id), set by :func:`webapp.engine.latest.mark_latest`
    when a run stores its sessions; deleting the session deletes the row. The statuses
    are copies that a database trigger on ``minke_session`` keeps current (migration
    ``4c8e1f2a7b90``), whichever process changes them.
    """

    __tablename__ = "latest_session"
    __table_args__ = (sa.Index("ix_latest_session_status", "object_type", "proc_status",
                               "session_status", "object_id"),)

    object_type: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    object_id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("minke_session.id", ondelete="CASCADE"), index=True
    )
    proc_status: Mapped[str] = mapped_column(sa.String(20))
    session_status: Mapped[str | None] = mapped_column(sa.String(20))

    def __repr__(self) -> str:
        return f"<LatestSession {self.object_type}:{self.object_id} #{self.session_id}>"


class StoredResult(Base):
    """A command a session ran, with its exit code and (the start of) its output.

    The full output of every command is kept in :class:`OutputChunk` rows;
    ``stdout``/``stderr`` here hold up to ``MINKE_OUTPUT_MEMORY_LIMIT`` bytes.
    """

    __tablename__ = "command_result"
    __table_args__ = {"sqlite_autoincrement": True}  # never used again: output links name it

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("minke_session.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column()
    command: Mapped[str] = mapped_column(sa.Text)
    stdout: Mapped[str] = mapped_column(sa.Text, default="")
    stderr: Mapped[str] = mapped_column(sa.Text, default="")
    exit_code: Mapped[int | None] = mapped_column()
    pty: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20))
    truncated: Mapped[bool] = mapped_column(default=False)
    token: Mapped[str | None] = mapped_column(sa.String(32))
    """Carried by the command's processes on the host, so that any process can kill them."""
    stdout_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    stderr_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    stdout_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    """SHA-256 (hex) of the whole stdout, hashed as it streamed; none before version 21."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    session: Mapped[MinkeSession] = relationship(back_populates="commands")

    def __repr__(self) -> str:
        return f"<StoredResult {self.id} {self.command[:30]!r} exit={self.exit_code}>"


class OutputChunk(Base):
    """A piece of a command's output, in order: ``seq`` per (command, stream)."""

    __tablename__ = "output_chunk"
    __table_args__ = (sa.Index("ix_output_chunk_order", "command_id", "stream", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    command_id: Mapped[int] = mapped_column(
        sa.ForeignKey("command_result.id", ondelete="CASCADE")
    )
    stream: Mapped[str] = mapped_column(sa.String(6))  # "stdout" / "stderr"
    seq: Mapped[int] = mapped_column()
    data: Mapped[str] = mapped_column(sa.Text)


class Message(Base):
    """A message a session added (``kind`` names its class, ``payload`` its content)."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("minke_session.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column()
    level: Mapped[str] = mapped_column(sa.String(10))
    kind: Mapped[str] = mapped_column(sa.String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    about_run: Mapped[int | None] = mapped_column()
    """Another run the message names (a lock's holder): shown only to viewers who may see
    that run (the payload's text never names it)."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.level} {self.kind}>"

    @property
    def text(self) -> str:
        return BaseMessage.render(self.kind, self.payload)
