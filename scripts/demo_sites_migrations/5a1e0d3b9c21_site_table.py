"""site table: the demo's Site model (scripts/demo_sites.py)

Revision ID: 5a1e0d3b9c21
Revises:
Create Date: 2026-11-26 01:06:00.998979

Generated with ``flask --app wsgi db migrate -m "site table" --head base
--branch-label demo_sites --version-path scripts/demo_sites_migrations``:
the first revision of the ``demo_sites`` branch, depending on Minke's schema
(the ``host`` table).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5a1e0d3b9c21"
down_revision = None
branch_labels = ("demo_sites",)
depends_on = "dcab82197eae"


def upgrade():
    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["host_id"], ["host.id"], name=op.f("fk_site_host_id_host"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("host_id", "name", name=op.f("uq_site_host_id")),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_host_id"), ["host_id"], unique=False)


def downgrade():
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_host_id"))
    op.drop_table("site")
