"""Hosts, the groups whose configuration they inherit, and the minke-model mixin."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import (
    InstanceState,
    Mapped,
    Session,
    mapped_column,
    object_session,
    relationship,
)
from sqlalchemy.orm.attributes import set_committed_value

from .base import Base, utcnow

host_group_members = sa.Table(
    "host_group_members",
    Base.metadata,
    sa.Column("host_id", sa.ForeignKey("host.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", sa.ForeignKey("host_group.id", ondelete="CASCADE"), primary_key=True),
)

MINKE_MODELS: dict[str, type[MinkeModel]] = {}
"""Every minke model by class name (filled as the classes are defined)."""


class MinkeModel:
    """Mixin that makes a model something sessions can work on.

    Say how to reach the object's :class:`Host` with ``HOST_LOOKUP``, a
    dotted path of attributes (relationships) from the object to its host::

        from webapp.extensions import db
        from webapp.models import Host, MinkeModel

        class Site(MinkeModel, db.Model):
            __tablename__ = "site"
            HOST_LOOKUP = "host"

            id: Mapped[int] = mapped_column(primary_key=True)
            host_id: Mapped[int] = mapped_column(sa.ForeignKey("host.id"))
            host: Mapped[Host] = relationship()
            root: Mapped[str] = mapped_column(sa.String(255))

    Defining the class registers it in :data:`MINKE_MODELS` under its class
    name; sessions name it in ``work_on`` (``("Site",)`` or ``(Site,)``).
    Its table is created by a migration of the user's own (docs/user-models.md).
    """

    HOST_LOOKUP: ClassVar[str] = "host"
    """Dotted attribute path from an object to its :class:`Host` (``""``: it is one)."""

    if TYPE_CHECKING:  # every minke model maps it; declared for the checker only
        id: Mapped[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__tablename__" in cls.__dict__:
            MINKE_MODELS[cls.__name__] = cls

    def get_host(self) -> Host | None:
        """Follow ``HOST_LOOKUP`` from this object to its host."""
        obj: Any = self
        for name in filter(None, self.HOST_LOOKUP.split(".")):
            obj = getattr(obj, name)
            if obj is None:
                return None
        return obj

    @property
    def minke_label(self) -> str:
        """How the object is named in run results."""
        return str(getattr(self, "name", None) or f"{type(self).__name__} {self.id}")

    def save(self) -> None:
        """Store the object's changed fields now, as django-minke's ``Model.save()`` did.
        Commits.

        In a running session (``self.minkeobj.save()`` after
        :meth:`~sessions.Session.update_field`) the changed columns are written
        at once in a transaction of their own, so they are kept even if the
        session fails or is stopped afterwards. Without ``save()`` a session's
        changes to its object are stored when the session ends, unless it was
        stopped.

        Elsewhere (a script, ``flask shell``) the object is added to its
        database session and that session is committed, with everything else
        pending in it.

        :raises sqlalchemy.exc.DBAPIError: when the database refuses a value.
        """
        from ..extensions import db  # the extensions import the models

        session = object_session(self) or db.session()
        state = sa.inspect(self)
        if state.persistent and _holds_read_only_transaction(session):
            _store_changes(self, state)
            return
        session.add(self)
        session.commit()


def _holds_read_only_transaction(session: Session) -> bool:
    """Whether ``session`` is in a transaction begun by ``webapp.database.begin_read_only``
    (as the engine's session threads are): such a transaction may not write on SQLite."""
    if not session.in_transaction():
        return False
    return bool(session.connection().get_execution_options().get("minke_read_only"))


def _store_changes(obj: MinkeModel, state: InstanceState) -> None:
    """Write the changed columns of ``obj`` on a connection of their own and mark them
    stored, leaving the object's own (read-only) transaction as it is."""
    mapper = state.mapper
    changes = {
        attr.key: attr.value for attr in state.attrs
        if attr.key in mapper.column_attrs and attr.history.has_changes()
    }
    if not changes:
        return
    # a persistent object (as the caller checked) has both
    assert state.identity is not None and state.session is not None
    key = {mapper.get_property_by_column(column).key: value
           for column, value in zip(mapper.primary_key, state.identity, strict=True)}
    with Session(state.session.get_bind(mapper=mapper)) as writer, writer.begin():
        writer.execute(sa.update(mapper.class_).filter_by(**key).values(**changes))
    for name, value in changes.items():
        set_committed_value(obj, name, value)


class HostGroup(Base):
    """A named set of hosts sharing connection configuration."""

    __tablename__ = "host_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    ask_secrets: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    """Secrets (:data:`sessions.secrets.SECRET_KINDS` names) asked before any run that
    works on a host of this group; they are applied to those hosts' connections only."""
    hosts: Mapped[list[Host]] = relationship(
        secondary=host_group_members, back_populates="groups", order_by="Host.name"
    )

    def __repr__(self) -> str:
        return f"<HostGroup {self.name}>"


class Host(MinkeModel, Base):
    """A machine reachable over SSH."""

    __tablename__ = "host"
    HOST_LOOKUP = ""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    verbose_name: Mapped[str] = mapped_column(sa.String(200), default="")
    hostname: Mapped[str] = mapped_column(sa.String(255), index=True)  # lists sort by it
    port: Mapped[int | None] = mapped_column()
    username: Mapped[str | None] = mapped_column(sa.String(80))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_reason: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    """Why an admin disabled the host ("" when none was given or it is enabled)."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    host_key: Mapped[str | None] = mapped_column(sa.Text)  # "<type> <base64>": engine/hostkeys.py
    groups: Mapped[list[HostGroup]] = relationship(
        secondary=host_group_members, back_populates="hosts", order_by=HostGroup.name,
        lazy="selectin",
    )

    def __repr__(self) -> str:
        return f"<Host {self.name}>"

    @property
    def minke_label(self) -> str:
        return self.name
