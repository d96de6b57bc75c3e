"""command token and installation id

The token of a running command (so that any process can kill what a dead
worker left running) and the installation's id (so that two installations,
or a recreated database, never read each other's state in a shared Redis).

Revision ID: 3f2a9c7d1e04
Revises: dcab82197eae
Create Date: 2026-11-26 01:40:00
"""

import uuid

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f2a9c7d1e04"
down_revision = "dcab82197eae"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("command_result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.String(length=32), nullable=True))
    installation = op.create_table(
        "minke_installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minke_installation")),
    )
    op.bulk_insert(installation, [{"id": 1, "uuid": uuid.uuid4().hex}])


def downgrade():
    op.drop_table("minke_installation")
    with op.batch_alter_table("command_result", schema=None) as batch_op:
        batch_op.drop_column("token")
