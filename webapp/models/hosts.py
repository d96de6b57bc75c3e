"""Hosts, the groups whose configuration they inherit, and the minke-model mixin."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    dotted attribute path::

        class Site(MinkeModel, Base):
            __tablename__ = "site"
            HOST_LOOKUP = "server.host"
            ...

    Sessions name the model in ``work_on`` (``("Site",)`` or ``(Site,)``).
    """

    HOST_LOOKUP: ClassVar[str] = "host"

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


class HostGroup(Base):
    """A named set of hosts sharing connection configuration."""

    __tablename__ = "host_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
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
    hostname: Mapped[str] = mapped_column(sa.String(255))
    port: Mapped[int | None] = mapped_column()
    username: Mapped[str | None] = mapped_column(sa.String(80))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    groups: Mapped[list[HostGroup]] = relationship(
        secondary=host_group_members, back_populates="hosts", order_by=HostGroup.name,
        lazy="selectin",
    )

    def __repr__(self) -> str:
        return f"<Host {self.name}>"

    @property
    def minke_label(self) -> str:
        return self.name
