"""The demo's own minke model, ``Site``, and sessions that work on it.

Laid out as a user's module is (docs/user-models.md): the model and its
sessions in one importable module, its table created by the migrations in
``scripts/demo_sites_migrations/`` (the ``demo_sites`` branch). Load it with::

    export MINKE_SESSION_MODULES=scripts.demo_sites           # web, CLI and workers
    export MINKE_MIGRATION_DIRS=scripts/demo_sites_migrations  # flask db …
    flask --app wsgi db upgrade heads
    flask --app wsgi minke run SiteDiskUsage --objects Site --where host=demo1
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sessions import CommandFormSession, Session, SessionGroup, SingleCommandSession
from webapp.extensions import db
from webapp.models import Host, MinkeModel

sites = SessionGroup("Sites")


class Site(MinkeModel, db.Model):
    """A web site: a directory on a host."""

    __tablename__ = "site"
    HOST_LOOKUP = "host"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    host_id: Mapped[int] = mapped_column(sa.ForeignKey("host.id", ondelete="CASCADE"), index=True)
    host: Mapped[Host] = relationship()
    root: Mapped[str] = mapped_column(sa.String(255))
    """The site's directory on its host."""
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    """Bytes in :attr:`root`, as last measured by :class:`SiteSize`."""

    __table_args__ = (sa.UniqueConstraint("host_id", "name"),)

    def __repr__(self) -> str:
        return f"<Site {self.name} on host #{self.host_id}>"

    @property
    def minke_label(self) -> str:
        """Sites of different hosts share names: results say which host's it is."""
        return f"{self.name} on {self.host.name}"


@sites
class SiteDiskUsage(SingleCommandSession):
    """Disk usage of the site's directory."""

    work_on = (Site,)
    command = "du -sh {root}"


@sites
class SiteSize(Session):
    """Measure the site's size in bytes and store it in the site."""

    work_on = (Site,)

    def process(self) -> None:
        self.update_field("size", "du -sb {root}", r"(\d+)")
        self.minkeobj.save()
        self.add_msg(f"{self.minkeobj.name}: {self.minkeobj.size} bytes")


@sites
class SiteFiles(SingleCommandSession):
    """List the files of the site."""

    work_on = (Site,)
    command = "ls -la {root}"


@sites
class SiteCommand(CommandFormSession):
    """Run a command you type on the sites' hosts, one site after another per host."""

    work_on = (Site,)
